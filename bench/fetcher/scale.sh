#!/usr/bin/env bash
# Scale (issue 21, root): REPLICAS fetcher replicas share CONNECTORS IMAP connectors, one Dovecot
# user each, on a private Dovecot (sessions logged: scripts/dovecot --log-sessions) and a private
# PostgreSQL with its defaults (fsync and synchronous_commit on) and pg_stat_statements; one
# router routes what they store. The connectors are applied through the config service with
# the default settings (60 s poll interval, IMAP IDLE). Mail arrives in every mailbox during the
# run (MESSAGES rounds, INTERVAL s apart, one corpus message per mailbox per round, each with
# its own Message-ID). docs/scaling.md gives the figures of a run and what they mean.
#
#   bench/fetcher/scale.sh [--connectors 300] [--replicas 3] [--messages 20] [--interval 6]
#                          [--lease-period 10] [--quiet 120] [--sample 5] [--short]
#   --short: 30 connectors, 5 messages 2 s apart, a 4 s lease and 20 quiet seconds (~1.5 min).
#
# In order: the replicas settle (every connector leased, evenly); mail starts; replica r1 is
# killed with SIGKILL (the time until its connectors have live leases again is printed) and
# started again (the time until the spread is even again is printed); every message is awaited
# in the database; then a QUIET phase without mail measures what an idle connector costs
# (polls, the fetchers' statements from pg_stat_statements, IMAP bytes from Dovecot's log).
# Checks, each printed, exit 1 when one fails: every connector leased by exactly one live
# replica; take-over within the lease period plus one lease round; every message stored exactly
# once and decided; fencing tokens per connector only grow and each belongs to one owner; no
# two IMAP sessions of one user open at once from two replicas (Dovecot's log, each session's
# client port mapped to the replica that held it by scale.py monitor); RSS, database
# connections and leases of every replica sampled every SAMPLE s (first/last/max).
# Env: BENCH_DIR (/tmp/postroom-fetcher-scale), POSTROOM_BUILD_DIR, FETCHER_FLAGS.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
N=300 R=3 M=20 INTERVAL=6 PERIOD=10 QUIET=120 SAMPLE=5
while [ $# -gt 0 ]; do
  case "$1" in
    --connectors) N="$2"; shift 2 ;;
    --replicas) R="$2"; shift 2 ;;
    --messages) M="$2"; shift 2 ;;
    --interval) INTERVAL="$2"; shift 2 ;;
    --lease-period) PERIOD="$2"; shift 2 ;;
    --quiet) QUIET="$2"; shift 2 ;;
    --sample) SAMPLE="$2"; shift 2 ;;
    --short) N=30 M=5 INTERVAL=2 PERIOD=4 QUIET=20 SAMPLE=2; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
for v in N R M INTERVAL PERIOD QUIET SAMPLE; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ "$N" -ge 3 ] && [ "$N" -le 2000 ] || die "--connectors must be 3-2000"
[ "$R" -ge 2 ] && [ "$R" -le 10 ] || die "--replicas must be 2-10"
[ "$M" -ge 1 ] && [ "$M" -le 200 ] || die "--messages must be 1-200"
[ "$PERIOD" -ge 3 ] || die "--lease-period must be at least 3 (the fetcher needs its 1 s round under half of it)"
[ "$SAMPLE" -ge 1 ] || die "--sample must be at least 1"
[ "$(id -u)" = 0 ] || die "bench/fetcher/scale.sh needs root (Dovecot)"
BUILD="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
BIN="$BUILD/bin"
POSTROOM_BUILD_DIR="$BUILD" "$POSTROOM_ROOT/scripts/build" postroom-fetcher postroom-config \
  postroom-router postroomctl postroom-keygen postroom-healthcheck >/dev/null
source "$POSTROOM_ROOT/bench/lib.sh"
bench_workdir /tmp/postroom-fetcher-scale
HERE="$(cd "$(dirname "$0")" && pwd)"
ROUND_MS=1000
MONITOR_PID=""
cleanup() {
  [ -n "$MONITOR_PID" ] && kill "$MONITOR_PID" 2>/dev/null
  bench_stop_pids
  "$POSTROOM_ROOT/scripts/dovecot" stop "$D/dc" >/dev/null 2>&1 || true
  "$POSTROOM_ROOT/scripts/pg" stop "$D/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
FAILED=()
verdict() {  # NAME OK(0/1) TEXT
  if [ "$2" = 1 ]; then echo "ok   $1: $3"; else echo "FAIL $1: $3"; FAILED+=("$1"); fi
}

# ---- servers and configuration --------------------------------------------------------------
log "PostgreSQL, Dovecot with $N users, $N connectors through the config service (load $(load))"
STATEMENTS=1 pg_statements_preload
URI="$("$POSTROOM_ROOT/scripts/pg" start "$D/pg" | tail -1)"
STATEMENTS=1 pg_statements_enable "$URI"
"$BIN/postroom-config" migrate --database "$URI" >"$D/migrate.log" 2>&1 || die "migrate: $(tail -3 "$D/migrate.log")"
sql() { psql "$URI" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
# The fetchers log in as a role of their own, so pg_stat_statements tells their statements
# from the router's and this script's.
sql "CREATE ROLE scale_fetcher LOGIN IN ROLE postroom_app" >/dev/null
FETCHER_URI="${URI/:\/\/postgres@/://scale_fetcher@}"
"$POSTROOM_ROOT/scripts/dovecot" start "$D/dc" --log-sessions >/dev/null
source "$D/dc/ports.env"
users() { for i in $(seq 1 "$N"); do printf 'u%04d\n' "$i"; done; }
users > "$D/users"
for u in $(cat "$D/users"); do "$POSTROOM_ROOT/scripts/dovecot" add-user "$D/dc" "$u" "pw-$u"; done
for u in $(cat "$D/users"); do
  cat <<YAML
---
kind: Connector
name: c-$u
protocol: imap
direction: incoming
server: {host: 127.0.0.1, port: $IMAP_PORT, tls: none}
auth: {method: password, username: $u, password: pw-$u}
primary_address: $u@example.com
fallback: {queue: scale}
YAML
done > "$D/connectors.yaml"
bench_apply_config "$URI" "$D/connectors.yaml"
sql "UPDATE connectors SET status = 'active' WHERE name LIKE 'c-u%'" >/dev/null
[ "$(sql "SELECT count(*) FROM connectors WHERE status = 'active'")" = "$N" ] ||
  die "not all $N connectors are active after apply"
CORPUS=/tmp/bench-data/scale-corpus
if [ "$(find "$CORPUS/cur" -type f 2>/dev/null | wc -l)" -ne 500 ]; then
  rm -rf "$CORPUS"
  python3 /work/shared/baselines/gen_corpus.py --count 500 --seed 42 --out "$CORPUS" >/dev/null
fi

# ---- services -------------------------------------------------------------------------------
ROUTER_ADDR="127.0.0.1:$(free_port)"
"$BIN/postroom-router" --listen "$ROUTER_ADDR" --metrics-listen 127.0.0.1:0 >"$D/router.log" 2>&1 &
PIDS+=($!)
WAIT_SECONDS=30 wait_for "$BIN/postroom-healthcheck" "$ROUTER_ADDR" readiness || die "router not ready"
declare -A FPID METRICS
start_replica() {  # NAME
  METRICS[$1]="127.0.0.1:$(free_port)"
  POSTROOM_DATABASE="$FETCHER_URI" POSTROOM_ROUTER_ADDR="$ROUTER_ADDR" POSTROOM_TOKEN="$TOKEN" \
    "$BIN/postroom-fetcher" --listen "127.0.0.1:$(free_port)" --metrics-listen "${METRICS[$1]}" \
    --replica "$1" --lease_period_s "$PERIOD" --lease_round_ms "$ROUND_MS" ${FETCHER_FLAGS:-} \
    >>"$D/$1.log" 2>&1 &
  FPID[$1]=$!
  PIDS+=($!)
  for r in "${!FPID[@]}"; do echo "$r ${FPID[$r]}"; done > "$D/replicas.new"
  mv "$D/replicas.new" "$D/replicas"
}
REPLICAS=()
for i in $(seq 1 "$R"); do REPLICAS+=("r$i"); start_replica "r$i"; done
python3 "$HERE/scale.py" monitor "$D" "$URI" "$IMAP_PORT" "$SAMPLE" 2>"$D/monitor.log" &
MONITOR_PID=$!

live_others() {  # VICTIM: connectors with a live lease of another replica
  sql "SELECT count(*) FROM fetcher_leases WHERE owner <> '$1' AND owner <> '' AND expires_at > now()"
}
spread() { sql "SELECT string_agg(owner || '=' || n, ' ' ORDER BY owner) FROM (SELECT owner, count(*) n FROM fetcher_leases WHERE owner <> '' AND expires_at > now() GROUP BY owner) x"; }
even() {  # every replica named holds at least its share minus one, and all N are leased
  [ "$(live_others '')" = "$N" ] &&
  [ "$(sql "SELECT count(*) FROM (SELECT count(*) n FROM fetcher_leases WHERE owner <> '' AND expires_at > now() GROUP BY owner) x WHERE n >= $N / $1 - 1")" = "$1" ]
}
until_true() {  # SECONDS COMMAND...
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do [ "$(date +%s)" -ge "$deadline" ] && return 1; sleep 0.1; done
}
t0=$(now)
until_true 120 even "$R" || die "the spread did not settle in 120 s: $(spread)"
echo "settled after $(secs "$t0" "$(now)") s: $(spread) (load $(load))"
verdict owned_once 1 "all $N connectors leased, each by one live replica: $(spread)"

# ---- mail, a kill, a restart ----------------------------------------------------------------
log "mail: $M rounds of one message per mailbox, $INTERVAL s apart"
MAIL_UID="$(id -u mail)" MAIL_GID="$(id -g mail)" python3 "$HERE/scale.py" deliver "$D/dc/mail" \
  "$D/users" "$M" "$INTERVAL" "$CORPUS/cur" "$D/delivered.tsv" &
DELIVER_PID=$!
PIDS+=($DELIVER_PID)
sleep $(( M * INTERVAL / 3 ))
t0=$(now)
kill -9 "${FPID[r1]}"
wait "${FPID[r1]}" 2>/dev/null || true
echo "kill -9 r1 (pid ${FPID[r1]}) with mail arriving (load $(load))"
until_true $(( PERIOD * 4 + 10 )) bash -c "[ \"\$(psql '$URI' -qAtX -c \"SELECT count(*) FROM fetcher_leases WHERE owner <> 'r1' AND owner <> '' AND expires_at > now()\")\" = $N ]" ||
  true
t1=$(now)
took="$(secs "$t0" "$t1")"
verdict take_over "$(python3 -c "print(int($took <= $PERIOD + $ROUND_MS / 1000 + 1 and $(live_others r1) == $N))")" \
  "r1's connectors leased again after $took s (lease period $PERIOD s, round $((ROUND_MS / 1000)) s): $(spread)"
sleep 2
t0=$(now)
start_replica r1
until_true $(( PERIOD * 4 + 30 )) even "$R" || true
echo "r1 started again (pid ${FPID[r1]}): even again after $(secs "$t0" "$(now)") s: $(spread)"

wait "$DELIVER_PID"
log "all mail delivered; waiting for every message to be stored and decided"
t0=$(now)
until_true 300 bash -c "[ \"\$(psql '$URI' -qAtX -c 'SELECT count(*) FROM messages WHERE decision IS NOT NULL')\" -ge $((N * M)) ]" || true
echo "stored and decided $(sql "SELECT count(*) FILTER (WHERE decision IS NOT NULL) || ' of ' || count(*) FROM messages") messages ($((N * M)) delivered), the last $(secs "$t0" "$(now)") s after the last delivery round"

# ---- the quiet phase: what an idle connector costs -------------------------------------------
polls() {
  local r total=0 n
  for r in "${REPLICAS[@]}"; do
    n="$(curl -s "http://${METRICS[$r]}/metrics" | awk '/^postroom_fetcher_polls_total/ { s += $NF } END { printf "%d", s }')"
    total=$((total + n))
  done
  echo "$total"
}
log "quiet: $QUIET s without mail"
sql "SELECT pg_stat_statements_reset()" >/dev/null
q_lines=$(wc -l < "$D/dc/dovecot-info.log")
q_polls=$(polls); q_xact=$(sql "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
q_t0=$(now)
sleep "$QUIET"
q_t1=$(now)
echo "$q_t0 $q_t1" > "$D/quiet"
polled=$(( $(polls) - q_polls ))
xacts=$(( $(sql "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()") - q_xact ))
fetcher_calls=$(sql "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'scale_fetcher'")
# IMAP bytes of the sessions that began in the quiet phase (an IDLE begun before it ends in
# it, and its bytes are those of the mail its poll fetched).
read -r sessions bytes_in bytes_out < <(tail -n +"$((q_lines + 1))" "$D/dc/dovecot-info.log" |
  awk 'match($0, /mpid=[0-9]+/) { began[substr($0, RSTART + 5, RLENGTH - 5)] = 1 }
       /Info: Disconnected/ && match($0, /\)<[0-9]+>/) && began[substr($0, RSTART + 2, RLENGTH - 3)] {
         n++; for (i = 1; i <= NF; i++) { if ($i ~ /^in=/) a += substr($i, 4); if ($i ~ /^out=/) b += substr($i, 5) } }
       END { printf "%d %d %d\n", n, a, b }')
python3 - "$N" "$q_t0" "$q_t1" "$polled" "$fetcher_calls" "$xacts" "$sessions" "$bytes_in" "$bytes_out" "$(load)" <<'PY'
import sys
n, t0, t1, polls, calls, xacts, sessions, b_in, b_out = (float(x) for x in sys.argv[1:10])
minutes = (t1 - t0) / 60
print(f"quiet {t1 - t0:.0f} s, {n:.0f} connectors, load {sys.argv[10]}: {polls / n / minutes:.2f} polls per "
      f"connector and minute; {calls / max(polls, 1):.1f} fetcher statements per poll "
      f"({calls / n / minutes:.1f} per connector and minute, lease rounds included); "
      f"{xacts / n / minutes:.1f} commits per connector and minute (every client); "
      f"IMAP: {sessions:.0f} sessions began and ended in it, per session the fetcher sent "
      f"{b_in / max(sessions, 1):.0f} bytes and received {b_out / max(sessions, 1):.0f}")
PY
echo "fetcher statements of the quiet phase (calls | mean ms | statement):"
sql "SELECT calls || ' | ' || round(mean_exec_time::numeric, 3) || ' | ' || left(regexp_replace(query, '\s+', ' ', 'g'), 110)
       FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'scale_fetcher'
      ORDER BY calls DESC LIMIT 25"
echo "database size $(sql "SELECT pg_size_pretty(pg_database_size(current_database()))"), messages $(sql "SELECT pg_size_pretty(pg_total_relation_size('messages'))") for $(sql "SELECT count(*) FROM messages") rows"

# ---- checks -----------------------------------------------------------------------------------
kill "$MONITOR_PID" 2>/dev/null; wait "$MONITOR_PID" 2>/dev/null || true; MONITOR_PID=""
owners="$(sql "SELECT count(*) || ' ' || count(DISTINCT connector_id) FROM fetcher_leases l WHERE expires_at > now() AND owner IN ($(printf "'%s'," "${REPLICAS[@]}" | sed 's/,$//'))")"
verdict owned_once "$([ "$owners" = "$N $N" ] && echo 1 || echo 0)" \
  "at the end $owners (live leases, distinct connectors) of $N: $(spread)"
read -r stored distinct lost foreign < <(sql "
  WITH d AS (SELECT 'scale-' || u || '-' || k || '@bench' AS mid, 'c-' || u AS connector
               FROM unnest(string_to_array('$(tr '\n' ' ' < "$D/users" | sed 's/ $//')', ' ')) u,
                    generate_series(0, $M - 1) k),
       s AS (SELECT m.message_id AS mid, c.name AS connector FROM messages m JOIN connectors c ON c.id = m.connector_id)
  SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM (SELECT DISTINCT mid, connector FROM s) x),
         (SELECT count(*) FROM d WHERE NOT EXISTS (SELECT 1 FROM s WHERE s.mid = d.mid AND s.connector = d.connector)),
         (SELECT count(*) FROM s WHERE NOT EXISTS (SELECT 1 FROM d WHERE s.mid = d.mid AND s.connector = d.connector))" | tr '\t|' '  ')
delivered=$(wc -l < "$D/delivered.tsv")
undecided=$(sql "SELECT count(*) FROM messages WHERE decision IS NULL")
verdict exactly_once "$([ "$lost" = 0 ] && [ "$stored" = "$distinct" ] && [ "$foreign" = 0 ] && [ "$delivered" = $((N * M)) ] && echo 1 || echo 0)" \
  "delivered=$delivered stored=$stored lost=$lost duplicated=$((stored - distinct)) foreign=$foreign"
verdict decided "$([ "$undecided" = 0 ] && echo 1 || echo 0)" "undecided=$undecided"
if python3 "$HERE/scale.py" check "$D" "$D/dc/dovecot-info.log"; then
  verdict fencing_and_sessions 1 "see the lines above"
else
  verdict fencing_and_sessions 0 "see the lines above"
fi
echo "load at the end $(load)"
[ ${#FAILED[@]} = 0 ] || die "failed: ${FAILED[*]}"
echo "scale: all checks passed"
