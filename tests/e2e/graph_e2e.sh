#!/usr/bin/env bash
# Microsoft Graph end to end: the whole stack (config, router, fetcher, sender) on a private
# PostgreSQL, and tests/fakes/graph_fake.py over TLS standing in for Graph and the token
# endpoint (Microsoft's cloud cannot be reached offline). A Graph connector with a refresh token
# is applied, tested and enabled through postroomctl; then: full sync over several delta pages,
# routing, incremental sync by the stored delta link, 429 with Retry-After honoured, an expired
# access token refreshed, every rotated refresh token kept sealed in `secrets` (pg_dump never
# shows one, and config's next test succeeds with what the fetcher stored), the OAuth metrics,
# a forgotten delta link (410), mark_read on a shared mailbox with client credentials, IMAP
# AUTHENTICATE XOAUTH2 against a private Dovecot (root), and invalid_grant counted as an
# authentication error until the connector is auto-disabled.
#   POSTROOM_BUILD_DIR=build tests/e2e/graph_e2e.sh
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CORPUS="${POSTROOM_CORPUS_DIR:-$ROOT/../shared/corpus}"
source "$ROOT/tests/e2e/e2e_lib.sh"
export POSTROOM_FETCHER_LEASE_ROUND_MS=300
# Every gRPC port over TLS, as in Kubernetes: the fetcher calls the router with the CA file.
E2E_TLS=1 e2e_stack_up graph-e2e
MAILDIR="$CORPUS/mikel-mail"
FULL=$(find "$MAILDIR" -name '*.eml' | wc -l)
READDIR="$CORPUS/mailgun-talon/tests/fixtures/standard_replies"
NREAD=$(find "$READDIR" -name '*.eml' | wc -l)
e2e_graph_fake --fill "support@example.com=$MAILDIR" --mailbox other@example.com \
  --fill "other@example.com=$READDIR"
G="$GRAPH_DIR"; PORT="$GRAPH_PORT"
fake() { curl -sf --cacert "$G/cert.pem" "https://127.0.0.1:$PORT/_control/$1" "${@:2}"; }
fault() { fake fault -H 'Content-Type: application/json' -d "$1" >/dev/null; }
fake_count() { fake state | python3 -c "import json,sys; print(json.load(sys.stdin)['counts']['$1'])"; }
fake_refresh() { fake state | python3 -c "import json,sys; print(json.load(sys.stdin)['refresh_token'])"; }
add_mail() {  # FILE
  python3 -c 'import base64,json,sys; print(json.dumps({"eml_b64": base64.b64encode(open(sys.argv[1],"rb").read()).decode()}))' "$1" |
    fake messages -H 'Content-Type: application/json' -d @- >/dev/null
}
sql() { psql "$DB" -qAtX -c "$1"; }
stored() { sql "SELECT count(*) FROM messages m JOIN connectors c ON c.id = m.connector_id WHERE c.name = '${CONN:-graphbox}'"; }
wait_stored() {  # N [SECONDS]
  for _ in $(seq $(( ${2:-30} * 5 ))); do [ "$(stored)" -ge "$1" ] && { echo "$(stored) stored"; return 0; }; sleep 0.2; done
  echo "$(stored) stored, wanted $1"; tail -5 "$POSTROOM_HOME/logs/fetcher.log"; return 1
}
polls_ok() {  # CONNECTOR: successful polls so far (fetcher metrics)
  curl -sf "http://$POSTROOM_FETCHER_METRICS_LISTEN/metrics" |
    sed -n "s/^postroom_fetcher_polls_total{connector=\"$1\",outcome=\"ok\"} //p"
}
poll_and_wait() {  # CONNECTOR: PollNow, then wait until one more poll succeeded
  local before; before="$(polls_ok "$1")"
  ctl poll connector "$1" >/dev/null || return 1
  for _ in $(seq 150); do [ "$(polls_ok "$1")" != "$before" ] && return 0; sleep 0.2; done
  return 1
}

{ e2e_graph_connector_yaml graphbox
  echo "settings: {poll_interval_s: 10, max_tries: 1, cool_off_min: 1, error_threshold: 3}"
} > "$G/graph.yaml"

check "apply a Graph connector" expect 0 "connector/graphbox created" apply -f "$G/graph.yaml"
check "test connection: token, folder, message count from the fake" \
  expect 0 "count.*$FULL messages" test connector graphbox
check "the refresh token rotated by the test is sealed in secrets" bash -c "
  [ \"\$(psql '$DB' -qAtX -c \"SELECT count(*) FROM secrets s JOIN connectors c ON c.id = s.connector_id
      WHERE c.name = 'graphbox' AND s.field = 'refresh_token' AND s.sealed LIKE 'v1:%'\")\" = 1 ] &&
  [ \"$(fake_refresh)\" != RT-initial-0001 ]"
bad_ca_refused() {  # the same fake without ca_file: its certificate is not trusted
  e2e_graph_connector_yaml graphbadca | sed 's|, ca_file: [^}]*}|}|' >"$G/badca.yaml"
  ctl apply -f "$G/badca.yaml" >/dev/null || return 1
  local out; out="$(ctl test connector graphbadca 2>&1)"; echo "$out"
  grep -qE 'auth +FAILED.*(certificate|SSL)' <<<"$out"
}
check "without the CA file the fake's certificate is refused at the auth step" bad_ca_refused
check "enable" expect 0 "enabled" enable connector graphbox
check "full sync stores every message of the mailbox" wait_stored "$FULL" 60
check "full sync took several delta pages" bash -c "[ $(fake_count delta_pages) -ge 2 ]"
check "every message downloaded once" bash -c "[ $(fake_count mime) = $FULL ]"
check "fetch keys are Graph ids" bash -c "[ \$(psql '$DB' -qAtX -c \"SELECT count(*) FROM messages WHERE fetch_key LIKE 'graph:AAMk%'\") = $FULL ]"
check "the delta link is the folder cursor" bash -c "
  psql '$DB' -qAtX -c \"SELECT delta_link FROM folder_cursors\" | grep -q 'deltatoken='"
check "the router decided every message" bash -c '
  for _ in $(seq 100); do
    [ "$(psql "'"$DB"'" -qAtX -c "SELECT count(*) FROM messages WHERE decision IS NULL")" = 0 ] && exit 0
    sleep 0.2
  done; exit 1'
# A RouteStream is counted when it ends (the fetcher closes an idle one after a second).
router_streams_answered() {
  local page
  page="$(curl -sf "http://$POSTROOM_ROUTER_METRICS_LISTEN/metrics")" || return 1
  grep -qE '^postroom_grpc_requests_total\{code="OK",method="RouteStream",service="router"\} [1-9]' <<<"$page"
}
check "the fetcher routed them over TLS (RouteStream calls answered OK by the TLS router)" \
  eval 'WAIT_SECONDS=20 wait_for router_streams_answered'
check "a plaintext client cannot talk to the TLS router" bash -c \
  "! POSTROOM_CA_FILE= '$BIN/postroom-healthcheck' '$POSTROOM_ROUTER_LISTEN' readiness --timeout-ms 1000"

NEW1="$CORPUS/mailgun-talon/tests/fixtures/standard_replies/gmail.eml"
new_mail_and_poll() { add_mail "$NEW1"; ctl poll connector graphbox >/dev/null; }
new_mail_and_poll
check "incremental sync by the delta link stores the new message only" wait_stored $((FULL + 1)) 30
check "incremental sync downloaded one MIME body" bash -c "[ $(fake_count mime) = $((FULL + 1)) ]"

fault '{"throttle": 2, "retry_after": 1}'
new_mail_and_poll
check "429 with Retry-After is waited out within the poll" wait_stored $((FULL + 2)) 30
check "the fake throttled twice" bash -c "[ $(fake_count throttled) = 2 ]"
check "no error was counted" bash -c "[ \"\$(psql '$DB' -qAtX -c \"SELECT consecutive_incoming_errors FROM connector_state s JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'graphbox'\")\" = 0 ]"

refreshes=$(fake_count token_refresh)
fault '{"expire_tokens": true}'
new_mail_and_poll
check "an expired access token (401) is refreshed and the poll goes on" wait_stored $((FULL + 3)) 30
check "the fake saw the 401 and a refresh grant" bash -c "
  [ $(fake_count unauthorized) -ge 1 ] && [ $(fake_count token_refresh) -gt $refreshes ]"
check "pg_dump shows no refresh token in plaintext" bash -c "
  /usr/lib/postgresql/15/bin/pg_dump '$DB' > '$G/dump.sql' && ! grep -qF \"$(fake_refresh)\" '$G/dump.sql' &&
  ! grep -qF RT-initial-0001 '$G/dump.sql' && ! grep -qF e2e-app-secret '$G/dump.sql'"
check "config's test succeeds with the refresh token the fetcher stored (the old ones are spent)" \
  expect 0 "passed|PASSED|ok" test connector graphbox
check "metrics: token expiry of the connector is exported and in the future" bash -c "
  v=\$(curl -sf http://$POSTROOM_FETCHER_METRICS_LISTEN/metrics | sed -n 's/^postroom_oauth_token_expiry_timestamp_seconds{connector=\"graphbox\"} //p')
  [ -n \"\$v\" ] && python3 -c \"import sys,time; sys.exit(0 if float('\$v') > time.time() else 1)\""

before=$(stored)
fault '{"delta_gone": 1}'
add_mail "$NEW1"
check "a forgotten delta link (410) syncs the folder again" poll_and_wait graphbox
resync_stored_new_only() {
  [ "$(fake_count gone)" = 1 ] && [ "$(stored)" = $((before + 1)) ] &&
    grep -q 'event=graph_resync connector=graphbox' "$POSTROOM_HOME/logs/fetcher.log"
}
check "the resync stored the new message only" resync_stored_new_only

# A second connector on another mailbox, with the client-credentials grant (no refresh token)
# and processed action mark_read.
{ e2e_graph_connector_yaml graphread | grep -v refresh_token
  echo "shared_mailbox: other@example.com"
  echo "processed_action: mark_read"
  echo "settings: {poll_interval_s: 10, max_tries: 1}"
} > "$G/read.yaml"
check "a mark_read connector on a shared mailbox is applied, tested, enabled" bash -c "
  '$BIN/postroomctl' apply -f '$G/read.yaml' && '$BIN/postroomctl' test connector graphread | grep -q '$NREAD messages' &&
  '$BIN/postroomctl' enable connector graphread"
CONN=graphread
check "the shared mailbox is synced" wait_stored "$NREAD" 30
fake_state() { fake state | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
all_marked_read() {
  for _ in $(seq 50); do [ "$(fake_state 's["read"]')" = "$NREAD" ] && return 0; sleep 0.2; done
  return 1
}
check "every message is marked read after it was stored" all_marked_read
no_second_download() {
  poll_and_wait graphread && [ "$(fake_state 's["counts"]["mime other@example.com"]')" = "$NREAD" ]
}
check "the next poll does not download the messages it marked read again" no_second_download
CONN=graphbox

# IMAP with AUTHENTICATE XOAUTH2: a private Dovecot whose oauth2 passdb asks a second fake
# (plain http on loopback, as config allows for a token endpoint) to introspect each token.
if [ "$(id -u)" = 0 ]; then
  DC="$(mktemp -d /tmp/graph-e2e-dovecot.XXXXXX)"; chmod 755 "$DC"
  python3 "$ROOT/tests/fakes/graph_fake.py" --port-file "$G/port2" --client-id postroom-e2e \
    --client-secret e2e-app-secret --introspect-user alice >"$G/fake2.log" 2>&1 &
  FAKE2_PID=$!
  trap 'kill $GRAPH_FAKE_PID $FAKE2_PID 2>/dev/null; "$ROOT/scripts/dovecot" stop "$DC" >/dev/null 2>&1; rm -rf "$DC"; stack_stop' EXIT
  for _ in $(seq 50); do [ -s "$G/port2" ] && break; sleep 0.1; done
  P2="$(cat "$G/port2")"
  "$ROOT/scripts/dovecot" start "$DC" --oauth2-introspection "http://127.0.0.1:$P2/introspect" >/dev/null
  source "$DC/ports.env"
  "$ROOT/scripts/dovecot" add-user "$DC" alice unused-password >/dev/null
  NIMAP=$("$ROOT/scripts/dovecot" fill "$DC" alice "$READDIR" | tail -1)
  cat > "$G/xoauth2.yaml" <<YAML
kind: Connector
name: imapoauth
protocol: imap
direction: incoming
server: {host: 127.0.0.1, port: $IMAP_PORT, tls: none}
auth:
  method: oauth2
  username: alice
  client_id: postroom-e2e
  client_secret: e2e-app-secret
  token_endpoint: http://127.0.0.1:$P2/contoso/oauth2/v2.0/token
  scope: https://outlook.office365.com/.default
primary_address: alice@example.com
settings: {poll_interval_s: 10, max_tries: 1}
fallback: {queue: imap}
YAML
  check "IMAP XOAUTH2: test connection signs in with a token from the endpoint" \
    bash -c "'$BIN/postroomctl' apply -f '$G/xoauth2.yaml' && '$BIN/postroomctl' test connector imapoauth | grep -E 'auth +passed'"
  check "IMAP XOAUTH2: enable" expect 0 enabled enable connector imapoauth
  CONN=imapoauth
  imap_stored() { [ "${NIMAP:-0}" -gt 0 ] && wait_stored "$NIMAP" 30; }
  check "IMAP XOAUTH2: the fetcher signs in with the same token client and stores the mailbox" \
    imap_stored
  CONN=graphbox
  check "IMAP XOAUTH2: Dovecot checked the tokens (introspection)" bash -c "
    curl -sf http://127.0.0.1:$P2/_control/state | python3 -c 'import json,sys; c=json.load(sys.stdin)[\"counts\"]; sys.exit(0 if c.get(\"introspect_ok\", 0) >= 2 else 1)'"

  # SMTP AUTH XOAUTH2 (the Office 365 preset without a password): a private Postfix whose SASL
  # is that Dovecot's, so each token is introspected at the same fake.
  SM="$(mktemp -d /tmp/graph-e2e-smtp.XXXXXX)"
  trap 'kill $GRAPH_FAKE_PID $FAKE2_PID 2>/dev/null; "$ROOT/scripts/smtp" stop "$SM" >/dev/null 2>&1; "$ROOT/scripts/dovecot" stop "$DC" >/dev/null 2>&1; rm -rf "$DC" "$SM"; stack_stop' EXIT
  "$ROOT/scripts/smtp" start "$SM" --dovecot-sasl "$DOVECOT_AUTH_SOCKET" >"$G/smtp.env"
  source "$G/smtp.env"
  smtp_connector() {  # NAME CLIENT_SECRET
    cat <<YAML
kind: Connector
name: $1
protocol: smtp
direction: outgoing
server: {host: 127.0.0.1, port: $SMTP_PORT, tls: none}
auth:
  method: oauth2
  username: alice
  client_id: postroom-e2e
  client_secret: $2
  token_endpoint: http://127.0.0.1:$P2/contoso/oauth2/v2.0/token
  scope: https://outlook.office365.com/.default
primary_address: alice@example.com
YAML
  }
  introspected() {
    curl -sf "http://127.0.0.1:$P2/_control/state" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"].get("introspect_ok", 0))'
  }
  before="$(introspected)"
  smtp_connector smtpoauth e2e-app-secret >"$G/smtp-oauth.yaml"
  check "SMTP XOAUTH2: test connection signs in to Postfix with a token from the endpoint" \
    bash -c "'$BIN/postroomctl' apply -f '$G/smtp-oauth.yaml' && '$BIN/postroomctl' test connector smtpoauth | grep -E 'auth(entication)? +passed'"
  check "SMTP XOAUTH2: Postfix had Dovecot check the token (introspection)" \
    bash -c "[ \"\$(curl -sf http://127.0.0.1:$P2/_control/state | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"counts\"].get(\"introspect_ok\", 0))')\" -gt $before ]"
  smtp_connector smtpbad wrong-secret >"$G/smtp-bad.yaml"
  check "SMTP XOAUTH2: a client secret the endpoint refuses fails at the auth step" \
    bash -c "'$BIN/postroomctl' apply -f '$G/smtp-bad.yaml'; '$BIN/postroomctl' test connector smtpbad | grep -Ei 'auth.*(failed|invalid_client)'"
else
  echo "skip IMAP XOAUTH2 against Dovecot (needs root)"
fi

# Sending through Graph (sendMail, MIME as base64): an outgoing Graph connector of the same
# mailbox, signing in with client credentials (the refresh token above has been rotated); the
# sender claims its outbox rows and the fake records what arrived.
graph_out_yaml() {  # NAME [EXTRA-YAML]: an outgoing Graph connector of support@example.com
  e2e_graph_connector_yaml "$1" | sed 's/^direction: incoming/direction: outgoing/; /^fallback:/d; /refresh_token:/d'
  [ -z "${2:-}" ] || echo "$2"
}
graph_out_yaml graphout 'display_name: "Kundendienst Müller"' >"$G/graph-out.yaml"
check "an outgoing Graph connector cannot be enabled before its connection test" bash -c "
  '$BIN/postroomctl' apply -f '$G/graph-out.yaml' >/dev/null &&
  out=\$('$BIN/postroomctl' enable connector graphout 2>&1); echo \"\$out\";
  grep -q 'FAILED_PRECONDITION.*never tested.*postroomctl test connector graphout' <<<\"\$out\""
check "its test: a token, then the mailbox readable (Sent Items)" \
  expect 0 "mailbox +passed .*support@example.com readable" test connector graphout
check "it enables once tested" expect 0 "enabled" enable connector graphout
graph_out_yaml graphnobox | sed 's/^primary_address: .*/primary_address: nobody@example.com/' >"$G/graph-nobox.yaml"
check "a mailbox Graph does not know fails the test at the mailbox step, and enable is refused" bash -c "
  '$BIN/postroomctl' apply -f '$G/graph-nobox.yaml' >/dev/null
  '$BIN/postroomctl' test connector graphnobox | grep -E 'mailbox +FAILED.*ErrorInvalidUser' &&
  '$BIN/postroomctl' enable connector graphnobox 2>&1 | grep -q 'FAILED_PRECONDITION.*last connection test failed'"
sql "INSERT INTO outbox (connector_id, reason, to_address, subject, body_text, dedupe_key)
     SELECT id, 'test', 'jane@client.example', 'Graph send e2e', 'Sent through sendMail.',
            'graph-send-1' FROM connectors WHERE name = 'graphout'" >/dev/null
outbox_is() {  # DEDUPE_KEY STATUS [ERROR-PATTERN]: waits up to 30 s for the row to get there
  local row
  for _ in $(seq 150); do
    row="$(sql "SELECT status || ' ' || last_error FROM outbox WHERE dedupe_key = '$1'")"
    if [[ "$row" == "$2"* ]] && { [ -z "${3:-}" ] || grep -Eq -- "$3" <<<"$row"; }; then return 0; fi
    sleep 0.2
  done
  echo "outbox $1: $row"; return 1
}
fake_received() {  # SUBJECT: the fake's sendMail got a MIME with it, to jane, from the mailbox
  curl -sf "https://127.0.0.1:$GRAPH_PORT/_control/sent" --cacert "$GRAPH_CA" | python3 -c '
import base64, json, re, sys
subject = sys.argv[1].encode()
mimes = [base64.b64decode(m.get("mime_b64", "")) for m in json.load(sys.stdin)["sent"]
         if m["mailbox"] == "support@example.com"]
ok = any(b"Subject: " + subject in m and b"jane@client.example" in m
         and re.search(rb"^From: [^\r\n]*=\?[^\r\n]*<support@example.com>", m, re.M) for m in mimes)
sys.exit(0 if ok else 1)' "$1"
}
fake_sent_json() {  # SUBJECT PYTHON-CONDITION-ON-m: a JSON send with that subject satisfies it
  curl -sf "https://127.0.0.1:$GRAPH_PORT/_control/sent" --cacert "$GRAPH_CA" | python3 -c '
import json, sys
subject, cond = sys.argv[1], sys.argv[2]
hits = [m for m in json.load(sys.stdin)["sent"] if m.get("message", {}).get("subject") == subject]
print(json.dumps(hits)[:600])
sys.exit(0 if hits and all(eval("(" + cond + ")") for m in hits) else 1)' "$1" "$2"
}
saved_copies() { fake state | python3 -c "import json,sys; print(json.load(sys.stdin)['saved'].get('support@example.com', 0))"; }
check "the sender delivers it through Graph sendMail" outbox_is graph-send-1 sent
check "the fake received the MIME the sender rendered, From with the display name encoded" \
  fake_received "Graph send e2e"
sql "INSERT INTO outbox (connector_id, reason, to_address, subject, body_text, dedupe_key)
     SELECT id, 'test', 'jane@client.example', 'Too big for one request', repeat('x', 3200000),
            'graph-send-big' FROM connectors WHERE name = 'graphout'" >/dev/null
check "a body over one request's 3 MiB fails with the reason, not a retry loop" \
  outbox_is graph-send-big failed 'only attachments can go through an upload session'

# saveToSentItems: false needs Graph's JSON message resource (MIME sends always keep a copy).
graph_out_yaml graphnosave 'display_name: "Kundendienst Müller"
settings: {save_to_sent_items: false}' >"$G/graph-nosave.yaml"
check "a Graph connector with save_to_sent_items: false applies, tests and enables" bash -c "
  '$BIN/postroomctl' apply -f '$G/graph-nosave.yaml' && '$BIN/postroomctl' test connector graphnosave &&
  '$BIN/postroomctl' enable connector graphnosave"
saved_before="$(saved_copies)"
queue_json() {  # DEDUPE_KEY SUBJECT
  sql "INSERT INTO outbox (connector_id, reason, to_address, subject, body_text, headers, dedupe_key)
       SELECT id, 'test', 'jane@client.example', '$2', 'Sent as JSON.',
              '{\"In-Reply-To\": \"<q1@client.example>\", \"X-Loop\": \"support@example.com\", \"Reply-To\": \"support+tok@example.com\"}'::jsonb,
              '$1' FROM connectors WHERE name = 'graphnosave'" >/dev/null
}
queue_json graph-json-1 "Graph JSON send"
check "the sender delivers it through sendMail as JSON" outbox_is graph-json-1 sent
check "the fake got saveToSentItems false, the display name, Reply-To, X-Loop, X-Auto-Response-Suppress and no In-Reply-To" \
  fake_sent_json "Graph JSON send" 'm["via"] == "json" and m["saveToSentItems"] is False and
    m["message"]["from"]["emailAddress"]["name"] == "Kundendienst Müller" and
    m["message"]["replyTo"][0]["emailAddress"]["address"] == "support+tok@example.com" and
    sorted(h["name"] for h in m["message"]["internetMessageHeaders"]) == ["X-Auto-Response-Suppress", "X-Loop"]'
check "no copy went to Sent Items for it" test "$(saved_copies)" = "$saved_before"
# Throttling on the JSON path: a short 429 is waited out inside the client; a long one is a
# temporary failure (the row stays queued, class throttled).
throttled_before="$(fake_count throttled)"
fault '{"throttle": 1, "retry_after": 1, "throttle_path": "sendMail"}'
queue_json graph-json-2 "Graph JSON after a 429"
check "a 429 with Retry-After on sendMail (JSON) is waited out and the mail goes" \
  outbox_is graph-json-2 sent
check "the fake did answer that sendMail with a 429 first" \
  test "$(fake_count throttled)" = "$((throttled_before + 1))"
fault '{"throttle": 50, "retry_after": 1, "throttle_path": "sendMail"}'
queue_json graph-json-3 "Graph JSON throttled"
check "throttled past the client's retries: queued again as throttled, not failed" bash -c "
  for _ in \$(seq 150); do
    r=\$(psql '$DB' -qAtX -c \"SELECT status || ' ' || last_error_class || ' ' || attempts FROM outbox WHERE dedupe_key = 'graph-json-3'\")
    case \"\$r\" in 'queued throttled '[1-9]*) echo \"\$r\"; exit 0;; esac; sleep 0.2
  done; echo \"\$r\"; exit 1"
fault '{"throttle": 0}'
ctl retry outbox "$(sql "SELECT id FROM outbox WHERE dedupe_key = 'graph-json-3'")" >/dev/null
check "once the throttling ends the throttled mail goes" outbox_is graph-json-3 sent

# A reply from the desk with files and a copy (outbox_attachments and cc, as SendReply stores
# them): over 3 MiB rendered, so not one MIME request but a draft (its copy as ccRecipients),
# the small file posted as a fileAttachment and the 3.5 MiB one through an upload session; both
# must arrive whole.
head -c $((3584 * 1024)) /dev/urandom >"$G/big.bin"
BIG_SHA="$(sha256sum "$G/big.bin" | cut -d' ' -f1)"
printf 'the small file\n' >"$G/small.txt"
SMALL_SHA="$(sha256sum "$G/small.txt" | cut -d' ' -f1)"
python3 - "$G/big.bin" "$G/small.txt" >"$G/reply.sql" <<'PY'
import sys
big, small = (open(f, "rb").read().hex() for f in sys.argv[1:3])
print(f"""WITH o AS (
  INSERT INTO outbox (connector_id, reason, to_address, cc, subject, body_text, dedupe_key)
  SELECT id, 'reply', 'jane@client.example', 'boss@client.example', 'Graph reply with files',
         'Both files attached.', 'graph-reply-files' FROM connectors WHERE name = 'graphout' RETURNING id)
INSERT INTO outbox_attachments (outbox_id, position, filename, content_type, content)
SELECT id, 0, 'small.txt', 'text/plain', '\\x{small}'::bytea FROM o UNION ALL
SELECT id, 1, 'big.bin', 'application/octet-stream', '\\x{big}'::bytea FROM o;""")
PY
psql "$DB" -qAtX -v ON_ERROR_STOP=1 -f "$G/reply.sql" >/dev/null
ranges_before="$(fake state | python3 -c "import json,sys; print(json.load(sys.stdin)['counts'].get('upload_ranges', 0))")"
check "a reply with a 3.5 MiB file is delivered through Graph" outbox_is graph-reply-files sent
check "the fake got a draft with the copy and both files whole (sha256), the large one by upload session" \
  fake_sent_json "Graph reply with files" 'm["via"] == "draft" and
    [r["emailAddress"]["address"] for r in m["message"]["ccRecipients"]] == ["boss@client.example"] and sorted(
    (a["name"], a["size"], a["sha256"], a["via"]) for a in m["attachments"]) == [
    ("big.bin", '"$((3584 * 1024))"', "'"$BIG_SHA"'", "upload"),
    ("small.txt", '"$(stat -c %s "$G/small.txt")"', "'"$SMALL_SHA"'", "inline")]'
check "the upload went in byte ranges to the session URL" bash -c "
  [ \"\$(curl -sf --cacert '$GRAPH_CA' https://127.0.0.1:$GRAPH_PORT/_control/state | python3 -c \"import json,sys; print(json.load(sys.stdin)['counts'].get('upload_ranges', 0))\")\" -gt $ranges_before ]"

fault '{"expire_tokens": true, "token_error": "invalid_grant", "count": 20}'
for i in 1 2 3; do
  ctl poll connector graphbox >/dev/null 2>&1
  for _ in $(seq 50); do
    n="$(sql "SELECT consecutive_incoming_errors FROM connector_state s JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'graphbox'")"
    [ "$n" -ge "$i" ] && break; sleep 0.2
  done
done
check "invalid_grant is an authentication error with the server's words" bash -c "
  psql '$DB' -qAtX -c \"SELECT last_incoming_error_class, last_incoming_error FROM connector_state s JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'graphbox'\" | grep -q 'authentication|.*invalid_grant'"
check "auto-disabled at the threshold (3)" bash -c "
  [ \"\$(psql '$DB' -qAtX -c \"SELECT status FROM connectors WHERE name = 'graphbox'\")\" = disabled_by_system ]"
check "metrics: refresh failures counted" bash -c "
  curl -sf http://$POSTROOM_FETCHER_METRICS_LISTEN/metrics | grep -E '^postroom_oauth_token_refresh_failures_total\{connector=\"graphbox\"\} [1-9]'"
e2e_finish graph_e2e
