#!/usr/bin/env bash
# The floor under bench/router/run.sh: what each part of a route costs alone, on this box and
# the same corpus (gen_corpus.py --seed 42, the same files), with nothing of postroom's logic:
#   transport   router_bench against a RouterService that answers at once (--serve-noop):
#               gRPC both ways, 8 clients, the load generator included
#   parse       GMime's own walker (baselines/gmime_walk.c) and libs/mime (bench_inspect: parse
#               and classify, what the router runs), single-threaded CPU per message
#   storage     PostgreSQL with its defaults (fsync, synchronous_commit on) in a fresh cluster,
#               8 clients inserting each raw message as one row and one transaction into a
#               bare table (pg_insert_floor), after the same 1,000-row warm-up as run.sh;
#               PER_STATEMENT=N inserts N messages per statement and transaction instead
# Machine busy CPU is measured around the transport and storage runs (/proc/stat: every
# process on the box; the box has 2 cores), so the sum is the CPU a route needs at the least,
# and 2 cores / that sum bounds what any router can reach here.
#
# Usage: bench/router/floor.sh [ROUTES] [CLIENTS]     (default 10000 routes, 8 clients)
# Env: BENCH_ROUTER_DIR (/tmp/postroom-router-bench; corpus shared with run.sh), FILES (2000),
#      BASELINES (/work/shared/baselines), PER_STATEMENT (1).
set -euo pipefail
BENCH_TARGETS="router_bench pg_insert_floor bench_inspect" source "$(dirname "$0")/common.sh"
WALK="$DIR/gmime_walk"
if [ ! -x "$WALK" ] || [ "$BASELINES/gmime_walk.c" -nt "$WALK" ]; then
  gcc -O2 -o "$WALK" "$BASELINES/gmime_walk.c" $(pkg-config --cflags --libs gmime-3.0)
fi

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$POSTROOM_ROOT/scripts/pg" stop "$DIR/floor-pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Machine busy CPU seconds of the command, printed as microseconds per unit ($1 units).
busy_us_per() {
  local units="$1"; shift
  local b0 b1
  b0="$(machine_busy_seconds)"
  "$@" >&2
  b1="$(machine_busy_seconds)"
  awk -v a="$b0" -v b="$b1" -v n="$units" 'BEGIN { printf "%.0f", (b - a) / n * 1e6 }'
}

log "transport: $ROUTES RouteEmail calls to a router that answers at once"
NOOP_ADDR="127.0.0.1:$(free_port)"
"$BIN/router_bench" --serve-noop "$NOOP_ADDR" &
PIDS+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/${NOOP_ADDR%:*}/${NOOP_ADDR#*:}") 2>/dev/null && break; sleep 0.1; done
"$BIN/router_bench" --addr "$NOOP_ADDR" --dir "$MD" --clients "$CLIENTS" --routes 1000 \
  --files "$FILES" >/dev/null
transport_us="$(busy_us_per "$ROUTES" "$BIN/router_bench" --addr "$NOOP_ADDR" --dir "$MD" \
  --clients "$CLIENTS" --routes "$ROUTES" --files "$FILES")"

log "parse: $FILES files, single-threaded"
cat "$MD"/cur/* >/dev/null  # From the page cache, like the load generator's memory.
rate_of() { sed -n 's/.*msgs\/s=\([0-9.]*\).*/\1/p'; }
walk_rate="$("$WALK" "$MD/cur" | tee /dev/stderr | rate_of)"
inspect_rate="$("$BIN/bench_inspect" "$MD" | tee /dev/stderr | rate_of)"

PER_STATEMENT="${PER_STATEMENT:-1}"
log "storage: $ROUTES rows into a fresh PostgreSQL cluster, $CLIENTS clients, $PER_STATEMENT per statement"
rm -rf "$DIR/floor-pg"
DB="$("$POSTROOM_ROOT/scripts/pg" start "$DIR/floor-pg")"
"$BIN/pg_insert_floor" --database "$DB" --dir "$MD" --clients "$CLIENTS" --rows 1000 \
  --files "$FILES" >/dev/null
storage_us="$(busy_us_per "$ROUTES" "$BIN/pg_insert_floor" --database "$DB" --dir "$MD" \
  --clients "$CLIENTS" --rows "$ROUTES" --files "$FILES" --per-statement "$PER_STATEMENT")"

awk -v t="$transport_us" -v w="$walk_rate" -v i="$inspect_rate" -v s="$storage_us" 'BEGIN {
  walk_us = 1e6 / w; inspect_us = 1e6 / i
  printf "floor per route (machine busy CPU, us): transport %d, parse %.0f (GMime walk %.0f), storage %d\n",
         t, inspect_us, walk_us, s
  printf "sum %.0f us with libs/mime (%.0f with GMime walk alone): at most %.0f routes/s on 2 cores (%.0f)\n",
         t + inspect_us + s, t + walk_us + s, 2e6 / (t + inspect_us + s), 2e6 / (t + walk_us + s)
}'
