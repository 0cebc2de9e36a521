#!/usr/bin/env bash
# Sender benchmark (root: Postfix): the real postroom-sender with its default workers and batch,
# a private PostgreSQL with its defaults (fsync and synchronous_commit on), and a private
# Postfix (scripts/smtp: STARTTLS with a test CA and AUTH, as the demo gateway) that drops every
# message into one Maildir. Two modes, one after the other, on the same servers:
#   backlog  N acknowledgement rows of ~8 KB (realistic headers) queued in one statement before
#            the sender starts; throughput from the first to the last sent_at, and
#            queue-to-delivery (created_at -> sent_at, and -> the file in Postfix's Maildir)
#            p50/p99, which here is mostly time spent waiting in the queue;
#   steady   RATE rows a second for SECONDS (below capacity), each queued in its own
#            transaction while the sender runs: queue-to-delivery p50/p99 of a sender keeping up.
# Then the sender's peak RSS (VmHWM) and the CPU it and PostgreSQL used.
#   POSTROOM_BUILD_DIR=build bench/sender/run.sh [N]        (default 2000)
# Env: RATE (20), SECONDS_STEADY (30), SENDER_FLAGS (extra sender flags), KEEP_SERVERS=1,
#      BENCH_DIR (/tmp/sender-bench).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../lib.sh"
N="${1:-2000}"
RATE="${RATE:-20}"
STEADY_S="${SECONDS_STEADY:-30}"
BUILD="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
BIN="$BUILD/bin"
POSTROOM_BUILD_DIR="$BUILD" "$POSTROOM_ROOT/scripts/build" postroom-sender postroom-config \
  postroomctl postroom-keygen postroom-healthcheck >/dev/null
[ "$(id -u)" = 0 ] || die "bench/sender/run.sh needs root (Postfix's master)"
bench_workdir /tmp/sender-bench
cleanup() {
  bench_stop_pids
  [ "${KEEP_SERVERS:-0}" = 1 ] && return
  "$POSTROOM_ROOT/scripts/smtp" stop "$D/smtp" >/dev/null 2>&1 || true
  "$POSTROOM_ROOT/scripts/pg" stop "$D/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT
pg_pids() { local pm; pm="$(head -1 "$D/pg/data/postmaster.pid")"; echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"; }

URI="$("$POSTROOM_ROOT/scripts/pg" start "$D/pg" | tail -1)"   # fsync on (no --fast)
"$BIN/postroom-config" migrate --database "$URI" >/dev/null 2>&1
sql() { psql "$URI" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
"$POSTROOM_ROOT/scripts/smtp" start "$D/smtp" >/dev/null
"$POSTROOM_ROOT/scripts/smtp" add-user "$D/smtp" desk demo-smtp-password
source "$D/smtp/ports.env"

# The gateway through the config service (its password sealed with the key), activated by SQL:
# EnableConnector would first run a connection test, which is not what is measured.
cat >"$D/gateway.yaml" <<YAML
kind: Connector
name: gateway
protocol: smtp
direction: outgoing
server: {host: 127.0.0.1, port: $SMTP_PORT, tls: starttls, ca_file: $SMTP_CA_FILE}
auth: {method: password, username: desk, password: demo-smtp-password}
primary_address: desk@example.com
display_name: Example Service Desk
system_default: true
YAML
bench_apply_config "$URI" "$D/gateway.yaml"
sql "UPDATE connectors SET status = 'active' WHERE name = 'gateway'"

# One row as the router queues an acknowledgement: the threading and RFC 3834 headers, a
# signed Reply-To, and a body of ~8 KB (the template and the quoted request).
row_sql() {  # KEY-PREFIX SERIES: one INSERT of a row for each number i of SERIES (SQL)
  cat <<SQL
INSERT INTO outbox (connector_id, reason, to_address, subject, body_text, headers, dedupe_key)
SELECT c.id, 'ack', 'requester-' || i || '@client.example',
       'We received your request [#SUP-' || (1000 + i) || '] Re: printer on the 3rd floor',
       'Hello there,' || chr(10) || chr(10) ||
       repeat('thank you for writing to support@example.com. Your request is now work item '
              || 'SUP-' || (1000 + i) || '; answer this email to add to it.' || chr(10), 66),
       jsonb_build_object(
         'In-Reply-To', '<req-' || i || '@client.example>',
         'References', '<req-' || i || '@client.example>',
         'Auto-Submitted', 'auto-replied', 'X-Auto-Response-Suppress', 'All',
         'X-Loop', 'support@example.com',
         'Reply-To', 'support+r1.' || md5(i::text) || '@example.com'),
       '$1-' || i
FROM connectors c, $2 AS i WHERE c.name = 'gateway';
SQL
}
# Prints "p50 p99" in ms of created_at -> sent_at of the rows with the key prefix.
sent_percentiles() {
  sql "SELECT round(1000 * extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY sent_at - created_at)))
         || ' ' || round(1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY sent_at - created_at)))
       FROM outbox WHERE dedupe_key LIKE '$1-%' AND status = 'sent'"
}
# Prints "p50 p99 count" in ms of created_at -> the message's file in the Maildir (its mtime:
# when Postfix's virtual agent wrote it), matched by the row id in the Message-ID.
maildir_percentiles() {
  sql "SELECT id, extract(epoch FROM created_at) FROM outbox WHERE dedupe_key LIKE '$1-%'" >"$D/created-$1"
  python3 - "$D/created-$1" "$SMTP_MAILDIR" <<'PY'
import os, re, sys
created = dict(line.strip().split("|") for line in open(sys.argv[1]) if line.strip())
lat = []
for sub in ("new", "cur"):
    d = os.path.join(sys.argv[2], sub)
    for name in os.listdir(d) if os.path.isdir(d) else []:
        p = os.path.join(d, name)
        with open(p, "rb") as f:
            m = re.search(rb"postroom\.outbox\.(\d+)\.", f.read(8192))
        if m and m.group(1).decode() in created:
            lat.append(os.stat(p).st_mtime - float(created[m.group(1).decode()]))
lat.sort()
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")
print(f"{pick(0.5):.0f} {pick(0.99):.0f} {len(lat)}")
PY
}
wait_sent() {  # KEY-PREFIX COUNT: until every row is sent or failed (10 min at most)
  local done=0
  for _ in $(seq 1200); do
    kill -0 "$SPID" 2>/dev/null || die "the sender died: $(tail -5 "$D/sender.log")"
    done="$(sql "SELECT count(*) FROM outbox WHERE dedupe_key LIKE '$1-%' AND status <> 'queued'")"
    [ "$done" -ge "$2" ] && return 0
    sleep 0.5
  done
  die "only $done of $2 rows done after 10 min"
}

# -- backlog ---------------------------------------------------------------------------------
sql "$(row_sql backlog "generate_series(1, $N)")"
BYTES="$(sql "SELECT round(avg(octet_length(body_text))) FROM outbox WHERE dedupe_key LIKE 'backlog-%'")"
p0=$(cpu_of $(pg_pids))
"$BIN/postroom-sender" --listen "127.0.0.1:$(free_port)" --metrics-listen 127.0.0.1:0 \
  --replica bench ${SENDER_FLAGS:-} >"$D/sender.log" 2>&1 &
SPID=$!; PIDS+=($SPID)
t0=$(date +%s.%N)
wait_sent backlog "$N"
t1=$(date +%s.%N)
s_cpu=$(cpu_of "$SPID"); p1=$(cpu_of $(pg_pids))
read -r SENT FAILED SPAN <<<"$(sql "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status <> 'sent'),
  extract(epoch FROM max(sent_at) - min(sent_at)) FROM outbox WHERE dedupe_key LIKE 'backlog-%'" | tr '|' ' ')"
read -r Q50 Q99 <<<"$(sent_percentiles backlog)"
read -r M50 M99 MN <<<"$(maildir_percentiles backlog)"
python3 - "$SENT" "$FAILED" "$SPAN" "$t0" "$t1" "$BYTES" "$Q50" "$Q99" "$M50" "$M99" "$MN" <<'PY'
import sys
sent, failed = int(sys.argv[1]), int(sys.argv[2]); span, t0, t1 = map(float, sys.argv[3:6])
b, q50, q99, m50, m99, mn = sys.argv[6:12]
print(f"backlog: {sent} sent ({failed} not) of {b}-byte bodies: {(sent - 1) / span:.1f} sends/s "
      f"(first to last sent_at, {span:.1f} s; {sent / (t1 - t0):.1f}/s from sender start); "
      f"queue-to-delivery p50 {int(q50) / 1000:.1f} s p99 {int(q99) / 1000:.1f} s (sent_at), "
      f"p50 {int(m50) / 1000:.1f} s p99 {int(m99) / 1000:.1f} s (in the Maildir, {mn} files)")
PY
echo "cpu s (backlog): sender $s_cpu, postgres $(python3 -c "print(f'{$p1-$p0:.2f}')"), wall $(python3 -c "print(f'{$t1-$t0:.2f}')") on $(nproc) cores"

# -- steady ----------------------------------------------------------------------------------
# One psql session fed one INSERT every 1/RATE s: each row its own transaction and created_at.
TOTAL=$((RATE * STEADY_S))
python3 - "$RATE" "$TOTAL" "$(row_sql steady 'generate_series(:i, :i)' | tr '\n' ' ')" <<'PY' |
import sys, time
rate, total, stmt = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
start = time.monotonic()
for i in range(1, total + 1):
    delay = start + (i - 1) / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    print(f"\\set i {i}\n{stmt}", flush=True)
PY
  psql "$URI" -qAtX -v ON_ERROR_STOP=1 >/dev/null
wait_sent steady "$TOTAL"
read -r S50 S99 <<<"$(sent_percentiles steady)"
read -r N50 N99 NN <<<"$(maildir_percentiles steady)"
SSENT="$(sql "SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'steady-%' AND status = 'sent'")"
echo "steady: $SSENT of $TOTAL sent at $RATE/s for $STEADY_S s: queue-to-delivery p50 $S50 ms p99 $S99 ms (sent_at), p50 $N50 ms p99 $N99 ms (in the Maildir, $NN files)"
echo "sender RSS: peak $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$SPID/status), now $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$SPID/status)"
