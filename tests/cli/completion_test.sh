#!/usr/bin/env bash
# `postroomctl completion bash|zsh`, driven the way bash drives it: the script is sourced and
# _postroomctl is called with COMP_WORDS/COMP_CWORD set as for a press of TAB. Object names come
# from a stand-in `postroomctl` on PATH that answers `get KIND -o name` as the server would (the
# real command's -o name output is covered by postroomctl_test). zsh, when installed, loads the
# zsh script without errors.
set -uo pipefail
BUILD="${POSTROOM_BUILD_DIR:?set POSTROOM_BUILD_DIR}"
CTL="$BUILD/bin/postroomctl"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
failed=0
check() {  # NAME EXPECTED-WORDS (sorted, space-separated) WORDS...
  local name="$1" want="$2"; shift 2
  COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
  _postroomctl
  local got; got="$(printf '%s\n' "${COMPREPLY[@]}" | sort | xargs)"
  if [ "$got" = "$want" ]; then echo "ok   $name"; else
    echo "FAIL $name: got '$got', want '$want'"; failed=1; fi
}

"$CTL" completion bash >"$T/completion.bash" || { echo "FAIL completion bash exited $?"; exit 1; }
"$CTL" completion fish >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] && echo "ok   an unknown shell is a usage error (exit 2)" ||
  { echo "FAIL completion fish exited $rc, want 2"; failed=1; }

# The stand-in server side: `postroomctl get connectors -o name`.
mkdir -p "$T/bin"
cat >"$T/bin/postroomctl" <<'STUB'
#!/usr/bin/env bash
[ "$1 $2 $3 $4" = "get connectors -o name" ] && printf 'connector/support\nconnector/sales\n'
[ "$1 $2 $3 $4" = "get connector -o name" ] && printf 'connector/support\nconnector/sales\n'
exit 0
STUB
chmod +x "$T/bin/postroomctl"
PATH="$T/bin:$PATH"
# shellcheck disable=SC1091
source "$T/completion.bash"

check "commands by prefix" "delete describe disable download" postroomctl d
check "kinds of get: the router's" "messages" postroomctl get m
check "kinds of get: the sender's" "outbox" postroomctl get o
check "kinds of get: config's" "routes" postroomctl get ro
check "get after a global flag with a value" "messages" postroomctl --token x get m
check "describe kinds" "connector" postroomctl describe con
check "connector names from the server" "sales support" postroomctl describe connector ""
check "names by prefix" "support" postroomctl enable connector su
check "flags of the command and the global ones" "--output" postroomctl get --out
check "-o values" "json" postroomctl get connectors -o js
check "help names commands" "route" postroomctl help rou
check "mark's own kinds" "clean" postroomctl mark cl
touch "$T/mail.eml"
check "files after route" "$T/mail.eml" postroomctl route "$T/ma"

if command -v zsh >/dev/null; then
  "$CTL" completion zsh >"$T/completion.zsh"
  if zsh -c "autoload -U +X compinit && compinit -u && source '$T/completion.zsh'" 2>"$T/zsh.err"; then
    echo "ok   zsh loads its script"
  else
    echo "FAIL zsh: $(cat "$T/zsh.err")"; failed=1
  fi
else
  echo "skip zsh is not installed"
fi
echo "completion_test: $([ $failed = 0 ] && echo passed || echo failed)"
exit $failed
