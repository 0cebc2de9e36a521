#!/usr/bin/env bash
# Every binary behaves like its neighbours on the command line: --help exits 0 and lists its own
# flags (the services' with their environment variables), --version exits 0 with the version
# and the commit, and an unknown flag exits 2 naming it, with the usage. One line per check.
set -uo pipefail
BIN="${POSTROOM_BUILD_DIR:?}/bin"
passed=0; failed=0
check() {  # check NAME COMMAND...
  local name="$1"; shift
  if out="$("$@" 2>&1)"; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; printf '%s\n' "$out" | head -10 | sed 's/^/     | /'; fi
}
# runs BINARY ARGS... and checks the exit code, stdout and stderr against patterns
expect() {  # expect CODE STDOUT_REGEX STDERR_REGEX BINARY ARGS...
  local code="$1" out_re="$2" err_re="$3"; shift 3
  local o e rc
  o="$("$@" 2>/tmp/cli_err.$$)"; rc=$?; e="$(cat /tmp/cli_err.$$)"; rm -f /tmp/cli_err.$$
  [ "$rc" = "$code" ] || { echo "exit $rc, wanted $code; stdout: ${o:0:300} stderr: ${e:0:300}"; return 1; }
  grep -Eq -- "$out_re" <<<"$o" || { echo "stdout does not match /$out_re/: ${o:0:500}"; return 1; }
  grep -Eq -- "$err_re" <<<"$e" || { echo "stderr does not match /$err_re/: ${e:0:500}"; return 1; }
}

declare -A own_flag=(
  [postroom-config]="--secret-key-file" [postroom-router]="--sweep-interval-ms"
  [postroom-fetcher]="--router-ca-file" [postroom-sender]="--metrics-listen"
)
for b in postroom-config postroom-router postroom-fetcher postroom-sender; do
  check "$b --help exits 0 and lists its flags with their variables" \
    expect 0 "${own_flag[$b]}(.|$)" "" "$BIN/$b" --help
  check "$b --help names the environment variables" expect 0 'POSTROOM_DATABASE' "" "$BIN/$b" --help
  check "$b --help lists no Abseil internals" bash -c "! '$BIN/$b' --help | grep -q -- '--flagfile'"
  check "$b --version exits 0 with version and commit" \
    expect 0 "^$b [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{12}(-dirty)?\)$|^$b [0-9.]+ \(commit unknown\)$" "" "$BIN/$b" --version
  check "$b --no-such-flag exits 2 naming it, with the usage" \
    expect 2 "" "unknown flag --no-such-flag.*" "$BIN/$b" --no-such-flag
  check "$b --no-such-flag prints the usage line" expect 2 "" "^Usage: $b" "$BIN/$b" --no-such-flag
  check "$b: a negated boolean flag is known (--nolog-json), a flag's value is not a flag" \
    bash -c "out=\$('$BIN/$b' --nolog-json --listen --version 2>&1); ! grep -q 'unknown flag' <<<\"\$out\""
done
check "postroomctl --help exits 0" expect 0 "Global flags" "" "$BIN/postroomctl" --help
check "postroomctl --version exits 0" expect 0 "^postroomctl [0-9.]+ \(commit " "" "$BIN/postroomctl" --version
check "postroomctl --no-such-flag exits 2" expect 2 "" "unknown flag --no-such-flag" "$BIN/postroomctl" --no-such-flag
check "postroom-keygen --help exits 0" expect 0 "usage: postroom-keygen" "" "$BIN/postroom-keygen" --help
check "postroom-keygen --version exits 0" expect 0 "^postroom-keygen [0-9.]+ \(commit " "" "$BIN/postroom-keygen" --version
check "postroom-keygen --no-such-flag exits 2" expect 2 "" "unknown argument --no-such-flag" "$BIN/postroom-keygen" --no-such-flag
check "postroom-healthcheck --help exits 0" expect 0 "--server-name" "" "$BIN/postroom-healthcheck" --help
check "postroom-healthcheck --version exits 0" expect 0 "^postroom-healthcheck [0-9.]+ \(commit " "" "$BIN/postroom-healthcheck" --version
check "postroom-healthcheck --no-such-flag exits 2" expect 2 "" "usage: postroom-healthcheck" "$BIN/postroom-healthcheck" --no-such-flag
echo "cli_flags: $passed passed, $failed failed"
[ "$failed" = 0 ]
