#!/usr/bin/env bash
# Fetcher benchmark (root): 10,000 generated messages (gen_corpus.py --count 10000 --seed 42) in
# a private Dovecot, pulled by mbsync (the baseline, FSync on) and by postroom-fetcher into a
# private PostgreSQL with fsync and synchronous_commit on, in the same run; then idle polls.
#   POSTROOM_BUILD_DIR=build-x bench/fetcher/run.sh [COUNT]
# Prints msgs/s for both, the ratio, the fetcher's peak RSS (VmHWM) and the idle poll time.
# The router is not started (RouteEmail calls fail fast and messages stay pending): this
# measures fetch + store, which is the fetcher's own work.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
COUNT="${1:-10000}"
BUILD="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
FETCHER="$BUILD/bin/postroom-fetcher"
CONFIG="$BUILD/bin/postroom-config"
[ -x "$FETCHER" ] && [ -x "$CONFIG" ] || die "build postroom-fetcher and postroom-config first"
command -v mbsync >/dev/null || die "mbsync missing: apt-get install isync"
D="${BENCH_DIR:-/tmp/fetcher-bench}"
rm -rf "$D"; mkdir -p "$D"; chmod 755 "$D"
FPID=""
cleanup() {
  [ -n "$FPID" ] && kill "$FPID" 2>/dev/null && wait "$FPID" 2>/dev/null || true
  "$POSTROOM_ROOT/scripts/dovecot" stop "$D/dc" >/dev/null 2>&1 || true
  "$POSTROOM_ROOT/scripts/pg" stop "$D/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT
now() { date +%s.%N; }

CORPUS=/tmp/bench-data/fetcher-corpus-$COUNT
if [ ! -d "$CORPUS/Maildir/cur" ]; then
  python3 /work/shared/baselines/gen_corpus.py --count "$COUNT" --seed 42 --out "$CORPUS/Maildir" >/dev/null
fi
URI="$("$POSTROOM_ROOT/scripts/pg" start "$D/pg" | tail -1)"   # fsync on (no --fast)
"$CONFIG" migrate --database "$URI" >/dev/null
psql "$URI" -qAtX -c "SHOW fsync; SHOW synchronous_commit" | tr '\n' ' '; echo "(fsync, synchronous_commit)"
"$POSTROOM_ROOT/scripts/dovecot" start "$D/dc" >/dev/null
source "$D/dc/ports.env"
"$POSTROOM_ROOT/scripts/dovecot" add-user "$D/dc" bench benchpass >/dev/null
"$POSTROOM_ROOT/scripts/dovecot" fill "$D/dc" bench "$CORPUS/Maildir" >/dev/null
BYTES=$(du -sb "$CORPUS/Maildir" | cut -f1)

# Warm-up: Dovecot builds its index on first access; neither side should pay for that.
IMAP_PORT=$IMAP_PORT BENCH_DATA=$D /work/shared/baselines/mbsync_pull.sh "$D/mbsync-warm" >/dev/null
rm -rf "$D/mbsync-warm"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true

t0=$(now)
IMAP_PORT=$IMAP_PORT BENCH_DATA=$D /work/shared/baselines/mbsync_pull.sh "$D/mbsync-out" >/dev/null
t1=$(now)
MB_N=$(find "$D/mbsync-out/INBOX/cur" "$D/mbsync-out/INBOX/new" -type f | wc -l)
MB_S=$(python3 -c "print(f'{$t1-$t0:.2f}')")
MB_RATE=$(python3 -c "print(f'{$MB_N/($t1-$t0):.0f}')")
echo "mbsync: $MB_N msgs in ${MB_S}s = $MB_RATE msgs/s"

echo "b admin $(openssl rand -hex 16)" > "$D/tokens"; chmod 600 "$D/tokens"
echo "k1 $(openssl rand -hex 32)" > "$D/key"; chmod 600 "$D/key"
psql "$URI" -qAtX -c "INSERT INTO connectors (name, protocol, direction, status, spec, modified_by)
  VALUES ('bench', 'imap', 'incoming', 'active', '{\"name\": \"bench\", \"protocol\": \"PROTOCOL_IMAP\",
  \"server\": {\"host\": \"127.0.0.1\", \"port\": $IMAP_PORT, \"tls\": \"TLS_MODE_NONE\"},
  \"auth\": {\"username\": \"bench\", \"password\": \"benchpass\"},
  \"settings\": {\"poll_interval_s\": 1}}', 'bench')"
MPORT=$(free_port)
t2=$(now)
POSTROOM_DATABASE="$URI" POSTROOM_ROUTER_ADDR=127.0.0.1:1 "$FETCHER" \
  --listen "127.0.0.1:$(free_port)" --metrics-listen "127.0.0.1:$MPORT" --tokens-file "$D/tokens" \
  --secret-key-file "$D/key" --replica bench ${FETCHER_FLAGS:-} >"$D/fetcher.log" 2>&1 &
FPID=$!
until [ "$(psql "$URI" -qAtX -c 'SELECT count(*) FROM messages')" -ge "$COUNT" ]; do
  kill -0 "$FPID" || die "fetcher died: $(tail -5 "$D/fetcher.log")"
  sleep 0.1
done
t3=$(now)
POLL_MS=$(grep -o 'event=poll_done connector=bench outcome=success stored=[0-9]* ms=[0-9]*' "$D/fetcher.log" | head -1 | sed 's/.*ms=//')
STORED=$(psql "$URI" -qAtX -c 'SELECT count(*) FROM messages')
F_S=$(python3 -c "print(f'{$t3-$t2:.2f}')")
F_RATE=$(python3 -c "print(f'{$STORED/($t3-$t2):.0f}')")
P_RATE=$(python3 -c "print(f'{$STORED/($POLL_MS/1000):.0f}')")
echo "fetcher: $STORED msgs in ${F_S}s from process start = $F_RATE msgs/s; the sync poll itself: ${POLL_MS} ms = $P_RATE msgs/s"
echo "ratio (process start, vs mbsync): $(python3 -c "print(f'{$F_RATE/$MB_RATE:.2f}')")x; (poll only): $(python3 -c "print(f'{$P_RATE/$MB_RATE:.2f}')")x"
echo "corpus: $(python3 -c "print(f'{$BYTES/1e6:.0f}')") MB; stored raw (lz4 toasted): $(psql "$URI" -qAtX -c "SELECT pg_size_pretty(pg_total_relation_size('messages'))")"

# Idle polls: one poll per second of an unchanged mailbox (connect, LOGIN, EXAMINE: UIDNEXT says
# nothing is new, LOGOUT; plus two small transactions), from the poll duration histogram.
m() { curl -s "127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 ~ k {print $2}' | head -1; }
s0=$(m 'postroom_fetcher_poll_duration_seconds_sum'); c0=$(m 'postroom_fetcher_poll_duration_seconds_count')
sleep "${IDLE_SECONDS:-10}"
s1=$(m 'postroom_fetcher_poll_duration_seconds_sum'); c1=$(m 'postroom_fetcher_poll_duration_seconds_count')
echo "idle poll ($COUNT-message mailbox): $(python3 -c "print(f'{($s1-$s0)/($c1-$c0)*1000:.2f} ms mean over {int($c1-$c0)} polls')")"
echo "fetcher peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$FPID/status)"
