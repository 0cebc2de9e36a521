# Shared by the end-to-end scripts: a private stack on free ports and the check helpers.
# Sourced, not run. The caller sets ROOT and may set SERVICES before e2e_stack_up.
# shellcheck shell=bash

# e2e_stack_up NAME: POSTROOM_HOME=<test home>/NAME made afresh, PostgreSQL, migrations, the
# services (SERVICES, default all four) on free ports, ready, with $POSTROOM_HOME/env sourced.
# Sets DB; stops everything on exit.
e2e_stack_up() {
  export POSTROOM_HOME="${POSTROOM_TEST_HOME:-$ROOT/.postroom-test}/$1"
  [ -d "$POSTROOM_HOME/pg" ] && "$ROOT/scripts/pg" destroy "$POSTROOM_HOME/pg"
  rm -rf "$POSTROOM_HOME"; mkdir -p "$POSTROOM_HOME"
  local keep_services=("${SERVICES[@]:-}")
  source "$ROOT/scripts/stack.sh"
  [ -n "${keep_services[0]}" ] && SERVICES=("${keep_services[@]}")
  for s in config router fetcher sender; do
    export "POSTROOM_$(upper "$s")_LISTEN=127.0.0.1:$(free_port)"
    export "POSTROOM_$(upper "$s")_METRICS_LISTEN=127.0.0.1:$(free_port)"
  done
  trap stack_stop EXIT
  [ "${E2E_TLS:-0}" = 1 ] && e2e_tls_material
  DB="$("$ROOT/scripts/pg" start "$POSTROOM_HOME/pg" --fast)" || die "PostgreSQL did not start"
  stack_credentials
  "$BIN/postroom-config" migrate --database "$DB" >/dev/null || die "migrate failed"
  stack_write_env "$DB"
  stack_start_services "$DB"
  stack_wait_ready
  source "$POSTROOM_HOME/env"
}

# e2e_tls_material: a test CA and a certificate for 127.0.0.1 in $POSTROOM_HOME/tls, exported
# as the services' POSTROOM_TLS_CERT / POSTROOM_TLS_KEY and the clients' POSTROOM_CA_FILE (the
# fetcher calling the router, postroomctl, the health probe): with E2E_TLS=1 the stack serves
# every gRPC port over TLS, as the Kubernetes manifests do.
e2e_tls_material() {
  local d="$POSTROOM_HOME/tls"
  make_test_tls "$d" "IP:127.0.0.1,DNS:localhost"
  export POSTROOM_TLS_CERT="$d/tls.crt" POSTROOM_TLS_KEY="$d/tls.key" POSTROOM_CA_FILE="$d/ca.crt"
}

# e2e_dovecot_up: a private Dovecot (scripts/dovecot) in DOVECOT_HOME with the demo's IMAP user
# support / demo-imap-password and its ports in the environment (IMAP_PORT, LMTP_PORT …;
# stack_stop stops it on exit).
e2e_dovecot_up() {
  DOVECOT_HOME="$(mail_server_dir dovecot)"
  rm -rf "$DOVECOT_HOME"
  "$ROOT/scripts/dovecot" start "$DOVECOT_HOME" >/dev/null || die "scripts/dovecot did not start"
  "$ROOT/scripts/dovecot" add-user "$DOVECOT_HOME" support demo-imap-password >/dev/null
  source "$DOVECOT_HOME/ports.env"
  export DOVECOT_HOME
}

# e2e_smtp_up [scripts/smtp start OPTIONS]: a private Postfix (scripts/smtp) in SMTP_HOME with
# the SMTP user desk / demo-smtp-password and its ports in the environment (SMTP_PORT,
# SMTP_CA_FILE …; stack_stop stops it on exit), and the helpers of the tests that send: sql SQL,
# mail_with TEXT (the delivered file holding it), eventually COMMAND [SECONDS], make_mail FILE
# FROM MESSAGE-ID SUBJECT, and $M for such files.
e2e_smtp_up() {
  SMTP_HOME="$(mail_server_dir smtp)"
  rm -rf "$SMTP_HOME"
  "$ROOT/scripts/smtp" start "$SMTP_HOME" "$@" >/dev/null || die "scripts/smtp did not start Postfix"
  "$ROOT/scripts/smtp" add-user "$SMTP_HOME" desk demo-smtp-password
  source "$SMTP_HOME/ports.env"
  export ROOT SMTP_HOME
  export -f mail_with
  M="$POSTROOM_HOME/mail"; mkdir -p "$M"
}
sql() { psql "$DB" -qAt -c "$1"; }
mail_with() { "$ROOT/scripts/smtp" messages "$SMTP_HOME" | xargs -r grep -l -- "$1" | head -1; }
eventually() { WAIT_SECONDS="${2:-20}" wait_for bash -c "$1"; }
make_mail() {
  printf 'From: %s\r\nTo: support@example.com\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nPlease help.\r\n' \
    "$2" "$4" "$3" > "$1"
}

# e2e_gateway_yaml [YAML-LINES]: writes $POSTROOM_HOME/gateway.yaml, the outgoing connector
# `gateway` (system default, desk@example.com) on that Postfix with STARTTLS, its test CA and
# the desk login, plus YAML-LINES; apply it with `postroomctl apply -f`.
e2e_gateway_yaml() {
  cat > "$POSTROOM_HOME/gateway.yaml" <<YAML
kind: Connector
name: gateway
description: the private Postfix of this test
protocol: smtp
direction: outgoing
server: {host: 127.0.0.1, port: $SMTP_PORT, tls: starttls, ca_file: $SMTP_CA_FILE}
auth: {method: password, username: desk, password: demo-smtp-password}
primary_address: desk@example.com
system_default: true
${1:-}
YAML
}

# e2e_demo_yaml: a copy of examples/demo.yaml whose IMAP (11143) and SMTP (12525) ports are free
# ports of this test, so a developer's `scripts/run-local` holding the demo's ports changes
# nothing here. Prints the copy's path.
e2e_demo_yaml() {
  local out="$POSTROOM_HOME/demo.yaml"
  if [ ! -f "$out" ]; then
    sed -e "s/port: 11143,/port: $(free_port),/" -e "s/port: 12525,/port: $(free_port),/" \
      "$ROOT/examples/demo.yaml" > "$out"
    ! grep -qE 'port: (11143|12525),' "$out" || die "e2e_demo_yaml: demo.yaml's ports not replaced"
  fi
  echo "$out"
}

passed=0; failed=0
check() {  # check NAME COMMAND...: passes when the command succeeds
  local name="$1"; shift
  if "$@" >"$POSTROOM_HOME/last.out" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     | /' "$POSTROOM_HOME/last.out" | head -30
  fi
}
ctl() { "$BIN/postroomctl" "$@"; }
# Runs postroomctl expecting exit code $1 and output matching regex $2.
expect() {
  local code="$1" pattern="$2"; shift 2
  local out rc
  out="$("$BIN/postroomctl" "$@" 2>&1)"; rc=$?
  echo "$out"
  [ "$rc" = "$code" ] || { echo "exit code $rc, wanted $code"; return 1; }
  grep -Eq -- "$pattern" <<<"$out" || { echo "output does not match /$pattern/"; return 1; }
}
# Prints the closing line and sets the exit status.
e2e_finish() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}

# e2e_graph_fake [graph_fake.py args...]: tests/fakes/graph_fake.py over TLS (a certificate for
# 127.0.0.1 in $POSTROOM_HOME/graph) standing in for Microsoft Graph and its token endpoint, with
# mailbox support@example.com, client postroom-e2e / e2e-app-secret and refresh token
# RT-initial-0001. Sets GRAPH_DIR, GRAPH_PORT, GRAPH_CA and GRAPH_FAKE_PID; stopped on exit with
# the stack. e2e_graph_connector_yaml NAME prints a connector for it (add more YAML after it).
e2e_graph_fake() {
  GRAPH_DIR="$POSTROOM_HOME/graph"; mkdir -p "$GRAPH_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$GRAPH_DIR/key.pem" \
    -out "$GRAPH_DIR/cert.pem" >/dev/null 2>&1 || die "openssl could not make the fake's certificate"
  GRAPH_CA="$GRAPH_DIR/cert.pem"
  python3 "$ROOT/tests/fakes/graph_fake.py" --cert "$GRAPH_CA" --key "$GRAPH_DIR/key.pem" \
    --port-file "$GRAPH_DIR/port" --mailbox support@example.com --client-id postroom-e2e \
    --client-secret e2e-app-secret --refresh-token RT-initial-0001 "$@" \
    >"$GRAPH_DIR/fake.log" 2>&1 &
  GRAPH_FAKE_PID=$!
  trap 'kill $GRAPH_FAKE_PID 2>/dev/null; stack_stop' EXIT
  for _ in $(seq 100); do [ -s "$GRAPH_DIR/port" ] && break; sleep 0.1; done
  [ -s "$GRAPH_DIR/port" ] || { cat "$GRAPH_DIR/fake.log" >&2; die "graph_fake.py did not start"; }
  GRAPH_PORT="$(cat "$GRAPH_DIR/port")"
}
e2e_graph_connector_yaml() {
  cat <<YAML
kind: Connector
name: $1
description: support@example.com through Microsoft Graph (the local fake)
protocol: graph
direction: incoming
server: {host: 127.0.0.1, port: $GRAPH_PORT, tls: implicit, ca_file: $GRAPH_CA}
auth:
  method: oauth2
  tenant_id: contoso
  client_id: postroom-e2e
  client_secret: e2e-app-secret
  refresh_token: RT-initial-0001
  token_endpoint: https://127.0.0.1:$GRAPH_PORT/contoso/oauth2/v2.0/token
  scope: https://graph.microsoft.com/.default offline_access
primary_address: support@example.com
fallback: {queue: graph}
YAML
}
