#!/usr/bin/env bash
# The whole loop on real servers (issue 19): a private PostgreSQL, the four real services, a
# private Dovecot holding both the support mailbox (user support) and the customer's (user
# alice), and a private Postfix (scripts/smtp --lmtp) that delivers mail for support@example.com
# (and its +token forms) and client.example into that Dovecot over LMTP. Every mail in this test, the customer's and
# postroom's, goes through Postfix over SMTP: a customer mail to support@ is fetched, stored,
# becomes a work item and an acknowledgement; the acknowledgement arrives in alice's mailbox with
# the RFC 3834 headers, the token and the display name; her answer to its Reply-To is appended
# to the same work item; a reply from the desk arrives threaded; her autoresponder answering the
# acknowledgement is decided auto_reply and gets no second acknowledgement. Needs root (Dovecot,
# Postfix). One line per check.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/e2e/e2e_lib.sh"
export POSTROOM_SENDER_POLL_MS=500
e2e_stack_up full-loop

e2e_dovecot_up
"$ROOT/scripts/dovecot" add-user "$DOVECOT_HOME" alice alice-imap-password >/dev/null
e2e_smtp_up --lmtp "127.0.0.1:$LMTP_PORT" --lmtp-for support@example.com --lmtp-for client.example
export DB IMAP_PORT
export -f sql

# submit FROM TO FILE: the customer's side, SMTP to Postfix with envelope sender FROM.
submit() {
  python3 - "$SMTP_PORT" "$1" "$2" "$3" <<'PY'
import smtplib, sys
port, sender, rcpt, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with open(path, "rb") as f, smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    s.sendmail(sender, [rcpt], f.read())
PY
}
# in_mailbox USER TEXT: the file in USER's Dovecot Maildir whose headers or body hold TEXT.
in_mailbox() {
  find "$DOVECOT_HOME/mail/$1/Maildir/new" "$DOVECOT_HOME/mail/$1/Maildir/cur" -type f \
    -exec grep -l -- "$2" {} + 2>/dev/null | head -1
}
# imap_headers USER PASSWORD: one line per message of USER's INBOX read over IMAP, "Message-ID
# Auto-Submitted" (- when absent): what the customer's mail client sees.
imap_headers() {
  python3 - "$IMAP_PORT" "$1" "$2" <<'PY'
import email, imaplib, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with imaplib.IMAP4("127.0.0.1", port, timeout=20) as imap:
    imap.login(user, password)
    imap.select("INBOX", readonly=True)
    _, data = imap.search(None, "ALL")
    for num in data[0].split()[:1000]:
        _, parts = imap.fetch(num, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID AUTO-SUBMITTED)])")
        h = email.message_from_bytes(parts[0][1])
        print(h.get("Message-ID", "-").strip(), h.get("Auto-Submitted", "-").strip())
PY
}
header() { grep -m1 -i "^$2:" "$1" | sed 's/^[^:]*: *//; s/\r$//'; }
export -f in_mailbox

# The desk's webhook receiver (tests/fakes/webhook_receiver.py), plain http on loopback.
export WEBHOOK_SECRET="full-loop-webhook-secret-0123456789"
python3 "$ROOT/tests/fakes/webhook_receiver.py" --secret "$WEBHOOK_SECRET" \
  --port-file "$POSTROOM_HOME/hook.port" --log "$POSTROOM_HOME/hook.log" >"$POSTROOM_HOME/hook.out" 2>&1 &
RECEIVER_PID=$!
trap 'kill "$RECEIVER_PID" 2>/dev/null; stack_stop' EXIT
for _ in $(seq 100); do [ -s "$POSTROOM_HOME/hook.port" ] && break; sleep 0.1; done
[ -s "$POSTROOM_HOME/hook.port" ] || die "webhook_receiver.py did not start"

sed -e "s/port: 11143,/port: $IMAP_PORT,/" -e "s/port: 12525,/port: $SMTP_PORT,/" \
    "$ROOT/examples/demo.yaml" > "$POSTROOM_HOME/demo.yaml"
printf -- '---\nkind: Webhook\nname: desk\nurl: http://127.0.0.1:%s/ok\nsecret_env: WEBHOOK_SECRET\nevents: [work_item.created, work_item.appended, reply.delivered, reply.failed, message.bounced]\n' \
  "$(cat "$POSTROOM_HOME/hook.port")" >> "$POSTROOM_HOME/demo.yaml"
check "apply the demo with the private Dovecot and Postfix" \
  expect 0 "connector/support" apply -f "$POSTROOM_HOME/demo.yaml"
for c in gateway support; do
  check "test and enable $c" bash -c "'$BIN/postroomctl' test connector $c && '$BIN/postroomctl' enable connector $c"
done

# --- 1. The customer writes; postroom acknowledges. ---
printf 'From: Alice <alice@client.example>\r\nTo: support@example.com\r\nSubject: Printer on fire\r\nMessage-ID: <first@client.example>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nPlease help.\r\n' > "$M/first.eml"
check "the customer's mail is accepted by Postfix" submit alice@client.example support@example.com "$M/first.eml"
check "it lands in the support mailbox (Postfix to Dovecot over LMTP)" \
  eventually '[ -n "$(in_mailbox support "^Message-ID: <first@client.example>")" ]' 30
check "it is fetched, stored and becomes a work item" \
  eventually "[ \"\$(sql \"SELECT decision FROM messages WHERE message_id = 'first@client.example'\")\" = created ]" 60
wi="$(sql "SELECT work_item_id FROM messages WHERE message_id = 'first@client.example'")"
ref="$(sql "SELECT reference FROM work_items WHERE id = ${wi:-0}")"
check "an acknowledgement is queued for the work item" \
  bash -c "[ \"\$(sql \"SELECT count(*) FROM outbox WHERE reason = 'ack' AND work_item_id = ${wi:-0}\")\" = 1 ]"
check "the acknowledgement arrives in the customer's mailbox" \
  eventually '[ -n "$(in_mailbox alice "^X-Postroom-Work-Item:")" ]'
ack="$(in_mailbox alice '^X-Postroom-Work-Item:')"; ack="${ack:-/nonexistent}"
ack_id="$(header "$ack" Message-ID)"
check "it says Auto-Submitted: auto-replied" grep -q '^Auto-Submitted: auto-replied' "$ack"
check "it says X-Auto-Response-Suppress: All" grep -q '^X-Auto-Response-Suppress: All' "$ack"
check "its X-Loop names the support address" grep -q '^X-Loop: support@example.com' "$ack"
check "it was sent with the null envelope sender (Return-Path: <>)" grep -q '^Return-Path: <>' "$ack"
check "In-Reply-To names the customer's message" grep -q '^In-Reply-To: <first@client.example>' "$ack"
check "the subject carries the work item's token" grep -qF "[#$ref]" <<<"$(header "$ack" Subject)"
check "Reply-To carries the signed reply token" \
  grep -Eq "^Reply-To: support\+w$wi-[0-9]+-[a-z2-7]{10}@example.com" "$ack"
check "From carries the gateway's display name" \
  grep -Eq '^From: "?Example Service Desk"? <desk@example.com>' "$ack"
check "the outbox row says sent" \
  bash -c "[ \"\$(sql \"SELECT status FROM outbox WHERE reason = 'ack' AND work_item_id = ${wi:-0}\")\" = sent ]"

# --- 2. The customer answers the acknowledgement. ---
reply_to="$(header "$ack" Reply-To)"
printf 'From: Alice <alice@client.example>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <answer@client.example>\r\nIn-Reply-To: %s\r\nDate: Tue, 24 Nov 2026 10:30:00 +0000\r\n\r\nIt is still burning.\r\n' \
  "$reply_to" "$(header "$ack" Subject)" "$ack_id" > "$M/answer.eml"
check "her answer to the Reply-To is accepted" submit alice@client.example "$reply_to" "$M/answer.eml"
check "it is appended to the same work item" \
  eventually "[ \"\$(sql \"SELECT decision || ' ' || work_item_id FROM messages WHERE message_id = 'answer@client.example'\")\" = 'appended $wi' ]"

# --- 3. The desk replies. ---
printf 'Hello Alice,\n\nthe printer is being replaced today.\n' > "$M/reply.txt"
check "postroomctl reply queues the desk's reply" expect 0 "reply queued: outbox/[0-9]+ to alice@client.example" \
  reply "$wi" --text-file "$M/reply.txt" --idempotency-key full-loop-1
check "the reply arrives in the customer's mailbox" \
  eventually '[ -n "$(in_mailbox alice "^Subject: Re: Printer on fire")" ]'
r="$(in_mailbox alice '^Subject: Re: Printer on fire')"; r="${r:-/nonexistent}"
check "it is threaded: In-Reply-To her last message, References her first" bash -c \
  "grep -q '^In-Reply-To: <answer@client.example>' '$r' && grep -q '^References: <first@client.example>' '$r'"
check "its subject carries the token" grep -qF "Subject: Re: Printer on fire [#$ref]" "$r"
check "its Reply-To carries the signed reply token" \
  grep -Eq "^Reply-To: support\+w$wi-[0-9]+-[a-z2-7]{10}@example.com" "$r"
check "it is a person's mail: no Auto-Submitted, a real envelope sender" bash -c \
  "! grep -qi '^Auto-Submitted:' '$r' && grep -q '^Return-Path: <support@example.com>' '$r'"

# --- 4. Her autoresponder answers the acknowledgement: no loop. ---
printf 'From: Alice <alice@client.example>\r\nTo: support@example.com\r\nSubject: Automatic reply: %s\r\nMessage-ID: <ooo@client.example>\r\nIn-Reply-To: %s\r\nAuto-Submitted: auto-replied\r\nX-Autoreply: yes\r\nDate: Tue, 24 Nov 2026 10:31:00 +0000\r\n\r\nI am out of the office until Monday.\r\n' \
  "$(header "$ack" Subject)" "$ack_id" > "$M/ooo.eml"
check "her autoresponder's mail is accepted" submit alice@client.example support@example.com "$M/ooo.eml"
check "it lands in the support mailbox" eventually '[ -n "$(in_mailbox support "^Message-ID: <ooo@client.example>")" ]'
check "it is decided auto_reply" \
  eventually "[ \"\$(sql \"SELECT decision FROM messages WHERE message_id = 'ooo@client.example'\")\" = auto_reply ]"
check "no second acknowledgement is queued (one ack, one reply in the outbox, both sent)" bash -c \
  "[ \"\$(sql \"SELECT string_agg(reason || ':' || status, ' ' ORDER BY id) FROM outbox WHERE kind = 'email'\")\" = 'ack:sent reply:sent' ]"
# A second acknowledgement, had one been queued, would be delivered within a sender poll or two.
sleep 2
imap_headers alice alice-imap-password > "$M/alice.headers" 2>&1
check "the customer's mailbox over IMAP: 2 messages, 2 distinct Message-IDs" bash -c \
  "[ \"\$(wc -l < '$M/alice.headers')\" = 2 ] && [ \"\$(cut -d' ' -f1 '$M/alice.headers' | sort -u | wc -l)\" = 2 ]"
check "exactly one of them is automatic (the one acknowledgement)" \
  bash -c "[ \"\$(grep -c ' auto-replied\$' '$M/alice.headers')\" = 1 ] && grep -qF '$ack_id auto-replied' '$M/alice.headers'"

# --- 5. Webhooks (issue 19): the desk's receiver got every event, signed, in order. ---
# hook_events: the events the receiver accepted for work item $wi, in arrival order, "-" for a
# request whose signature did not verify.
hook_events() {
  python3 - "$POSTROOM_HOME/hook.log" "$wi" <<'PY'
import json, sys
out = []
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if str(r.get("work_item_id")) == sys.argv[2] and r.get("status") == 200:
        out.append(r["event"] if r.get("sig_ok") else "-")
print(" ".join(out))
PY
}
export -f hook_events
export POSTROOM_HOME wi
check "the receiver got work_item.created, work_item.appended, reply.delivered, in that order, each signed" \
  eventually '[ "$(hook_events)" = "work_item.created work_item.appended reply.delivered" ]' 30
check "no webhook request failed its signature check" bash -c \
  "! grep -q '\"sig_ok\": false' '$POSTROOM_HOME/hook.log'"
check "every webhook delivery is sent in the outbox" bash -c \
  "[ \"\$(sql \"SELECT count(*) FROM outbox WHERE kind = 'webhook' AND status <> 'sent'\")\" = 0 ]"

e2e_finish full_loop
