# The tools that read deploy/: kubectl's kustomize, promtool (Debian's prometheus package) and
# Node.js with deploy/tools' pinned npm packages, installed when missing, and the PrometheusRule
# rendered as a plain Prometheus rule file. Sourced by check-deploy (the promtool tests) and
# scripts/prometheus (a live Prometheus), so both load the very same rules; not run.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEPLOY="$POSTROOM_ROOT/deploy"
TOOLS="$DEPLOY/tools"

apt_install() {
  log "installing $* (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  # Installing prometheus must not start the system's own instance (as scripts/install-deps).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
  fi
  as_root apt-get update -q >/dev/null || die "apt-get update failed; cannot install $*"
  as_root apt-get install -y -q --no-install-recommends "$@" >/dev/null ||
    die "could not install $* with apt-get; install them by hand and run this again"
}

deploy_tools_install() {
  # The kustomizations keep to fields that kustomize v2 (inside Debian 12's kubectl 1.20, package
  # kubernetes-client) and v5 (kubectl >= 1.27) both render, to the same objects: any kubectl does.
  command -v kubectl >/dev/null || apt_install kubernetes-client
  command -v kubectl >/dev/null || die "kubectl missing after installing Debian's kubernetes-client package"
  command -v promtool >/dev/null || apt_install prometheus
  command -v promtool >/dev/null || die "promtool missing after installing Debian's prometheus package"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then apt_install nodejs npm; fi
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    die "Node.js >= 18 (Debian 12's) is needed for deploy/tools (found $(node --version))"
  # npm ci when node_modules is missing or older than the lock file.
  if [ ! -f "$TOOLS/node_modules/.package-lock.json" ] ||
     [ "$TOOLS/package-lock.json" -nt "$TOOLS/node_modules/.package-lock.json" ]; then
    log "installing deploy/tools npm packages (pinned by package-lock.json)"
    (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

checker() { node "$TOOLS/check.mjs" "$@"; }

# render DIR OUT: kustomize v5's deprecation warnings (for the fields v2 needs) are not news.
render() {
  local err rc=0
  err="$(kubectl kustomize "$1" 2>&1 >"$2")" || rc=$?
  printf '%s\n' "$err" | grep -v "^# Warning: '.*' is deprecated" | grep -v '^$' || true
  return $rc
}

# render_rules KUSTOMIZATION_DIR OUT: the rule file Prometheus loads, exactly as check-deploy
# tests it: the rendered PrometheusRule's spec, the runbook links' $(POSTROOM_RUNBOOK_BASE_URL)
# replaced by kustomize with the directory's postroom-runbook-base-url annotation.
render_rules() {
  local rendered; rendered="$(mktemp)"
  if render "$1" "$rendered" && checker rules "$rendered" "$2" >/dev/null; then
    rm -f "$rendered"
  else
    rm -f "$rendered"; return 1
  fi
}
