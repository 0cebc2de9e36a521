#!/usr/bin/env bash
# Graph full sync through the real fetcher: COUNT generated messages (gen_corpus.py, seed 42) in
# tests/fakes/graph_fake.py (TLS), config + fetcher on the e2e stack's private PostgreSQL (fsync
# off, as every e2e cluster), no router (messages stay pending: this is fetch + store). Prints the sync poll's duration and rate and the fetcher's peak RSS. The fake is a
# single-threaded Python server, so the figure bounds the fetcher from below only.
#   POSTROOM_BUILD_DIR=build bench/graph/run.sh [COUNT]
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
COUNT="${1:-2000}"
source "$ROOT/tests/e2e/e2e_lib.sh"
SERVICES=(config fetcher)
export POSTROOM_FETCHER_LEASE_ROUND_MS=300
e2e_stack_up graph-bench
python3 "$ROOT/../shared/baselines/gen_corpus.py" --count "$COUNT" --seed 42 \
  --out "$POSTROOM_HOME/gen/Maildir" >/dev/null || die "gen_corpus.py failed"
bytes=$(du -sb "$POSTROOM_HOME/gen/Maildir" | cut -f1)
e2e_graph_fake --fill "support@example.com=$POSTROOM_HOME/gen/Maildir"
{ e2e_graph_connector_yaml graphbench | grep -v refresh_token
  echo "settings: {poll_interval_s: 3600, max_message_bytes: 52428800}"
} >"$POSTROOM_HOME/bench.yaml"
ctl apply -f "$POSTROOM_HOME/bench.yaml" >/dev/null && ctl test connector graphbench >/dev/null &&
  ctl enable connector graphbench >/dev/null || die "could not enable the bench connector"
for _ in $(seq 1200); do
  grep -q "event=poll_done connector=graphbench" "$POSTROOM_HOME/logs/fetcher.log" && break
  sleep 0.5
done
line="$(grep "event=poll_done connector=graphbench" "$POSTROOM_HOME/logs/fetcher.log" | head -1)"
[ -n "$line" ] || die "no poll finished within 10 minutes"
ms="${line##*ms=}"; stored="$(sed 's/.*stored=\([0-9]*\).*/\1/' <<<"$line")"
rss="$(awk '/VmHWM/ {print $2}' "/proc/$(cat "$POSTROOM_HOME/pids/fetcher")/status")"
echo "graph full sync: $stored of $COUNT messages ($((bytes / 1048576)) MiB) in $ms ms:" \
  "$(python3 -c "print(round($stored * 1000 / max(1, $ms)))") msgs/s; fetcher VmHWM $((rss / 1024)) MiB"
