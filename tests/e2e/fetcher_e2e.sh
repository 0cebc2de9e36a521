#!/usr/bin/env bash
# Fetcher end to end (label e2e, root): a private PostgreSQL and Dovecot, the real
# postroom-fetcher binary. Scenarios: IMAP full sync, incremental sync, UIDVALIDITY change, POP3,
# auto-disable after an authentication failure then re-enable, kill -9 during a sync then a
# restart (a second replica takes over after the lease period) with every message stored exactly
# once, the router being away (messages stay pending), processed action move + max message size,
# a password sealed by the config service (postroomctl apply) opened by the fetcher, IMAP IDLE
# (new mail stored within seconds despite a 300 s poll interval), processed action delete
# (expunged), and the POP3 seen set forgetting UIDLs that left the server.
#
# Most connectors are written straight into the database (status active, password in the spec,
# 1 s poll interval, below config's 10 s minimum, to keep the test short); the one applied
# through postroom-config is activated by SQL too, standing in for its connection test and
# EnableConnector (tested in stack_e2e and connection_tester_dovecot_test).
#   POSTROOM_BUILD_DIR=build-x tests/e2e/fetcher_e2e.sh      (POSTROOM_KEEP=1 keeps /tmp dir)
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
BUILD="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
BIN="$BUILD/bin"
[ -x "$BIN/postroom-fetcher" ] || BIN="$BUILD/services/fetcher"
FETCHER="$BIN/postroom-fetcher"
CONFIG="$BUILD/bin/postroom-config"; [ -x "$CONFIG" ] || CONFIG="$BUILD/services/config/postroom-config"
[ -x "$FETCHER" ] && [ -x "$CONFIG" ] || die "build postroom-fetcher and postroom-config first"
[ "$(id -u)" = 0 ] || die "fetcher_e2e.sh needs root (Dovecot)"

T="$(mktemp -d /tmp/fetcher-e2e.XXXXXX)"; chmod 755 "$T"
FPID=""; FMETRICS=""
cleanup() {
  [ -n "$FPID" ] && kill "$FPID" 2>/dev/null && wait "$FPID" 2>/dev/null || true
  "$POSTROOM_ROOT/scripts/dovecot" stop "$T/dc" >/dev/null 2>&1 || true
  "$POSTROOM_ROOT/scripts/pg" "$([ "${POSTROOM_KEEP:-0}" = 1 ] && echo stop || echo destroy)" "$T/pg" >/dev/null 2>&1 || true
  if [ "${POSTROOM_KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/fetcher.log" ] && tail -30 "$T/fetcher.log" >&2; exit 1; }
pass() { echo "PASS: $*"; }

URI="$("$POSTROOM_ROOT/scripts/pg" start "$T/pg" --fast | tail -1)"
"$CONFIG" migrate --database "$URI" >/dev/null
"$POSTROOM_ROOT/scripts/dovecot" start "$T/dc" >/dev/null
source "$T/dc/ports.env"
sql() { psql "$URI" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

E2E_TOKEN="$("$CONFIG" token create e2e admin --tokens-file "$T/tokens" 2>/dev/null)"
echo "k1 $(openssl rand -hex 32)" > "$T/key"; chmod 600 "$T/key"
sql "INSERT INTO settings (key, spec, modified_by) VALUES ('admin_notification_address',
     '{\"value\": \"admin@example.com\"}', 'e2e')"

CORPUS="${POSTROOM_CORPUS_DIR:-/work/shared/corpus}"
python3 /work/shared/baselines/gen_corpus.py --count 3000 --seed 7 --out "$T/gen/Maildir" >/dev/null

# connector NAME PROTOCOL USER PASSWORD [THRESHOLD]
connector() {
  local port=$IMAP_PORT proto=PROTOCOL_IMAP
  [ "$2" = pop3 ] && port=$POP3_PORT && proto=PROTOCOL_POP3
  sql "INSERT INTO connectors (name, protocol, direction, status, spec, modified_by) VALUES
   ('$1', '$2', 'incoming', 'active', '{\"name\": \"$1\", \"protocol\": \"$proto\",
    \"direction\": \"DIRECTION_INCOMING\", \"server\": {\"host\": \"127.0.0.1\", \"port\": $port,
    \"tls\": \"TLS_MODE_NONE\"}, \"auth\": {\"method\": \"AUTH_METHOD_PASSWORD\",
    \"username\": \"$3\", \"password\": \"$4\"}, \"settings\": {\"poll_interval_s\": 1,
    \"error_threshold\": ${5:-5}, \"max_tries\": 1 ${SETTINGS_EXTRA:-}} ${SPEC_EXTRA:-}}', 'e2e')"
}
count() { sql "SELECT count(*) FROM messages m JOIN connectors c ON c.id = m.connector_id WHERE c.name = '$1' ${2:-}"; }
# wait_count NAME N [SECONDS]
wait_count() {
  local deadline=$(( $(date +%s) + ${3:-60} ))
  while [ "$(count "$1")" -lt "$2" ]; do
    [ "$(date +%s)" -ge "$deadline" ] && fail "$1: $(count "$1") messages stored, expected $2"
    sleep 0.2
  done
}
# polls NAME: the polls of NAME the running fetcher has finished (postroom_fetcher_polls_total).
polls() {
  { curl -s "http://$FMETRICS/metrics" || true; } | awk -v c="connector=\"$1\"" \
    '$1 ~ /^postroom_fetcher_polls_total[{]/ && index($1, c) { n += $2 } END { print n + 0 }'
}
polls_at_least() { [ "$(polls "$1")" -ge "$2" ]; }
# wait_polls NAME N [SECONDS]: until the fetcher has finished N more polls of NAME; with N = 2,
# a whole poll began after this call (the first may be the one already under way).
wait_polls() {
  local want=$(( $(polls "$1") + $2 ))
  WAIT_SECONDS="${3:-30}" wait_for polls_at_least "$1" "$want" ||
    fail "$1: $(polls "$1") polls finished, expected $want"
}
start_fetcher() {  # REPLICA [extra flags]
  local r="$1"; shift
  FMETRICS="127.0.0.1:$(free_port)"
  POSTROOM_DATABASE="$URI" POSTROOM_ROUTER_ADDR=127.0.0.1:1 \
    "$FETCHER" --listen "127.0.0.1:$(free_port)" --metrics-listen "$FMETRICS" \
    --tokens-file "$T/tokens" --secret-key-file "$T/key" --replica "$r" --lease_period_s 3 \
    --lease_round_ms 300 "$@" >>"$T/fetcher.log" 2>&1 &
  FPID=$!
}

"$POSTROOM_ROOT/scripts/dovecot" add-user "$T/dc" alice alicepw >/dev/null
"$POSTROOM_ROOT/scripts/dovecot" add-user "$T/dc" bob bobpw >/dev/null
"$POSTROOM_ROOT/scripts/dovecot" add-user "$T/dc" carol carolpw >/dev/null
# Added now: Dovecot re-reads the users file by its mtime in seconds, so a user added in the
# same second as the previous login may not exist yet for the next one.
"$POSTROOM_ROOT/scripts/dovecot" add-user "$T/dc" frank frankpw >/dev/null
"$POSTROOM_ROOT/scripts/dovecot" add-user "$T/dc" gina ginapw >/dev/null
N=$("$POSTROOM_ROOT/scripts/dovecot" fill "$T/dc" alice "$CORPUS" | grep -o '[0-9]\+' | tail -1)
for f in $(find "$T/gen/Maildir/cur" -type f -printf "%f\n" | sort | sed -n 1,20p); do
  "$POSTROOM_ROOT/scripts/dovecot" fill "$T/dc" bob "$T/gen/Maildir/cur/$f" >/dev/null
done
connector alice imap alice alicepw
connector bob pop3 bob bobpw
start_fetcher e2e-1

# 1. IMAP full sync: every corpus message once, bytes as Dovecot serves them.
wait_count alice "$N" 120
[ "$(count alice)" = "$N" ] || fail "alice: $(count alice) stored, expected $N"
[ "$(sql "SELECT count(DISTINCT fetch_key) FROM messages")" = "$(sql "SELECT count(*) FROM messages")" ] || fail "duplicate fetch keys"
pass "imap full sync: $N messages"

# 2. Incremental: two more arrive, only they are fetched.
"$POSTROOM_ROOT/scripts/dovecot" fill "$T/dc" alice "$T/gen/Maildir/cur/$(ls "$T/gen/Maildir/cur" | sed -n 100p)" >/dev/null
"$POSTROOM_ROOT/scripts/dovecot" fill "$T/dc" alice "$T/gen/Maildir/cur/$(ls "$T/gen/Maildir/cur" | sed -n 101p)" >/dev/null
wait_count alice $((N + 2)) 30
wait_polls alice 2  # a poll after the two arrived found nothing more
[ "$(count alice)" = "$((N + 2))" ] || fail "incremental: $(count alice), expected $((N + 2))"
pass "imap incremental sync: 2 new messages, nothing else"

# 3. POP3: 20 messages by UIDL, none twice.
wait_count bob 20 30
wait_polls bob 2
[ "$(count bob)" = 20 ] || fail "pop3: $(count bob) stored, expected 20"
[ "$(count bob "AND m.fetch_key LIKE 'uidl:%'")" = 20 ] || fail "pop3 fetch keys"
pass "pop3: 20 messages by UIDL"

# 4. Router unavailable: everything stays pending (decision NULL), nothing lost.
[ "$(sql "SELECT count(*) FROM messages WHERE decision IS NULL")" = "$(sql "SELECT count(*) FROM messages")" ] || fail "messages decided without a router?"
pass "router away: all messages pending"

# 5. UIDVALIDITY change: Dovecot forgets its UIDs; the folder is fetched again under new keys.
OLD_UV=$(sql "SELECT uidvalidity FROM folder_cursors f JOIN connectors c ON c.id = f.connector_id WHERE c.name = 'alice'")
kill "$FPID"; wait "$FPID" || true; FPID=""
"$POSTROOM_ROOT/scripts/dovecot" stop "$T/dc" >/dev/null
# Dovecot's UIDVALIDITY is the time in seconds: the new one differs once the clock is past it.
clock_past() { [ "$(date +%s)" -gt "$1" ]; }
WAIT_SECONDS=5 wait_for clock_past "$OLD_UV" || fail "the clock is not past UIDVALIDITY $OLD_UV"
rm -f "$T/dc/mail/alice/Maildir/dovecot-uidlist" "$T/dc/mail/alice/Maildir/"dovecot.index*
"$POSTROOM_ROOT/scripts/dovecot" start "$T/dc" --imap-port "$IMAP_PORT" --pop3-port "$POP3_PORT" \
  --imaps-port "$IMAPS_PORT" --pop3s-port "$POP3S_PORT" --lmtp-port "$LMTP_PORT" >/dev/null
start_fetcher e2e-2
wait_count alice $((2 * (N + 2))) 120
NEW_UV=$(sql "SELECT uidvalidity FROM folder_cursors f JOIN connectors c ON c.id = f.connector_id WHERE c.name = 'alice'")
[ "$NEW_UV" != "$OLD_UV" ] || fail "uidvalidity did not change ($OLD_UV)"
[ "$(count alice "AND m.fetch_key LIKE 'INBOX:$NEW_UV:%'")" = "$((N + 2))" ] || fail "re-sync count"
pass "uidvalidity change $OLD_UV -> $NEW_UV: folder re-fetched once under new keys"

# 6. Auto-disable: wrong password, threshold 1 -> disabled_by_system, audit, admin notice.
connector broken imap alice wrongpw 1
deadline=$(( $(date +%s) + 30 ))
until [ "$(sql "SELECT status FROM connectors WHERE name = 'broken'")" = disabled_by_system ]; do
  [ "$(date +%s)" -ge "$deadline" ] && fail "broken was not auto-disabled"
  sleep 0.2
done
[ "$(sql "SELECT actor || ':' || action FROM audit_log WHERE object = 'broken'")" = system:auto_disable ] || fail "audit"
[ "$(sql "SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'auto_disable:broken:%' AND to_address = 'admin@example.com'")" = 1 ] || fail "outbox"
[ "$(sql "SELECT last_incoming_error_class FROM connector_state s JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'broken'")" = authentication ] || fail "error class"
pass "auto-disable after an authentication failure: status, audit, admin notification"
# Re-enable with the right password (what config's EnableConnector does: status + counters).
sql "UPDATE connectors SET status = 'active', version = version + 1,
     spec = jsonb_set(spec, '{auth,password}', '\"alicepw\"') WHERE name = 'broken';
     UPDATE connector_state SET consecutive_incoming_errors = 0 FROM connectors c
     WHERE c.id = connector_id AND c.name = 'broken'"
wait_count broken $((N + 2)) 120
pass "re-enabled connector polls again"

# 7. kill -9 during a sync, restart as another replica: every message exactly once.
for f in "$T/gen/Maildir/cur/"*; do cp "$f" "$T/dc/mail/carol/Maildir/new/" 2>/dev/null || break; done
if [ ! -d "$T/dc/mail/carol/Maildir/new" ]; then
  "$POSTROOM_ROOT/scripts/dovecot" fill "$T/dc" carol "$T/gen/Maildir" >/dev/null
else
  chown -R mail: "$T/dc/mail/carol"
fi
TOTAL=$(find "$T/dc/mail/carol/Maildir/new" "$T/dc/mail/carol/Maildir/cur" -type f 2>/dev/null | wc -l)
kill "$FPID"; wait "$FPID" || true; FPID=""
start_fetcher e2e-3 --batch_messages 50
connector carol imap carol carolpw
deadline=$(( $(date +%s) + 60 ))
until [ "$(count carol)" -ge 300 ]; do
  [ "$(date +%s)" -ge "$deadline" ] && fail "carol sync did not start"
  sleep 0.05
done
kill -9 "$FPID"; wait "$FPID" 2>/dev/null || true; FPID=""
AT_KILL=$(count carol)
start_fetcher e2e-4
wait_count carol "$TOTAL" 180
wait_polls carol 2
[ "$(count carol)" = "$TOTAL" ] || fail "carol: $(count carol) stored, expected $TOTAL"
[ "$(sql "SELECT last_uid FROM folder_cursors f JOIN connectors c ON c.id = f.connector_id WHERE c.name = 'carol'")" = "$TOTAL" ] || fail "carol cursor"
pass "kill -9 at $AT_KILL/$TOTAL stored, restart (new replica after lease expiry): $TOTAL stored exactly once"
# 8. Processed action move + max message size against Dovecot: stored first, then moved; the
#    large ones stored as headers, decided failed, admin told.
"$POSTROOM_ROOT/scripts/dovecot" add-user "$T/dc" dave davepw >/dev/null
for f in $(find "$T/gen/Maildir/cur" -type f -printf "%f\n" | sort | sed -n 21,40p); do
  "$POSTROOM_ROOT/scripts/dovecot" fill "$T/dc" dave "$T/gen/Maildir/cur/$f" >/dev/null
done
BIG=$(find "$T/dc/mail/dave/Maildir" -type f -path '*/new/*' -size +20000c | wc -l)
SETTINGS_EXTRA=', "max_message_bytes": 20000' \
SPEC_EXTRA=', "processed_action": "PROCESSED_ACTION_MOVE", "processed_folder": "Done"' \
  connector dave imap dave davepw
wait_count dave 20 60
deadline=$(( $(date +%s) + 30 ))
until [ "$(find "$T/dc/mail/dave/Maildir/.Done" -type f -path '*/cur/*' -o -type f -path '*/new/*' 2>/dev/null | wc -l)" = 20 ]; do
  [ "$(date +%s)" -ge "$deadline" ] && fail "dave: messages not moved to Done"
  sleep 0.2
done
[ "$(find "$T/dc/mail/dave/Maildir/cur" "$T/dc/mail/dave/Maildir/new" -type f | wc -l)" = 0 ] || fail "dave: INBOX not empty"
[ "$BIG" -gt 0 ] || fail "test corpus has no message over 20000 bytes"
[ "$(count dave "AND m.truncated AND m.decision = 'failed'")" = "$BIG" ] || fail "dave: $(count dave "AND m.truncated") truncated, expected $BIG"
[ "$(sql "SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'oversize:dave:%'")" = "$BIG" ] || fail "oversize notices"
pass "processed action move after storing; $BIG messages over 20000 bytes stored as headers, failed, admin told"
# 9. Secrets as the config service seals them: applied through postroom-config + postroomctl
#    (password encrypted in `secrets`), opened by the fetcher with the same key file.
CTL="$BUILD/bin/postroomctl"
if [ -x "$CTL" ]; then
  "$POSTROOM_ROOT/scripts/dovecot" add-user "$T/dc" erin erinpw >/dev/null
  for f in $(find "$T/gen/Maildir/cur" -type f -printf "%f\n" | sort | sed -n 41,45p); do
    "$POSTROOM_ROOT/scripts/dovecot" fill "$T/dc" erin "$T/gen/Maildir/cur/$f" >/dev/null
  done
  CADDR="127.0.0.1:$(free_port)"
  POSTROOM_TOKENS_FILE="$T/tokens" POSTROOM_SECRET_KEY_FILE="$T/key" "$CONFIG" --database "$URI" \
    --listen "$CADDR" --metrics-listen 127.0.0.1:0 >"$T/config.log" 2>&1 &
  CPID=$!
  cat > "$T/erin.yaml" <<YAML
kind: Connector
name: erin
protocol: imap
direction: incoming
server: {host: 127.0.0.1, port: $IMAP_PORT, tls: none}
auth: {method: password, username: erin, password: erinpw}
settings: {poll_interval_s: 10}
fallback: {queue: erin-general}
YAML
  ok=0
  for i in $(seq 1 50); do
    if "$CTL" --config-addr "$CADDR" --token "$E2E_TOKEN" apply -f "$T/erin.yaml" >"$T/apply.out" 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  kill "$CPID"; wait "$CPID" 2>/dev/null || true
  [ "$ok" = 1 ] || fail "postroomctl apply failed: $(cat "$T/apply.out")"
  [ "$(sql "SELECT count(*) FROM secrets s JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'erin' AND s.field = 'password'")" = 1 ] || fail "no sealed password"
  [ "$(sql "SELECT count(*) FROM connectors WHERE name = 'erin' AND spec::text LIKE '%erinpw%'")" = 0 ] || fail "password in spec"
  sql "UPDATE connectors SET status = 'active' WHERE name = 'erin'"  # stands in for test + enable
  wait_count erin 5 30
  pass "sealed password (config's keyring) opened by the fetcher: 5 messages"
else
  echo "SKIP: sealed secrets (build postroomctl)"
fi
# 10. IMAP IDLE: a 300 s poll interval, yet a message delivered while the session idles is
#     stored within seconds (the poll it triggers), not at the next poll.
"$POSTROOM_ROOT/scripts/dovecot" fill "$T/dc" frank "$T/gen/Maildir/cur/$(ls "$T/gen/Maildir/cur" | sed -n 50p)" >/dev/null
SETTINGS_EXTRA=', "poll_interval_s": 300' connector frank imap frank frankpw
wait_count frank 1 30
# Once the poll is over its session goes into IDLE; mail delivered from then on is reported
# to it (during IDLE, or as IDLE starts).
WAIT_SECONDS=30 wait_for polls_at_least frank 1 || fail "frank: its first poll did not finish"
t0=$(date +%s.%N)
"$POSTROOM_ROOT/scripts/dovecot" deliver "$T/dc" frank "$T/gen/Maildir/cur/$(ls "$T/gen/Maildir/cur" | sed -n 51p)"
wait_count frank 2 10
IDLE_S=$(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')")
grep -q "event=idle_new_mail connector=frank" "$T/fetcher.log" || fail "frank: stored, but not through IDLE"
pass "imap idle: a message delivered during IDLE stored after ${IDLE_S} s (poll interval 300 s)"

# 11. Processed action delete: stored first, then UID STORE \Deleted + UID EXPUNGE (Dovecot
#     offers UIDPLUS): the messages leave the mailbox.
for f in $(find "$T/gen/Maildir/cur" -type f -printf "%f\n" | sort | sed -n 60,64p); do
  "$POSTROOM_ROOT/scripts/dovecot" fill "$T/dc" gina "$T/gen/Maildir/cur/$f" >/dev/null
done
SPEC_EXTRA=', "processed_action": "PROCESSED_ACTION_DELETE"' connector gina imap gina ginapw
wait_count gina 5 30
deadline=$(( $(date +%s) + 15 ))
until [ "$(find "$T/dc/mail/gina/Maildir/cur" "$T/dc/mail/gina/Maildir/new" -type f | wc -l)" = 0 ]; do
  [ "$(date +%s)" -ge "$deadline" ] && fail "gina: messages still in the mailbox after delete"
  sleep 0.2
done
pass "processed action delete: 5 stored, then expunged from the mailbox"

# 12. POP3 seen set: UIDLs that vanished from the maildrop (another client took them) are
#     forgotten after the next complete UIDL listing.
[ "$(sql "SELECT count(*) FROM pop3_seen s JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'bob'")" = 20 ] || fail "bob: seen set is not 20"
find "$T/dc/mail/bob/Maildir/cur" "$T/dc/mail/bob/Maildir/new" -type f | sort | head -5 | xargs rm -f
deadline=$(( $(date +%s) + 15 ))
until [ "$(sql "SELECT count(*) FROM pop3_seen s JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'bob'")" = 15 ]; do
  [ "$(date +%s)" -ge "$deadline" ] && fail "bob: seen set not pruned to 15"
  sleep 0.2
done
[ "$(count bob)" = 20 ] || fail "bob: stored messages changed"
pass "pop3: 5 UIDLs gone from the server forgotten, stored messages kept"
echo "fetcher e2e: all passed"
