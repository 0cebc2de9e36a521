#!/usr/bin/env bash
# The scale proof's short form as a test (issue 21): bench/fetcher/scale.sh --short, 3 fetcher
# replicas and 30 connectors on private PostgreSQL and Dovecot (root), a kill -9 and a restart
# with mail arriving; every connector owned once, take-over in time, every message stored once,
# and no two replicas in one mailbox at once by Dovecot's log (~65 s after the build). Its
# folder is removed when every check passed and kept (its path printed) when one failed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BENCH_DIR="$(mktemp -d /tmp/fetcher-scale-e2e.XXXXXX)"
export BENCH_DIR
if bash "$ROOT/bench/fetcher/scale.sh" --short; then
  rm -rf "$BENCH_DIR"
else
  echo "fetcher_scale_e2e failed; logs kept in $BENCH_DIR" >&2
  exit 1
fi
