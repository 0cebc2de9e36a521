#!/usr/bin/env bash
# The local stack end to end: PostgreSQL, migrations, the four services and postroomctl, on
# ports of its own so it never meets a developer's running stack. Each check prints one line;
# the script exits non-zero when any failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/e2e/e2e_lib.sh"
export POSTROOM_STATE_EXPORT_INTERVAL_S=1
e2e_stack_up stack-e2e

check "apply demo creates every object" expect 0 "connector/support created" apply -f "$(e2e_demo_yaml)"
check "re-apply changes nothing" expect 0 "connector/support unchanged" apply -f "$(e2e_demo_yaml)"
check "get connectors lists both" expect 0 "support.*imap.*incoming" get connectors
check "describe shows routes with fallback last" \
  bash -c "'$BIN/postroomctl' describe connector support | grep -E 'invoices|urgent|fallback' | tail -1 | grep -q fallback"
check "secret is never returned" bash -c "! '$BIN/postroomctl' get connector support -o json | grep -q demo-imap-password"
check "secret is not in the database as plaintext" \
  bash -c "! /usr/lib/postgresql/15/bin/pg_dump '$DB' | grep -q demo-imap-password"
check "enable without a connection test is refused" \
  expect 1 "FAILED_PRECONDITION.*(never tested|no connection test)" enable connector support

check "connection test names the failing step (no IMAP server on the demo port)" \
  expect 1 "tcp.*FAILED|FAILED.*tcp" test connector support
cat > "$POSTROOM_HOME/bad-route.yaml" <<'YAML'
kind: Route
connector: support
name: broken
when: {subject_matches: ["(unclosed"]}
then: {queue: x}
YAML
check "bad regex is refused with its field path" \
  expect 1 "INVALID_ARGUMENT.*|when.subject_matches" apply -f "$POSTROOM_HOME/bad-route.yaml"
cat > "$POSTROOM_HOME/typo.yaml" <<'YAML'
kind: Connector
name: typo
protocol: imap
direction: incoming
settings: {poll_intervl_s: 60}
YAML
check "unknown YAML key is a usage error naming it" expect 2 "poll_intervl_s" apply -f "$POSTROOM_HOME/typo.yaml"
check "fallback route cannot be deleted" expect 1 "FAILED_PRECONDITION" delete route support/fallback
check "move route reorders" expect 0 "" move route support/urgent --before invoices
check "routes in new order, fallback last" \
  bash -c "'$BIN/postroomctl' get routes --connector support | grep -oE 'urgent|invoices|fallback' | tr '\n' ' ' | grep -q 'urgent invoices fallback'"
check "history shows the actor" expect 0 "local-admin" history connector support
check "wrong token is refused" bash -c "POSTROOM_TOKEN=wrong-token-0123456789 '$BIN/postroomctl' --token wrong-token-0123456789 get connectors; [ \$? = 1 ]"
# Tokens rotate without a restart: the services re-read the file within about a second.
LATE="$("$BIN/postroom-config" token create late-viewer viewer --tokens-file "$POSTROOM_HOME/tokens" 2>/dev/null)"
within_3s() { for _ in $(seq 15); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
check "a token added to the file is accepted without a restart" \
  within_3s "$BIN/postroomctl" --token "$LATE" get connectors
sed -i '/^late-viewer /d' "$POSTROOM_HOME/tokens"
check "a token removed from the file is refused without a restart" \
  within_3s bash -c "! '$BIN/postroomctl' --token '$LATE' get connectors"
check "fetcher lists lease owners" expect 0 "answered by replica" owners
check "polling a connector that is not enabled is refused" expect 1 "FAILED_PRECONDITION|NOT_FOUND" poll connector support
# The page is read whole before grep looks: `curl | grep -q` under pipefail fails whenever grep
# finds the line and exits while curl is still writing (curl then reports a write error).
metrics_has() {
  local page
  page="$(curl -sf --retry 3 --retry-delay 1 --retry-all-errors "http://$1/metrics")" || return 1
  grep -qF -- "$2" <<<"$page"
}
eventually() { WAIT_SECONDS=10 wait_for "$@"; }
check "config exports connector gauges" eventually metrics_has "$POSTROOM_CONFIG_METRICS_LISTEN" \
  'postroom_connector_enabled{connector="support",direction="incoming"} 0'
check "gRPC calls are counted" eventually metrics_has "$POSTROOM_CONFIG_METRICS_LISTEN" \
  'postroom_grpc_requests_total{code="OK",method="ApplyConnector",service="config"}'
for s in router fetcher sender; do
  var="POSTROOM_$(upper "$s")_LISTEN"
  check "$s serves health" "$BIN/postroom-healthcheck" "${!var}" readiness
done

# An OAuth connector (Microsoft Graph, against the local fake), so the OAuth metrics have a
# series: the fetcher exports a token's expiry only for connectors whose token it holds.
e2e_graph_fake
e2e_graph_connector_yaml oauthbox > "$POSTROOM_HOME/oauth.yaml"
check "a Graph connector against the fake is applied, tested and enabled" bash -c "
  '$BIN/postroomctl' apply -f '$POSTROOM_HOME/oauth.yaml' && '$BIN/postroomctl' test connector oauthbox &&
  '$BIN/postroomctl' enable connector oauthbox"
check "the fetcher exports the OAuth token expiry" eventually metrics_has \
  "$POSTROOM_FETCHER_METRICS_LISTEN" 'postroom_oauth_token_expiry_timestamp_seconds{connector="oauthbox"}'

# Every metric an alert or the dashboard watches (deploy/metrics-used.txt) is exported by the
# running stack. A metric deploy/metrics-pending.txt names with its reason is listed as pending
# instead; the check turns strict by itself when the line is removed.
metrics_contract() {
  local all="" name base owner
  for s in config router fetcher sender; do
    local var="POSTROOM_$(upper "$s")_METRICS_LISTEN"
    all+="$(curl -sf --retry 3 --retry-delay 1 --retry-all-errors "http://${!var}/metrics")"$'\n'
  done
  local missing=0
  while read -r name; do
    case "$name" in ""|"#"*|up) continue ;; esac
    base="${name%_bucket}"
    if grep -qE "^(# TYPE )?${base}[ {]" <<<"$all"; then continue; fi
    owner="$(grep -F "| \`${base}\` |" "$ROOT/docs/metrics.md" | head -1 | awk -F'|' '{gsub(/ /, "", $5); print $5}')"
    if grep -qE "^${base}[[:space:]]" "$ROOT/deploy/metrics-pending.txt"; then
      echo "pending: $(grep -E "^${base}[[:space:]]" "$ROOT/deploy/metrics-pending.txt")"
    else
      echo "missing: $name (exported by ${owner:-?})"; missing=1
    fi
  done < "$ROOT/deploy/metrics-used.txt"
  return $missing
}
check "every metric the alerts and dashboard use is exported" eventually metrics_contract
metrics_contract | sed -n 's/^pending: /     pending: /p'

# TLS on the gRPC port, by flag: a second config server with a self-signed certificate.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$POSTROOM_HOME/tls.key" \
  -out "$POSTROOM_HOME/tls.crt" >/dev/null 2>&1
tls_addr="127.0.0.1:$(free_port)"
POSTROOM_TOKENS_FILE="$POSTROOM_HOME/tokens" POSTROOM_SECRET_KEY_FILE="$POSTROOM_HOME/secret.key" \
  "$BIN/postroom-config" --database "$DB" --listen "$tls_addr" --metrics-listen "127.0.0.1:0" \
  --tls-cert "$POSTROOM_HOME/tls.crt" --tls-key "$POSTROOM_HOME/tls.key" \
  >"$POSTROOM_HOME/logs/config-tls.log" 2>&1 &
tls_pid=$!
WAIT_SECONDS=30 wait_for "$BIN/postroom-healthcheck" "$tls_addr" readiness \
  --ca-file "$POSTROOM_HOME/tls.crt" || echo "the TLS config server did not become ready"
check "TLS: verified client is served" \
  expect 0 "support" --config-addr "$tls_addr" --tls --ca-file "$POSTROOM_HOME/tls.crt" get connectors
check "TLS: plaintext client cannot talk to it" expect 3 "" --config-addr "$tls_addr" --timeout 2s get connectors
kill "$tls_pid" 2>/dev/null; wait "$tls_pid" 2>/dev/null

# A service refuses to start against a schema older than it needs.
/usr/lib/postgresql/15/bin/createdb -h 127.0.0.1 -p "$(cat "$POSTROOM_HOME/pg/port")" -U postgres empty
check "old schema: service refuses to start and says to migrate" bash -c \
  "out=\$(POSTROOM_TOKENS_FILE='$POSTROOM_HOME/tokens' POSTROOM_SECRET_KEY_FILE='$POSTROOM_HOME/secret.key' '$BIN/postroom-router' --database '${DB%/*}/empty' --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 2>&1); \
   [ \$? = 1 ] && grep -q 'postroom-config migrate' <<<\"\$out\""

e2e_finish stack_e2e
