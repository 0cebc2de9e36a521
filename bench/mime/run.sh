#!/usr/bin/env bash
# Compares libs/mime (bench_inspect: parse + classify) with the GMime C walker on the same
# generated corpus, in the same run, and prints the ratio. The target is >= 0.6.
# Usage: bench/mime/run.sh [COUNT] [RUNS]   (defaults 10000 and 3; medians are compared)
# Env: BENCH_DATA (default /tmp/bench-data), POSTROOM_BUILD_DIR (default build/),
#      BENCH_THREADS (threads for an extra bench_inspect run; default 2; 0 skips it).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
count="${1:-10000}"
runs="${2:-3}"
data="${BENCH_DATA:-/tmp/bench-data}"
corpus="$data/mime-corpus-$count"
baselines="$root/../shared/baselines"
build="${POSTROOM_BUILD_DIR:-$root/build}"

if [ ! -d "$corpus/cur" ] || [ "$(ls "$corpus/cur" | wc -l)" -ne "$count" ]; then
  echo "generating $count messages into $corpus"
  rm -rf "$corpus"
  python3 "$baselines/gen_corpus.py" --count "$count" --seed 42 --out "$corpus" >/dev/null
fi

walk="$data/gmime_walk"
if [ ! -x "$walk" ] || [ "$baselines/gmime_walk.c" -nt "$walk" ]; then
  mkdir -p "$data"
  gcc -O2 -o "$walk" "$baselines/gmime_walk.c" $(pkg-config --cflags --libs gmime-3.0)
fi
if [ ! -x "$build/bin/bench_inspect" ]; then
  POSTROOM_BUILD_DIR="$build" POSTROOM_BUILD_JOBS="${POSTROOM_BUILD_JOBS:-2}" \
    "$root/scripts/build" bench_inspect
fi

# Warm the page cache so both read the corpus from memory.
cat "$corpus"/cur/* >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { sed -n 's/.*msgs\/s=\([0-9.]*\).*/\1/p'; }
walk_rates=() mime_rates=()
for i in $(seq "$runs"); do
  w="$("$walk" "$corpus/cur")"; echo "$w"
  m="$("$build/bin/bench_inspect" "$corpus")"; echo "$m"
  walk_rates+=("$(echo "$w" | rate)")
  mime_rates+=("$(echo "$m" | rate)")
done
wm="$(printf '%s\n' "${walk_rates[@]}" | median)"
mm="$(printf '%s\n' "${mime_rates[@]}" | median)"
threads="${BENCH_THREADS:-2}"
if [ "$threads" -gt 0 ]; then
  "$build/bin/bench_inspect" --threads "$threads" "$corpus"
fi
awk -v w="$wm" -v m="$mm" 'BEGIN {
  printf "median msgs/s: gmime_walk=%.1f bench_inspect=%.1f ratio=%.2f (target >= 0.60)\n", w, m, m / w }'
