#!/usr/bin/env bash
# Proves `check.mjs smoke-matches` fails: each case changes one field of the smoke record (or of
# the rendered manifests) and expects exit 1 with that field's problem named, a problem the
# unchanged input does not have. Run by scripts/check-deploy.
#   deploy/k8s/tests/smoke-matches.sh RENDERED.yaml RECORD.json
# RECORD is build/images/smoke-ran.json when a smoke ran, else smoke-ran.sample.json (a record
# of a real run; stale fields of it do not matter here, only the changed one's problem).
set -euo pipefail
rendered="$1" record="$2"
check="$(dirname "$0")/../../tools/check.mjs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

# mutate_record JS: the record with JS applied to it (as r), to $work/record.json.
mutate_record() {
  node -e 'const fs = require("fs"); const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    (new Function("r", process.argv[2]))(r); fs.writeFileSync(process.argv[3], JSON.stringify(r));' \
    "$record" "$1" "$work/record.json"
}
# expect NAME PROBLEM-REGEX RENDERED RECORD: exit 1 naming the problem, which the unchanged
# inputs do not name.
expect() {
  local name="$1" want="$2" out rc=0 before
  out="$(node "$check" smoke-matches "$3" "$4" 2>&1)" || rc=$?
  before="$(node "$check" smoke-matches "$rendered" "$record" 2>&1 || true)"
  if [ "$rc" = 1 ] && grep -qE -- "$want" <<<"$out" && ! grep -qE -- "$want" <<<"$before"; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name: exit $rc, wanted a line matching: $want"
    sed 's/^/     | /' <<<"$out"
  fi
}

mutate_record 'const m = r.workloads["postroom-router"].mounts; m[m.indexOf("/var/run/secrets/postroom/tls")] = "/etc/postroom/tls";'
expect "a different mount path" \
  'FAIL Deployment/postroom-router: volumeMounts \(but /tmp\): manifest \[.*"/var/run/secrets/postroom/tls".*\], smoke \[.*"/etc/postroom/tls"' \
  "$rendered" "$work/record.json"

mutate_record 'r.workloads["postroom-config"].user = 0;'
expect "a different user" 'FAIL Deployment/postroom-config: runAsUser: manifest 65532, smoke 0$' \
  "$rendered" "$work/record.json"

mutate_record 'r.workloads["postroom-sender"].env.POSTROOM_CA_FILE = "/mnt/postroom/ca.crt";'
expect "a different file path in the env" \
  'FAIL Deployment/postroom-sender: env POSTROOM_CA_FILE: manifest "/var/run/secrets/postroom/tls/ca.crt", smoke "/mnt/postroom/ca.crt"' \
  "$rendered" "$work/record.json"

mutate_record 'delete r.workloads["postroom-fetcher"].env.POSTROOM_FETCHER_REPLICA;'
expect "an env name the smoke did not set" \
  'FAIL Deployment/postroom-fetcher: env POSTROOM_FETCHER_REPLICA: manifest .*, smoke \(not set\)' \
  "$rendered" "$work/record.json"

mutate_record 'r.workloads["postroom-router"].probes.readiness.splice(2, 1);'
expect "a different probe command" 'FAIL Deployment/postroom-router: readinessProbe exec command: ' \
  "$rendered" "$work/record.json"

mutate_record 'r.workloads["postroom-migrate"].args = ["migrate", "--dry-run"];'
expect "the Job's args" 'FAIL Job/postroom-migrate: args: manifest \["migrate"\], smoke \["migrate","--dry-run"\]' \
  "$rendered" "$work/record.json"

mutate_record 'r.workloads["postroom-config"].env.POSTROOM_TOKEN = "a-token-in-clear";'
expect "a Secret's value in clear" \
  'FAIL Deployment/postroom-config: env POSTROOM_TOKEN: manifest from Secret postroom-api-tokens, smoke a value in clear' \
  "$rendered" "$work/record.json"

# The manifest side: a listen port that is not the container's gRPC port.
sed 's/0\.0\.0\.0:50052/0.0.0.0:50059/' "$rendered" > "$work/rendered.yaml"
expect "a listen port that is not the grpc containerPort" \
  'FAIL Deployment/postroom-router: env POSTROOM_GRPC_LISTEN: manifest port "50059", grpc containerPort "50052"' \
  "$work/rendered.yaml" "$record"

echo "smoke-matches can fail: $passed passed, $failed failed"
[ "$failed" = 0 ]
