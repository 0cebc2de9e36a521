#!/usr/bin/env bash
# Poison messages end to end (issue 17): a stored message whose routing never finishes must not
# keep the router in a crash loop. The real postroom-router is killed with SIGKILL while it
# holds the message, router_max_attempts (default 3) times; after the next restart the message
# is decided failed with the reason, the counter moves and the router keeps serving. Then the
# same with a routing that runs out of time: the router's watchdog (--routing_deadline_s) ends
# the process itself.
#
# To hold a message reliably the router runs with its test-only --test_stall_on_subject (routing
# a stored message whose subject contains the text sleeps after parsing). No email in
# ../shared/corpus is slow enough to parse to be caught mid-parse every time, and the mime_*
# limits exist so that none should be. One line per check; exits non-zero when any failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/e2e/e2e_lib.sh"
SERVICES=(config)  # The router is started (and killed) below.
e2e_stack_up poison-e2e
STALL="POISON-E2E-STALL"
ROUTER_PID=""
trap '[ -n "$ROUTER_PID" ] && kill "$ROUTER_PID" 2>/dev/null; stack_stop' EXIT
LOG="$POSTROOM_HOME/logs/router.log"
touch "$LOG"

# Sweeps every 300 ms, takes messages 1 s old, and takes a claim back 2 s after the router that
# held it stopped answering for it (60 s in production).
start_router() {
  POSTROOM_DATABASE="$DB" POSTROOM_TOKENS_FILE="$POSTROOM_HOME/tokens" \
  POSTROOM_SECRET_KEY_FILE="$POSTROOM_HOME/secret.key" \
  POSTROOM_ROUTER_SWEEP_MIN_AGE_S=1 POSTROOM_ROUTER_SWEEP_INTERVAL_MS=300 \
  POSTROOM_ROUTER_SWEEP_CLAIM_TIMEOUT_S=2 \
    "$BIN/postroom-router" --listen "$POSTROOM_ROUTER_LISTEN" \
      --metrics-listen "$POSTROOM_ROUTER_METRICS_LISTEN" --test_stall_on_subject="$STALL" "$@" \
      >>"$LOG" 2>&1 &
  ROUTER_PID=$!
  WAIT_SECONDS=60 wait_for "$BIN/postroom-healthcheck" "$POSTROOM_ROUTER_LISTEN" readiness ||
    { tail -20 "$LOG"; die "postroom-router did not become ready"; }
}
sql() { psql "$DB" -qAt -c "$1"; }
stalls() { grep -c 'event=test_stall' "$LOG"; }
# Waits until the router has stalled N times in all, i.e. holds the message mid-routing.
wait_stalls() { WAIT_SECONDS=30 wait_for bash -c "[ \$(grep -c 'event=test_stall' '$LOG') -ge $1 ]"; }
wait_decided() {
  WAIT_SECONDS=30 wait_for bash -c "[ -n \"\$(psql '$DB' -qAt -c 'SELECT decision FROM messages WHERE id = $1')\" ]"
}

check "apply demo configuration" expect 0 "connector/support created" apply -f "$ROOT/examples/demo.yaml"
id="$(sql "INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, message_id, stored_at)
  SELECT id, 'INBOX:17:1', 80, convert_to(E'From: p@client.example\r\nSubject: $STALL hostile\r\nMessage-ID: <poison-1@client.example>\r\n\r\nhi\r\n', 'UTF8'),
    'poison-1@client.example', now() - interval '1 minute'
  FROM connectors WHERE name = 'support' RETURNING id")"
[ -n "$id" ] || die "could not store the poison message"

for attempt in 1 2 3; do
  start_router
  check "attempt $attempt: the router holds the message" wait_stalls "$attempt"
  check "attempt $attempt: counted before it finished" \
    bash -c "[ \"\$(psql '$DB' -qAt -c 'SELECT route_attempts, decision IS NULL FROM messages WHERE id = $id')\" = '$attempt|t' ]"
  { kill -9 "$ROUTER_PID"; wait "$ROUTER_PID"; } 2>/dev/null; ROUTER_PID=""
done

start_router
check "after 3 attempts the next start decides the message" wait_decided "$id"
check "it is failed and the reason names the attempts" bash -c "
  [ \"\$(psql '$DB' -qAt -c 'SELECT decision_step, decision_reason FROM messages WHERE id = $id')\" = \
    'attempts|routing did not finish in 3 attempts (the router stopped while routing it)' ]"
check "describe message shows the decision and its trace" \
  expect 0 "\* attempts: routing did not finish in 3 attempts" describe message "$id"
check "the message is kept with its bytes and its Message-ID" \
  bash -c "[ \"\$(psql '$DB' -qAt -c \"SELECT length(raw) > 0, message_id FROM messages WHERE id = $id\")\" = 't|poison-1@client.example' ]"
check "it was not parsed a fourth time" bash -c "[ \$(grep -c 'event=test_stall' '$LOG') = 3 ]"
check "the poison counter moved" bash -c "
  curl -s http://$POSTROOM_ROUTER_METRICS_LISTEN/metrics |
    grep -Eq '^postroom_router_poison_messages_total\{connector=\"support\"\} 1(\.0+)?\$'"
printf 'From: Jane <jane@client.example>\r\nTo: support@example.com\r\nSubject: Printer\r\nMessage-ID: <after-poison@client.example>\r\n\r\nIt is on fire.\r\n' \
  > "$POSTROOM_HOME/after.eml"
check "the router keeps serving: new mail becomes a work item" \
  expect 0 "message [0-9]+: created" route "$POSTROOM_HOME/after.eml" --connector support
sleep 1  # A few more sweeps: the failed message stays failed and is not claimed again.
check "the decided message is never claimed again" \
  bash -c "[ \"\$(psql '$DB' -qAt -c 'SELECT route_attempts, decision FROM messages WHERE id = $id')\" = '4|failed' ]"
check "the router is still up" kill -0 "$ROUTER_PID"
{ kill "$ROUTER_PID"; wait "$ROUTER_PID"; } 2>/dev/null; ROUTER_PID=""

# A routing that runs out of time: nobody kills the router; its watchdog ends the process when
# the attempt passes --routing_deadline_s, and each restart finds the attempt counted.
id2="$(sql "INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, message_id, stored_at)
  SELECT id, 'INBOX:17:2', 80, convert_to(E'From: p@client.example\r\nSubject: $STALL slow\r\nMessage-ID: <poison-2@client.example>\r\n\r\nhi\r\n', 'UTF8'),
    'poison-2@client.example', now() - interval '1 minute'
  FROM connectors WHERE name = 'support' RETURNING id")"
[ -n "$id2" ] || die "could not store the second poison message"
ends_by_itself() {
  local rc=0
  WAIT_SECONDS=30 wait_for bash -c "! kill -0 $ROUTER_PID 2>/dev/null" || return 1
  wait "$ROUTER_PID" 2>/dev/null || rc=$?
  ROUTER_PID=""
  [ "$rc" = 70 ] || { echo "exit status $rc, expected 70" >&2; return 1; }
}
for attempt in 1 2 3; do
  start_router --routing_deadline_s=2
  check "deadline attempt $attempt: the router ends itself (exit 70) past the deadline" ends_by_itself
  check "deadline attempt $attempt: it says which routing overran" bash -c \
    "[ \$(grep -c 'event=routing_deadline_exceeded.*message $id2 of connector support' '$LOG') = $attempt ]"
done
start_router --routing_deadline_s=2
check "after 3 overruns the next start decides the message failed" wait_decided "$id2"
check "its reason names the attempts" bash -c "
  [ \"\$(psql '$DB' -qAt -c 'SELECT decision, decision_step FROM messages WHERE id = $id2')\" = 'failed|attempts' ]"
check "the router keeps serving after the overruns" kill -0 "$ROUTER_PID"
{ kill "$ROUTER_PID"; wait "$ROUTER_PID"; } 2>/dev/null; ROUTER_PID=""

# The receive limit that bounds a RouteEmail follows the connectors: the largest incoming
# max_message_bytes plus 1 MiB (at least 26 MiB), read at start.
check "the router's receive limit is 26 MiB for the default max_message_bytes" \
  grep -q 'event=receive_limit max_receive_mib=26 from=connectors' "$LOG"
head -c $((27 << 20)) /dev/zero | tr '\0' 'x' | fold -w 76 | sed 's/$/\r/' >"$POSTROOM_HOME/big-body"
{ printf 'From: Jane <jane@client.example>\r\nTo: support@example.com\r\nSubject: Big\r\nMessage-ID: <big@client.example>\r\n\r\n'
  cat "$POSTROOM_HOME/big-body"; } >"$POSTROOM_HOME/big.eml"
start_router
check "a 27 MiB email over that limit is refused as too large" \
  expect 1 "RESOURCE_EXHAUSTED|larger than" route "$POSTROOM_HOME/big.eml" --connector support
{ kill "$ROUTER_PID"; wait "$ROUTER_PID"; } 2>/dev/null; ROUTER_PID=""
sql "UPDATE connectors SET spec = jsonb_set(spec, '{settings,max_message_bytes}', '\"41943040\"')
     WHERE name = 'support'" >/dev/null
start_router
check "raised to 40 MiB, the next start takes 41 MiB" \
  grep -q 'event=receive_limit max_receive_mib=41 from=connectors' "$LOG"
check "and the 27 MiB email is routed" \
  expect 0 "message [0-9]+: created" route "$POSTROOM_HOME/big.eml" --connector support

e2e_finish poison_e2e
