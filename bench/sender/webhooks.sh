#!/usr/bin/env bash
# Webhook throughput: COUNT work_item.created events (one per work item, so order per work item
# holds nothing back) queued in one transaction, posted by the real sender (WORKERS workers,
# its defaults otherwise) to tests/fakes/webhook_receiver.py on loopback http, which verifies
# every signature. Config + sender on the e2e stack's private PostgreSQL (fsync off, as every
# e2e cluster). Prints deliveries/s from the commit to the last row sent, and the receiver's
# count of valid signatures. The receiver is one Python process, so the figure bounds the sender
# from below.
#   POSTROOM_BUILD_DIR=build bench/sender/webhooks.sh [COUNT] [WORKERS]
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
COUNT="${1:-2000}"
export POSTROOM_SENDER_WORKERS="${2:-2}"
source "$ROOT/tests/e2e/e2e_lib.sh"
SERVICES=(config sender)
e2e_stack_up webhooks-bench
SECRET="whsec-bench-0123456789abcdef"
python3 "$ROOT/tests/fakes/webhook_receiver.py" --secret "$SECRET" \
  --port-file "$POSTROOM_HOME/receiver.port" --log "$POSTROOM_HOME/receiver.log" \
  >"$POSTROOM_HOME/receiver.out" 2>&1 &
RECEIVER=$!
trap 'kill $RECEIVER 2>/dev/null; stack_stop' EXIT
for _ in $(seq 100); do [ -s "$POSTROOM_HOME/receiver.port" ] && break; sleep 0.1; done
[ -s "$POSTROOM_HOME/receiver.port" ] || die "webhook_receiver.py did not start"
printf 'kind: Webhook\nname: bench\nurl: http://127.0.0.1:%s/ok\nsecret: %s\nevents: [work_item.created]\n' \
  "$(cat "$POSTROOM_HOME/receiver.port")" "$SECRET" > "$POSTROOM_HOME/bench.yaml"
ctl apply -f "$POSTROOM_HOME/bench.yaml" >/dev/null || die "could not apply the webhook"
sql() { psql "$DB" -qAt -c "$1"; }
sql "INSERT INTO work_items (reference, queue, requester_address)
     SELECT 'B-' || g, 'bench', 'r@example.org' FROM generate_series(1, $COUNT) g" >/dev/null
start=$(date +%s%N)
queued="$(sql "SELECT sum(postroom_queue_webhook_event('work_item.created', id, NULL,
                 jsonb_build_object('reference', reference))) FROM work_items")"
[ "$queued" = "$COUNT" ] || die "queued $queued of $COUNT"
for _ in $(seq 1200); do
  [ "$(sql "SELECT count(*) FROM outbox WHERE kind = 'webhook' AND status <> 'sent'")" = 0 ] && break
  sleep 0.05
done
end="$(sql "SELECT (extract(epoch from max(sent_at)) * 1e9)::bigint FROM outbox WHERE kind = 'webhook'")"
sent="$(sql "SELECT count(*) FROM outbox WHERE kind = 'webhook' AND status = 'sent'")"
valid="$(grep -c '"sig_ok": true' "$POSTROOM_HOME/receiver.log")"
echo "webhooks: $sent of $COUNT delivered in $(((end - start) / 1000000)) ms:" \
  "$(python3 -c "print(round($sent * 1e9 / max(1, $end - $start)))") deliveries/s" \
  "(workers $POSTROOM_SENDER_WORKERS; $valid posts with valid signatures)"
