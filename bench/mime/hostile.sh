#!/usr/bin/env bash
# Parses emails shaped to hurt a MIME parser (bench_hostile: each built up to 25 MiB, the
# connector's default max_message_bytes) in a fresh child process each, and prints per email
# its size, wall and CPU time and peak RSS of that child, and the defects. Fails if one crashed,
# timed out or went over the budget: 1 s of CPU and 256 MiB peak RSS per email.
# Usage: bench/mime/hostile.sh [--size BYTES] [NAME...]
# Env: POSTROOM_BUILD_DIR (default build/), HOSTILE_MAX_CPU_S (1), HOSTILE_MAX_RSS_MIB (256).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${POSTROOM_BUILD_DIR:-$root/build}"
if [ ! -x "$build/bin/bench_hostile" ]; then
  POSTROOM_BUILD_DIR="$build" POSTROOM_BUILD_JOBS="${POSTROOM_BUILD_JOBS:-2}" \
    "$root/scripts/build" bench_hostile
fi
out="$("$build/bin/bench_hostile" "$@")" || { echo "$out"; echo "hostile: a child failed"; exit 1; }
echo "$out"
echo "$out" | awk -v cpu="${HOSTILE_MAX_CPU_S:-1}" -v rss="${HOSTILE_MAX_RSS_MIB:-256}" '
  NR > 1 && ($4 > cpu || $5 > rss) { print "over budget: " $1 " cpu_s=" $4 " rss_mib=" $5; bad = 1 }
  END { if (bad) exit 1; print "hostile: every email within " cpu " s CPU and " rss " MiB" }'
