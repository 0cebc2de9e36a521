#!/usr/bin/env bash
# Deleting a connector never throws mail away silently (issue 20), on real servers: a private
# PostgreSQL, the four services, a private Dovecot with the support mailbox and a private Postfix
# for the acknowledgements. The demo's `support` connector fetches the mailbox's N mails and
# acknowledges each; `delete connector support` is refused with the counts; `--purge` removes
# them and says so; the same YAML applied again makes a connector of the same mailbox that adopts
# the deleted one's fetch position: after a poll that stores one new mail, nothing old is fetched
# or acknowledged again. Needs root (Dovecot, Postfix). One line per check.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/e2e/e2e_lib.sh"
e2e_stack_up purge
e2e_dovecot_up
e2e_smtp_up
export DB
export -f sql
N=5

sed -e "s/port: 11143,/port: $IMAP_PORT,/" -e "s/port: 12525,/port: $SMTP_PORT,/" \
    "$ROOT/examples/demo.yaml" > "$POSTROOM_HOME/demo.yaml"
for i in $(seq 1 "$N"); do
  make_mail "$M/old-$i.eml" "Customer $i <customer$i@client.example>" "old-$i@client.example" "Question $i"
done
"$ROOT/scripts/dovecot" fill "$DOVECOT_HOME" support "$M" >/dev/null

# apply_and_enable CONNECTOR...: the demo applied, those connectors tested and enabled (the
# first poll follows).
apply_and_enable() {
  ctl apply -f "$POSTROOM_HOME/demo.yaml" || return 1
  for c in "$@"; do
    ctl test connector "$c" && ctl enable connector "$c" || return 1
  done
}

check "apply and enable the demo with the private Dovecot and Postfix" apply_and_enable gateway support
check "the connector fetches the $N mails and each becomes a work item" \
  eventually "[ \"\$(sql \"SELECT count(*) FROM messages WHERE decision = 'created'\")\" = $N ]" 60
check "each is acknowledged once" eventually "[ \"\$(sql \"SELECT count(*) FROM outbox WHERE reason = 'ack'\")\" = $N ]"
check "disable connector support" expect 0 "disabled" disable connector support
check "delete without --purge is refused with the counts and the command" \
  expect 1 "FAILED_PRECONDITION.*connector \"support\" has $N stored messages and $N work items; \`postroomctl delete connector support --purge\` removes them" \
  delete connector support
check "the refused delete removed nothing" bash -c \
  "[ \"\$(sql 'SELECT count(*) FROM messages')\" = $N ] && [ \"\$(sql \"SELECT count(*) FROM connectors WHERE name = 'support'\")\" = 1 ]"
check "delete --purge says what it removed" \
  expect 0 "^connector/support deleted \(purged $N messages, $N work items, $N outbox rows\)$" \
  delete connector support --purge
check "the messages, work items and acknowledgements are gone" bash -c \
  "[ \"\$(sql 'SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM work_items) + (SELECT count(*) FROM outbox WHERE reason = '\''ack'\'')')\" = 0 ]"
check "the audit entry is a purge holding the counts" bash -c \
  "sql \"SELECT after FROM audit_log WHERE object = 'support' AND action = 'purge'\" | grep -q '\"messages\": $N'"
check "the mailbox's fetch position is kept" bash -c \
  "[ \"\$(sql \"SELECT connector FROM mailbox_tombstones WHERE mailbox = 'imap://support@127.0.0.1:$IMAP_PORT'\")\" = support ]"

check "the same YAML applied again creates the connector and enables it" apply_and_enable support
check "the re-created connector adopted the position" bash -c \
  "[ \"\$(sql 'SELECT count(*) FROM mailbox_tombstones')\" = 0 ] && [ \"\$(sql \"SELECT count(*) FROM folder_cursors f JOIN connectors c ON c.id = f.connector_id WHERE c.name = 'support' AND f.last_uid >= $N\")\" = 1 ]"
make_mail "$M/new.eml" "Newcomer <newcomer@client.example>" "new@client.example" "A new question"
"$ROOT/scripts/dovecot" deliver "$DOVECOT_HOME" support "$M/new.eml" >/dev/null
check "a poll stores the one new mail" \
  eventually "[ \"\$(sql \"SELECT decision FROM messages WHERE message_id = 'new@client.example'\")\" = created ]" 60
check "no old mail was fetched again (one message stored)" bash -c \
  "[ \"\$(sql \"SELECT string_agg(message_id, ',') FROM messages\")\" = new@client.example ]"
# A decision and its acknowledgement commit together: once nothing is pending, the outbox holds
# every acknowledgement the stored mail will get.
check "every stored message is decided" \
  eventually "[ \"\$(sql 'SELECT count(*) FROM messages WHERE decision IS NULL')\" = 0 ]" 60
check "no customer was acknowledged a second time (one acknowledgement, the new one's)" bash -c \
  "[ \"\$(sql \"SELECT string_agg(to_address, ',') FROM outbox WHERE reason = 'ack'\")\" = newcomer@client.example ]"

e2e_finish purge_e2e
