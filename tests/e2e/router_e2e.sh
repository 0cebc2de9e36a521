#!/usr/bin/env bash
# The router end to end: a private PostgreSQL, the real postroom-config and postroom-router
# binaries on free ports, the demo configuration, and corpus mail routed through
# `postroomctl route FILE --connector support`. Checks decisions, work items, follow-ups,
# replays, the acknowledgement in the outbox, spam marking and the metrics. One line per check;
# exits non-zero when any failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CORPUS="${POSTROOM_CORPUS_DIR:-$ROOT/../shared/corpus}"
source "$ROOT/tests/e2e/e2e_lib.sh"
SERVICES=(config router)  # The fetcher and sender are not needed to route.
export POSTROOM_ROUTER_SWEEP_MIN_AGE_S=1 POSTROOM_ROUTER_SWEEP_INTERVAL_MS=300
export POSTROOM_ROUTER_RETENTION_INTERVAL_S=1
e2e_stack_up router-e2e
# metric SERIES: the router's value for one exact series (name{labels}), 0 when not exported.
metric() {
  curl -s "http://$POSTROOM_ROUTER_METRICS_LISTEN/metrics" |
    awk -v s="$1" '$1 == s { v = $2 } END { print v + 0 }'
}
CREATED='postroom_router_decisions_total{connector="support",decision="created"}'
ACKS='postroom_router_acks_queued_total{connector="support"}'
ROUTED='postroom_router_route_duration_seconds_count'
# The sweep creates these series at zero: the check at the end compares against these values.
created_before="$(metric "$CREATED")" acks_before="$(metric "$ACKS")" routed_before="$(metric "$ROUTED")"
M="$POSTROOM_HOME/mail"; mkdir -p "$M"
REPLY="$CORPUS/mailgun-talon/tests/fixtures/standard_replies/gmail.eml"
BOUNCE="$CORPUS/sisimai-set-of-emails/maildir/bsd/lhost-dragonfly-01.eml"
AUTO="$CORPUS/sisimai-set-of-emails/maildir/bsd/rfc3834-01.eml"
SPAM="$CORPUS/spamscope-mail-parser/tests/mails/mail_test_5"
# An invoice: the corpus reply with the subject changed (and so another Message-ID content).
sed -e 's/^Subject: .*/Subject: Invoice 2026-11 overdue/' "$REPLY" > "$M/invoice.eml"

check "apply demo configuration" expect 0 "connector/support created" apply -f "$(e2e_demo_yaml)"
check "explain shows every step and writes nothing" \
  expect 0 "route:invoices: matched" route "$M/invoice.eml" --connector support --explain
check "no message stored by explain" bash -c "[ -z \"\$('$BIN/postroomctl' get messages | sed 1d)\" ]"
check "corpus reply creates a work item in the fallback queue" \
  expect 0 "message [0-9]+: created.*" route "$REPLY" --connector support
check "the ack is queued for the requester" \
  expect 0 "acknowledgement: queued" route "$M/invoice.eml" --connector support
check "the invoice went to billing" expect 0 "billing" get work-items --queue billing
ref="$(ctl get work-items --queue billing | awk 'NR==2 {print $1}')"
check "work item shows the ack in the outbox, via the gateway, with its reference" \
  expect 0 "ack +queued +to xxx@gmail.com +via gateway .*\[#$ref\]" describe work-item "$ref"
check "routing the same file again replays the decision" \
  expect 0 "replayed" route "$REPLY" --connector support
check "replay made no second work item" \
  bash -c "[ \$('$BIN/postroomctl' get work-items | sed 1d | wc -l) = 2 ]"
sed -e "s/^Subject: .*/Subject: Re: Invoice [#$ref] one more thing/" \
    -e 's/^Message-I[Dd]: .*/Message-ID: <follow-up-1@client.example>/' "$REPLY" > "$M/follow.eml"
check "a reply carrying the subject token is appended" \
  expect 0 "appended.*|step: follow_up" route "$M/follow.eml" --connector support
check "bounce from the corpus is a bounce, no work item" \
  expect 0 "message [0-9]+: bounce" route "$BOUNCE" --connector support
check "RFC 3834 auto-reply is auto_reply" \
  expect 0 "auto_reply" route "$AUTO" --connector support
check "spam from the corpus is spam" expect 0 "message [0-9]+: spam" route "$SPAM" --connector support
spam_id="$(ctl get messages --decision spam | awk 'NR==2 {print $1}')"
check "describe message shows the decision and the trace" \
  expect 0 "\* spam: spam:" describe message "$spam_id"
check "marking it clean routes it again into a work item" \
  expect 0 "routed again: work item SUP-" mark clean "$spam_id"
check "get messages filters by decision" expect 0 "bounce" get messages --decision bounce
check "unknown connector is NOT_FOUND" expect 1 "NOT_FOUND" route "$REPLY" --connector nope
check "a fetcher-stored message left pending is swept" bash -c "
  psql '$DB' -qAt -c \"INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, stored_at)
    SELECT id, 'INBOX:9:1', 10, convert_to('Subject: pending\r\nFrom: p@client.example\r\n\r\nhi', 'UTF8'), now() - interval '1 minute'
    FROM connectors WHERE name = 'support'\" &&
  for i in \$(seq 50); do
    d=\$(psql '$DB' -qAt -c \"SELECT coalesce(decision, '') FROM messages WHERE fetch_key = 'INBOX:9:1'\")
    [ -n \"\$d\" ] && echo \"decided \$d\" && exit 0; sleep 0.2
  done; exit 1"
# Attachments: listed, downloaded decoded (the bytes Python's email package decodes from the
# same file), never over an existing file, and the raw message byte for byte.
PDF="$CORPUS/mikel-mail/spec/fixtures/emails/attachment_emails/attachment_pdf.eml"
pdf_id="$(ctl route "$PDF" --connector support | sed -nE 's/^message ([0-9]+):.*/\1/p' | head -1)"
D="$POSTROOM_HOME/downloads"; mkdir -p "$D"
check "get attachments lists the PDF" expect 0 "^0 +broken.pdf +application/pdf +1026 " \
  get attachments "$pdf_id"
check "download attachment saves what Python's email decodes" bash -c "
  cd '$D' && '$BIN/postroomctl' download attachment '$pdf_id' 0 &&
  want=\$(python3 -c 'import email, email.policy, hashlib, sys
m = email.message_from_binary_file(open(sys.argv[1], \"rb\"), policy=email.policy.default)
print(hashlib.sha256(next(m.iter_attachments()).get_payload(decode=True)).hexdigest())' '$PDF') &&
  [ \"\$(sha256sum < broken.pdf | cut -d' ' -f1)\" = \"\$want\" ]"
check "download never overwrites without --force" \
  expect 1 "broken.pdf exists; add --force" download attachment "$pdf_id" 0 -o "$D/broken.pdf"
check "download message gives the stored bytes exactly" bash -c "
  '$BIN/postroomctl' download message '$pdf_id' -o '$D' && cmp '$D/message-$pdf_id.eml' '$PDF'"
check "an unknown attachment index is NOT_FOUND" \
  expect 1 "NOT_FOUND" download attachment "$pdf_id" 7 -o "$D/none"

grows_by_at_least() {  # SERIES BEFORE MIN
  local now; now="$(metric "$1")"
  echo "$1: $2 -> $now"
  awk -v a="$2" -v b="$now" -v d="$3" 'BEGIN { exit !(b - a >= d) }'
}

# Retention (docs/privacy.md): the connector keeps 30 days; the invoice, made 40 days old, loses
# its bytes at the router's next retention run, and describe connector and the metric count it.
RETAINED='postroom_retention_removed_messages_total{connector="support"}'
check "retention: describe says kept for ever before" \
  expect 0 "kept for ever \(no retention set\)" describe connector support
sed '/^name: support$/a retention_days: 30' "$(e2e_demo_yaml)" > "$POSTROOM_HOME/retention.yaml"
check "retention: retention_days applies" \
  expect 0 "connector/support configured" apply -f "$POSTROOM_HOME/retention.yaml"
check "retention: an old decided message loses its raw bytes" bash -c "
  psql '$DB' -qAt -c \"UPDATE messages SET stored_at = now() - interval '40 days'
    WHERE summary ->> 'subject' = 'Invoice 2026-11 overdue'\" >/dev/null
  for _ in \$(seq 100); do
    n=\$(psql '$DB' -qAt -c \"SELECT count(*) FROM messages WHERE length(raw) = 0 AND
      content_removed_at IS NOT NULL AND summary ->> 'subject' = 'Invoice 2026-11 overdue'\")
    [ \"\$n\" -ge 1 ] && exit 0; sleep 0.2
  done; exit 1"
check "retention: describe counts it" expect 0 \
  "kept 30 days \(connector setting\); 1 message older than that removed so far" \
  describe connector support
check "retention: metric counts it" grows_by_at_least "$RETAINED" 0 1

# Since the stack came up: two mails were created (the reply and the invoice), the invoice's
# ack was queued, and six decisions (reply, invoice, follow-up, bounce, auto-reply, spam) timed.
check "metrics: created decisions counted" grows_by_at_least "$CREATED" "$created_before" 2
check "metrics: queued acks counted" grows_by_at_least "$ACKS" "$acks_before" 1
check "metrics: route calls timed" grows_by_at_least "$ROUTED" "$routed_before" 6

e2e_finish router_e2e
