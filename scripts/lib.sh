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

# debian_mirror SUITE: the URI this machine's apt sources give for a Debian suite (deb822
# .sources or one-line .list format); empty when none. No mirror is named in the scripts.
debian_mirror() {
  local suite="$1" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" 'BEGIN{RS=""} $0 ~ "Suites:[^\n]*[ \t]" s "([ \t\n]|$)" {
      for (i = 1; i <= NF; i++) if ($i == "URIs:") { print $(i + 1); exit } }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v s="$suite" '$1 == "deb" && $3 == s { print $2 }' || true
}

# make_test_tls DIR SAN: a throw-away CA (DIR/ca.crt) and a server certificate and key
# (DIR/tls.crt, DIR/tls.key) for SAN (openssl's subjectAltName list), valid for two days.
make_test_tls() {
  local d="$1" san="$2"
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=postroom test CA" -keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1 &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=postroom \
    -keyout "$d/tls.key" -out "$d/tls.csr" >/dev/null 2>&1 &&
  printf 'subjectAltName=%s\n' "$san" > "$d/ext.cnf" &&
  openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext.cnf" -out "$d/tls.crt" >/dev/null 2>&1 || die "openssl: no test certificate in $d"
  rm -f "$d/ca.key" "$d/tls.csr" "$d/ext.cnf" "$d/ca.srl"
}
