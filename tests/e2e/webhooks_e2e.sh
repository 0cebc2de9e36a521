#!/usr/bin/env bash
# Webhooks end to end (docs/webhooks.md): a private PostgreSQL, config, router and sender on free
# ports, and tests/fakes/webhook_receiver.py twice on loopback (HTTPS with a test CA, and plain
# http). Config refuses bad webhooks and never returns a secret; routed mail, a follow-up and a
# spam mark reach the receivers signed and in order per work item; 5xx is retried with backoff,
# 4xx fails with the receiver's answer kept, a time-out is retried; deleting a webhook cancels what it had queued; the
# sender's metrics count it all. One line per check; exits non-zero when any failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/e2e/e2e_lib.sh"
source "$ROOT/scripts/lib.sh"  # make_test_tls, die: before the stack, whose sender needs the CA
# Backoff of 1-2 s: a flaky receiver's retries take seconds, long enough that later events of
# the same work item are queued behind them (what "in order" must hold against).
export POSTROOM_SENDER_BACKOFF_INITIAL_MS=1000 POSTROOM_SENDER_BACKOFF_MAX_MS=2000
export POSTROOM_SENDER_MAX_ATTEMPTS=4 POSTROOM_SENDER_POLL_MS=500
export POSTROOM_SENDER_WEBHOOK_TIMEOUT_MS=1000  # /slow/3000 below times out
export POSTROOM_STATE_EXPORT_INTERVAL_S=1
SECRET="whsec-e2e-0123456789abcdef"
RECV_DIR="${POSTROOM_TEST_HOME:-$ROOT/.postroom-test}/webhooks-e2e-receivers"
rm -rf "$RECV_DIR"; mkdir -p "$RECV_DIR"
make_test_tls "$RECV_DIR/tls" "IP:127.0.0.1"
export POSTROOM_SENDER_WEBHOOK_CA_FILE="$RECV_DIR/tls/ca.crt"
SERVICES=(config router sender)
e2e_stack_up webhooks-e2e
sql() { psql "$DB" -qAt -c "$1"; }
eventually() { WAIT_SECONDS="${2:-20}" wait_for bash -c "$1"; }

start_receiver() {  # start_receiver NAME [--cert C --key K]: sets <NAME>_PORT
  local name="$1"; shift
  python3 "$ROOT/tests/fakes/webhook_receiver.py" --secret "$SECRET" \
    --port-file "$RECV_DIR/$name.port" --log "$RECV_DIR/$name.log" "$@" \
    >"$RECV_DIR/$name.out" 2>&1 &
  RECEIVER_PIDS+=("$!")
  for _ in $(seq 100); do [ -s "$RECV_DIR/$name.port" ] && break; sleep 0.1; done
  [ -s "$RECV_DIR/$name.port" ] || die "webhook_receiver.py $name did not start"
  printf -v "${name^^}_PORT" '%s' "$(cat "$RECV_DIR/$name.port")"
}
RECEIVER_PIDS=()
trap 'kill "${RECEIVER_PIDS[@]}" 2>/dev/null; stack_stop' EXIT
start_receiver tls --cert "$RECV_DIR/tls/tls.crt" --key "$RECV_DIR/tls/tls.key"
start_receiver plain
export RECV_DIR

webhook_yaml() {  # webhook_yaml NAME URL EVENTS...
  local name="$1" url="$2"; shift 2
  printf 'kind: Webhook\nname: %s\nurl: %s\nsecret_env: WEBHOOK_SECRET\nevents:\n' "$name" "$url"
  for e in "$@"; do printf '  - %s\n' "$e"; done
}
export WEBHOOK_SECRET="$SECRET"
W="$POSTROOM_HOME/webhooks"; mkdir -p "$W"

# --- config: refused, then applied --------------------------------------------------------
webhook_yaml bad "http://desk.example.com/hook" work_item.created > "$W/bad-url.yaml"
check "http to a non-loopback host is refused with the field" \
  expect 1 'url: must be an https:// URL \(http only on loopback\)' apply -f "$W/bad-url.yaml"
webhook_yaml bad "https://desk.example.com/hook" work_item.deleted > "$W/bad-event.yaml"
check "an unknown event is refused with its index" \
  expect 1 'events\[0\]: unknown event "work_item.deleted"' apply -f "$W/bad-event.yaml"
printf 'kind: Webhook\nname: bad\nurl: https://desk.example.com/hook\nevents: [reply.failed]\n' \
  > "$W/no-secret.yaml"
check "a webhook without a secret is refused" expect 1 'secret: required' apply -f "$W/no-secret.yaml"
check "nothing refused was stored" bash -c "[ \"\$(psql '$DB' -qAt -c 'SELECT count(*) FROM webhooks')\" = 0 ]"

{ webhook_yaml desk "https://127.0.0.1:$TLS_PORT/ok" work_item.created work_item.appended \
    message.spam_status_changed
  echo "---"
  webhook_yaml ordered "http://127.0.0.1:$PLAIN_PORT/flaky/2" work_item.created work_item.appended
  echo "---"
  webhook_yaml reject "http://127.0.0.1:$PLAIN_PORT/reject" work_item.created
} > "$W/webhooks.yaml"
check "apply the demo configuration" expect 0 "connector/support created" apply -f "$(e2e_demo_yaml)"
check "apply three webhooks (HTTPS with the test CA, plain http on loopback)" \
  expect 0 "webhook/desk created" apply -f "$W/webhooks.yaml"
check "applying them again changes nothing" expect 0 "webhook/desk unchanged" apply -f "$W/webhooks.yaml"
check "get webhooks lists them" expect 0 "desk +https://127.0.0.1:$TLS_PORT/ok" get webhooks
check "get -o yaml never shows the secret" bash -c \
  "out=\$('$BIN/postroomctl' get webhook desk -o yaml) && grep -q 'has_secret: true' <<<\"\$out\" && ! grep -q '$SECRET' <<<\"\$out\""
check "describe webhook shows it set, not its value" expect 0 "Secret: +<set>" describe webhook desk
check "the secret is sealed in the database" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT count(*) FROM webhooks WHERE secret_sealed LIKE 'v1:%' AND secret_sealed NOT LIKE '%$SECRET%' AND spec::text NOT LIKE '%$SECRET%'\")\" = 3 ]"
check "the audit names the secret as changed, never its value" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT count(*) FROM audit_log WHERE kind = 'webhook' AND after::text LIKE '%_changed_secrets%' AND after::text NOT LIKE '%$SECRET%'\")\" = 3 ]"

# --- events -----------------------------------------------------------------------------
M="$POSTROOM_HOME/mail"; mkdir -p "$M"
printf 'From: Alice <alice@client.example>\r\nTo: support@example.com\r\nSubject: Printer on fire\r\nMessage-ID: <one@client.example>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nPlease help.\r\n' > "$M/one.eml"
printf 'From: Alice <alice@client.example>\r\nTo: support@example.com\r\nSubject: Re: Printer on fire\r\nMessage-ID: <two@client.example>\r\nIn-Reply-To: <one@client.example>\r\nReferences: <one@client.example>\r\nDate: Tue, 24 Nov 2026 10:05:00 +0000\r\n\r\nStill burning.\r\n' > "$M/two.eml"
check "a new mail makes a work item" expect 0 "work item: SUP-" route "$M/one.eml" --connector support
check "its follow-up is appended to it" expect 0 "message [0-9]+: appended" route "$M/two.eml" --connector support
WI="$(sql "SELECT id FROM work_items ORDER BY id LIMIT 1")"
MSG="$(sql "SELECT id FROM messages WHERE message_id = 'one@client.example'")"
check "queued with the change: one row per (event, webhook)" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT string_agg(webhook || ':' || event, ',' ORDER BY webhook, id) FROM outbox WHERE kind = 'webhook'\")\" = 'desk:work_item.created,desk:work_item.appended,ordered:work_item.created,ordered:work_item.appended,reject:work_item.created' ]"
check "mark spam queues message.spam_status_changed" expect 0 "" mark spam "$MSG"

received() {  # received FILE PATH-PREFIX STATUS: the event names received with STATUS, in order
  python3 - "$@" <<'PY'
import json, sys
log, prefix, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
print(",".join(d["event"] for d in map(json.loads, open(log))
               if d["path"].startswith(prefix) and d["status"] == status))
PY
}
export -f received
check "HTTPS receiver got every event in order" eventually \
  "[ \"\$(received '$RECV_DIR/tls.log' /ok 200)\" = 'work_item.created,work_item.appended,message.spam_status_changed' ]"
check "every signature verified (HMAC-SHA256 of t.body, fresh t)" python3 - "$RECV_DIR/tls.log" "$RECV_DIR/plain.log" <<'PY'
import json, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f)]
assert rows and all(r["sig_ok"] for r in rows), rows
PY
check "the body's id is the delivery id, one per row" python3 - "$RECV_DIR/tls.log" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert all(r["id"] == r["delivery"] and r["id"].startswith("evt_") for r in rows), rows
assert len({r["id"] for r in rows}) == len(rows), rows
PY
check "a 5xx is retried with backoff until the receiver takes it" eventually \
  "[ \"\$(received '$RECV_DIR/plain.log' /flaky 200)\" = 'work_item.created,work_item.appended' ]" 40
check "in order per work item: nothing later was posted before the earlier one was taken" \
  python3 - "$RECV_DIR/plain.log" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["path"].startswith("/flaky")]
events = [r["event"] for r in rows]
# created: 503, 503, 200; only then appended (503, 503, 200).
first_ok = next(i for i, r in enumerate(rows) if r["status"] == 200)
assert all(r["event"] == "work_item.created" for r in rows[:first_ok + 1]), events
assert [r["status"] for r in rows] == [503, 503, 200, 503, 503, 200], rows
PY
check "the retried rows ended sent after 3 attempts" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT string_agg(status || '/' || attempts, ',' ORDER BY id) FROM outbox WHERE webhook = 'ordered'\")\" = 'sent/3,sent/3' ]"
check "a 4xx fails at once with the receiver's answer kept" eventually \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT status || '/' || attempts || ' ' || last_error FROM outbox WHERE webhook = 'reject'\")\" = 'failed/1 HTTP 422: unknown field: reference' ]"
check "get outbox shows the failed delivery with its event and answer" \
  expect 0 "webhook +failed" get outbox --state failed
check "the sender counts deliveries per webhook and outcome" bash -c \
  "m=\$(curl -s http://$POSTROOM_SENDER_METRICS_LISTEN/metrics) && grep -Eq 'postroom_sender_webhook_deliveries_total\\{outcome=\"sent\",webhook=\"desk\"\\} 3' <<<\"\$m\" && grep -Eq 'postroom_sender_webhook_deliveries_total\\{outcome=\"retry\",webhook=\"ordered\"\\} 4' <<<\"\$m\" && grep -Eq 'postroom_sender_webhook_deliveries_total\\{outcome=\"failed\",webhook=\"reject\"\\} 1' <<<\"\$m\""
# --- delete, disable -------------------------------------------------------------------------
{ webhook_yaml gone "http://127.0.0.1:$PLAIN_PORT/flaky/100" work_item.created
  echo "---"
  webhook_yaml slowpoke "http://127.0.0.1:$PLAIN_PORT/slow/3000" work_item.created
} > "$W/gone.yaml"
check "apply a webhook whose receiver keeps failing, and a slow one" \
  expect 0 "webhook/slowpoke created" apply -f "$W/gone.yaml"
printf 'From: Bob <bob@client.example>\r\nTo: support@example.com\r\nSubject: Toner\r\nMessage-ID: <three@client.example>\r\nDate: Tue, 24 Nov 2026 11:00:00 +0000\r\n\r\nEmpty.\r\n' > "$M/three.eml"
check "a third mail" expect 0 "work item: SUP-" route "$M/three.eml" --connector support
check "its delivery is retried" eventually \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT attempts >= 1 AND status = 'queued' FROM outbox WHERE webhook = 'gone'\")\" = t ]"
check "config exports a webhook's queue depth" eventually \
  "curl -s http://$POSTROOM_CONFIG_METRICS_LISTEN/metrics | grep -Eq 'postroom_webhook_queue_depth\\{webhook=\"gone\"\\} 1'"
check "delete webhook" expect 0 "webhook/gone deleted" delete webhook gone
check "its queued delivery is cancelled" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT status || ': ' || last_error FROM outbox WHERE webhook = 'gone'\")\" = 'cancelled: webhook deleted' ]"
check "a receiver slower than the time limit is retried as a time-out" eventually \
  "v=\$(psql '$DB' -qAt -c \"SELECT last_error_class || ' ' || (last_error ~* 'time(d)? ?out') || ' ' || last_error FROM outbox WHERE webhook = 'slowpoke' AND attempts >= 2\"); echo \"\$v\"; [ \"\${v%% POST*}\" = 'network true' ]"
check "delete the slow one too" expect 0 "webhook/slowpoke deleted" delete webhook slowpoke
printf 'kind: Webhook\nname: desk\nurl: https://127.0.0.1:%s/ok\nenabled: false\nevents: [work_item.created, work_item.appended, message.spam_status_changed]\n' \
  "$TLS_PORT" > "$W/desk-off.yaml"
check "disable a webhook (secret kept)" expect 0 "webhook/desk configured \(changed: enabled\)" apply -f "$W/desk-off.yaml"
printf 'From: Carol <carol@client.example>\r\nTo: support@example.com\r\nSubject: Paper\r\nMessage-ID: <four@client.example>\r\nDate: Tue, 24 Nov 2026 12:00:00 +0000\r\n\r\nOut.\r\n' > "$M/four.eml"
check "a fourth mail" expect 0 "work item: SUP-" route "$M/four.eml" --connector support
check "a disabled webhook is queued nothing" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT count(*) FILTER (WHERE webhook = 'desk') || '/' || count(*) FROM outbox WHERE kind = 'webhook' AND work_item_id = (SELECT max(id) FROM work_items)\")\" = 0/2 ]"
check "history records the changes" expect 0 "update" history webhook desk

e2e_finish webhooks_e2e
