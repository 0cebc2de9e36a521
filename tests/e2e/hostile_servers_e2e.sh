#!/usr/bin/env bash
# Mail servers that misbehave, against the real postroom-fetcher process (issue 17): six
# connectors, each pointed at a server of tests/fakes/hostile_mail_server.py that answers one
# command with data that never ends (an endless IMAP literal, endless literals in one response,
# endless CAPABILITY lines, an endless POP3 RETR, CAPA and UIDL). The fetcher polls all of them at
# once with its default four workers and three tries per poll. Each poll must fail with a clear
# `protocol` error naming the limit, count as a failed poll (consecutive_incoming_errors), store
# nothing, and the fetcher's peak RSS (VmHWM) must stay under 150 MiB while the servers pour
# data at loopback speed. The client-level bounds are in libs/mail/tests/mail_bounds_test.
#   POSTROOM_BUILD_DIR=build-x tests/e2e/hostile_servers_e2e.sh   (POSTROOM_KEEP=1 keeps /tmp dir)
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
BUILD="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
BIN="$BUILD/bin"
FETCHER="$BIN/postroom-fetcher"
CONFIG="$BIN/postroom-config"
[ -x "$FETCHER" ] && [ -x "$CONFIG" ] || die "build postroom-fetcher and postroom-config first"
MAX_RSS_MIB=150

T="$(mktemp -d /tmp/hostile-e2e.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$POSTROOM_ROOT/scripts/pg" destroy "$T/pg" >/dev/null 2>&1 || true
  if [ "${POSTROOM_KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
failed=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failed=1; }

URI="$("$POSTROOM_ROOT/scripts/pg" start "$T/pg" --fast | tail -1)"
"$CONFIG" migrate --database "$URI" >/dev/null
sql() { psql "$URI" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
"$CONFIG" token create e2e admin --tokens-file "$T/tokens" >/dev/null 2>&1
echo "k1 $(openssl rand -hex 32)" >"$T/key"; chmod 600 "$T/key"

# scenario → the error the poll must end with (ERE).
declare -A WANT=(
  [imap-endless-literal]='imap 127\.0\.0\.1:[0-9]+: response exceeds 26 MiB \(max_message_bytes \+ 1 MiB\)'
  [imap-endless-literals]='imap 127\.0\.0\.1:[0-9]+: response exceeds 26 MiB \(max_message_bytes \+ 1 MiB\)'
  [imap-endless-capability]='imap 127\.0\.0\.1:[0-9]+: .*(exceeds|limit)'
  [pop3-endless-retr]='pop3 127\.0\.0\.1:[0-9]+: .*exceeds 26 MiB \(max_message_bytes \+ 1 MiB\)'
  [pop3-endless-capa]='pop3 127\.0\.0\.1:[0-9]+: .*(exceeds|limit)'
  [pop3-endless-uidl]='pop3 127\.0\.0\.1:[0-9]+: .*(exceeds|limit)'
)
# HOSTILE_ONLY=SCENARIO runs one (to see what each costs); FETCHER_FLAGS adds flags.
if [ -n "${HOSTILE_ONLY:-}" ]; then
  only="${WANT[$HOSTILE_ONLY]:?unknown scenario $HOSTILE_ONLY}"
  unset WANT; declare -A WANT=([$HOSTILE_ONLY]="$only")
fi
for scenario in "${!WANT[@]}"; do
  python3 "$POSTROOM_ROOT/tests/fakes/hostile_mail_server.py" --scenario "$scenario" \
    --port-file "$T/$scenario.port" --stats-file "$T/$scenario.stats" &
  PIDS+=($!)
done
for scenario in "${!WANT[@]}"; do
  WAIT_SECONDS=10 wait_for test -s "$T/$scenario.port" || die "$scenario server did not start"
  port="$(cat "$T/$scenario.port")"
  proto=imap; [[ "$scenario" = pop3-* ]] && proto=pop3
  name="${scenario//-/_}"
  sql "INSERT INTO connectors (name, protocol, direction, status, spec, modified_by) VALUES
   ('$name', '$proto', 'incoming', 'active', '{\"name\": \"$name\",
    \"protocol\": \"PROTOCOL_${proto^^}\", \"direction\": \"DIRECTION_INCOMING\",
    \"server\": {\"host\": \"127.0.0.1\", \"port\": $port, \"tls\": \"TLS_MODE_NONE\"},
    \"auth\": {\"method\": \"AUTH_METHOD_PASSWORD\", \"username\": \"u\", \"password\": \"p\"},
    \"settings\": {\"poll_interval_s\": 1, \"max_tries\": 3, \"error_threshold\": 100}}', 'e2e')"
done

POSTROOM_DATABASE="$URI" POSTROOM_ROUTER_ADDR=127.0.0.1:1 \
  "$FETCHER" --listen "127.0.0.1:$(free_port)" --metrics-listen "127.0.0.1:$(free_port)" \
  --tokens-file "$T/tokens" --secret-key-file "$T/key" --replica hostile-1 ${FETCHER_FLAGS:-} \
  >"$T/fetcher.log" 2>&1 &
FPID=$!
PIDS+=("$FPID")

failed_polls() {
  sql "SELECT count(*) FROM connector_state s JOIN connectors c ON c.id = s.connector_id
       WHERE s.consecutive_incoming_errors >= 1"
}
if WAIT_SECONDS=180 wait_for bash -c "[ \"\$(psql '$URI' -qAtX -c \"SELECT count(*) FROM connector_state WHERE consecutive_incoming_errors >= 1\")\" -ge ${#WANT[@]} ]"; then
  pass "all ${#WANT[@]} connectors ended a poll failed"
else
  fail "only $(failed_polls) of ${#WANT[@]} connectors recorded a failed poll"
fi

for scenario in "${!WANT[@]}"; do
  name="${scenario//-/_}"
  err="$(sql "SELECT s.last_incoming_error FROM connector_state s JOIN connectors c ON c.id = s.connector_id WHERE c.name = '$name'")"
  poured="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['poured_bytes'] >> 20)" "$T/$scenario.stats" 2>/dev/null || echo '?')"
  if grep -Eq -- "${WANT[$scenario]}" <<<"$err"; then
    pass "$scenario: poll failed with \"$err\" (server poured $poured MiB in all)"
  else
    fail "$scenario: last error \"$err\" does not match /${WANT[$scenario]}/"
  fi
done
[ "$(sql "SELECT count(*) FROM messages")" = 0 ] && pass "nothing was stored" ||
  fail "$(sql "SELECT count(*) FROM messages") messages stored from hostile servers"
grep -q 'class=protocol\|protocol' "$T/fetcher.log" && pass "the fetcher log names the error class" ||
  fail "no protocol error in the fetcher log"

hwm_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$FPID/status" 2>/dev/null || echo 0)"
if kill -0 "$FPID" 2>/dev/null && [ "$hwm_kib" -gt 0 ] && [ "$hwm_kib" -lt $((MAX_RSS_MIB << 10)) ]; then
  pass "the fetcher's peak RSS stayed at $((hwm_kib >> 10)) MiB (< $MAX_RSS_MIB MiB)"
else
  fail "the fetcher's peak RSS is $((hwm_kib >> 10)) MiB (limit $MAX_RSS_MIB MiB) or it died"
  tail -20 "$T/fetcher.log"
fi
echo "hostile_servers_e2e: fetcher VmHWM $((hwm_kib >> 10)) MiB"
exit $failed
