#include "libs/store/pg_outbox_store.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "libs/store/connector_errors.h"

namespace postroom::store {
namespace {

int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

std::string MsCol(const std::string& column) {
  return absl::StrCat("(extract(epoch from ", column, ") * 1000)::bigint");
}

std::optional<absl::Time> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return absl::FromUnixMillis(f.as<int64_t>());
}

const std::string& ItemColumns() {
  static const std::string* cols = new std::string(absl::StrCat(
      "o.id, coalesce(o.connector_id, 0), coalesce(c.name, ''), o.kind, o.reason, o.status, "
      "o.to_address, o.subject, o.body_text, o.body_html, o.headers::text, o.attempts, ",
      MsCol("o.due_at"), ", ", MsCol("o.created_at"), ", ", MsCol("o.sent_at"), ", ",
      MsCol("o.last_attempt_at"), ", o.last_error, o.last_error_class, o.claimed_by, ",
      MsCol("o.claimed_until"),
      ", o.claim_token, coalesce(o.work_item_id, 0), coalesce(o.message_id, 0), "
      "coalesce(o.dedupe_key, ''), o.smtp_message_id, o.webhook, o.event"));
  return *cols;
}

OutboxItem ItemOf(const pqxx::row& r) {
  OutboxItem o;
  o.id = r[0].as<int64_t>();
  o.connector_id = r[1].as<int64_t>();
  o.connector = r[2].as<std::string>();
  o.kind = r[3].as<std::string>();
  o.reason = r[4].as<std::string>();
  o.status = r[5].as<std::string>();
  o.to_address = r[6].as<std::string>();
  o.subject = r[7].as<std::string>();
  o.body_text = r[8].as<std::string>();
  o.body_html = r[9].as<std::string>();
  o.headers_json = r[10].as<std::string>();
  o.attempts = r[11].as<int>();
  o.due_at = absl::FromUnixMillis(r[12].as<int64_t>());
  o.created_at = absl::FromUnixMillis(r[13].as<int64_t>());
  o.sent_at = OptTime(r[14]);
  o.last_attempt_at = OptTime(r[15]);
  o.last_error = r[16].as<std::string>();
  o.last_error_class = r[17].as<std::string>();
  o.claimed_by = r[18].as<std::string>();
  o.claimed_until = OptTime(r[19]);
  o.claim_token = r[20].as<int64_t>();
  o.work_item_id = r[21].as<int64_t>();
  o.message_id = r[22].as<int64_t>();
  o.dedupe_key = r[23].as<std::string>();
  o.smtp_message_id = r[24].as<std::string>();
  o.webhook = r[25].as<std::string>();
  o.event = r[26].as<std::string>();
  return o;
}

// Where a row goes: its own connector, else the system default.
constexpr char kEffectiveConnector[] =
    "coalesce(o.connector_id, (SELECT id FROM connectors WHERE system_default))";

// A webhook row the sender may take: its webhook is enabled and no earlier row of the same
// (webhook, work item) is still queued (outbox_webhook_order answers that in one probe).
constexpr char kWebhookSendable[] =
    "EXISTS (SELECT 1 FROM webhooks w WHERE w.name = o.webhook AND "
    "coalesce((w.spec->>'enabled')::boolean, true)) AND (o.work_item_id IS NULL OR NOT EXISTS "
    "(SELECT 1 FROM outbox e WHERE e.kind = 'webhook' AND e.status = 'queued' AND e.webhook = "
    "o.webhook AND e.work_item_id = o.work_item_id AND e.id < o.id))";

}  // namespace

PgOutboxStore::PgOutboxStore(Database& db) : db_(db) {
  const std::string kNow = "to_timestamp($2::bigint / 1000.0)";
  // The subquery locks the rows it picks (SKIP LOCKED: another replica's pick is skipped, not
  // waited for); the UPDATE then claims exactly those. SMTP and Graph (sendMail) connectors.
  db_.Prepare(
      "outbox_claim",
      absl::StrCat(
          "WITH pick AS (SELECT o.id, ", kEffectiveConnector,
          " AS cid FROM outbox o WHERE o.status = 'queued' AND o.kind = 'email' AND o.due_at <= ",
          kNow, " AND (o.claimed_until IS NULL OR o.claimed_until <= ", kNow,
          ") AND EXISTS (SELECT 1 FROM connectors k WHERE k.id = ", kEffectiveConnector,
          " AND k.status = 'active' AND k.direction IN ('outgoing', 'both') AND k.protocol IN "
          "('smtp', 'graph')) ORDER BY o.due_at, o.id LIMIT $4 FOR UPDATE OF o SKIP LOCKED), "
          "upd AS (UPDATE outbox o SET connector_id = pick.cid, claimed_by = $1, claimed_until = ",
          kNow,
          " + make_interval(secs => $3::double precision / 1000), claim_token = "
          "o.claim_token + 1, attempts = o.attempts + 1, last_attempt_at = ",
          kNow, " FROM pick WHERE o.id = pick.id RETURNING o.*) SELECT ", ItemColumns(),
          " FROM upd o LEFT JOIN connectors c ON c.id = o.connector_id ORDER BY o.due_at, o.id"));
  db_.Prepare(
      "outbox_claim_webhooks",
      absl::StrCat(
          "WITH pick AS (SELECT o.id FROM outbox o WHERE o.status = 'queued' AND o.kind = "
          "'webhook' AND o.due_at <= ",
          kNow, " AND (o.claimed_until IS NULL OR o.claimed_until <= ", kNow, ") AND ",
          kWebhookSendable,
          " ORDER BY o.due_at, o.id LIMIT $4 FOR UPDATE OF o SKIP LOCKED), "
          "upd AS (UPDATE outbox o SET claimed_by = $1, claimed_until = ",
          kNow,
          " + make_interval(secs => $3::double precision / 1000), claim_token = "
          "o.claim_token + 1, attempts = o.attempts + 1, last_attempt_at = ",
          kNow, " FROM pick WHERE o.id = pick.id RETURNING o.*) SELECT ", ItemColumns(),
          ", coalesce(w.spec->>'url', ''), w.secret_sealed FROM upd o LEFT JOIN connectors c ON "
          "c.id = o.connector_id JOIN webhooks w ON w.name = o.webhook ORDER BY o.due_at, o.id"));
  db_.Prepare("outbox_list_outgoing",
              "SELECT id, name, protocol, status, system_default, spec::text, version FROM "
              "connectors WHERE status = 'active' AND direction IN ('outgoing', 'both') "
              "ORDER BY id");
  db_.Prepare("outbox_outgoing_names",
              "SELECT name FROM connectors WHERE direction IN ('outgoing', 'both') ORDER BY name");
  db_.Prepare("outbox_outgoing_secrets",
              "SELECT s.connector_id, s.field, s.sealed FROM secrets s JOIN connectors c ON "
              "c.id = s.connector_id WHERE c.status = 'active' AND c.direction IN ('outgoing', "
              "'both')");
  // A reply from the desk (reason 'reply') that ends sent or failed queues reply.delivered or
  // reply.failed for the webhooks in the same statement (docs/webhooks.md).
  db_.Prepare("outbox_finish",
              "WITH upd AS (UPDATE outbox SET status = $4, due_at = CASE WHEN $4 = 'queued' THEN "
              "to_timestamp($5::bigint / 1000.0) ELSE due_at END, sent_at = CASE WHEN $4 = "
              "'sent' THEN to_timestamp($6::bigint / 1000.0) END, last_error = $7, "
              "last_error_class = $8, smtp_message_id = CASE WHEN $9 = '' THEN smtp_message_id "
              "ELSE $9 END, claimed_by = '', claimed_until = NULL "
              "WHERE id = $1 AND claimed_by = $2 AND claim_token = $3 AND status = 'queued' "
              "RETURNING *) SELECT upd.id, CASE WHEN upd.kind = 'email' AND upd.reason = 'reply' "
              "AND upd.status IN ('sent', 'failed') THEN postroom_queue_webhook_event(CASE WHEN "
              "upd.status = 'sent' THEN 'reply.delivered' ELSE 'reply.failed' END, "
              "upd.work_item_id, upd.connector_id, jsonb_strip_nulls(jsonb_build_object("
              "'outbox_id', upd.id, 'to', upd.to_address, 'subject', left(upd.subject, 998), "
              "'smtp_message_id', NULLIF(upd.smtp_message_id, ''), 'attempts', upd.attempts, "
              "'error', NULLIF(upd.last_error, '')))) END FROM upd");
  db_.Prepare("outbox_next_due",
              absl::StrCat("SELECT (extract(epoch from min(greatest(o.due_at, "
                           "coalesce(o.claimed_until, o.due_at)))) * 1000)::bigint FROM outbox o "
                           "WHERE o.status = 'queued' AND ((o.kind = 'email' AND EXISTS "
                           "(SELECT 1 FROM connectors k WHERE k.id = ",
                           kEffectiveConnector,
                           " AND k.status = 'active' AND k.direction IN ('outgoing', 'both') "
                           "AND k.protocol IN ('smtp', 'graph'))) OR (o.kind = 'webhook' AND ",
                           kWebhookSendable, "))"));
  db_.Prepare("outbox_list",
              absl::StrCat("SELECT ", ItemColumns(),
                           " FROM outbox o LEFT JOIN connectors c ON c.id = o.connector_id "
                           "WHERE ($1 = '' OR o.status = $1) AND ($2 = '' OR c.name = $2) "
                           "AND ($3::bigint = 0 OR o.id < $3) ORDER BY o.id DESC LIMIT $4"));
  db_.Prepare("outbox_get", absl::StrCat("SELECT ", ItemColumns(),
                                         " FROM outbox o LEFT JOIN connectors c ON c.id = "
                                         "o.connector_id WHERE o.id = $1"));
  db_.Prepare("outbox_lock", "SELECT status FROM outbox WHERE id = $1 FOR UPDATE");
  db_.Prepare("outbox_retry",
              "UPDATE outbox SET status = 'queued', due_at = to_timestamp($2::bigint / 1000.0), "
              "attempts = CASE WHEN status = 'failed' THEN 0 ELSE attempts END WHERE id = $1");
  PrepareConnectorErrorStatements(db_);
}

absl::StatusOr<std::vector<OutboxItem>> PgOutboxStore::ClaimDue(const std::string& owner,
                                                                absl::Time now,
                                                                absl::Duration lease, int limit) {
  std::vector<OutboxItem> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& r :
         t.exec_prepared("outbox_claim", owner, Ms(now), absl::ToInt64Milliseconds(lease), limit)) {
      out.push_back(ItemOf(r));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<WebhookDelivery>> PgOutboxStore::ClaimDueWebhooks(
    const std::string& owner, absl::Time now, absl::Duration lease, int limit) {
  std::vector<WebhookDelivery> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& r : t.exec_prepared("outbox_claim_webhooks", owner, Ms(now),
                                         absl::ToInt64Milliseconds(lease), limit)) {
      out.push_back({.item = ItemOf(r),
                     .url = r[27].as<std::string>(),
                     .sealed_secret = r[28].as<std::string>()});
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<OutgoingConnectorRecord>> PgOutboxStore::ListOutgoing() {
  std::vector<OutgoingConnectorRecord> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& r : t.exec_prepared("outbox_list_outgoing")) {
      OutgoingConnectorRecord c;
      c.id = r[0].as<int64_t>();
      c.name = r[1].as<std::string>();
      c.protocol = r[2].as<std::string>();
      c.status = r[3].as<std::string>();
      c.system_default = r[4].as<bool>();
      c.spec_json = r[5].as<std::string>();
      c.version = r[6].as<int64_t>();
      out.push_back(std::move(c));
    }
    for (const auto& r : t.exec_prepared("outbox_outgoing_secrets")) {
      for (OutgoingConnectorRecord& c : out) {
        if (c.id != r[0].as<int64_t>()) continue;
        c.sealed_secrets.emplace_back(r[1].as<std::string>(), r[2].as<std::string>());
      }
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<std::string>> PgOutboxStore::ListOutgoingNames() {
  std::vector<std::string> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& r : t.exec_prepared("outbox_outgoing_names")) {
      out.push_back(r[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<AttemptResult> PgOutboxStore::FinishAttempt(const AttemptOutcome& o) {
  AttemptResult out;
  const char* status = o.kind == AttemptKind::kSent    ? "sent"
                       : o.kind == AttemptKind::kRetry ? "queued"
                                                       : "failed";
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out = AttemptResult();
    pqxx::result r =
        t.exec_prepared("outbox_finish", o.id, o.owner, o.claim_token, std::string(status),
                        Ms(o.next_due), Ms(o.at), o.error, o.error_class, o.smtp_message_id);
    if (r.empty()) return absl::OkStatus();  // Claim lost: the new holder decides.
    out.applied = true;
    if (o.connector_id == 0) return absl::OkStatus();
    if (o.connector_effect == AttemptOutcome::ConnectorEffect::kSuccess) {
      RecordOutgoingSuccess(t, o.connector_id, o.at);
    } else if (o.connector_effect == AttemptOutcome::ConnectorEffect::kFailure) {
      ConnectorFailureResult f = RecordConnectorFailure(t, {.connector_id = o.connector_id,
                                                            .direction = Direction::kOutgoing,
                                                            .at = o.at,
                                                            .error = o.error,
                                                            .error_class = o.error_class,
                                                            .threshold = o.threshold,
                                                            .notice = o.notice});
      out.consecutive_errors = f.consecutive_errors;
      out.auto_disabled = f.auto_disabled;
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::optional<absl::Time>> PgOutboxStore::NextDue() {
  std::optional<absl::Time> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    pqxx::row r = t.exec_prepared1("outbox_next_due");
    out = OptTime(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<OutboxItem>> PgOutboxStore::List(const OutboxFilter& f) {
  if (!f.status.empty() && f.status != "queued" && f.status != "sent" && f.status != "failed" &&
      f.status != "cancelled") {
    return absl::InvalidArgumentError(
        absl::StrCat("status \"", f.status, "\" is not one of queued, sent, failed, cancelled"));
  }
  std::vector<OutboxItem> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& r : t.exec_prepared("outbox_list", f.status, f.connector, f.before_id,
                                         f.limit > 0 ? f.limit : 100)) {
      out.push_back(ItemOf(r));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<OutboxItem> PgOutboxStore::Get(int64_t id) {
  OutboxItem out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    pqxx::result r = t.exec_prepared("outbox_get", id);
    if (r.empty()) {
      return absl::NotFoundError(absl::StrCat("outbox item ", id, " does not exist"));
    }
    out = ItemOf(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<OutboxItem> PgOutboxStore::RetryNow(int64_t id, absl::Time now) {
  OutboxItem out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    pqxx::result lock = t.exec_prepared("outbox_lock", id);
    if (lock.empty()) {
      return absl::NotFoundError(absl::StrCat("outbox item ", id, " does not exist"));
    }
    std::string status = lock[0][0].as<std::string>();
    if (status == "sent" || status == "cancelled") {
      return absl::FailedPreconditionError(absl::StrCat(
          "outbox item ", id, " is ", status, "; only failed or queued items can be retried"));
    }
    t.exec_prepared("outbox_retry", id, Ms(now));
    out = ItemOf(t.exec_prepared1("outbox_get", id));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace postroom::store
