# Sourced by bench/router/run.sh and floor.sh with their arguments: settings, the build and the
# corpus both use, so their figures are of the same mail.
#   ROUTES ($1, 10000), CLIENTS ($2, 8); env BENCH_ROUTER_DIR (/tmp/postroom-router-bench:
#   corpus and clusters kept between runs), FILES (2000 distinct messages), BASELINES
#   (/work/shared/baselines), POSTROOM_BUILD_DIR (build/). BENCH_TARGETS: what to build.
# Sets DIR, BIN and MD (the Maildir: gen_corpus.py --seed 42, made once).
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
ROUTES="${1:-10000}"
CLIENTS="${2:-8}"
DIR="${BENCH_ROUTER_DIR:-/tmp/postroom-router-bench}"
FILES="${FILES:-2000}"
BASELINES="${BASELINES:-/work/shared/baselines}"
BUILD_DIR="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
BIN="$BUILD_DIR/bin"
POSTROOM_BUILD_DIR="$BUILD_DIR" "$POSTROOM_ROOT/scripts/build" $BENCH_TARGETS >/dev/null
MD="$DIR/Maildir"
if [ "$(find "$MD/cur" -type f 2>/dev/null | wc -l)" -ne "$FILES" ]; then
  log "generating $FILES messages (seed 42) into $MD"
  rm -rf "$MD" && mkdir -p "$MD"
  python3 "$BASELINES/gen_corpus.py" --count "$FILES" --seed 42 --out "$MD" >/dev/null
fi
