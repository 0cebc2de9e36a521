# The local stack: a private PostgreSQL and the four services, their logs, PIDs and the env
# file. Sourced by run-local and the end-to-end tests; not run.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POSTROOM_HOME="${POSTROOM_HOME:-$POSTROOM_ROOT/.postroom-local}"
BIN="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}/bin"
SERVICES=(config router fetcher sender)

service_port() {  # service -> default gRPC port
  case "$1" in config) echo 50051 ;; router) echo 50052 ;; fetcher) echo 50053 ;; sender) echo 50054 ;; esac
}
metrics_port() {
  case "$1" in config) echo 9101 ;; router) echo 9102 ;; fetcher) echo 9103 ;; sender) echo 9104 ;; esac
}
upper() { tr '[:lower:]' '[:upper:]' <<<"$1"; }
service_addr() {
  local var="POSTROOM_$(upper "$1")_LISTEN"
  echo "${!var:-127.0.0.1:$(service_port "$1")}"
}
service_metrics_addr() {
  local var="POSTROOM_$(upper "$1")_METRICS_LISTEN"
  echo "${!var:-127.0.0.1:$(metrics_port "$1")}"
}

# Creates the key file and the tokens file once; later runs keep them (secrets stay readable).
stack_credentials() {
  mkdir -p "$POSTROOM_HOME"
  if [ ! -f "$POSTROOM_HOME/secret.key" ]; then
    "$BIN/postroom-keygen" --out "$POSTROOM_HOME/secret.key" >/dev/null
  fi
  # The tokens file holds only hashes; the tokens themselves are kept apart, mode 600, for the
  # env file, client.yaml and the services' own calls.
  if [ -f "$POSTROOM_HOME/tokens" ] &&
     awk '$1 !~ /^#/ && NF == 3 && $3 !~ /^sha256:/ { old = 1 } END { exit !old }' \
       "$POSTROOM_HOME/tokens"; then
    stack_migrate_tokens
  fi
  if [ ! -f "$POSTROOM_HOME/tokens" ]; then
    umask 077
    "$BIN/postroom-config" token create local-admin admin --tokens-file "$POSTROOM_HOME/tokens" \
      > "$POSTROOM_HOME/admin.token" 2>/dev/null
    "$BIN/postroom-config" token create postroom-services operator \
      --tokens-file "$POSTROOM_HOME/tokens" > "$POSTROOM_HOME/services.token" 2>/dev/null
    umask 022
  fi
}

# A tokens file of the old `name role token` format: its two tokens move to their own files and
# the file keeps their hashes, so an existing stack keeps its tokens.
stack_migrate_tokens() {
  umask 077
  awk '$1 == "local-admin" { print $3 }' "$POSTROOM_HOME/tokens" > "$POSTROOM_HOME/admin.token"
  awk '$1 == "postroom-services" { print $3 }' "$POSTROOM_HOME/tokens" > "$POSTROOM_HOME/services.token"
  {
    echo "# API tokens of the local stack: name role sha256:<hex of the token>"
    printf 'local-admin admin sha256:%s\n' \
      "$(tr -d '\n' < "$POSTROOM_HOME/admin.token" | sha256sum | cut -d' ' -f1)"
    printf 'postroom-services operator sha256:%s\n' \
      "$(tr -d '\n' < "$POSTROOM_HOME/services.token" | sha256sum | cut -d' ' -f1)"
  } > "$POSTROOM_HOME/tokens.new"
  mv "$POSTROOM_HOME/tokens.new" "$POSTROOM_HOME/tokens"
  umask 022
}

stack_token() { cat "$POSTROOM_HOME/admin.token"; }
stack_service_token() { cat "$POSTROOM_HOME/services.token"; }

stack_write_env() {
  local db="$1"
  cat > "$POSTROOM_HOME/env" <<ENV
# Written by scripts/run-local: source it to talk to the local stack.
export POSTROOM_HOME='$POSTROOM_HOME'
export POSTROOM_DATABASE='$db'
export POSTROOM_CONFIG_ADDR='$(service_addr config)'
export POSTROOM_ROUTER_ADDR='$(service_addr router)'
export POSTROOM_FETCHER_ADDR='$(service_addr fetcher)'
export POSTROOM_SENDER_ADDR='$(service_addr sender)'
export POSTROOM_TOKEN='$(stack_token)'
export POSTROOM_CLIENT_CONFIG='$POSTROOM_HOME/client.yaml'
export PATH='$BIN':"\$PATH"
ENV
  # Services started with POSTROOM_TLS_CERT/KEY serve TLS: clients verify them with the CA.
  if [ -n "${POSTROOM_CA_FILE:-}" ]; then
    echo "export POSTROOM_CA_FILE='$POSTROOM_CA_FILE'" >> "$POSTROOM_HOME/env"
  fi
  cat > "$POSTROOM_HOME/client.yaml" <<YAML
# postroomctl client configuration for the local stack (written by scripts/run-local).
config_addr: $(service_addr config)
router_addr: $(service_addr router)
fetcher_addr: $(service_addr fetcher)
sender_addr: $(service_addr sender)
token: $(stack_token)
YAML
  chmod 600 "$POSTROOM_HOME/env" "$POSTROOM_HOME/client.yaml"
}

# The services connect as a login role in postroom_app (migration 0010), not as the owner of
# the tables, so they cannot rewrite the audit log. Made once per cluster (trust auth on the
# private cluster: no password). Prints the services' URI; the owner's DB where the role cannot
# be made (a database not ours), with a warning.
stack_service_database() {
  local db="$1" role="${POSTROOM_SERVICE_ROLE:-postroom_service}"
  if psql "$db" -qAtX -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') THEN
         CREATE ROLE $role LOGIN IN ROLE postroom_app;
       END IF; END \$\$" >/dev/null 2>&1 && [[ "$db" == *"://postgres@"* ]]; then
    echo "${db/:\/\/postgres@/://$role@}"
  else
    echo "warning: the services connect as the database owner (could not make role $role)" >&2
    echo "$db"
  fi
}

stack_start_services() {
  local db
  db="$(stack_service_database "$1")"
  mkdir -p "$POSTROOM_HOME/logs" "$POSTROOM_HOME/pids"
  stack_save_settings
  for s in "${SERVICES[@]}"; do
    local pidfile="$POSTROOM_HOME/pids/$s"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then continue; fi
    POSTROOM_DATABASE="$db" \
    POSTROOM_TOKENS_FILE="$POSTROOM_HOME/tokens" \
    POSTROOM_SECRET_KEY_FILE="$POSTROOM_HOME/secret.key" \
    POSTROOM_TOKEN="$(stack_service_token)" \
    POSTROOM_CONFIG_ADDR="$(service_addr config)" \
    POSTROOM_ROUTER_ADDR="$(service_addr router)" \
      nohup "$BIN/postroom-$s" --listen "$(service_addr "$s")" \
        --metrics-listen "$(service_metrics_addr "$s")" \
        >>"$POSTROOM_HOME/logs/$s.log" 2>&1 &
    echo $! > "$pidfile"
  done
}

# The addresses and POSTROOM_* settings the services start with, in $POSTROOM_HOME/services.env
# (mode 600: it may name key files), so that stack_restart starts one again as it was.
stack_save_settings() {
  local v s
  (
    umask 077
    {
      for v in $(compgen -e | grep '^POSTROOM_' | grep -vx 'POSTROOM_TOKEN\|POSTROOM_DATABASE\|.*_LISTEN'); do
        printf 'export %s=%q\n' "$v" "${!v}"
      done
      for s in config router fetcher sender; do
        printf 'export POSTROOM_%s_LISTEN=%q\n' "$(upper "$s")" "$(service_addr "$s")"
        printf 'export POSTROOM_%s_METRICS_LISTEN=%q\n' "$(upper "$s")" "$(service_metrics_addr "$s")"
      done
    } > "$POSTROOM_HOME/services.env.new"
  )
  mv "$POSTROOM_HOME/services.env.new" "$POSTROOM_HOME/services.env"
}

# Waits until SERVICE answers its readiness check; shows its log when it does not.
stack_wait_service_ready() {
  local s="$1"
  if ! WAIT_SECONDS=${WAIT_SECONDS:-60} wait_for "$BIN/postroom-healthcheck" "$(service_addr "$s")" readiness; then
    echo "--- $POSTROOM_HOME/logs/$s.log (last 20 lines)" >&2
    tail -20 "$POSTROOM_HOME/logs/$s.log" >&2 || true
    die "postroom-$s did not become ready at $(service_addr "$s")"
  fi
}

stack_wait_ready() {
  for s in "${SERVICES[@]}"; do stack_wait_service_ready "$s"; done
}

# stack_restart SERVICE: stops one service of a started stack and starts it again with the
# settings of the stack's start (services.env), until it is ready; nothing else is touched and
# nothing applied. Exit 2 for a name that is not a service.
stack_restart() {
  local s="$1"
  case " ${SERVICES[*]} " in *" $s "*) ;; *)
    printf 'error: unknown service "%s": one of %s\n' "$s" "${SERVICES[*]}" >&2; exit 2 ;;
  esac
  [ -f "$POSTROOM_HOME/env" ] && [ -f "$POSTROOM_HOME/services.env" ] ||
    die "no stack in $POSTROOM_HOME: start one with scripts/run-local --background"
  (
    # shellcheck disable=SC1091
    source "$POSTROOM_HOME/services.env"
    local db; db="$(source "$POSTROOM_HOME/env" && echo "$POSTROOM_DATABASE")"
    psql "$db" -qAtX -c 'SELECT 1' >/dev/null 2>&1 ||
      die "the stack in $POSTROOM_HOME is not running (its PostgreSQL does not answer): start it with scripts/run-local --background"
    # A foreground run-local watching its services leaves this one alone meanwhile.
    touch "$POSTROOM_HOME/pids/$s.restarting"
    trap 'rm -f "$POSTROOM_HOME/pids/$s.restarting"' EXIT
    stack_stop_service "$s"
    SERVICES=("$s")
    stack_start_services "$db"
    stack_wait_service_ready "$s"
    log "postroom-$s restarted (pid $(cat "$POSTROOM_HOME/pids/$s")), ready at $(service_addr "$s"); log: $POSTROOM_HOME/logs/$s.log"
  )
}

# A folder for a private mail server NAME (dovecot, smtp) of this stack, remembered in
# $POSTROOM_HOME/NAME-location. Dovecot and Postfix deliver as the `mail` user, which cannot
# enter a folder below a private one (a checkout in /root): then it lives in /var/lib/postroom,
# named after POSTROOM_HOME.
mail_server_dir() {
  local name="$1"
  if [ -f "$POSTROOM_HOME/$name-location" ]; then cat "$POSTROOM_HOME/$name-location"; return; fi
  local dir="$POSTROOM_HOME/$name"
  if [ "$(id -u)" = 0 ] && ! runuser -u mail -- test -x "$POSTROOM_HOME" 2>/dev/null; then
    dir="/var/lib/postroom/$name-$(printf '%s' "$POSTROOM_HOME" | sha256sum | cut -c1-16)"
  fi
  echo "$dir" > "$POSTROOM_HOME/$name-location"
  echo "$dir"
}

# The demo mailbox support@example.com on a private Dovecot (IMAP on 11143, where
# examples/demo.yaml points), filled once with mail from ../shared/corpus when that is there.
demo_dovecot_dir() { mail_server_dir dovecot; }

# The demo's outgoing server: a private Postfix on 12525, where the demo gateway connector
# points, keeping every message the sender delivers in one Maildir (scripts/smtp messages DIR).
# Mail to support@example.com (and its +token reply addresses) goes into the demo mailbox over
# LMTP, so a mail submitted here runs the whole loop (start the mailbox first).
stack_start_demo_smtp() {
  local dir lmtp_port; dir="$(mail_server_dir smtp)"
  lmtp_port="$(sed -n 's/^LMTP_PORT=//p' "$(demo_dovecot_dir)/ports.env")"
  "$POSTROOM_ROOT/scripts/smtp" start "$dir" --port "${POSTROOM_DEMO_SMTP_PORT:-12525}" \
    --lmtp "127.0.0.1:$lmtp_port" --lmtp-for support@example.com >/dev/null
  "$POSTROOM_ROOT/scripts/smtp" add-user "$dir" desk demo-smtp-password  # the gateway's login
}

stack_start_demo_mailbox() {
  local dir; dir="$(demo_dovecot_dir)"
  mkdir -p "$dir"
  "$POSTROOM_ROOT/scripts/dovecot" start "$dir" --imap-port "${POSTROOM_DEMO_IMAP_PORT:-11143}" >/dev/null
  "$POSTROOM_ROOT/scripts/dovecot" add-user "$dir" support demo-imap-password >/dev/null
  if [ ! -f "$dir/.demo-filled" ]; then
    local corpus="$POSTROOM_ROOT/../shared/corpus"
    local sources=()
    for d in mailgun-talon nodemailer-mailparser stalwart-mail-parser; do
      [ -d "$corpus/$d" ] && sources+=("$corpus/$d")
    done
    if [ ${#sources[@]} -gt 0 ]; then
      "$POSTROOM_ROOT/scripts/dovecot" fill "$dir" support "${sources[@]}" >/dev/null
    fi
    touch "$dir/.demo-filled"
  fi
}

stack_stop_service() {
  local pidfile="$POSTROOM_HOME/pids/$1"
  [ -f "$pidfile" ] || return 0
  local pid; pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    WAIT_SECONDS=15 wait_for bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# The private Prometheus of run-local --with-prometheus (scripts/prometheus).
stack_prometheus_dir() { echo "$POSTROOM_HOME/prometheus"; }
stack_start_prometheus() {  # [scripts/prometheus start options]: prints its URL
  local targets=() s
  for s in "${SERVICES[@]}"; do targets+=("$s=$(service_metrics_addr "$s")"); done
  "$POSTROOM_ROOT/scripts/prometheus" start "$(stack_prometheus_dir)" "$@" "${targets[@]}"
}

stack_stop() {
  # Prometheus first: one that outlives the services keeps their last `up 0` in its data, and
  # the next start would show PostroomServiceDown pending for a stack that is up.
  "$POSTROOM_ROOT/scripts/prometheus" stop "$(stack_prometheus_dir)" >/dev/null 2>&1 || true
  for s in "${SERVICES[@]}"; do stack_stop_service "$s"; done
  if [ -f "$POSTROOM_HOME/dovecot-location" ]; then
    "$POSTROOM_ROOT/scripts/dovecot" stop "$(cat "$POSTROOM_HOME/dovecot-location")" >/dev/null 2>&1 || true
  fi
  if [ -f "$POSTROOM_HOME/smtp-location" ]; then
    "$POSTROOM_ROOT/scripts/smtp" stop "$(cat "$POSTROOM_HOME/smtp-location")" >/dev/null 2>&1 || true
  fi
  "$POSTROOM_ROOT/scripts/pg" stop "$POSTROOM_HOME/pg" 2>/dev/null || true
}
