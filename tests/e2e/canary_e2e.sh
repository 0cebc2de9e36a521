#!/usr/bin/env bash
# Secrets never leak: connectors are applied, tested, rotated and made to fail with canary
# secrets (a password, a client secret, a refresh token, each starting CANARY-7f3a9c), through
# the whole stack and tests/fakes/graph_fake.py. Then every log line of every service, every
# audit_log row, every metric page, everything postroomctl printed (replies and errors) and
# `postroomctl get connector -o yaml` of each connector are searched: 0 hits, else the check
# fails naming where. A control check first proves the search finds a canary where one is.
# The router's reply-token key comes from a file (POSTROOM_REPLY_TOKEN_KEY_FILE, as in the
# Kubernetes manifests): it runs on that file alone, and refuses an open or short one.
#   POSTROOM_BUILD_DIR=build tests/e2e/canary_e2e.sh
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CORPUS="${POSTROOM_CORPUS_DIR:-$ROOT/../shared/corpus}"
source "$ROOT/tests/e2e/e2e_lib.sh"
export POSTROOM_FETCHER_LEASE_ROUND_MS=300
CANARY=CANARY-7f3a9c
# The router's reply-token key from a file, as the Kubernetes manifests mount it; a canary too.
KEYS="${POSTROOM_TEST_HOME:-$ROOT/.postroom-test}/canary-e2e-keys"
rm -rf "$KEYS"; mkdir -p "$KEYS"
(umask 077; printf '%s\n' "$CANARY-reply-token-key" >"$KEYS/good"; printf 'short\n' >"$KEYS/short")
cp "$KEYS/good" "$KEYS/open"; chmod 644 "$KEYS/open"
export POSTROOM_REPLY_TOKEN_KEY_FILE="$KEYS/good"
e2e_stack_up canary-e2e

PASS="$CANARY-pass"
PASS2="$CANARY-pass-rotated"
SECRET="$CANARY-client-secret"
REFRESH="$CANARY-refresh-token"
WRONG="$CANARY-wrong-client-secret"
e2e_graph_fake --fill "support@example.com=$CORPUS/mailgun-talon/tests/fixtures/standard_replies" \
  --client-secret "$SECRET" --refresh-token "$REFRESH"
C="$POSTROOM_HOME/canary"; mkdir -p "$C"
OUT="$C/postroomctl.out"  # Everything postroomctl prints, stdout and stderr.
: >"$OUT"
# Runs postroomctl, keeping what it printed; exit code as postroomctl's.
pctl() { "$BIN/postroomctl" "$@" >>"$OUT" 2>&1; }
closed_port="$(free_port)"  # Nothing listens there: tests fail at tcp.

cat >"$C/imap.yaml" <<YAML
kind: Connector
name: canary-imap
protocol: imap
direction: incoming
server: {host: 127.0.0.1, port: $closed_port, tls: none}
auth: {username: canary, password: $PASS}
primary_address: canary@example.com
fallback: {queue: canary}
---
kind: Connector
name: canary-smtp
protocol: smtp
direction: outgoing
server: {host: 127.0.0.1, port: $closed_port, tls: none}
auth: {username: canary, password: $PASS}
primary_address: canary@example.com
YAML
e2e_graph_connector_yaml canary-graph | sed -e "s|e2e-app-secret|$SECRET|" \
  -e "s|RT-initial-0001|$REFRESH|" >"$C/graph.yaml"
e2e_graph_connector_yaml canary-wrong | sed -e "s|e2e-app-secret|$WRONG|" \
  -e "/refresh_token:/d" >"$C/wrong.yaml"
echo "settings: {poll_interval_s: 10, max_tries: 1, cool_off_min: 1, error_threshold: 2}" \
  >>"$C/wrong.yaml"

hits() {  # FILE...: prints each file with a canary and the count; fails when any has one
  local f n bad=0
  for f in "$@"; do
    [ -e "$f" ] || { echo "$f: missing"; bad=1; continue; }
    n="$(grep -cF "$CANARY" "$f")"
    [ "$n" = 0 ] || { echo "$f: $n line(s) with $CANARY:"; grep -F "$CANARY" "$f" | cut -c1-200 | head -3; bad=1; }
  done
  return "$bad"
}
fails() { ! "$@"; }
check "control: the search reports a file that holds a canary" fails hits "$C/imap.yaml"
check "apply connectors holding canary secrets" pctl apply -f "$C/imap.yaml"
check "apply the Graph connectors" bash -c "'$BIN/postroomctl' apply -f '$C/graph.yaml' >>'$OUT' 2>&1 &&
  '$BIN/postroomctl' apply -f '$C/wrong.yaml' >>'$OUT' 2>&1"
check "the Graph connector's test passes with the canary client secret and refresh token" \
  pctl test connector canary-graph
check "a test against a closed port fails" bash -c "! '$BIN/postroomctl' test connector canary-imap >>'$OUT' 2>&1"
check "a test of SMTP against a closed port fails" bash -c "! '$BIN/postroomctl' test connector canary-smtp >>'$OUT' 2>&1"
check "a test with a wrong client secret fails at auth" \
  bash -c "! '$BIN/postroomctl' test connector canary-wrong >>'$OUT' 2>&1"
sed -i "s|$PASS|$PASS2|g" "$C/imap.yaml"
check "rotating the password is reported as a changed secret" \
  bash -c "'$BIN/postroomctl' apply -f '$C/imap.yaml' 2>&1 | tee -a '$OUT' | grep -q 'auth.password'"
check "moving the stored password to a new host is refused" bash -c "
  sed -e 's|host: 127.0.0.1|host: canary.invalid|' -e 's|, password: [^}]*}|}|' '$C/imap.yaml' >'$C/moved.yaml'
  '$BIN/postroomctl' apply -f '$C/moved.yaml' >>'$OUT' 2>&1; [ \$? = 1 ] &&
  grep -q 'required again because server.host changed' '$OUT'"
check "history of each connector" bash -c "for c in canary-imap canary-smtp canary-graph canary-wrong; do
  '$BIN/postroomctl' history connector \$c >>'$OUT' 2>&1 || exit 1; done"
check "enable the Graph connectors" bash -c "'$BIN/postroomctl' enable connector canary-graph >>'$OUT' 2>&1"
# The wrong one may not be enabled (its test failed): the fetcher meets it only if enabled.
wait_polled() {
  for _ in $(seq 100); do
    curl -sf "http://$POSTROOM_FETCHER_METRICS_LISTEN/metrics" |
      grep -q 'postroom_fetcher_polls_total{connector="canary-graph",outcome="ok"}' && return 0
    sleep 0.2
  done
  return 1
}
check "the fetcher polled the Graph connector with its secrets" wait_polled
read_back() {
  local c
  for c in canary-imap canary-smtp canary-graph canary-wrong; do
    pctl describe connector "$c" && pctl get connector "$c" -o json &&
      "$BIN/postroomctl" get connector "$c" -o yaml >"$C/$c.yaml.out" 2>&1 || return 1
  done
  pctl get connectors && pctl get outbox
}
check "describe, get and get -o yaml of each connector" read_back
check "get connector -o yaml says a secret is stored" grep -q "has_password: true" "$C/canary-imap.yaml.out"

# Where secrets must never be.
psql "$DB" -qAtX -c "SELECT row_to_json(a)::text FROM audit_log a ORDER BY id" >"$C/audit_log.txt"
for s in config router fetcher sender; do
  u="$(upper "$s")"; var="POSTROOM_${u}_METRICS_LISTEN"
  curl -sf "http://${!var}/metrics" >"$C/metrics-$s.txt" || echo "no metrics page" >"$C/metrics-$s.txt"
done
# Without a secrets keyring the file is the router's only key: it runs, reply tokens on.
router_runs_with_key_file() {
  local out rc
  out="$(env -u POSTROOM_SECRET_KEY_FILE -u POSTROOM_SECRET_KEY POSTROOM_REPLY_TOKEN_KEY_FILE="$KEYS/good" \
    POSTROOM_TOKENS_FILE="$POSTROOM_HOME/tokens" timeout 3 "$BIN/postroom-router" --database "$DB" \
    --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 2>&1)"
  rc=$?
  echo "$out" | tee -a "$C/router-refusals.out"
  [ "$rc" = 124 ] && ! grep -q reply_tokens_off <<<"$out"
}
check "the router runs with its reply-token key file alone, tokens on" router_runs_with_key_file
router_with_key() {  # FILE PATTERN: the router refuses to start with that key file, saying PATTERN
  local out rc
  out="$(POSTROOM_REPLY_TOKEN_KEY_FILE="$1" POSTROOM_TOKENS_FILE="$POSTROOM_HOME/tokens" \
    timeout 20 "$BIN/postroom-router" --database "$DB" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 2>&1)"
  rc=$?
  echo "$out" | tee -a "$C/router-refusals.out"
  [ "$rc" = 1 ] && grep -q -- "$2" <<<"$out"
}
check "a reply-token key file others may read stops the router" router_with_key "$KEYS/open" "chmod"
check "a short reply-token key stops the router" router_with_key "$KEYS/short" "at least 16"
check "no canary in the router's refusals" hits "$C/router-refusals.out"
check "audit_log rows were written (so the search below means something)" \
  bash -c "[ \$(wc -l <'$C/audit_log.txt') -ge 8 ]"
check "no canary in any service log" hits "$POSTROOM_HOME"/logs/{config,router,fetcher,sender}.log
check "no canary in audit_log rows" hits "$C/audit_log.txt"
check "no canary on any metrics page" hits "$C"/metrics-{config,router,fetcher,sender}.txt
check "no canary in what postroomctl printed (replies and errors)" hits "$OUT"
check "no canary in get connector -o yaml" hits "$C"/canary-{imap,smtp,graph,wrong}.yaml.out
e2e_finish canary_e2e
