#include "libs/store/pg_config_store.h"

#include "absl/strings/str_cat.h"

namespace postroom::store {
namespace {

// Timestamps cross the wire as milliseconds since the epoch: libpqxx 6.4 has no conversion
// for absl::Time, and integers avoid parsing PostgreSQL's text format.
constexpr char kMs[] = "(extract(epoch from %s) * 1000)::bigint";

std::string Ms(const char* column) {
  std::string out = kMs;
  return out.replace(out.find("%s"), 2, column);
}

absl::Time TimeOf(const pqxx::field& f) {
  if (f.is_null()) return absl::InfinitePast();
  return absl::FromUnixMillis(f.as<int64_t>());
}

const char* Table(DocumentKind kind) {
  switch (kind) {
    case DocumentKind::kTemplate: return "templates";
    case DocumentKind::kBlockedAddress: return "blocked_addresses";
    case DocumentKind::kSetting: return "settings";
    case DocumentKind::kWebhook: return "webhooks";
  }
  return "settings";
}
const char* KeyColumn(DocumentKind kind) {
  switch (kind) {
    case DocumentKind::kTemplate: return "name";
    case DocumentKind::kBlockedAddress: return "pattern";
    case DocumentKind::kSetting: return "key";
    case DocumentKind::kWebhook: return "name";
  }
  return "key";
}
const char* KindName(DocumentKind kind) { return Table(kind); }

const std::string kConnectorColumns =
    "id, name, protocol, direction, status, system_default, spec::text, version, " +
    Ms("modified_at") + ", modified_by, " + Ms("connection_changed_at");

ConnectorRecord ConnectorFromRow(const pqxx::row& r) {
  ConnectorRecord c;
  c.id = r[0].as<int64_t>();
  c.name = r[1].as<std::string>();
  c.protocol = r[2].as<std::string>();
  c.direction = r[3].as<std::string>();
  c.status = r[4].as<std::string>();
  c.system_default = r[5].as<bool>();
  c.spec_json = r[6].as<std::string>();
  c.version = r[7].as<int64_t>();
  c.modified_at = TimeOf(r[8]);
  c.modified_by = r[9].as<std::string>();
  c.connection_changed_at = TimeOf(r[10]);
  return c;
}

const std::string kRouteColumns =
    "id, connector_id, name, position, is_fallback, when_json::text, then_json::text, "
    "test_mode_only, description, version, " +
    Ms("modified_at") + ", modified_by";

RouteRecord RouteFromRow(const pqxx::row& r) {
  RouteRecord x;
  x.id = r[0].as<int64_t>();
  x.connector_id = r[1].as<int64_t>();
  x.name = r[2].as<std::string>();
  x.position = r[3].as<int>();
  x.fallback = r[4].as<bool>();
  x.when_json = r[5].as<std::string>();
  x.then_json = r[6].as<std::string>();
  x.test_mode_only = r[7].as<bool>();
  x.description = r[8].as<std::string>();
  x.version = r[9].as<int64_t>();
  x.modified_at = TimeOf(r[10]);
  x.modified_by = r[11].as<std::string>();
  return x;
}

int64_t MsOf(absl::Time t) { return absl::ToUnixMillis(t); }

class PgConfigTx : public ConfigTx {
 public:
  explicit PgConfigTx(pqxx::work& t) : t_(t) {}

  absl::StatusOr<std::optional<ConnectorRecord>> FindConnector(const std::string& name,
                                                               bool lock) override {
    pqxx::result r = t_.exec_params(absl::StrCat("SELECT ", kConnectorColumns,
                                                 " FROM connectors WHERE name = $1",
                                                 lock ? " FOR UPDATE" : ""),
                                    name);
    if (r.empty()) return std::optional<ConnectorRecord>();
    return std::optional<ConnectorRecord>(ConnectorFromRow(r[0]));
  }
  absl::StatusOr<std::vector<ConnectorRecord>> ListConnectors() override {
    pqxx::result r = t_.exec_prepared("config_list_connectors");
    std::vector<ConnectorRecord> out;
    for (const auto& row : r) out.push_back(ConnectorFromRow(row));
    return out;
  }
  absl::Status InsertConnector(ConnectorRecord& c) override {
    pqxx::result r = t_.exec_prepared("config_insert_connector", c.name, c.protocol, c.direction,
                                      c.status, c.system_default, c.spec_json, c.version,
                                      MsOf(c.modified_at), c.modified_by,
                                      MsOf(c.connection_changed_at));
    c.id = r[0][0].as<int64_t>();
    t_.exec_params("INSERT INTO connector_state (connector_id) VALUES ($1)", c.id);
    return absl::OkStatus();
  }
  absl::Status UpdateConnector(const ConnectorRecord& c) override {
    t_.exec_prepared("config_update_connector", c.id, c.protocol, c.direction, c.status,
                     c.system_default, c.spec_json, c.version, MsOf(c.modified_at),
                     c.modified_by, MsOf(c.connection_changed_at));
    return absl::OkStatus();
  }
  absl::Status DeleteConnector(int64_t id) override {
    t_.exec_params("DELETE FROM connectors WHERE id = $1", id);
    return absl::OkStatus();
  }
  absl::StatusOr<StoredMail> CountStoredMail(int64_t id) override {
    return MailOf(t_.exec_prepared1("config_count_mail", id));
  }
  absl::StatusOr<StoredMail> PurgeStoredMail(int64_t id) override {
    return MailOf(t_.exec_prepared1("config_purge_mail", id));
  }
  static StoredMail MailOf(const pqxx::row& row) {
    return {.messages = row[0].as<int64_t>(), .work_items = row[1].as<int64_t>(),
            .outbox = row[2].as<int64_t>()};
  }
  absl::Status KeepMailboxTombstone(int64_t id, const std::string& mailbox) override {
    t_.exec_prepared("config_keep_tombstone", id, mailbox);
    return absl::OkStatus();
  }
  absl::StatusOr<bool> AdoptMailboxTombstone(int64_t id, const std::string& mailbox) override {
    return t_.exec_prepared1("config_adopt_tombstone", id, mailbox)[0].as<int64_t>() > 0;
  }
  absl::StatusOr<ConnectorStateRecord> GetState(int64_t id) override {
    pqxx::result r = t_.exec_prepared("config_get_state", id);
    ConnectorStateRecord s;
    if (!r.empty()) ReadState(r[0], s);
    // The fetcher records backfill progress with every stored batch in the folder cursors;
    // connector_state has it only from the end of each poll (and not at all during the first).
    pqxx::result b = t_.exec_prepared("config_get_backfill", id);
    if (!b.empty() && b[0][2].as<int64_t>() > 0) {
      s.backfill_done = b[0][0].as<int64_t>();
      s.backfill_total = b[0][1].as<int64_t>();
    }
    return s;
  }
  static void ReadState(const pqxx::row& row, ConnectorStateRecord& s) {
    s.last_check_at = TimeOf(row[0]);
    s.last_success_check_at = TimeOf(row[1]);
    s.last_incoming_success_at = TimeOf(row[2]);
    s.last_outgoing_success_at = TimeOf(row[3]);
    s.last_incoming_error = row[4].as<std::string>();
    s.last_outgoing_error = row[5].as<std::string>();
    s.consecutive_incoming_errors = row[6].as<int>();
    s.consecutive_outgoing_errors = row[7].as<int>();
    s.auto_disabled_reason = row[8].as<std::string>();
    s.last_test_at = TimeOf(row[9]);
    s.last_test_passed = row[10].as<bool>();
    s.last_test_report_json = row[11].is_null() ? "" : row[11].as<std::string>();
    s.backfill_done = row[12].as<int64_t>();
    s.backfill_total = row[13].as<int64_t>();
    s.outgoing_paused_until = TimeOf(row[14]);
    s.retention_removed = row[15].as<int64_t>();
    s.default_retention_days = row[16].as<int>();
  }
  absl::Status ResetErrors(int64_t id) override {
    t_.exec_params(
        "UPDATE connector_state SET consecutive_incoming_errors = 0, "
        "consecutive_outgoing_errors = 0, auto_disabled_reason = '', auto_disabled_at = NULL, "
        "outgoing_paused_until = NULL WHERE connector_id = $1",
        id);
    return absl::OkStatus();
  }
  absl::Status RecordTest(int64_t id, absl::Time at, bool passed,
                          const std::string& report_json) override {
    // A passing test ends an outgoing pause: the fix takes effect now, not at the pause's end.
    t_.exec_params(
        "UPDATE connector_state SET last_test_at = to_timestamp($2 / 1000.0), "
        "last_test_passed = $3, last_test_report = $4::jsonb, outgoing_paused_until = CASE "
        "WHEN $3 THEN NULL ELSE outgoing_paused_until END WHERE connector_id = $1",
        id, MsOf(at), passed, report_json);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<SecretRecord>> ListSecrets(int64_t id) override {
    pqxx::result r = t_.exec_params(
        "SELECT field, key_id, sealed FROM secrets WHERE connector_id = $1 ORDER BY field", id);
    std::vector<SecretRecord> out;
    for (const auto& row : r) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                     row[2].as<std::string>()});
    }
    return out;
  }
  absl::Status PutSecret(int64_t id, const SecretRecord& s) override {
    t_.exec_params(
        "INSERT INTO secrets (connector_id, field, key_id, sealed) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (connector_id, field) DO UPDATE SET key_id = excluded.key_id, "
        "sealed = excluded.sealed, updated_at = now()",
        id, s.field, s.key_id, s.sealed);
    return absl::OkStatus();
  }
  absl::Status DeleteSecret(int64_t id, const std::string& field) override {
    t_.exec_params("DELETE FROM secrets WHERE connector_id = $1 AND field = $2", id, field);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<RouteRecord>> ListRoutes(int64_t connector_id) override {
    pqxx::result r = t_.exec_prepared("config_list_routes", connector_id);
    std::vector<RouteRecord> out;
    for (const auto& row : r) out.push_back(RouteFromRow(row));
    return out;
  }
  absl::Status InsertRoute(RouteRecord& x) override {
    pqxx::result r = t_.exec_prepared("config_insert_route", x.connector_id, x.name, x.position,
                                      x.fallback, x.when_json, x.then_json, x.test_mode_only,
                                      x.description, x.version, MsOf(x.modified_at),
                                      x.modified_by);
    x.id = r[0][0].as<int64_t>();
    return absl::OkStatus();
  }
  absl::Status UpdateRoute(const RouteRecord& x) override {
    t_.exec_prepared("config_update_route", x.id, x.position, x.when_json, x.then_json,
                     x.test_mode_only, x.description, x.version, MsOf(x.modified_at),
                     x.modified_by);
    return absl::OkStatus();
  }
  absl::Status DeleteRoute(int64_t id) override {
    t_.exec_params("DELETE FROM routes WHERE id = $1", id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<DocumentRecord>> FindDocument(DocumentKind kind,
                                                             const std::string& key,
                                                             bool lock) override {
    pqxx::result r = t_.exec_params(
        absl::StrCat("SELECT ", KeyColumn(kind), ", spec::text, version, ", Ms("modified_at"),
                     ", modified_by FROM ", Table(kind), " WHERE ", KeyColumn(kind), " = $1",
                     lock ? " FOR UPDATE" : ""),
        key);
    if (r.empty()) return std::optional<DocumentRecord>();
    return std::optional<DocumentRecord>(DocumentFromRow(r[0]));
  }
  absl::StatusOr<std::vector<DocumentRecord>> ListDocuments(DocumentKind kind) override {
    pqxx::result r = t_.exec(absl::StrCat("SELECT ", KeyColumn(kind), ", spec::text, version, ",
                                          Ms("modified_at"), ", modified_by FROM ", Table(kind),
                                          " ORDER BY ", KeyColumn(kind)));
    std::vector<DocumentRecord> out;
    for (const auto& row : r) out.push_back(DocumentFromRow(row));
    return out;
  }
  absl::Status PutDocument(DocumentKind kind, const DocumentRecord& d) override {
    t_.exec_params(
        absl::StrCat("INSERT INTO ", Table(kind), " (", KeyColumn(kind),
                     ", spec, version, modified_at, modified_by) VALUES ($1, $2::jsonb, $3, "
                     "to_timestamp($4 / 1000.0), $5) ON CONFLICT (",
                     KeyColumn(kind),
                     ") DO UPDATE SET spec = excluded.spec, version = excluded.version, "
                     "modified_at = excluded.modified_at, modified_by = excluded.modified_by"),
        d.key, d.spec_json, d.version, MsOf(d.modified_at), d.modified_by);
    return absl::OkStatus();
  }
  absl::Status DeleteDocument(DocumentKind kind, const std::string& key) override {
    t_.exec_params(
        absl::StrCat("DELETE FROM ", Table(kind), " WHERE ", KeyColumn(kind), " = $1"), key);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<SecretRecord>> GetWebhookSecret(
      const std::string& webhook) override {
    pqxx::result r = t_.exec_params(
        "SELECT secret_key_id, secret_sealed FROM webhooks WHERE name = $1 AND "
        "secret_sealed <> ''",
        webhook);
    if (r.empty()) return std::optional<SecretRecord>();
    return std::optional<SecretRecord>(
        SecretRecord{"secret", r[0][0].as<std::string>(), r[0][1].as<std::string>()});
  }
  absl::Status PutWebhookSecret(const std::string& webhook, const SecretRecord& s) override {
    pqxx::result r = t_.exec_params(
        "UPDATE webhooks SET secret_key_id = $2, secret_sealed = $3 WHERE name = $1 RETURNING 1",
        webhook, s.key_id, s.sealed);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("webhook \"", webhook, "\" does not exist"));
    return absl::OkStatus();
  }
  absl::Status AppendAudit(const AuditRecord& a) override {
    t_.exec_prepared("config_append_audit", MsOf(a.at), a.actor, a.kind, a.object, a.action,
                     a.version, a.before_json, a.after_json);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<AuditRecord>> ListAudit(const std::string& kind,
                                                    const std::string& object,
                                                    int limit) override {
    pqxx::result r = t_.exec_prepared("config_list_audit", kind, object, limit);
    std::vector<AuditRecord> out;
    for (auto row = r.rbegin(); row != r.rend(); ++row) {
      AuditRecord a;
      a.id = (*row)[0].as<int64_t>();
      a.at = TimeOf((*row)[1]);
      a.actor = (*row)[2].as<std::string>();
      a.kind = (*row)[3].as<std::string>();
      a.object = (*row)[4].as<std::string>();
      a.action = (*row)[5].as<std::string>();
      a.version = (*row)[6].as<int64_t>();
      a.before_json = (*row)[7].is_null() ? "" : (*row)[7].as<std::string>();
      a.after_json = (*row)[8].is_null() ? "" : (*row)[8].as<std::string>();
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  static DocumentRecord DocumentFromRow(const pqxx::row& r) {
    DocumentRecord d;
    d.key = r[0].as<std::string>();
    d.spec_json = r[1].as<std::string>();
    d.version = r[2].as<int64_t>();
    d.modified_at = TimeOf(r[3]);
    d.modified_by = r[4].as<std::string>();
    return d;
  }

  pqxx::work& t_;
};

}  // namespace

PgConfigStore::PgConfigStore(Database& db) : db_(db) {
  db_.Prepare("config_list_connectors",
              absl::StrCat("SELECT ", kConnectorColumns, " FROM connectors ORDER BY name"));
  db_.Prepare("config_insert_connector",
              "INSERT INTO connectors (name, protocol, direction, status, system_default, spec, "
              "version, modified_at, modified_by, connection_changed_at) VALUES ($1, $2, $3, $4, "
              "$5, $6::jsonb, $7, to_timestamp($8 / 1000.0), $9, to_timestamp($10 / 1000.0)) "
              "RETURNING id");
  db_.Prepare("config_update_connector",
              "UPDATE connectors SET protocol = $2, direction = $3, status = $4, "
              "system_default = $5, spec = $6::jsonb, version = $7, "
              "modified_at = to_timestamp($8 / 1000.0), modified_by = $9, "
              "connection_changed_at = to_timestamp($10 / 1000.0) WHERE id = $1");
  db_.Prepare("config_get_state",
              absl::StrCat("SELECT ", Ms("last_check_at"), ", ", Ms("last_success_check_at"), ", ",
                           Ms("last_incoming_success_at"), ", ", Ms("last_outgoing_success_at"),
                           ", last_incoming_error, last_outgoing_error, "
                           "consecutive_incoming_errors, consecutive_outgoing_errors, "
                           "auto_disabled_reason, ",
                           Ms("last_test_at"),
                           ", last_test_passed, last_test_report::text, backfill_done, backfill_total, ",
                           Ms("outgoing_paused_until"),
                           ", retention_removed, postroom_retention_default_days()"
                           " FROM connector_state WHERE connector_id = $1"));
  // The work items a purge removes: made from the connector's mail, joined by no other's.
  const std::string own_items =
      "SELECT w.id FROM work_items w WHERE w.connector_id = $1 AND NOT EXISTS (SELECT 1 FROM "
      "messages m WHERE m.work_item_id = w.id AND m.connector_id <> $1)";
  db_.Prepare("config_count_mail",
              "SELECT (SELECT count(*) FROM messages WHERE connector_id = $1), (SELECT count(*) "
              "FROM (" + own_items + ") w), (SELECT count(*) FROM outbox o JOIN messages m ON "
              "m.id = o.message_id WHERE m.connector_id = $1)");
  db_.Prepare("config_purge_mail",
              "WITH o AS (DELETE FROM outbox o USING messages m WHERE o.message_id = m.id AND "
              "m.connector_id = $1 RETURNING 1), w AS (DELETE FROM work_items WHERE id IN (" +
                  own_items +
                  ") RETURNING 1), m AS (DELETE FROM messages WHERE connector_id = $1 "
                  "RETURNING 1) SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM w), "
                  "(SELECT count(*) FROM o)");
  // A connector that never fetched leaves no position: an older tombstone of the mailbox stays.
  db_.Prepare("config_keep_tombstone",
              "WITH c AS (SELECT coalesce(jsonb_agg(jsonb_build_object('folder', folder, "
              "'uidvalidity', uidvalidity, 'last_uid', last_uid, 'delta_link', delta_link, "
              "'backfill_done', backfill_done, 'backfill_total', backfill_total)), '[]') AS "
              "cursors FROM folder_cursors WHERE connector_id = $1), p AS (SELECT "
              "coalesce(array_agg(uidl), '{}') AS uidls FROM pop3_seen WHERE connector_id = $1) "
              "INSERT INTO mailbox_tombstones (mailbox, connector, cursors, pop3_uidls) SELECT "
              "$2, k.name, c.cursors, p.uidls FROM connectors k, c, p WHERE k.id = $1 AND "
              "(jsonb_array_length(c.cursors) > 0 OR cardinality(p.uidls) > 0) ON CONFLICT "
              "(mailbox) DO UPDATE SET connector = excluded.connector, deleted_at = now(), "
              "cursors = excluded.cursors, pop3_uidls = excluded.pop3_uidls");
  db_.Prepare("config_adopt_tombstone",
              "WITH t AS (DELETE FROM mailbox_tombstones WHERE mailbox = $2 RETURNING cursors, "
              "pop3_uidls), c AS (INSERT INTO folder_cursors (connector_id, folder, uidvalidity, "
              "last_uid, delta_link, backfill_done, backfill_total) SELECT $1, x.folder, "
              "x.uidvalidity, x.last_uid, x.delta_link, x.backfill_done, x.backfill_total FROM "
              "t, jsonb_to_recordset(t.cursors) AS x(folder text, uidvalidity bigint, last_uid "
              "bigint, delta_link text, backfill_done bigint, backfill_total bigint) ON CONFLICT "
              "DO NOTHING), p AS (INSERT INTO pop3_seen (connector_id, uidl) SELECT $1, "
              "unnest(t.pop3_uidls) FROM t ON CONFLICT DO NOTHING) SELECT count(*) FROM t");
  db_.Prepare("config_get_backfill",
              "SELECT coalesce(sum(backfill_done), 0)::bigint, "
              "coalesce(sum(backfill_total), 0)::bigint, count(*) "
              "FROM folder_cursors WHERE connector_id = $1");
  db_.Prepare("config_list_routes", absl::StrCat("SELECT ", kRouteColumns,
                                                 " FROM routes WHERE connector_id = $1 "
                                                 "ORDER BY position"));
  db_.Prepare("config_insert_route",
              "INSERT INTO routes (connector_id, name, position, is_fallback, when_json, "
              "then_json, test_mode_only, description, version, modified_at, modified_by) "
              "VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, "
              "to_timestamp($10 / 1000.0), $11) RETURNING id");
  db_.Prepare("config_update_route",
              "UPDATE routes SET position = $2, when_json = $3::jsonb, then_json = $4::jsonb, "
              "test_mode_only = $5, description = $6, version = $7, "
              "modified_at = to_timestamp($8 / 1000.0), modified_by = $9 WHERE id = $1");
  db_.Prepare("config_append_audit",
              "INSERT INTO audit_log (at, actor, kind, object, action, version, before, after) "
              "VALUES (to_timestamp($1 / 1000.0), $2, $3, $4, $5, $6, NULLIF($7, '')::jsonb, "
              "NULLIF($8, '')::jsonb)");
  db_.Prepare("config_list_audit",
              absl::StrCat("SELECT id, ", Ms("at"),
                           ", actor, kind, object, action, version, before::text, after::text "
                           "FROM audit_log WHERE kind = $1 AND object = $2 "
                           "ORDER BY id DESC LIMIT $3"));
}

absl::Status PgConfigStore::InTransaction(const std::function<absl::Status(ConfigTx&)>& fn) {
  return db_.Transact([&](pqxx::work& t) {
    PgConfigTx tx(t);
    return fn(tx);
  });
}

}  // namespace postroom::store
