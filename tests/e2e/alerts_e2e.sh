#!/usr/bin/env bash
# Alerts on a live Prometheus (issue 22): the stack on free ports, a private Dovecot and a private
# Prometheus (scripts/prometheus: Debian's binary, scraping every second, evaluating every second)
# with the rules rendered from deploy/k8s/base's PrometheusRule as shipped (no rule changed:
# PostroomConnectorAutoDisabled has no `for`). A connector is applied, tested and enabled through
# postroomctl; its mail server is stopped until postroom auto-disables it (error_threshold 1), and
# Prometheus's own API (/api/v1/alerts) must show PostroomConnectorAutoDisabled firing for it;
# the server comes back, the connector is tested and enabled again, and the alert must resolve.
# Then `scripts/run-local --restart SERVICE` on this stack. Needs root (Dovecot) and
# /usr/bin/prometheus (scripts/install-deps --with-tools installs it). One line per check.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/tests/e2e/e2e_lib.sh"
[ "$(id -u)" = 0 ] || die "alerts_e2e.sh needs root (Dovecot)"
[ -x "${PROMETHEUS_BIN:-/usr/bin/prometheus}" ] ||
  die "alerts_e2e.sh needs ${PROMETHEUS_BIN:-/usr/bin/prometheus}: install Debian's prometheus package (scripts/install-deps --with-tools)"
export POSTROOM_STATE_EXPORT_INTERVAL_S=1  # the config service's connector gauges, every second
e2e_stack_up alerts-e2e
sql() { psql "$DB" -qAtX -c "$1"; }
prom() { "$ROOT/scripts/prometheus" "$@"; }
wait_long() { WAIT_SECONDS=60 wait_for "$@"; }

check "without the binary, scripts/prometheus says which package to install" bash -c "
  out=\$(PROMETHEUS_BIN=/nonexistent/prometheus '$ROOT/scripts/prometheus' start '$POSTROOM_HOME/none' \
    config=127.0.0.1:1 2>&1) && exit 1
  grep -q \"install Debian's prometheus package\" <<<\"\$out\""

# A server that answers with more than scripts/prometheus reads (16 MiB): refused, not read.
big_answer_refused() {
  local d="$POSTROOM_HOME/big-http" port out; port="$(free_port)"
  mkdir -p "$d/api/v1" && head -c $((17 << 20)) /dev/zero > "$d/api/v1/alerts"
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$d" >/dev/null 2>&1 &
  local pid=$!
  wait_for bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
  out="$(prom alerts "http://127.0.0.1:$port" 2>&1)" && { kill "$pid"; return 1; }
  kill "$pid"; echo "$out"
  grep -q "answer larger than 16777216 bytes" <<<"$out"
}
check "an answer over 16 MiB is refused, not read" big_answer_refused

PROM="$(stack_start_prometheus --port "$(free_port)" --scrape-interval 1 --evaluation-interval 1)" ||
  die "the private Prometheus did not start (log: $(stack_prometheus_dir)/prometheus.log)"
echo "     Prometheus at $PROM"
shipped="$(grep -c -- '- alert:' "$ROOT/deploy/k8s/base/prometheusrule.yaml")"
check "Prometheus loaded every alert of the PrometheusRule ($shipped)" \
  bash -c "[ \"\$('$ROOT/scripts/prometheus' loaded-rules '$PROM')\" = $shipped ]"
all_up() {
  [ "$(prom query "$PROM" 'up == 1' | grep -o 'job=[^ ]*' | sort | tr '\n' ' ')" = \
    "job=postroom-config job=postroom-fetcher job=postroom-router job=postroom-sender " ]
}
check "it scrapes the four services as jobs postroom-SERVICE" wait_for all_up

# The mailbox, on a private Dovecot that stack_stop stops with the stack.
MAIL_DIR="$(mail_server_dir dovecot)"
"$ROOT/scripts/dovecot" start "$MAIL_DIR" >/dev/null || die "Dovecot did not start"
source "$MAIL_DIR/ports.env"
"$ROOT/scripts/dovecot" add-user "$MAIL_DIR" desk desk-imap-password >/dev/null
cat > "$POSTROOM_HOME/desk.yaml" <<YAML
kind: Connector
name: desk
description: a mailbox whose server goes away
protocol: imap
direction: incoming
server: {host: 127.0.0.1, port: $IMAP_PORT, tls: none}
auth: {method: password, username: desk, password: desk-imap-password}
primary_address: desk@example.com
settings: {poll_interval_s: 10, max_tries: 1, cool_off_min: 1, error_threshold: 1}
fallback: {queue: desk}
YAML
check "apply the connector" expect 0 "connector/desk created" apply -f "$POSTROOM_HOME/desk.yaml"
check "its connection test passes" expect 0 "passed" test connector desk
check "enable it" expect 0 "enabled" enable connector desk
check "the fetcher polls it" wait_long bash -c "[ \"\$(psql '$DB' -qAtX -c \"
  SELECT s.last_incoming_success_at IS NOT NULL FROM connector_state s
  JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'desk'\")\" = t ]"

firing() { prom alerts "$PROM" | grep -qx 'firing PostroomConnectorAutoDisabled connector=desk namespace=local severity=critical'; }
alert_absent() { ! prom alerts "$PROM" | grep -q 'PostroomConnectorAutoDisabled connector=desk'; }
seen_by_prometheus() {  # VALUE: Prometheus has scraped postroom_connector_auto_disabled{connector="desk"} VALUE
  [ "$(prom query "$PROM" 'postroom_connector_auto_disabled{connector="desk"}' | awk '{print $1}')" = "$1" ]
}
check "Prometheus sees the enabled connector (auto_disabled 0)" wait_for seen_by_prometheus 0
sleep 2  # two evaluations over the scraped series
check "no PostroomConnectorAutoDisabled for a working connector" alert_absent

"$ROOT/scripts/dovecot" stop "$MAIL_DIR" >/dev/null 2>&1
check "with its server gone, postroom disables the connector" wait_long bash -c \
  "[ \"\$(psql '$DB' -qAtX -c \"SELECT status FROM connectors WHERE name = 'desk'\")\" = disabled_by_system ]"
check "PostroomConnectorAutoDisabled fires in Prometheus's /api/v1/alerts" wait_for firing
alerts_page_shows_it() {
  local page; page="$(prom alerts-page "$PROM")" && curl -sf "$page" >"$POSTROOM_HOME/alerts.html" &&
    grep -q 'Firing (1)' "$POSTROOM_HOME/alerts.html" &&
    grep -q '<b>PostroomConnectorAutoDisabled</b> (1 active)' "$POSTROOM_HOME/alerts.html" &&
    grep -q 'connector="desk"' "$POSTROOM_HOME/alerts.html"
}
check "the alerts page of the Prometheus UI shows it firing" alerts_page_shows_it
check "its runbook link is the rendered URL, no kustomize variable left" bash -c "
  curl -sf '$PROM/api/v1/alerts' | python3 -c '
import json, sys
urls = [a[\"annotations\"][\"runbook_url\"] for a in json.load(sys.stdin)[\"data\"][\"alerts\"]
        if a[\"labels\"][\"alertname\"] == \"PostroomConnectorAutoDisabled\"]
print(urls)
sys.exit(0 if urls and all(u.startswith(\"https://\") and u.endswith(\"/docs/runbooks/connector-auto-disabled.md\")
                           and \"\$(\" not in u for u in urls) else 1)'"

"$ROOT/scripts/dovecot" start "$MAIL_DIR" --imap-port "$IMAP_PORT" --pop3-port "$POP3_PORT" \
  --imaps-port "$IMAPS_PORT" --pop3s-port "$POP3S_PORT" --lmtp-port "$LMTP_PORT" >/dev/null ||
  die "Dovecot did not start again"
check "with its server back, the connection test passes" expect 0 "passed" test connector desk
check "enable it again" expect 0 "enabled" enable connector desk
check "the alert resolves (gone from pending and firing)" wait_for alert_absent
check "Prometheus sees it enabled (auto_disabled 0)" wait_for seen_by_prometheus 0

# ---- scripts/run-local --restart SERVICE ------------------------------------------------------
pid_of() { cat "$POSTROOM_HOME/pids/$1"; }
before_router="$(pid_of router)"; before_others="$(pid_of config) $(pid_of fetcher) $(pid_of sender)"
audit_before="$(sql "SELECT count(*) FROM audit_log")"
check "run-local --restart router says it is ready and where its log is" bash -c "
  out=\$('$ROOT/scripts/run-local' --restart router 2>&1) || { echo \"\$out\"; exit 1; }
  echo \"\$out\"
  grep -q 'postroom-router restarted .*ready at $POSTROOM_ROUTER_LISTEN.*log: $POSTROOM_HOME/logs/router.log' <<<\"\$out\""
check "a new router process, the old one gone" bash -c "
  [ \"\$(cat '$POSTROOM_HOME/pids/router')\" != '$before_router' ] && ! kill -0 '$before_router' 2>/dev/null"
check "it answers its readiness check" "$BIN/postroom-healthcheck" "$POSTROOM_ROUTER_LISTEN" readiness
check "the other services were not touched" \
  bash -c "[ \"$before_others\" = \"\$(cat '$POSTROOM_HOME/pids/config') \$(cat '$POSTROOM_HOME/pids/fetcher') \$(cat '$POSTROOM_HOME/pids/sender')\" ]"
check "nothing was applied (audit log unchanged)" bash -c "[ \"\$(psql '$DB' -qAtX -c 'SELECT count(*) FROM audit_log')\" = $audit_before ]"
printf 'From: Jane <jane@client.example>\r\nTo: desk@example.com\r\nSubject: Printer\r\nMessage-ID: <restart@client.example>\r\n\r\nIt is on fire.\r\n' \
  > "$POSTROOM_HOME/after-restart.eml"
check "the restarted router serves: new mail becomes a work item" \
  expect 0 "message [0-9]+: created" route "$POSTROOM_HOME/after-restart.eml" --connector desk
check "Prometheus scrapes it again" wait_for all_up
check "an unknown service: exit 2, the valid ones listed" bash -c "
  out=\$('$ROOT/scripts/run-local' --restart mailer 2>&1); rc=\$?; echo \"\$out\"
  [ \$rc = 2 ] && grep -q 'unknown service \"mailer\": one of config router fetcher sender' <<<\"\$out\""
check "no service named: exit 2" bash -c "'$ROOT/scripts/run-local' --restart; [ \$? = 2 ]"
check "no stack in POSTROOM_HOME: says how to start one" bash -c "
  out=\$(POSTROOM_HOME='$POSTROOM_HOME/none' '$ROOT/scripts/run-local' --restart router 2>&1) && exit 1
  grep -q 'no stack in .*scripts/run-local --background' <<<\"\$out\""

prom_pid="$(cat "$(stack_prometheus_dir)/prometheus.pid")"
stack_stop
check "stopping the stack stops its Prometheus" bash -c "! kill -0 $prom_pid 2>/dev/null"
check "restart in a stopped stack says it is not running" bash -c "
  out=\$('$ROOT/scripts/run-local' --restart router 2>&1) && exit 1
  grep -q 'is not running (its PostgreSQL does not answer)' <<<\"\$out\""
e2e_finish alerts_e2e
