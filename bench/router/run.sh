#!/usr/bin/env bash
# RouteEmail benchmark: the real postroom-router over gRPC against a private PostgreSQL with
# its defaults (fsync and synchronous_commit on), the demo configuration (examples/demo.yaml:
# two routes, a fallback with an acknowledgement), and corpus-sized mail from the baseline
# generator (gen_corpus.py --seed 42). Prints the load generator's figures and where the CPU
# went (router process, PostgreSQL backends, the load generator) per route.
#
# Usage: bench/router/run.sh [ROUTES] [CLIENTS]     (default 10000 routes, 8 clients)
# Env: RPC=explain times ExplainRoute instead (same parse and decision, nothing written: the
#      difference is the cost of storing); RPC=stream sends the same requests on one RouteStream
#      per client (the fetcher's way); DRIVER=threads makes the unary calls from a thread per
#      client instead of gRPC's callback API (router_bench --driver; figures before 2026-11-25
#      were taken that way); PERF=1 profiles 8 s of the run with perf (router and
#      PostgreSQL); STATEMENTS=1 prints PostgreSQL's costliest statements of the timed run
#      (pg_stat_statements); CONFIG=FILE applies another configuration than examples/demo.yaml
#      (it must have an incoming connector named `support`); KEEP_SERVERS=1; and common.sh's
#      settings (corpus, build). DURATION_S=N sends for N seconds instead of ROUTES routes (a
#      soak: docs/scaling.md runs 600 s under 8 and under 32 clients), samples the router's RSS
#      every RSS_SAMPLE_S (10) seconds and prints it first/last/max; every run prints the load
#      averages before and after (the box is shared).
# bench/router/floor.sh measures the floor under these figures: the same mail through gRPC to
# a router that does nothing, through GMime, and into a bare PostgreSQL table.
set -euo pipefail
BENCH_TARGETS="router_bench postroom-router postroom-config postroomctl postroom-keygen \
  postroom-healthcheck" source "$(dirname "$0")/common.sh"

rm -rf "$DIR/pg"  # A fresh cluster each time: comparable runs.
pg_statements_preload
DB="$("$POSTROOM_ROOT/scripts/pg" start "$DIR/pg")"
pg_statements_enable "$DB"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${KEEP_SERVERS:-0}" = 1 ] || "$POSTROOM_ROOT/scripts/pg" stop "$DIR/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$BIN/postroom-config" migrate --database "$DB" >/dev/null
umask 077
rm -f "$DIR/tokens"  # a new token each run: `token create` refuses a name the file has
TOKEN="$("$BIN/postroom-config" token create bench admin --tokens-file "$DIR/tokens" 2>/dev/null)"
umask 022
CONFIG_ADDR="127.0.0.1:$(free_port)"; ROUTER_ADDR="127.0.0.1:$(free_port)"
ROUTER_METRICS="127.0.0.1:$(free_port)"
[ -f "$DIR/secret.key" ] || "$BIN/postroom-keygen" --out "$DIR/secret.key" >/dev/null
POSTROOM_DATABASE="$DB" POSTROOM_TOKENS_FILE="$DIR/tokens" POSTROOM_SECRET_KEY_FILE="$DIR/secret.key" \
  "$BIN/postroom-config" --listen "$CONFIG_ADDR" --metrics-listen "127.0.0.1:0" \
  >"$DIR/config.log" 2>&1 &
PIDS+=($!)
POSTROOM_DATABASE="$DB" POSTROOM_TOKENS_FILE="$DIR/tokens" POSTROOM_SECRET_KEY_FILE="$DIR/secret.key" \
  "$BIN/postroom-router" --listen "$ROUTER_ADDR" --metrics-listen "$ROUTER_METRICS" \
  >"$DIR/router.log" 2>&1 &
ROUTER_PID=$!
PIDS+=($ROUTER_PID)
WAIT_SECONDS=30 wait_for "$BIN/postroom-healthcheck" "$CONFIG_ADDR" readiness
WAIT_SECONDS=30 wait_for "$BIN/postroom-healthcheck" "$ROUTER_ADDR" readiness
"$BIN/postroomctl" --config-addr "$CONFIG_ADDR" --token "$TOKEN" \
  apply -f "${CONFIG:-$POSTROOM_ROOT/examples/demo.yaml}" >/dev/null

pg_pids() {  # The bench cluster's postmaster and its children only (the box is shared).
  local pm; pm="$(head -1 "$DIR/pg/data/postmaster.pid")"
  echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"
}
busy() { awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }

log "warm-up: 1000 routes"
"$BIN/router_bench" --addr "$ROUTER_ADDR" --token "$TOKEN" --connector support --dir "$MD" \
  --clients "$CLIENTS" --routes 1000 --files "$FILES" --run-id warm >/dev/null
pg_statements_reset "$DB"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
RSS_PID=""
if [ -n "${DURATION_S:-}" ]; then  # The router's RSS over the soak, in kB.
  while kill -0 "$ROUTER_PID" 2>/dev/null; do
    awk '/^VmRSS:/ { print $2 }' "/proc/$ROUTER_PID/status"; sleep "${RSS_SAMPLE_S:-10}"
  done > "$DIR/rss" 2>/dev/null &
  RSS_PID=$!
fi
r0=$(cpu_of $ROUTER_PID); p0=$(cpu_of $(pg_pids)); read -r b0 i0 <<<"$(busy)"
t0=$(date +%s.%N)
if [ "${PERF:-0}" = 1 ]; then  # Profile the router and PostgreSQL for 8 s of the run.
  PERF_PID=""
  ( sleep 2; perf record -q -F 499 -g -o "$DIR/perf.data" -p "$(echo $ROUTER_PID $(pg_pids) | tr ' ' ',')" \
      -- sleep 8 >/dev/null 2>&1 ) &
  PERF_PID=$!
fi
"$BIN/router_bench" --addr "$ROUTER_ADDR" --token "$TOKEN" --connector support --dir "$MD" \
  --clients "$CLIENTS" --routes "$ROUTES" --seconds "${DURATION_S:-0}" --files "$FILES" \
  --run-id "run$(date +%s)" --rpc "${RPC:-route}" --driver "${DRIVER:-callbacks}" \
  | tee "$DIR/bench.out"
t1=$(date +%s.%N)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$RSS_PID" ]; then
  kill "$RSS_PID" 2>/dev/null; wait "$RSS_PID" 2>/dev/null || true
  awk 'NR == 1 { f = $1 } { l = $1; if ($1 > m) m = $1 } END {
    printf "router RSS MiB first/last/max %.1f/%.1f/%.1f (%d samples)\n", f / 1024, l / 1024, m / 1024, NR }' "$DIR/rss"
fi
ROUTES="$(sed -n 's/^routes=\([0-9]*\) .*/\1/p' "$DIR/bench.out")"  # what was sent
r1=$(cpu_of $ROUTER_PID); p1=$(cpu_of $(pg_pids)); read -r b1 i1 <<<"$(busy)"
python3 - "$ROUTES" "$r0" "$r1" "$p0" "$p1" "$b0" "$b1" "$i0" "$i1" "$t0" "$t1" <<'PY'
import os, sys
n = int(sys.argv[1]); r0, r1, p0, p1, b0, b1, i0, i1, t0, t1 = map(float, sys.argv[2:])
tick = os.sysconf("SC_CLK_TCK"); wall = t1 - t0
machine = (b1 - b0) / tick
print(f"cpu: router {r1 - r0:.2f}s ({(r1 - r0) / n * 1e6:.0f} us/route), "
      f"postgres {p1 - p0:.2f}s ({(p1 - p0) / n * 1e6:.0f} us/route), "
      f"machine busy {machine:.2f}s of {2 * wall:.2f}s available "
      f"({machine / n * 1e6:.0f} us/route; the rest: load generator and other users of the box), "
      f"idle+iowait {(i1 - i0) / tick:.2f}s")
PY
if [ "${PERF:-0}" = 1 ]; then
  wait "$PERF_PID"  # Not a bare `wait`: that would wait for the servers too.
  # `|| true`: head closing the pipe early makes perf fail, which pipefail would make fatal.
  perf report -i "$DIR/perf.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | head -15 || true
  perf report -i "$DIR/perf.data" --no-children --sort comm,sym --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | head -60 || true
fi
pg_statements_report "$DB"
curl -s "http://$ROUTER_METRICS/metrics" | grep -E '^postroom_router_(decisions_total|acks_)' | sort
