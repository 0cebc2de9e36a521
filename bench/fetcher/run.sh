#!/usr/bin/env bash
# Fetcher benchmark, end to end (root): COUNT generated messages (gen_corpus.py --count COUNT
# --seed 42) in a private Dovecot -> postroom-fetcher stores them -> the real postroom-router
# routes them (examples/demo.yaml: two routes, a fallback with an acknowledgement) -> work items,
# all in a private PostgreSQL with its defaults (fsync and synchronous_commit on). In the same
# run, mbsync pulls the same mailbox (FSync on) as the baseline, before and after the fetcher.
#   POSTROOM_BUILD_DIR=build-x bench/fetcher/run.sh [COUNT]          (default 10000)
# Prints msgs/s for mbsync (before, after, mean), for the fetcher "stored" (every message in `messages`) and
# "stored+routed" (every message with a decision), both from the fetcher's start, their ratio to
# mbsync's mean, and the fetcher's peak RSS (VmHWM); then the CPU each process used.
# Env: ROUTER=0 leaves the router out (fetch + store only), PERF=1 profiles the whole box for
# 8 s of the routed phase, STATEMENTS=1 prints PostgreSQL's costliest statements
# (pg_stat_statements), KEEP_PG=1 leaves PostgreSQL running, FETCHER_FLAGS (extra fetcher flags), BENCH_DIR (/tmp/fetcher-bench).
# The idle poll is bench/fetcher/idle_poll.sh.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
COUNT="${1:-10000}"
BUILD="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
BIN="$BUILD/bin"
POSTROOM_BUILD_DIR="$BUILD" "$POSTROOM_ROOT/scripts/build" postroom-fetcher postroom-config \
  postroom-router postroomctl postroom-keygen postroom-healthcheck >/dev/null
command -v mbsync >/dev/null || die "mbsync missing: apt-get install isync"
D="${BENCH_DIR:-/tmp/fetcher-bench}"
rm -rf "$D"; mkdir -p "$D"; chmod 755 "$D"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$POSTROOM_ROOT/scripts/dovecot" stop "$D/dc" >/dev/null 2>&1 || true
  [ "${KEEP_PG:-0}" = 1 ] || "$POSTROOM_ROOT/scripts/pg" stop "$D/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT
now() { date +%s.%N; }
py() { python3 -c "print($1)"; }
pg_pids() { local pm; pm="$(head -1 "$D/pg/data/postmaster.pid")"; echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"; }

CORPUS=/tmp/bench-data/fetcher-corpus-$COUNT
if [ ! -d "$CORPUS/Maildir/cur" ]; then
  python3 /work/shared/baselines/gen_corpus.py --count "$COUNT" --seed 42 --out "$CORPUS/Maildir" >/dev/null
fi
pg_statements_preload
URI="$("$POSTROOM_ROOT/scripts/pg" start "$D/pg" | tail -1)"   # fsync on (no --fast)
pg_statements_enable "$URI"
"$BIN/postroom-config" migrate --database "$URI" >/dev/null
sql() { psql "$URI" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
echo "postgres: fsync=$(sql "SHOW fsync") synchronous_commit=$(sql "SHOW synchronous_commit")"
"$POSTROOM_ROOT/scripts/dovecot" start "$D/dc" >/dev/null
source "$D/dc/ports.env"
"$POSTROOM_ROOT/scripts/dovecot" add-user "$D/dc" bench benchpass >/dev/null
"$POSTROOM_ROOT/scripts/dovecot" fill "$D/dc" bench "$CORPUS/Maildir" >/dev/null
BYTES=$(du -sb "$CORPUS/Maildir" | cut -f1)

# Warm-up: Dovecot builds its index on first access; neither side should pay for that.
IMAP_PORT=$IMAP_PORT BENCH_DATA=$D /work/shared/baselines/mbsync_pull.sh "$D/mbsync-warm" >/dev/null
rm -rf "$D/mbsync-warm"
# mbsync pulls the mailbox before the fetcher runs and again after it; the ratios use the mean
# of the two: this box's speed drifts by a third within minutes, and one pull before set the
# ratio by the drift between the two phases as much as by the fetcher.
mbsync_rate() {  # prints msgs/s of one timed pull and says so on stderr
  local t0 t1 n rate
  t0=$(now)
  IMAP_PORT=$IMAP_PORT BENCH_DATA=$D /work/shared/baselines/mbsync_pull.sh "$D/mbsync-out" >/dev/null
  t1=$(now)
  n=$(find "$D/mbsync-out/INBOX/cur" "$D/mbsync-out/INBOX/new" -type f | wc -l)
  rate=$(py "f'{$n/($t1-$t0):.0f}'")
  echo "mbsync ($1): $n msgs in $(py "f'{$t1-$t0:.2f}'") s = $rate msgs/s" >&2
  rm -rf "$D/mbsync-out"
  echo "$rate"
}
MB_BEFORE=$(mbsync_rate before)

# Configuration through the config service: the demo connector pointed at this Dovecot, its
# routes and fallback. Activated by SQL (EnableConnector would first run a connection test).
umask 077
TOKEN="$("$BIN/postroom-config" token create bench admin --tokens-file "$D/tokens" 2>/dev/null)"
"$BIN/postroom-keygen" --out "$D/key" >/dev/null
umask 022
export POSTROOM_DATABASE="$URI" POSTROOM_TOKENS_FILE="$D/tokens" POSTROOM_SECRET_KEY_FILE="$D/key"
CONFIG_ADDR="127.0.0.1:$(free_port)"
"$BIN/postroom-config" --listen "$CONFIG_ADDR" --metrics-listen 127.0.0.1:0 >"$D/config.log" 2>&1 &
CPID=$!; PIDS+=($CPID)
WAIT_SECONDS=30 wait_for "$BIN/postroom-healthcheck" "$CONFIG_ADDR" readiness
sed -e "s/port: 11143/port: $IMAP_PORT/" -e "s/username: support, password: demo-imap-password/username: bench, password: benchpass/" \
  "$POSTROOM_ROOT/examples/demo.yaml" > "$D/demo.yaml"
"$BIN/postroomctl" --config-addr "$CONFIG_ADDR" --token "$TOKEN" apply -f "$D/demo.yaml" >/dev/null
kill "$CPID"; wait "$CPID" 2>/dev/null || true
sql "UPDATE connectors SET status = 'active' WHERE name = 'support'"

ROUTER_PID=""
ROUTER_ADDR="127.0.0.1:1"   # nothing listens: RouteEmail fails fast, messages stay pending
if [ "${ROUTER:-1}" = 1 ]; then
  ROUTER_ADDR="127.0.0.1:$(free_port)"
  "$BIN/postroom-router" --listen "$ROUTER_ADDR" --metrics-listen 127.0.0.1:0 >"$D/router.log" 2>&1 &
  ROUTER_PID=$!; PIDS+=($ROUTER_PID)
  WAIT_SECONDS=30 wait_for "$BIN/postroom-healthcheck" "$ROUTER_ADDR" readiness
fi
p0=$(cpu_of $(pg_pids)); r0=0; [ -n "$ROUTER_PID" ] && r0=$(cpu_of "$ROUTER_PID")
t2=$(now)
POSTROOM_ROUTER_ADDR="$ROUTER_ADDR" POSTROOM_TOKEN="$TOKEN" "$BIN/postroom-fetcher" \
  --listen "127.0.0.1:$(free_port)" --metrics-listen 127.0.0.1:0 --replica bench ${FETCHER_FLAGS:-} \
  >"$D/fetcher.log" 2>&1 &
FPID=$!; PIDS+=($FPID)
# Progress from one psql session (\watch) rather than a new connection, psql and backend
# process every 0.2 s: that polling cost the box as much CPU as the fetcher itself. It reads
# the highest message id (the fetcher's ids come from one sequence: 1..COUNT on this fresh
# database) and the pending count from their indexes: a count(*) over `messages` cost
# PostgreSQL 6 ms a poll, 3 % of a core. An exact count confirms "all stored" once.
printf 'SELECT coalesce(max(id), 0), (SELECT count(*) FROM messages WHERE decision IS NULL) FROM messages \\watch 0.2\n' |
  psql "$URI" -qAtX -F ' ' >"$D/progress" 2>/dev/null &
PROGRESS_PID=$!; PIDS+=($PROGRESS_PID)
t_stored=""; t_routed=""; perf_started=0; all_stored=0
while :; do
  kill -0 "$FPID" 2>/dev/null || die "fetcher died: $(tail -5 "$D/fetcher.log")"
  stored=0; pending=0
  read -r stored pending < <(tail -n 2 "$D/progress" | grep -E '^[0-9]+ [0-9]+$' | tail -n 1) || true
  : "${stored:=0}" "${pending:=0}"
  if [ "$all_stored" = 0 ] && [ "$stored" -ge "$COUNT" ] &&
     [ "$(sql "SELECT count(*) FROM messages")" -ge "$COUNT" ]; then
    all_stored=1
    [ -n "$t_stored" ] || { t_stored=$(now); f_cpu=$(cpu_of "$FPID"); }
  fi
  decided=$((stored - pending))
  if [ "${PERF:-0}" = 1 ] && [ "$perf_started" = 0 ] && [ "$decided" -ge $((COUNT / 10)) ]; then
    perf record -q -a -F 499 -g -o "$D/perf.data" -- sleep 8 >/dev/null 2>&1 &
    perf_started=1
  fi
  if [ -n "$ROUTER_PID" ]; then
    [ "$all_stored" = 1 ] && [ "$decided" -ge "$COUNT" ] && { t_routed=$(now); break; }
  elif [ -n "$t_stored" ]; then
    break
  fi
  sleep 0.2
done
[ -n "$t_stored" ] || t_stored=$t_routed
f_total=$(cpu_of "$FPID")
r1=0; [ -n "$ROUTER_PID" ] && r1=$(cpu_of "$ROUTER_PID")
p1=$(cpu_of $(pg_pids))
t_end=$(now)
RSS="$(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$FPID/status)"
kill "$FPID" "$PROGRESS_PID" ${ROUTER_PID:+"$ROUTER_PID"} 2>/dev/null || true
wait "$FPID" "$PROGRESS_PID" ${ROUTER_PID:+"$ROUTER_PID"} 2>/dev/null || true
MB_AFTER=$(mbsync_rate after)
MB_RATE=$(( (MB_BEFORE + MB_AFTER) / 2 ))
echo "mbsync mean: $MB_RATE msgs/s (the ratios below use it)"
S_RATE=$(py "f'{$COUNT/($t_stored-$t2):.0f}'")
POLL_MS=$(grep -o 'event=poll_done connector=support outcome=success stored=[0-9]* ms=[0-9]*' "$D/fetcher.log" | head -1 | sed 's/.*ms=//')
echo "fetcher stored: $COUNT msgs in $(py "f'{$t_stored-$t2:.2f}'") s from process start = $S_RATE msgs/s ($(py "f'{$S_RATE/$MB_RATE:.2f}'") x mbsync); the sync poll itself ${POLL_MS} ms"
if [ -n "$ROUTER_PID" ]; then
  R_RATE=$(py "f'{$COUNT/($t_routed-$t2):.0f}'")
  echo "fetcher stored+routed: $COUNT decided in $(py "f'{$t_routed-$t2:.2f}'") s from process start = $R_RATE msgs/s ($(py "f'{$R_RATE/$MB_RATE:.2f}'") x mbsync)"
  echo "decisions: $(sql "SELECT string_agg(decision || '=' || n, ' ') FROM (SELECT decision, count(*) n FROM messages GROUP BY 1 ORDER BY 1) d"); work items: $(sql "SELECT count(*) FROM work_items"); outbox: $(sql "SELECT count(*) FROM outbox")"
fi
echo "fetcher peak RSS: $RSS"
echo "cpu s: fetcher $f_total (until stored: $f_cpu), router $(py "f'{$r1-$r0:.2f}'"), postgres $(py "f'{$p1-$p0:.2f}'"), wall $(py "f'{$t_end-$t2:.2f}'") on $(nproc) cores"
echo "corpus: $(py "f'{$BYTES/1e6:.0f}'") MB; messages table: $(sql "SELECT pg_size_pretty(pg_total_relation_size('messages'))")"
pg_statements_report "$URI"
if [ "${PERF:-0}" = 1 ] && [ "$perf_started" = 1 ]; then
  wait %?perf 2>/dev/null || sleep 8
  perf report -i "$D/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
  perf report -i "$D/perf.data" --no-children --sort comm,dso,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
fi
