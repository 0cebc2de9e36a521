# The sanitizer build (build-fuzz/: clang, ASan + UBSan, libFuzzer hooks; cmake/fuzz.cmake),
# shared by scripts/fuzz and scripts/test: sourced after scripts/lib.sh, not run.
# shellcheck shell=bash
FUZZ_BUILD_DIR="${POSTROOM_FUZZ_BUILD_DIR:-$POSTROOM_ROOT/build-fuzz}"

# Every sanitizer report stops the process with a stack trace: a test or fuzz target that hits
# one fails. LSan's suppressions (fuzz/lsan.supp) say why each one is there.
sanitizer_env() {
  local symbolizer
  symbolizer="$(command -v llvm-symbolizer || true)"
  export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  export LSAN_OPTIONS="suppressions=$POSTROOM_ROOT/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  if [ -n "$symbolizer" ]; then export ASAN_SYMBOLIZER_PATH="$symbolizer"; fi
}

# Configures build-fuzz/ once: clang, POSTROOM_FUZZ=ON, Ninja, ccache. -O1 and line tables only
# (stack traces keep file:line): full debug info and -O2 made the cold build of this second
# tree most of a cold scripts/test.
fuzz_configure() {
  if [ -f "$FUZZ_BUILD_DIR/CMakeCache.txt" ]; then
    # Re-run CMake so the test list read next (sanitizer_test_targets) has the tests added since
    # the last build; a stale list left new tests "Not Run". Seconds when nothing changed.
    cmake -S "$POSTROOM_ROOT" -B "$FUZZ_BUILD_DIR" >/dev/null
    return 0
  fi
  local launcher=()
  command -v ccache >/dev/null &&
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  CC=clang CXX=clang++ cmake -S "$POSTROOM_ROOT" -B "$FUZZ_BUILD_DIR" -G Ninja "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOSTROOM_FUZZ=ON \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" >/dev/null
}

# Builds TARGET... in build-fuzz/ through scripts/build (its ccache settings).
fuzz_build() {
  fuzz_configure
  POSTROOM_BUILD_DIR="$FUZZ_BUILD_DIR" "$POSTROOM_ROOT/scripts/build" "$@"
}

# The targets of fuzz/targets, one "NAME MAX_LEN EXTRA_CORPUS" line each.
fuzz_targets() {
  grep -v '^[[:space:]]*\(#\|$\)' "$POSTROOM_ROOT/fuzz/targets"
}

# The build targets the tests selected by CTEST_ARG... need: every binary under build-fuzz/bin/
# or build-fuzz/tests/ their commands name (ctest -N shows no command before it is built, so the
# commands are read from the generated CTestTestfile.cmake files).
sanitizer_test_targets() {
  (cd "$FUZZ_BUILD_DIR" && ctest -N --show-only=json-v1 "$@") | python3 -c '
import json, pathlib, re, sys
build = sys.argv[1]
wanted = {t["name"] for t in json.load(sys.stdin).get("tests", [])}
names = set()
for f in pathlib.Path(build).rglob("CTestTestfile.cmake"):
    for m in re.finditer(r"^add_test\(\[=\[(.+?)\]=\] (.*)$", f.read_text(), re.M):
        if m.group(1) in wanted:
            names.update(re.findall(re.escape(build) + r"/(?:bin|tests)/([A-Za-z0-9_.+-]+)", m.group(2)))
for n in sorted(names): print(n)' "$FUZZ_BUILD_DIR"
}
