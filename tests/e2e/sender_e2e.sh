#!/usr/bin/env bash
# The sender end to end: a private PostgreSQL, the four real services on free ports, a private
# Postfix (scripts/smtp, STARTTLS with a test CA) that drops every message into one Maildir.
# The router queues acknowledgements, the sender delivers them; a refused recipient fails with
# the server's words; a wrong port is retried, counted and auto-disables the connector; kill -9
# while draining loses nothing. Needs root (Postfix). One line per check; exits non-zero when any
# failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/e2e/e2e_lib.sh"
# Fast retries and short claims, so the test sees backoff, give-up and crash recovery in seconds.
export POSTROOM_SENDER_BACKOFF_INITIAL_MS=300 POSTROOM_SENDER_BACKOFF_MAX_MS=1000
export POSTROOM_SENDER_MAX_ATTEMPTS=8 POSTROOM_SENDER_CLAIM_LEASE_S=3 POSTROOM_SENDER_POLL_MS=500
e2e_stack_up sender-e2e

e2e_smtp_up
delivered() { "$ROOT/scripts/smtp" messages "$SMTP_HOME" | wc -l; }
export -f delivered

check "apply demo configuration" expect 0 "connector/gateway created" apply -f "$(e2e_demo_yaml)"
e2e_gateway_yaml "display_name: Servicedesk Müller
reply_to: help@example.com
settings: {timeout_ms: 5000, error_threshold: 3}"
check "point the gateway at the private Postfix (STARTTLS, test CA)" \
  expect 0 "connector/gateway configured" apply -f "$POSTROOM_HOME/gateway.yaml"
check "an outgoing connector is not enabled before a passing connection test" \
  expect 1 "FAILED_PRECONDITION.*never tested.*postroomctl test connector gateway" enable connector gateway
check "test connector on the SMTP gateway: connect, greeting, STARTTLS, login" \
  expect 0 "auth +passed .*235 2.7.0 Authentication successful" test connector gateway
check "the test walks dns, ehlo and the envelope to its own address (MAIL FROM, RCPT TO)" bash -c "
  out=\$('$BIN/postroomctl' test connector gateway 2>&1); echo \"\$out\"
  for step in dns tcp greeting ehlo tls auth mail_from; do grep -Eq \"^ *\$step +passed\" <<<\"\$out\" || exit 1; done
  grep -Eq '^ *rcpt_to +passed .*<desk@example.com>: 250' <<<\"\$out\""
check "the test sent no message (no DATA: nothing queued by Postfix)" bash -c "[ \"\$(delivered)\" = 0 ]"
check "enable the outgoing connector" expect 0 "" enable connector gateway
check "the system default outgoing connector cannot be disabled" \
  expect 1 "FAILED_PRECONDITION.*system default.*system_default: false" disable connector gateway
check "nor deleted" expect 1 "FAILED_PRECONDITION.*system_default: false" delete connector gateway
sed -e 's/^name: gateway/name: refused/' -e 's/^primary_address: .*/primary_address: reject-desk@example.com/' \
  -e '/^system_default:/d' "$POSTROOM_HOME/gateway.yaml" >"$POSTROOM_HOME/refused.yaml"
check "a sender address the server refuses fails the test at rcpt_to, with its words" bash -c "
  '$BIN/postroomctl' apply -f '$POSTROOM_HOME/refused.yaml' >/dev/null
  '$BIN/postroomctl' test connector refused | grep -E 'rcpt_to +FAILED .*RCPT TO refused: 550'"
check "and it cannot be enabled" \
  expect 1 "FAILED_PRECONDITION.*last connection test failed" enable connector refused

make_mail "$M/one.eml" "Alice <alice@client.example>" "one@client.example" "Printer on fire"
check "router queues an acknowledgement" expect 0 "acknowledgement: queued" route "$M/one.eml" --connector support
check "the sender delivers it to the SMTP server's mailbox" eventually '[ "$(delivered)" -ge 1 ]'
f="$(mail_with 'Printer on fire')"
ack_id="$(sql "SELECT id FROM outbox WHERE to_address = 'alice@client.example'")"
check "delivered mail is addressed to the requester" grep -q '^To: alice@client.example' "$f"
check "delivered mail has the acknowledgement subject with the reference" \
  grep -Eq '^Subject: .*\[#SUP-[0-9]+\]' "$f"
check "delivered mail comes from the connector's address with its display name, RFC 2047-encoded" \
  grep -Eq '^From: [^<]*=\?[A-Za-z0-9-]+\?[QqBb]\?[^<]* <desk@example.com>' "$f"
want_reply_to="$(sql "SELECT coalesce(headers->>'Reply-To', 'help@example.com') FROM outbox WHERE id = $ack_id")"
check "Reply-To is the router's reply address, else the connector's" \
  grep -qF "Reply-To: $want_reply_to" "$f"
mid="$(sql "SELECT smtp_message_id FROM outbox WHERE id = $ack_id")"
check "Message-ID is the outbox row's stable id" bash -c \
  "[ -n '$mid' ] && grep -qiF 'Message-Id: <$mid>' '$f' && grep -q 'postroom.outbox.$ack_id.' <<<'$mid'"
check "Auto-Submitted keeps auto-responders from answering" grep -q '^Auto-Submitted: auto-replied' "$f"
check "X-Auto-Response-Suppress: All, and X-Loop names the connector's address" bash -c \
  "grep -q '^X-Auto-Response-Suppress: All' '$f' && grep -q '^X-Loop: support@example.com' '$f'"
check "threading headers name the customer's message" grep -q '^In-Reply-To: <one@client.example>' "$f"
check "sent with the null envelope sender MAIL FROM:<> (RFC 3834): Return-Path: <>" \
  grep -q '^Return-Path: <>' "$f"
check "Postfix logged the null sender" grep -q 'from=<>' "$SMTP_HOME/maillog"
check "the mail went through STARTTLS, logged in (Postfix says ESMTPSA)" grep -q 'with ESMTPSA id' "$f"
check "the sender logged in (AUTH PLAIN as desk)" \
  grep -q 'sasl_method=PLAIN, sasl_username=desk' "$SMTP_HOME/maillog"
check "get outbox lists it sent" expect 0 "$ack_id +gateway +ack +sent +1 " get outbox --state sent
check "connector records the outgoing success" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT last_outgoing_success_at IS NOT NULL AND consecutive_outgoing_errors = 0 FROM connector_state s JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'gateway'\")\" = t ]"

make_mail "$M/two.eml" "Bob <reject-bob@client.example>" "two@client.example" "Unknown user"
check "an ack to a recipient the server refuses is queued" \
  expect 0 "acknowledgement: queued" route "$M/two.eml" --connector support
bad_id="$(sql "SELECT id FROM outbox WHERE to_address = 'reject-bob@client.example'")"
check "a 5xx recipient refusal fails the item at once" \
  eventually "[ \"\$(psql '$DB' -qAt -c 'SELECT status FROM outbox WHERE id = $bad_id')\" = failed ]"
check "describe outbox shows the server's own words and the stage" \
  expect 0 "last error: .*RCPT TO refused: 550 5.1.1 .*no such mailbox here \(rejected\)" describe outbox "$bad_id"
check "a refused recipient does not count against the connector" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT consecutive_outgoing_errors FROM connector_state s JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'gateway'\")\" = 0 ]"
check "retry outbox makes it due again" expect 0 "outbox/$bad_id is due now \(state queued, attempts 0\)" retry outbox "$bad_id"
check "retried item is tried and fails again" \
  eventually "[ \"\$(psql '$DB' -qAt -c 'SELECT status || attempts FROM outbox WHERE id = $bad_id')\" = failed1 ]"
check "retry of a sent item is FAILED_PRECONDITION" expect 1 "FAILED_PRECONDITION" retry outbox "$ack_id"
check "describe of a missing item is NOT_FOUND" expect 1 "NOT_FOUND" describe outbox 999999
check "get outbox needs a token" bash -c \
  "'$BIN/postroomctl' --token wrong-token-0123456789 get outbox; [ \$? = 1 ]"

# A wrong password: the server refuses the login; the item waits, the connector counts.
sed -i 's/password: demo-smtp-password/password: not-the-password/' "$POSTROOM_HOME/gateway.yaml"
check "give the gateway a wrong password" expect 0 "configured" apply -f "$POSTROOM_HOME/gateway.yaml"
check "test connector names the refused login with the server's words" \
  expect 1 "auth +FAILED .*AUTH refused: 535 5.7.8" test connector gateway
make_mail "$M/pw.eml" "Dan <dan@client.example>" "pw@client.example" "Locked out"
check "an ack is queued while the login fails" \
  expect 0 "acknowledgement: queued" route "$M/pw.eml" --connector support
dan_id="$(sql "SELECT id FROM outbox WHERE to_address = 'dan@client.example'")"
check "a refused login is an authentication error with the server's words, retried" \
  eventually "psql '$DB' -qAt -c \"SELECT status || ' ' || last_error_class || ' ' || last_error FROM outbox WHERE id = $dan_id\" | grep -q '^queued authentication .*AUTH refused: 535 5.7.8'"
check "three refused logins auto-disable the connector" \
  eventually "psql '$DB' -qAt -c \"SELECT c.status || ' ' || s.auto_disabled_reason FROM connectors c JOIN connector_state s ON s.connector_id = c.id WHERE c.name = 'gateway'\" | grep -q '^disabled_by_system 3 consecutive outgoing authentication errors'"
sed -i 's/password: not-the-password/password: demo-smtp-password/' "$POSTROOM_HOME/gateway.yaml"
ctl apply -f "$POSTROOM_HOME/gateway.yaml" >/dev/null
check "password fixed: enable waits for a passing test" \
  expect 1 "FAILED_PRECONDITION.*postroomctl test connector gateway" enable connector gateway
check "password fixed, tested, connector enabled again" bash -c "
  '$BIN/postroomctl' test connector gateway >/dev/null && '$BIN/postroomctl' enable connector gateway"
check "the waiting ack goes out" eventually '[ -n "$(mail_with "Locked out")" ]'

# The wrong port: nothing listens there.
dead_port="$(free_port)"
sed -i "s/port: $SMTP_PORT,/port: $dead_port,/" "$POSTROOM_HOME/gateway.yaml"
check "point the gateway at a closed port" expect 0 "configured" apply -f "$POSTROOM_HOME/gateway.yaml"
make_mail "$M/three.eml" "Carol <carol@client.example>" "three@client.example" "Lost in transit"
check "an ack is queued while the server is unreachable" \
  expect 0 "acknowledgement: queued" route "$M/three.eml" --connector support
carol_id="$(sql "SELECT id FROM outbox WHERE to_address = 'carol@client.example'")"
check "the connector is auto-disabled at its threshold (3)" \
  eventually "[ \"\$(psql '$DB' -qAt -c \"SELECT status FROM connectors WHERE name = 'gateway'\")\" = disabled_by_system ]"
check "describe connector shows the consecutive errors and the reason" \
  expect 0 "3 consecutive outgoing network errors" describe connector gateway
check "the connection error is kept with its words" bash -c \
  "psql '$DB' -qAt -c \"SELECT last_outgoing_error FROM connector_state s JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'gateway'\" | grep -Eq '127.0.0.1:$dead_port: connect: .*(refused|Failed to connect)'"
check "history shows the auto-disable by the system" expect 0 "auto_disable" history connector gateway
check "the item waits, retried and not failed" bash -c \
  "[ \"\$(psql '$DB' -qAt -c 'SELECT status FROM outbox WHERE id = $carol_id')\" = queued ] &&
   [ \"\$(psql '$DB' -qAt -c 'SELECT attempts FROM outbox WHERE id = $carol_id')\" -ge 1 ]"
check "an admin notification is queued for each auto-disable" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT count(*) FROM outbox WHERE reason = 'notification' AND to_address = 'ops@example.com'\")\" = 2 ]"
check "attempts are counted by outcome" bash -c \
  "curl -s http://$POSTROOM_SENDER_METRICS_LISTEN/metrics | grep -q 'postroom_sender_attempts_total{connector=\"gateway\",outcome=\"retry\"} [1-9]'"
sed -i "s/port: $dead_port,/port: $SMTP_PORT,/" "$POSTROOM_HOME/gateway.yaml"
ctl apply -f "$POSTROOM_HOME/gateway.yaml" >/dev/null
check "fixed, tested and enabled again" bash -c "
  '$BIN/postroomctl' test connector gateway >/dev/null && '$BIN/postroomctl' enable connector gateway"
check "the waiting ack and the admin notification are delivered" \
  eventually "[ -n \"\$(mail_with 'Lost in transit')\" ] && [ -n \"\$(mail_with 'was disabled')\" ]"
notice="$(mail_with 'was disabled')"
check "the admin notification is automatic mail too: null sender, Auto-Submitted, X-Loop" bash -c \
  "grep -q '^Return-Path: <>' '$notice' && grep -q '^Auto-Submitted: auto-replied' '$notice' &&
   grep -q '^X-Auto-Response-Suppress: All' '$notice' && grep -q '^X-Loop: desk@example.com' '$notice'"

# kill -9 while draining: every row ends sent, none lost.
n=400
sql "INSERT INTO outbox (connector_id, reason, to_address, subject, body_text, dedupe_key)
     SELECT (SELECT id FROM connectors WHERE name = 'gateway'), 'test', 'bulk' || g || '@client.example',
            'bulk-' || g || '-end', 'x', 'bulk:' || g FROM generate_series(1, $n) g" >/dev/null
bulk_sent() { psql "$DB" -qAt -c "SELECT count(*) FROM outbox WHERE reason = 'test' AND status = 'sent'"; }
WAIT_SECONDS=30 wait_for bash -c "[ \$(psql '$DB' -qAt -c \"SELECT count(*) FROM outbox WHERE reason = 'test' AND status = 'sent'\") -ge 20 ]"
sender_pid="$(cat "$POSTROOM_HOME/pids/sender")"
kill -KILL "$sender_pid"; wait "$sender_pid" 2>/dev/null
at_kill="$(bulk_sent)"
check "kill -9 landed mid-drain ($at_kill of $n sent)" bash -c "[ $at_kill -lt $n ]"
stack_start_services "$DB"
check "after a restart every row is sent (crashed claims expire and are retried)" \
  eventually "[ \$(psql '$DB' -qAt -c \"SELECT count(*) FROM outbox WHERE reason = 'test' AND status = 'sent'\") = $n ]" 90
check "no row failed or was lost" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT count(*) FROM outbox WHERE reason = 'test' AND status <> 'sent'\")\" = 0 ]"
subjects="$("$ROOT/scripts/smtp" messages "$SMTP_HOME" | xargs -r grep -h '^Subject: bulk-' | sort)"
distinct="$(sort -u <<<"$subjects" | grep -c .)"
copies="$(grep -c . <<<"$subjects")"
check "every bulk mail is in the mailbox ($distinct distinct, $copies copies: at-least-once)" \
  bash -c "[ $distinct = $n ]"
check "send latency histogram is exported" bash -c \
  "curl -s http://$POSTROOM_SENDER_METRICS_LISTEN/metrics | grep -q 'postroom_sender_send_duration_seconds_count{connector=\"gateway\"}'"

e2e_finish sender_e2e
