#!/usr/bin/env bash
# Bounces end to end, with a bounce the real Postfix makes: a private PostgreSQL, the four real
# services on free ports, a private Postfix (scripts/smtp) whose transport sends every
# "gone-…@" recipient to Postfix's own error transport, so it accepts the mail (250) and then
# returns a DSN (5.1.1) to the envelope sender, the connector's address, into the one Maildir.
# The test routes that DSN: the outbox row is marked bounced, the address suppressed for the
# connector; automatic mail to it is recorded as suppressed (router and sender), a reply from the
# desk still goes; `postroomctl get|delete suppression(s)` lists and lifts it. Needs root
# (Postfix). One line per check; exits non-zero when any failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/e2e/e2e_lib.sh"
export POSTROOM_SENDER_POLL_MS=500
e2e_stack_up bounce-e2e

e2e_smtp_up
printf '/^gone-[^@]*@/ error:5.1.1 mailbox unavailable\n' > "$SMTP_HOME/etc/transport"
postconf -c "$SMTP_HOME/etc" -e "transport_maps = regexp:$SMTP_HOME/etc/transport" \
  "smtpd_reject_unlisted_recipient = no"
postfix -c "$SMTP_HOME/etc" reload >/dev/null 2>&1 || die "Postfix did not reload"

check "apply demo configuration" expect 0 "connector/gateway created" apply -f "$(e2e_demo_yaml)"
e2e_gateway_yaml
check "point the gateway at the private Postfix" \
  expect 0 "connector/gateway configured" apply -f "$POSTROOM_HOME/gateway.yaml"
check "test connector on the gateway" expect 0 "" test connector gateway
check "enable the gateway" expect 0 "" enable connector gateway

# A reply from the desk (queued as the reply feature does) to an address that does not exist.
gw="$(sql "SELECT id FROM connectors WHERE name = 'gateway'")"
reply_id="$(sql "INSERT INTO outbox (connector_id, reason, to_address, subject, body_text, dedupe_key)
                 VALUES ($gw, 'reply', 'gone-jane@client.example', 'Your printer', 'Fixed.',
                         'e2e:reply:1') RETURNING id")"
check "the sender delivers the reply to Postfix" \
  eventually "[ \"\$(psql '$DB' -qAt -c 'SELECT status FROM outbox WHERE id = $reply_id')\" = sent ]"
mid="$(sql "SELECT smtp_message_id FROM outbox WHERE id = $reply_id")"
check "Postfix bounces it: its DSN arrives for the connector's address" \
  eventually "[ -n \"\$(mail_with 'Undelivered Mail Returned to Sender')\" ]"
dsn="$(mail_with 'Undelivered Mail Returned to Sender')"
check "the DSN is Postfix's own, about our Message-ID" bash -c \
  "grep -q 'report-type=delivery-status' '$dsn' && grep -qF '$mid' '$dsn' && grep -q 'Status: 5.1.1' '$dsn'"
check "routing the DSN ties it to the outbox row" \
  expect 0 "bounce.*answers outbox $reply_id \(reply to gone-jane@client.example\): permanent, marked bounced, address suppressed" \
  route "$dsn" --connector support
check "get outbox lists the row bounced" expect 0 "$reply_id +gateway +reply +bounced " get outbox --state bounced
check "describe outbox shows the DSN's status and diagnostic" \
  expect 0 "bounce: 5.1.1 .*mailbox unavailable" describe outbox "$reply_id"
check "get suppressions lists the address once, with the status and the row" \
  expect 0 "gateway +gone-jane@client.example +bounce +5.1.1 .* $reply_id " get suppressions --connector gateway
check "routing the same DSN again adds nothing" bash -c \
  "'$BIN/postroomctl' route '$dsn' --connector support --fetch-key again >/dev/null &&
   [ \"\$(psql '$DB' -qAt -c 'SELECT count(*) FROM suppressions')\" = 1 ]"
check "bounces matched are counted by kind" bash -c \
  "curl -s http://$POSTROOM_ROUTER_METRICS_LISTEN/metrics | grep -q 'postroom_router_bounces_matched_total{connector=\"support\",kind=\"permanent\"} [1-9]'"

make_mail "$M/again.eml" "Jane <gone-jane@client.example>" "again@client.example" "Still broken"
check "her next mail makes a work item without an acknowledgement" \
  expect 0 "acknowledgement: suppressed \(suppressed_address\)" route "$M/again.eml" --connector support
make_mail "$M/other.eml" "Bob <bob@client.example>" "other@client.example" "Other"
check "others are still acknowledged" \
  expect 0 "acknowledgement: queued" route "$M/other.eml" --connector support

# Mail queued before the bounce arrived: automatic mail is recorded, not sent; a reply goes.
ack_id="$(sql "INSERT INTO outbox (connector_id, reason, to_address, subject, body_text, dedupe_key)
               VALUES (NULL, 'ack', 'Gone-Jane@client.example', 'ack', 'x', 'e2e:ack:1') RETURNING id")"
reply2_id="$(sql "INSERT INTO outbox (connector_id, reason, to_address, subject, body_text, dedupe_key)
                  VALUES ($gw, 'reply', 'gone-jane@client.example', 'Another', 'y', 'e2e:reply:2')
                  RETURNING id")"
check "the sender records the queued acknowledgement as suppressed" \
  eventually "[ \"\$(psql '$DB' -qAt -c 'SELECT status FROM outbox WHERE id = $ack_id')\" = suppressed ]"
check "describe outbox says why it was not sent" \
  expect 0 "last error: not sent: Gone-Jane@client.example is on the suppression list" describe outbox "$ack_id"
check "a reply from the desk to the address still goes" \
  eventually "[ \"\$(psql '$DB' -qAt -c 'SELECT status FROM outbox WHERE id = $reply2_id')\" = sent ]"

check "a viewer-less call is refused" bash -c \
  "'$BIN/postroomctl' --token wrong-token-0123456789 get suppressions; [ \$? = 1 ]"
check "delete suppression needs --connector" expect 2 "--connector" delete suppression gone-jane@client.example
check "delete suppression lifts it" \
  expect 0 "suppression/gateway/gone-jane@client.example deleted" \
  delete suppression Gone-Jane@client.example --connector gateway
check "the deletion is in the audit log with its actor" bash -c \
  "[ \"\$(psql '$DB' -qAt -c \"SELECT actor || ' ' || action || ' ' || object FROM audit_log WHERE kind = 'suppression'\")\" = 'local-admin delete gateway/gone-jane@client.example' ]"
check "deleting it again is NOT_FOUND" expect 1 "NOT_FOUND" delete suppression gone-jane@client.example --connector gateway
make_mail "$M/third.eml" "Jane <gone-jane@client.example>" "third@client.example" "Third"
check "her mail is acknowledged again" \
  expect 0 "acknowledgement: queued" route "$M/third.eml" --connector support

e2e_finish bounce_e2e
