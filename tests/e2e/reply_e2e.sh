#!/usr/bin/env bash
# Replies from the desk end to end (SendReply, `postroomctl reply`): a private PostgreSQL, the
# four real services, a private Dovecot holding the support mailbox and a private Postfix
# (scripts/smtp, one catch-all Maildir) for what postroom sends. A requester writes to the
# support alias; the desk replies with a file and a copy; the reply arrives threaded, from the
# alias, with the signed reply token in Reply-To and no Auto-Submitted; the requester's answer
# (to that Reply-To, with the subject token and threading headers removed, so only the token
# can tie it) is delivered into the support mailbox over LMTP, fetched, routed, and appended to
# the same work item. Needs root (Dovecot, Postfix). One line per check.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/e2e/e2e_lib.sh"
export POSTROOM_SENDER_POLL_MS=500
e2e_stack_up reply-e2e

DOVECOT_HOME="$(mail_server_dir dovecot)"; SMTP_HOME="$(mail_server_dir smtp)"
rm -rf "$DOVECOT_HOME" "$SMTP_HOME"
# shellcheck disable=SC1091
source <("$ROOT/scripts/dovecot" start "$DOVECOT_HOME") || die "scripts/dovecot did not start"
"$ROOT/scripts/dovecot" add-user "$DOVECOT_HOME" support demo-imap-password >/dev/null
# shellcheck disable=SC1091
source <("$ROOT/scripts/smtp" start "$SMTP_HOME") || die "scripts/smtp did not start Postfix"
"$ROOT/scripts/smtp" add-user "$SMTP_HOME" desk demo-smtp-password
sql() { psql "$DB" -qAt -c "$1"; }
# The delivered file (in the Postfix Maildir) whose headers hold $1.
mail_with() { "$ROOT/scripts/smtp" messages "$SMTP_HOME" | xargs -r grep -l -- "$1" | head -1; }
export ROOT SMTP_HOME DB
export -f mail_with sql
eventually() { WAIT_SECONDS="${2:-30}" wait_for bash -c "$1"; }

M="$POSTROOM_HOME/mail"; mkdir -p "$M"
sed -e "s/port: 11143,/port: $IMAP_PORT,/" -e "s/port: 12525,/port: $SMTP_PORT,/" \
    -e "/^primary_address: support@example.com/a aliases: [help@example.com]" \
    "$ROOT/examples/demo.yaml" > "$POSTROOM_HOME/demo.yaml"
check "apply the demo with the private Dovecot and Postfix and an alias" \
  expect 0 "connector/support" apply -f "$POSTROOM_HOME/demo.yaml"
for c in gateway support; do
  check "test and enable $c" bash -c "'$BIN/postroomctl' test connector $c && '$BIN/postroomctl' enable connector $c"
done

printf 'From: Alice <alice@client.example>\r\nTo: help@example.com\r\nSubject: Printer on fire\r\nMessage-ID: <first@client.example>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nPlease help.\r\n' > "$M/first.eml"
"$ROOT/scripts/dovecot" deliver "$DOVECOT_HOME" support "$M/first.eml" >/dev/null
check "the requester's mail becomes a work item" \
  eventually '[ -n "$(sql "SELECT work_item_id FROM messages WHERE message_id = '"'first@client.example'"' AND work_item_id IS NOT NULL")" ]'
wi="$(sql "SELECT work_item_id FROM messages WHERE message_id = 'first@client.example'")"
ref="$(sql "SELECT reference FROM work_items WHERE id = ${wi:-0}")"

printf 'Hello Alice,\n\nthe printer is being replaced today.\n' > "$M/reply.txt"
printf '%%PDF-1.4 not really a pdf\n' > "$M/report.pdf"
: > "$M/empty.txt"
check "postroomctl reply queues the reply" expect 0 "reply queued: outbox/[0-9]+ to alice@client.example \(Re: Printer on fire \[#$ref\]\)" \
  reply "$wi" --text-file "$M/reply.txt" --attach "$M/report.pdf" --cc boss@client.example \
  --idempotency-key desk-1
reply_id="$(sql "SELECT id FROM outbox WHERE reason = 'reply' AND work_item_id = ${wi:-0}")"
check "the same idempotency key returns the first reply" \
  expect 0 "already queued with this key: outbox/$reply_id " \
  reply "$wi" --text-file "$M/reply.txt" --idempotency-key desk-1
check "one reply row for the key" bash -c "[ \"\$(sql \"SELECT count(*) FROM outbox WHERE reason = 'reply'\")\" = 1 ]"
check "an unknown work item is NOT_FOUND" expect 1 "NOT_FOUND.*work item 999999 does not exist" \
  reply 999999 --text-file "$M/reply.txt"
check "an empty body is INVALID_ARGUMENT" expect 1 "INVALID_ARGUMENT.*text:" \
  reply "$wi" --text-file "$M/empty.txt"

check "the reply is delivered" eventually '[ -n "$(mail_with "^Subject: Re: Printer on fire")" ]'
f="$(mail_with '^Subject: Re: Printer on fire')"
check "the reply is addressed to the requester with the copy" \
  bash -c "grep -q '^To: alice@client.example' '$f' && grep -q '^Cc: boss@client.example' '$f'"
check "the reply comes from the alias the requester wrote to" grep -Eq '^From: (.*<)?help@example[.]com' "$f"
check "the envelope sender is the alias (not the null sender)" grep -q '^Return-Path: <help@example.com>' "$f"
check "the subject carries the work item's token" grep -qF "Subject: Re: Printer on fire [#$ref]" "$f"
check "In-Reply-To and References name the requester's message" bash -c \
  "grep -q '^In-Reply-To: <first@client.example>' '$f' && grep -q '^References: <first@client.example>' '$f'"
check "Reply-To carries the signed reply token" grep -Eq "^Reply-To: support\+w$wi-[0-9]+-[a-z2-7]{10}@example.com" "$f"
check "a reply is not automatic mail (no Auto-Submitted)" bash -c "! grep -qi '^Auto-Submitted:' '$f'"
check "the file is attached (multipart/mixed, application/pdf, base64)" bash -c \
  "grep -q 'multipart/mixed' '$f' && grep -q 'Content-Type: application/pdf' '$f' && grep -q 'filename=report.pdf' '$f'"
check "the copy went to the Cc address too" \
  bash -c "grep -q 'to=<boss@client.example>.*status=sent' '$SMTP_HOME/maillog'"
check "describe work-item lists the reply with the messages" \
  expect 0 "  $reply_id  reply  sent  to alice@client.example  via gateway" describe work-item "$wi"
check "get outbox lists the reply sent" expect 0 "$reply_id +gateway +reply +sent " get outbox --state sent

reply_to="$(grep -m1 '^Reply-To:' "$f" | sed 's/^Reply-To: //; s/\r$//')"
printf 'From: Alice <alice@client.example>\r\nTo: %s\r\nSubject: thanks, one more thing\r\nMessage-ID: <answer@client.example>\r\nDate: Tue, 24 Nov 2026 11:00:00 +0000\r\n\r\nIt works again.\r\n' \
  "$reply_to" > "$M/answer.eml"
"$ROOT/scripts/dovecot" deliver "$DOVECOT_HOME" support "$M/answer.eml" >/dev/null
check "the requester's answer is appended to the same work item" \
  eventually "[ \"\$(sql \"SELECT decision || ' ' || work_item_id FROM messages WHERE message_id = 'answer@client.example'\")\" = 'appended $wi' ]"
check "it was tied by the reply token alone" bash -c \
  "sql \"SELECT decision_reason FROM messages WHERE message_id = 'answer@client.example'\" | grep -q 'reply token in'"

# Bounds: 5 MiB of file is over gRPC's 4 MiB default, within the sender's receive limit and the
# gateway's max_message_bytes (25 MiB); a file over 25 MiB is refused before it is read.
head -c $((5 << 20)) /dev/urandom > "$M/big.bin"
check "a 5 MiB attachment is accepted" \
  expect 0 "reply queued" reply "$wi" --text-file "$M/reply.txt" --attach "$M/big.bin"
check "and delivered" \
  eventually '[ "$(sql "SELECT count(*) FROM outbox WHERE reason = '"'reply'"' AND status = '"'sent'"'")" = 2 ]'
truncate -s $((26 << 20)) "$M/huge.bin"
check "a file over 25 MiB is refused before anything is sent" \
  expect 2 "huge.bin holds 27262976 bytes" reply "$wi" --text-file "$M/reply.txt" --attach "$M/huge.bin"

e2e_finish reply_e2e
