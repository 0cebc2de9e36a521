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
  DB="$("$ROOT/scripts/pg" start "$POSTROOM_HOME/pg" --fast)" || die "PostgreSQL did not start"
  stack_credentials
  "$BIN/postroom-config" migrate --database "$DB" >/dev/null || die "migrate failed"
  stack_write_env "$DB"
  stack_start_services "$DB"
  stack_wait_ready
  source "$POSTROOM_HOME/env"
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
