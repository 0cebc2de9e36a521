#!/usr/bin/env bash
# The retention sweep on a big messages table (issue #20, docs/privacy.md "Retention"): fills a
# fresh PostgreSQL (its defaults: fsync and synchronous_commit on) with MESSAGES decided
# messages by SQL (generate_series, not the router), OLD_PCT % of them past the connector's
# 30-day retention, then measures
#   ingest alone      pgbench, CLIENTS clients inserting one RAW_BYTES message per transaction
#                     for INGEST_S seconds: inserts/s and the p99 of one insert
#   ingest + sweep    the same while retention_sweep_bench runs the router's sweep
#                     (services/router/retention.cc, batches of BATCH, PAUSE_MS between)
#   the sweep         rows/s, and the table, TOAST and index sizes before, after, and after a
#                     plain VACUUM
#   DELETE instead    what deleting 10,000 old rows would cost against the sweep's UPDATE
#                     (raw emptied), each inside a transaction rolled back
# Usage: bench/retention/sweep.sh [MESSAGES]     (default 1000000)
# Env: OLD_PCT (30), RAW_BYTES (4000: raw bytes per message, random hex, which lz4 barely
#      compresses, as stored mail after lz4), BATCH (500), PAUSE_MS (100), CLIENTS (2),
#      INGEST_S (30), BENCH_DIR (/tmp/postroom-retention-bench; the cluster is destroyed at the
#      end unless KEEP=1), POSTROOM_BUILD_DIR (build/).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
MESSAGES="${1:-1000000}"
OLD_PCT="${OLD_PCT:-30}"
RAW_BYTES="${RAW_BYTES:-4000}"
BATCH="${BATCH:-500}"
PAUSE_MS="${PAUSE_MS:-100}"
CLIENTS="${CLIENTS:-2}"
INGEST_S="${INGEST_S:-30}"
D="${BENCH_DIR:-/tmp/postroom-retention-bench}"
BUILD_DIR="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
BIN="$BUILD_DIR/bin"
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
build() { POSTROOM_BUILD_DIR="$BUILD_DIR" "$POSTROOM_ROOT/scripts/build" "$@" >/dev/null; }
build postroom-config

cleanup() {
  [ -n "${SWEEP_PID:-}" ] && kill "$SWEEP_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then
    "$POSTROOM_ROOT/scripts/pg" stop "$D/pg" >/dev/null 2>&1 || true
  else
    "$POSTROOM_ROOT/scripts/pg" destroy "$D/pg" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
rm -rf "$D"; mkdir -p "$D"; chmod 755 "$D"
DB="$("$POSTROOM_ROOT/scripts/pg" start "$D/pg")"
export POSTROOM_DATABASE="$DB"
"$BIN/postroom-config" migrate --database "$DB" >/dev/null 2>&1
sql() { psql "$DB" -v ON_ERROR_STOP=1 -qAtX "$@"; }

log "filling $MESSAGES decided messages of $RAW_BYTES bytes, $OLD_PCT % older than 30 days"
sql <<SQL
INSERT INTO connectors (name, protocol, direction, status, spec, modified_by)
VALUES ('bench', 'imap', 'incoming', 'active', '{"name": "bench", "retention_days": 30}', 'bench');
INSERT INTO connector_state (connector_id) SELECT id FROM connectors;
-- 1,000 distinct bodies: random hex, which lz4 leaves about as large as stored mail.
CREATE TABLE bench_pool AS SELECT i AS id,
  convert_to('From: customer' || i || '@client.example' || E'\r\nSubject: bench ' || i ||
             E'\r\n\r\n' || (SELECT string_agg(md5(random()::text || j), '')
                               FROM generate_series(1, ($RAW_BYTES + 31) / 32) j), 'UTF8') AS raw
  FROM generate_series(0, 999) i;
SQL
fill_start="$(date +%s.%N)"
chunk=100000
for ((lo = 1; lo <= MESSAGES; lo += chunk)); do
  hi=$((lo + chunk - 1)); [ "$hi" -le "$MESSAGES" ] || hi="$MESSAGES"
  # Message i is old when i mod 100 < OLD_PCT: old and young rows interleave, as time does.
  sql -c "INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, message_id, summary,
            decision, decided_at, decision_step, stored_at, received_at)
          SELECT c.id, 'INBOX:1:' || i, length(p.raw), p.raw, 'm' || i || '@client.example',
            jsonb_build_object('subject', 'bench ' || i, 'from', 'customer@client.example'),
            'created', t, 'fallback', t, t
          FROM connectors c, generate_series($lo, $hi) i
          JOIN bench_pool p ON p.id = i % 1000
          CROSS JOIN LATERAL (SELECT now() - CASE WHEN i % 100 < $OLD_PCT
            THEN interval '40 days' ELSE interval '10 days' END - i * interval '1 ms') s(t)"
done
sql -c "VACUUM ANALYZE messages"
fill_s="$(awk -v a="$fill_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')"

sizes() {
  sql -F ' ' -c "SELECT 'heap_mb=' || pg_relation_size('messages') / 1048576,
    'toast_mb=' || pg_relation_size(reltoastrelid) / 1048576,
    'indexes_mb=' || pg_indexes_size('messages') / 1048576,
    'total_mb=' || pg_total_relation_size('messages') / 1048576
    FROM pg_class WHERE relname = 'messages'"
}
before="$(sizes)"
old="$(sql -c "SELECT count(*) FROM messages WHERE stored_at < now() - interval '30 days'")"

# One insert per transaction, as the fetcher stores a message.
cat >"$D/insert.sql" <<'SQL'
\set p random(0, 999)
INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, message_id)
SELECT 1, 'ingest:' || gen_random_uuid(), length(raw), raw, '' FROM bench_pool WHERE id = :p;
SQL
# ingest LABEL: pgbench for INGEST_S seconds; prints "LABEL inserts_per_s=R p99_ms=P".
ingest() {
  local label="$1" dir="$D/ingest-$1"
  mkdir -p "$dir"
  (cd "$dir" && "$PGBENCH" -n -c "$CLIENTS" -j "$CLIENTS" -T "$INGEST_S" -f "$D/insert.sql" \
    --log --log-prefix=tx "$DB" >"$dir/out" 2>&1)
  local tps p99
  tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$dir/out")"
  p99="$(cat "$dir"/tx* | awk '{ print $3 }' | sort -n |
         awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.1f", v[i] / 1000 }')"
  echo "$label inserts_per_s=$tps p99_ms=$p99"
}

build retention_sweep_bench
log "ingest alone, $INGEST_S s"
alone="$(ingest alone)"
log "sweep (batch $BATCH, pause $PAUSE_MS ms) with ingest for $INGEST_S s"
"$BIN/retention_sweep_bench" --batch "$BATCH" --pause-ms "$PAUSE_MS" >"$D/sweep.out" &
SWEEP_PID=$!
sleep 2  # The sweep under way before the ingest starts.
during="$(ingest during_sweep)"
sweep_ran_past_ingest=yes
kill -0 "$SWEEP_PID" 2>/dev/null || sweep_ran_past_ingest=no
wait "$SWEEP_PID"; SWEEP_PID=
sweep="$(cat "$D/sweep.out")"
after="$(sizes)"
vacuum_start="$(date +%s.%N)"
sql -c "VACUUM messages"
vacuum_s="$(awk -v a="$vacuum_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')"
after_vacuum="$(sizes)"

# What the alternative costs: deleting whole rows of 10,000 old messages (rolled back), against
# the sweep's UPDATE of 10,000 more old rows (rolled back too; the sweep above took all of them,
# so these are made old first, inside the same transaction).
delete_ms="$(sql 2>>"$D/compare.err" <<'SQL' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
BEGIN;
UPDATE messages SET stored_at = now() - interval '50 days', content_removed_at = NULL
 WHERE id IN (SELECT id FROM messages WHERE content_removed_at IS NULL ORDER BY id LIMIT 10000);
SET statement_timeout = '60s';
\timing on
DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE stored_at < now() - interval
  '45 days' AND content_removed_at IS NULL LIMIT 10000);
\timing off
ROLLBACK;
SQL
)" || true
update_ms="$(sql 2>>"$D/compare.err" <<'SQL' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
BEGIN;
UPDATE messages SET stored_at = now() - interval '50 days'
 WHERE id IN (SELECT id FROM messages WHERE content_removed_at IS NULL ORDER BY id LIMIT 10000);
\timing on
SELECT sum(postroom_retention_sweep(1, 45, 500)) FROM generate_series(1, 20);
\timing off
ROLLBACK;
SQL
)" || true

# Every row's delete checks the foreign keys pointing at messages, and duplicate_of has no
# index: the DELETE may not finish in the minute it is given.
[ -n "$delete_ms" ] || delete_ms="over 60000 (cancelled at statement_timeout)"
cat <<EOF
messages=$MESSAGES raw_bytes=$RAW_BYTES old=$old fill_s=$fill_s
before:       $before
sweep:        $sweep (batch=$BATCH pause_ms=$PAUSE_MS; still running when the ingest ended: $sweep_ran_past_ingest)
after:        $after
after VACUUM: $after_vacuum (vacuum_s=$vacuum_s)
ingest:       $alone
ingest:       $during
per 10,000 old messages: sweep UPDATE ${update_ms} ms, DELETE of the rows ${delete_ms} ms (one transaction each, no pause)
EOF
