# Shared by the scripts in this folder: sourced, not run.
# shellcheck shell=bash
POSTROOM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export POSTROOM_ROOT

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Waits until `$@` succeeds, up to $WAIT_SECONDS (default 30); returns 1 on time-out.
wait_for() {
  local deadline=$(( $(date +%s) + ${WAIT_SECONDS:-30} ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# A free TCP port on 127.0.0.1 (the kernel picks it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# CPU seconds (user + sys) the processes `$@` have used so far, from /proc (benchmarks).
cpu_of() {
  python3 - "$@" <<'PY'
import os, sys
tick, total = os.sysconf("SC_CLK_TCK"), 0
for pid in sys.argv[1:]:
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += int(f[11]) + int(f[12])
    except OSError:
        pass
print(f"{total / tick:.2f}")
PY
}

# Busy CPU seconds of the whole machine so far (user, nice, system, irq, softirq; /proc/stat).
machine_busy_seconds() {
  awk -v tick="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / tick }' /proc/stat
}

# Benchmarks' STATEMENTS=1: start the private PostgreSQL with pg_stat_statements (call before
# scripts/pg start), then create the extension and print the costliest statements.
pg_statements_preload() {
  [ "${STATEMENTS:-0}" = 1 ] || return 0
  export POSTROOM_PG_OPTS="${POSTROOM_PG_OPTS:-} -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on"
}
pg_statements_enable() {  # URI
  [ "${STATEMENTS:-0}" = 1 ] || return 0
  psql "$1" -qAtX -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
}
pg_statements_reset() {  # URI: only what follows (e.g. not a warm-up) is counted.
  [ "${STATEMENTS:-0}" = 1 ] || return 0
  psql "$1" -qAtX -c "SELECT pg_stat_statements_reset()" >/dev/null
}
pg_statements_report() {  # URI
  [ "${STATEMENTS:-0}" = 1 ] || return 0
  echo "PostgreSQL statements by total time (ms run | calls | ms mean run | ms planning | plans | statement):"
  psql "$1" -qAtX -c "SELECT round(total_exec_time::numeric, 0) || ' | ' || calls || ' | ' ||
              round(mean_exec_time::numeric, 3) || ' | ' || round(total_plan_time::numeric, 0) || ' | ' || plans || ' | ' ||
              left(regexp_replace(query, '\s+', ' ', 'g'), 100)
         FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 18"
}
