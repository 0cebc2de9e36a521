# Shared by the benchmark scripts that run the real services (bench/sender/run.sh so far; the
# fetcher's scripts still carry their own copies). Sourced after scripts/lib.sh, with BIN set.
# shellcheck shell=bash

# bench_workdir DEFAULT: D=$BENCH_DIR or DEFAULT, made afresh and enterable by the mail servers'
# users; PIDS, the processes bench_stop_pids ends.
bench_workdir() {
  D="${BENCH_DIR:-$1}"
  rm -rf "$D"; mkdir -p "$D"; chmod 755 "$D"
  PIDS=()
}
bench_stop_pids() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

# bench_apply_config URI YAML: an admin token ($D/tokens, TOKEN) and a secret key ($D/key),
# exported as the services' POSTROOM_* settings with the database; YAML applied through a
# config service started for it and stopped again. Connectors stay as applied: a bench
# activates them by SQL (EnableConnector would first run a connection test).
bench_apply_config() {
  umask 077
  TOKEN="$("$BIN/postroom-config" token create bench admin --tokens-file "$D/tokens" 2>/dev/null)"
  "$BIN/postroom-keygen" --out "$D/key" >/dev/null 2>&1
  umask 022
  export POSTROOM_DATABASE="$1" POSTROOM_TOKENS_FILE="$D/tokens" POSTROOM_SECRET_KEY_FILE="$D/key"
  local addr pid
  addr="127.0.0.1:$(free_port)"
  "$BIN/postroom-config" --listen "$addr" --metrics-listen 127.0.0.1:0 >"$D/config.log" 2>&1 &
  pid=$!
  WAIT_SECONDS=30 wait_for "$BIN/postroom-healthcheck" "$addr" readiness
  "$BIN/postroomctl" --config-addr "$addr" --token "$TOKEN" apply -f "$2" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
