#include "libs/store/connector_errors.h"

#include "absl/strings/str_cat.h"

namespace postroom::store {
namespace {

int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

// One upsert per direction: the column names differ, and statements never take identifiers as
// parameters.
std::string FailureSql(const std::string& dir) {
  const std::string T2 = "to_timestamp($2::bigint / 1000.0)";
  return absl::StrCat("INSERT INTO connector_state (connector_id, last_check_at, last_", dir,
                      "_error, last_", dir, "_error_class, last_", dir, "_error_at, consecutive_",
                      dir, "_errors) VALUES ($1, ", T2, ", $3, $4, ", T2,
                      ", 1) ON CONFLICT (connector_id) DO UPDATE SET last_check_at = "
                      "excluded.last_check_at, last_",
                      dir, "_error = excluded.last_", dir, "_error, last_", dir,
                      "_error_class = excluded.last_", dir, "_error_class, last_", dir,
                      "_error_at = excluded.last_", dir, "_error_at, consecutive_", dir,
                      "_errors = connector_state.consecutive_", dir,
                      "_errors + 1 RETURNING consecutive_", dir, "_errors");
}

}  // namespace

void PrepareConnectorErrorStatements(Database& db) {
  const std::string T2 = "to_timestamp($2::bigint / 1000.0)";
  db.Prepare("conn_failure_incoming", FailureSql("incoming"));
  db.Prepare("conn_failure_outgoing", FailureSql("outgoing"));
  // Two statements: a data-modifying CTE's row is not visible to its own statement's SELECT.
  db.Prepare("conn_state_ensure",
             "INSERT INTO connector_state (connector_id) VALUES ($1) ON CONFLICT DO NOTHING");
  db.Prepare("conn_outgoing_pause_lock",
             "SELECT (extract(epoch from outgoing_paused_until) * 1000)::bigint FROM "
             "connector_state WHERE connector_id = $1 FOR UPDATE");
  db.Prepare("conn_failure_outgoing_noted",
             "UPDATE connector_state SET last_check_at = " + T2 +
                 ", last_outgoing_error = $3, last_outgoing_error_class = $4, "
                 "last_outgoing_error_at = " +
                 T2 + " WHERE connector_id = $1 RETURNING consecutive_outgoing_errors");
  db.Prepare("conn_outgoing_pause",
             "UPDATE connector_state SET outgoing_paused_until = " + T2 +
                 " WHERE connector_id = $1");
  db.Prepare("conn_success_outgoing",
             "INSERT INTO connector_state (connector_id, last_check_at, last_success_check_at, "
             "last_outgoing_success_at, consecutive_outgoing_errors) VALUES ($1, " +
                 T2 + ", " + T2 + ", " + T2 +
                 ", 0) ON CONFLICT (connector_id) DO UPDATE SET last_check_at = "
                 "excluded.last_check_at, last_success_check_at = excluded.last_success_check_at, "
                 "last_outgoing_success_at = excluded.last_outgoing_success_at, "
                 "consecutive_outgoing_errors = 0, outgoing_paused_until = NULL");
  db.Prepare("conn_auto_disable",
             "UPDATE connectors SET status = 'disabled_by_system', version = version + 1, "
             "modified_at = " +
                 T2 +
                 ", modified_by = 'system' WHERE id = $1 AND status = "
                 "'active' RETURNING name, version");
  db.Prepare("conn_state_disabled",
             "UPDATE connector_state SET auto_disabled_reason = $3, auto_disabled_at = " + T2 +
                 " WHERE connector_id = $1");
  db.Prepare("conn_audit_disable",
             "INSERT INTO audit_log (at, actor, kind, object, action, version, before, after) "
             "VALUES (" +
                 T2 +
                 ", 'system', 'connector', $1, 'auto_disable', $3, "
                 "jsonb_build_object('status', 'active'), jsonb_build_object("
                 "'status', 'disabled_by_system', 'auto_disabled_reason', "
                 "$4::text))");
  db.Prepare("conn_webhook_disabled",
             "SELECT postroom_queue_webhook_event('connector.auto_disabled', NULL, $1, "
             "jsonb_build_object('connector', $2::text, 'direction', $3::text, "
             "'consecutive_errors', $4::int, 'error_class', $5::text, 'reason', $6::text))");
  db.Prepare("conn_notice",
             "INSERT INTO outbox (connector_id, kind, reason, to_address, subject, body_text, "
             "dedupe_key) SELECT (SELECT id FROM connectors WHERE system_default), 'email', "
             "'notification', s.spec->>'value', $2, $3, $1 FROM settings s WHERE s.key = "
             "'admin_notification_address' AND coalesce(s.spec->>'value', '') <> '' "
             "ON CONFLICT (dedupe_key) DO NOTHING");
}

void QueueAdminNotice(pqxx::work& t, const AdminNotice& n) {
  t.exec_prepared("conn_notice", n.dedupe_key, n.subject, n.body);
}

ConnectorFailureResult RecordConnectorFailure(pqxx::work& t, const ConnectorFailure& f) {
  ConnectorFailureResult out;
  const bool outgoing = f.direction == Direction::kOutgoing;
  if (outgoing) {
    // The lock makes concurrent failures of one outage wait here, then see the pause the first
    // one set.
    t.exec_prepared("conn_state_ensure", f.connector_id);
    pqxx::row paused = t.exec_prepared1("conn_outgoing_pause_lock", f.connector_id);
    if (!paused[0].is_null() && absl::FromUnixMillis(paused[0].as<int64_t>()) > f.at) {
      out.counted = false;
      out.paused_until = absl::FromUnixMillis(paused[0].as<int64_t>());
      out.consecutive_errors = t.exec_prepared1("conn_failure_outgoing_noted", f.connector_id,
                                                Ms(f.at), f.error, f.error_class)[0]
                                   .as<int>();
      return out;
    }
  }
  out.consecutive_errors =
      t.exec_prepared1(outgoing ? "conn_failure_outgoing" : "conn_failure_incoming", f.connector_id,
                       Ms(f.at), f.error, f.error_class)[0]
          .as<int>();
  if (outgoing) {
    out.paused_until =
        f.at + OutgoingPause(f.pause_initial, f.pause_max, out.consecutive_errors);
    t.exec_prepared("conn_outgoing_pause", f.connector_id, Ms(out.paused_until));
  }
  if (f.threshold > 0 && out.consecutive_errors >= f.threshold) {
    std::string reason =
        absl::StrCat(out.consecutive_errors, " consecutive ", outgoing ? "outgoing " : "",
                     f.error_class, " errors; last: ", f.error);
    pqxx::result r = t.exec_prepared("conn_auto_disable", f.connector_id, Ms(f.at));
    if (!r.empty()) {
      out.auto_disabled = true;
      t.exec_prepared("conn_state_disabled", f.connector_id, Ms(f.at), reason);
      t.exec_prepared("conn_audit_disable", r[0][0].as<std::string>(), Ms(f.at),
                      r[0][1].as<int64_t>(), reason);
      QueueAdminNotice(t, f.notice);
      t.exec_prepared("conn_webhook_disabled", f.connector_id, r[0][0].as<std::string>(),
                      std::string(outgoing ? "outgoing" : "incoming"), out.consecutive_errors,
                      f.error_class, reason);
    }
  }
  return out;
}

void RecordOutgoingSuccess(pqxx::work& t, int64_t connector_id, absl::Time at) {
  t.exec_prepared("conn_success_outgoing", connector_id, Ms(at));
}

}  // namespace postroom::store
