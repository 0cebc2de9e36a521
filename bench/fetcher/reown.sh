#!/usr/bin/env bash
# Take-over time (root): three fetcher replicas share 100 IMAP connectors (one empty mailbox on a
# private Dovecot; private PostgreSQL with fsync on); once the spread has settled, one replica
# is killed with SIGKILL, and we time until all 100 connectors have a live lease again.
#   POSTROOM_BUILD_DIR=build-x bench/fetcher/reown.sh [LEASE_PERIOD_S] [CONNECTORS]
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
PERIOD="${1:-10}"
N="${2:-100}"
BUILD="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
FETCHER="$BUILD/bin/postroom-fetcher"
CONFIG="$BUILD/bin/postroom-config"
D="${BENCH_DIR:-/tmp/fetcher-reown}"
rm -rf "$D"; mkdir -p "$D"; chmod 755 "$D"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$POSTROOM_ROOT/scripts/dovecot" stop "$D/dc" >/dev/null 2>&1 || true
  "$POSTROOM_ROOT/scripts/pg" stop "$D/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT
URI="$("$POSTROOM_ROOT/scripts/pg" start "$D/pg" | tail -1)"
"$CONFIG" migrate --database "$URI" >/dev/null
"$POSTROOM_ROOT/scripts/dovecot" start "$D/dc" >/dev/null
source "$D/dc/ports.env"
"$POSTROOM_ROOT/scripts/dovecot" add-user "$D/dc" idle idlepw >/dev/null
sql() { psql "$URI" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
sql "INSERT INTO connectors (name, protocol, direction, status, spec, modified_by)
  SELECT 'c' || i, 'imap', 'incoming', 'active', jsonb_build_object('name', 'c' || i,
  'protocol', 'PROTOCOL_IMAP', 'server', jsonb_build_object('host', '127.0.0.1', 'port',
  $IMAP_PORT, 'tls', 'TLS_MODE_NONE'), 'auth', jsonb_build_object('username', 'idle',
  'password', 'idlepw'), 'settings', jsonb_build_object('poll_interval_s', 30)), 'bench'
  FROM generate_series(1, $N) i"
"$CONFIG" token create b admin --tokens-file "$D/tokens" >/dev/null 2>&1
echo "k1 $(openssl rand -hex 32)" > "$D/key"; chmod 600 "$D/key"
for r in r1 r2 r3; do
  POSTROOM_DATABASE="$URI" POSTROOM_ROUTER_ADDR=127.0.0.1:1 "$FETCHER" \
    --listen "127.0.0.1:$(free_port)" --metrics-listen "127.0.0.1:$(free_port)" \
    --tokens-file "$D/tokens" --secret-key-file "$D/key" --replica "$r" \
    --lease_period_s "$PERIOD" --lease_round_ms 1000 >"$D/$r.log" 2>&1 &
  PIDS+=($!)
done
live() { sql "SELECT count(*) FROM fetcher_leases WHERE owner <> '' AND expires_at > now()"; }
spread() { sql "SELECT string_agg(owner || '=' || n, ' ' ORDER BY owner) FROM (SELECT owner, count(*) n FROM fetcher_leases WHERE owner <> '' AND expires_at > now() GROUP BY owner) x"; }
deadline=$(( $(date +%s) + 60 ))
until [ "$(live)" = "$N" ] && [ "$(sql "SELECT count(*) FILTER (WHERE n >= $N / 3 - 1) FROM (SELECT count(*) n FROM fetcher_leases WHERE owner <> '' AND expires_at > now() GROUP BY owner) x")" = 3 ]; do
  [ "$(date +%s)" -ge "$deadline" ] && die "spread did not settle: $(spread)"
  sleep 0.5
done
echo "settled: $(spread)"
t0=$(date +%s.%N)
kill -9 "${PIDS[0]}"
# r1's leases count as live until they expire: wait until none of r1's is live and all N are.
until [ "$(sql "SELECT count(*) FROM fetcher_leases WHERE owner <> 'r1' AND owner <> '' AND expires_at > now()")" = "$N" ]; do
  sleep 0.1
done
t1=$(date +%s.%N)
echo "killed r1; all $N connectors re-owned after $(python3 -c "print(f'{$t1-$t0:.1f}')") s (lease period ${PERIOD} s, round 1 s): $(spread)"
