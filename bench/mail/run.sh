#!/usr/bin/env bash
# Fetch benchmark of postroom's IMAP client against a private Dovecot holding the 10k baseline
# corpus (gen_corpus.py --count 10000 --seed 42), compared with the raw `UID FETCH 1:*` baseline
# (~17k msgs/s, /work/shared/baselines/README.md). Needs root (scripts/dovecot).
#
# Usage: bench/mail/run.sh [RUNS]      (default 3 counted runs after one warm-up)
# Env: BENCH_MAIL_DIR (default /tmp/postroom-mail-bench; the corpus is kept there between runs),
#      COUNT (10000), KEEP_SERVERS=1 leaves Dovecot running, BASELINES (/work/shared/baselines).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
RUNS="${1:-3}"
DIR="${BENCH_MAIL_DIR:-/tmp/postroom-mail-bench}"
COUNT="${COUNT:-10000}"
BASELINES="${BASELINES:-/work/shared/baselines}"
BUILD_DIR="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
DV="$POSTROOM_ROOT/scripts/dovecot"

POSTROOM_BUILD_DIR="$BUILD_DIR" "$POSTROOM_ROOT/scripts/build" mail_fetch_bench >/dev/null
BIN="$BUILD_DIR/bin/mail_fetch_bench"

"$DV" start "$DIR" >/dev/null
trap '[ "${KEEP_SERVERS:-0}" = 1 ] || "$DV" stop "$DIR"' EXIT
"$DV" add-user "$DIR" bench benchpass
MD="$DIR/mail/bench/Maildir"
if [ "$(find "$MD/cur" "$MD/new" -type f 2>/dev/null | wc -l)" -ne "$COUNT" ]; then
  log "generating $COUNT messages (seed 42) into $MD"
  rm -rf "$MD" && mkdir -p "$MD"
  python3 "$BASELINES/gen_corpus.py" --count "$COUNT" --seed 42 --out "$MD" >/dev/null
  chown -R mail:mail "$DIR/mail/bench"
fi
# shellcheck disable=SC1091
source "$DIR/ports.env"

log "warm-up (Dovecot builds its index on first access)"
"$BIN" --port "$IMAP_PORT" --polls 10 >/dev/null
# The box is shared and its speed drifts: interleave ours with the baseline's raw fetch
# (one UID FETCH 1:* (BODY.PEEK[]) streamed by Python) so the two are compared in one sitting.
for i in $(seq 1 "$RUNS"); do
  echo "run=$i security=plain $("$BIN" --port "$IMAP_PORT" | tr '\n' ' ')"
  echo "run=$i baseline_raw $(python3 "$BASELINES/fetch_raw.py" --port "$IMAP_PORT" --password benchpass)"
done
echo "run=1 security=tls $("$BIN" --port "$IMAPS_PORT" --security tls --ca "$DIR/ca.pem" --polls 50 | tr '\n' ' ')"
for b in 50 1000; do
  echo "run=1 security=plain $("$BIN" --port "$IMAP_PORT" --batch $b --polls 10 | tr '\n' ' ')"
done
echo "baseline: python imaplib ONE raw UID FETCH 1:* streamed to /dev/null: 17,074 msgs/s, 828 MB/s (whole process, on-disk LF bytes); idle poll p50 0.19 ms, p99 0.71 ms"
