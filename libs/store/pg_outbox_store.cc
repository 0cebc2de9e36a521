#include "libs/store/pg_outbox_store.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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
      "coalesce(o.dedupe_key, ''), o.smtp_message_id, o.bounce_status, o.bounce_diagnostic, "
      "o.from_address, o.cc, "
      "(SELECT count(*) FROM outbox_attachments a WHERE a.outbox_id = o.id)::int, o.webhook, o.event"));
  return *cols;
}

constexpr int kItemColumnCount = 32;  // What ItemColumns() selects; ItemOf reads them.

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
  o.bounce_status = r[25].as<std::string>();
  o.bounce_diagnostic = r[26].as<std::string>();
  o.from_address = r[27].as<std::string>();
  o.cc = absl::StrSplit(r[28].as<std::string>(), ',', absl::SkipEmpty());
  o.attachment_count = r[29].as<int>();
  o.webhook = r[30].as<std::string>();
  o.event = r[31].as<std::string>();
  return o;
}

constexpr char kSuppressionColumns[] =
    "s.id, s.connector_id, c.name, s.address, s.reason, s.dsn_status, s.diagnostic, "
    "(extract(epoch from s.created_at) * 1000)::bigint, coalesce(s.source_outbox_id, 0), "
    "coalesce(s.source_message_id, 0)";

SuppressionRecord SuppressionOf(const pqxx::row& r) {
  SuppressionRecord s;
  s.id = r[0].as<int64_t>();
  s.connector_id = r[1].as<int64_t>();
  s.connector = r[2].as<std::string>();
  s.address = r[3].as<std::string>();
  s.reason = r[4].as<std::string>();
  s.dsn_status = r[5].as<std::string>();
  s.diagnostic = r[6].as<std::string>();
  s.created_at = absl::FromUnixMillis(r[7].as<int64_t>());
  s.source_outbox_id = r[8].as<int64_t>();
  s.source_message_id = r[9].as<int64_t>();
  return s;
}

// Where a row goes: its own connector, else the system default.
constexpr char kEffectiveConnector[] =
    "coalesce(o.connector_id, (SELECT id FROM connectors WHERE system_default))";

// When the row's connector sends again after a failure paused it (connector_errors.h); NULL
// when it is not paused.
std::string PausedUntil() {
  return absl::StrCat(
      "(SELECT s.outgoing_paused_until FROM connector_state s WHERE s.connector_id = ",
      kEffectiveConnector, ")");
}

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
  // A picked automatic row (reason ack) whose address bounced for good after it was queued is
  // not claimed but recorded `suppressed` (postroom_address_suppressed; docs/sender.md).
  db_.Prepare(
      "outbox_claim",
      absl::StrCat(
          "WITH pick AS (SELECT o.id, ", kEffectiveConnector,
          " AS cid, o.reason = 'ack' AND postroom_address_suppressed(o.connector_id, "
          "o.to_address) AS suppressed FROM outbox o WHERE o.status = 'queued' AND o.kind = "
          "'email' AND o.due_at <= ",
          kNow, " AND (o.claimed_until IS NULL OR o.claimed_until <= ", kNow,
          ") AND EXISTS (SELECT 1 FROM connectors k WHERE k.id = ", kEffectiveConnector,
          " AND k.status = 'active' AND k.direction IN ('outgoing', 'both') AND k.protocol IN "
          "('smtp', 'graph')) AND coalesce(",
          PausedUntil(), " <= ", kNow,
          ", true) ORDER BY o.due_at, o.id LIMIT $4 FOR UPDATE OF o SKIP LOCKED), "
          "sup AS (UPDATE outbox o SET connector_id = pick.cid, status = 'suppressed', "
          "last_error_class = 'suppressed', last_error = 'not sent: ' || o.to_address || "
          "' is on the suppression list of this connector (it bounced permanently)', "
          "last_attempt_at = ",
          kNow, " FROM pick WHERE o.id = pick.id AND pick.suppressed), ",
          "upd AS (UPDATE outbox o SET connector_id = pick.cid, claimed_by = $1, claimed_until = ",
          kNow,
          " + make_interval(secs => $3::double precision / 1000), claim_token = "
          "o.claim_token + 1, attempts = o.attempts + 1, last_attempt_at = ",
          kNow, " FROM pick WHERE o.id = pick.id AND NOT pick.suppressed RETURNING o.*) SELECT ",
          ItemColumns(),
          " FROM upd o LEFT JOIN connectors c ON c.id = o.connector_id ORDER BY o.due_at, o.id"));
  db_.Prepare("outbox_connector_id",
              "SELECT id FROM connectors WHERE name = $1 AND direction IN ('outgoing', 'both')");
  db_.Prepare("outbox_list_suppressions",
              absl::StrCat("SELECT ", kSuppressionColumns,
                           " FROM suppressions s JOIN connectors c ON c.id = s.connector_id "
                           "WHERE ($1 = '' OR c.name = $1) AND ($2::bigint = 0 OR s.id < $2) "
                           "ORDER BY s.id DESC LIMIT $3"));
  db_.Prepare("outbox_delete_suppression",
              absl::StrCat("DELETE FROM suppressions s USING connectors c WHERE c.id = "
                           "s.connector_id AND c.id = $1 AND s.address = lower(btrim($2)) "
                           "RETURNING ",
                           kSuppressionColumns));
  db_.Prepare("outbox_audit_suppression",
              "INSERT INTO audit_log (at, actor, kind, object, action, before) VALUES "
              "(to_timestamp($1::bigint / 1000.0), $2, 'suppression', $3, 'delete', "
              "jsonb_build_object('address', $4::text, 'reason', $5::text, 'dsn_status', "
              "$6::text, 'diagnostic', $7::text, 'created_at', to_timestamp($8::bigint / "
              "1000.0), 'source_outbox_id', $9::bigint, 'source_message_id', $10::bigint))");
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
              "ELSE $9 END, claimed_by = '', claimed_until = NULL, attempts = attempts - $10 "
              "WHERE id = $1 AND claimed_by = $2 AND claim_token = $3 AND status = 'queued' "
              "RETURNING *) SELECT upd.id, CASE WHEN upd.kind = 'email' AND upd.reason = 'reply' "
              "AND upd.status IN ('sent', 'failed') THEN postroom_queue_webhook_event(CASE WHEN "
              "upd.status = 'sent' THEN 'reply.delivered' ELSE 'reply.failed' END, "
              "upd.work_item_id, upd.connector_id, jsonb_strip_nulls(jsonb_build_object("
              "'outbox_id', upd.id, 'to', upd.to_address, 'subject', left(upd.subject, 998), "
              "'smtp_message_id', NULLIF(upd.smtp_message_id, ''), 'attempts', upd.attempts, "
              "'error', NULLIF(upd.last_error, '')))) END FROM upd");
  db_.Prepare("outbox_due_not_before",
              "UPDATE outbox SET due_at = to_timestamp($2::bigint / 1000.0) WHERE id = $1");
  db_.Prepare("outbox_next_due",
              absl::StrCat("SELECT (extract(epoch from min(greatest(o.due_at, "
                           "coalesce(o.claimed_until, o.due_at), coalesce(CASE WHEN o.kind = 'email' THEN ",
                           PausedUntil(),
                           " END, o.due_at)))) * 1000)::bigint FROM outbox o "
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
              "attempts = CASE WHEN status IN ('failed', 'suppressed') THEN 0 ELSE attempts END "
              "WHERE id = $1");
  PrepareReplyStatements();
  PrepareConnectorErrorStatements(db_);
}

void PgOutboxStore::PrepareReplyStatements() {
  // The outgoing connector a work item's replies go through: its incoming connector's
  // outgoing_connector, else the system default.
  db_.Prepare(
      "reply_work_item",
      "SELECT w.id, w.reference, w.subject, w.requester_address, coalesce(c.name, ''), "
      "coalesce(c.spec::text, ''), coalesce(k.id, 0), coalesce(k.name, ''), "
      "coalesce(k.spec::text, '') FROM work_items w LEFT JOIN connectors c ON c.id = "
      "w.connector_id LEFT JOIN LATERAL (SELECT id, name, spec FROM connectors k WHERE "
      "k.direction IN ('outgoing', 'both') AND (k.name = c.spec ->> 'outgoing_connector' OR "
      "k.system_default) ORDER BY k.name = c.spec ->> 'outgoing_connector' DESC NULLS LAST "
      "LIMIT 1) k ON true WHERE w.id = $1");
  const std::string kMessagesOf =
      "SELECT m.id, m.message_id FROM work_item_messages l JOIN messages m ON m.id = "
      "l.message_id WHERE l.work_item_id = $1 ORDER BY l.event_id ";
  db_.Prepare("reply_first_message", kMessagesOf + "LIMIT 1");
  db_.Prepare("reply_last_messages", absl::StrCat(kMessagesOf, "DESC LIMIT ",
                                                  kMaxReplyReferences - 1));
  db_.Prepare(
      "reply_first_recipients",
      "SELECT x FROM (SELECT m.summary FROM work_item_messages l JOIN messages m ON m.id = "
      "l.message_id WHERE l.work_item_id = $1 ORDER BY l.event_id LIMIT 1) f, "
      "jsonb_array_elements_text(CASE WHEN jsonb_typeof(f.summary -> 'sent_to') = 'string' "
      "THEN jsonb_build_array(f.summary -> 'sent_to') ELSE '[]' END || "
      "CASE WHEN jsonb_typeof(f.summary -> 'to') = 'array' THEN "
      "f.summary -> 'to' ELSE '[]' END || CASE WHEN jsonb_typeof(f.summary -> 'cc') = 'array' "
      "THEN f.summary -> 'cc' ELSE '[]' END) x LIMIT 200");
  db_.Prepare("reply_insert",
              "INSERT INTO outbox (connector_id, reason, to_address, cc, from_address, subject, "
              "body_text, body_html, headers, work_item_id, message_id, dedupe_key, due_at) "
              "VALUES (NULLIF($1::bigint, 0), $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, "
              "NULLIF($11::bigint, 0), NULLIF($12, ''), to_timestamp($13::bigint / 1000.0)) "
              "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id");
  db_.Prepare("reply_by_dedupe_key", "SELECT id FROM outbox WHERE dedupe_key = $1");
  db_.Prepare("reply_attachment_insert",
              "INSERT INTO outbox_attachments (outbox_id, position, filename, content_type, "
              "content) VALUES ($1, $2, $3, $4, $5)");
  db_.Prepare("outbox_attachments",
              "SELECT filename, content_type, content FROM outbox_attachments WHERE outbox_id = "
              "$1 ORDER BY position");
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
      // The webhook's url and secret follow ItemColumns' kItemColumnCount columns.
      out.push_back({.item = ItemOf(r),
                     .url = r[kItemColumnCount].as<std::string>(),
                     .sealed_secret = r[kItemColumnCount + 1].as<std::string>()});
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
                        Ms(o.next_due), Ms(o.at), o.error, o.error_class, o.smtp_message_id,
                        o.tried ? 0 : 1);
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
                                                            .notice = o.notice,
                                                            .pause_initial = o.pause_initial,
                                                            .pause_max = o.pause_max});
      out.consecutive_errors = f.consecutive_errors;
      out.auto_disabled = f.auto_disabled;
      out.counted = f.counted;
      out.paused_until = f.paused_until;
      // The row is tried when the connector sends again, not sooner: its due time says so.
      if (o.kind == AttemptKind::kRetry && f.paused_until > o.next_due) {
        t.exec_prepared("outbox_due_not_before", o.id, Ms(f.paused_until));
      }
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
      f.status != "cancelled" && f.status != "bounced" && f.status != "suppressed") {
    return absl::InvalidArgumentError(absl::StrCat(
        "status \"", f.status,
        "\" is not one of queued, sent, failed, cancelled, bounced, suppressed"));
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
    if (status == "sent" || status == "cancelled" || status == "bounced") {
      return absl::FailedPreconditionError(absl::StrCat(
          "outbox item ", id, " is ", status,
          "; only failed, suppressed or queued items can be retried"));
    }
    t.exec_prepared("outbox_retry", id, Ms(now));
    out = ItemOf(t.exec_prepared1("outbox_get", id));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<SuppressionRecord>> PgOutboxStore::ListSuppressions(
    const SuppressionFilter& f) {
  std::vector<SuppressionRecord> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    if (!f.connector.empty() && t.exec_prepared("outbox_connector_id", f.connector).empty()) {
      return absl::NotFoundError(
          absl::StrCat("connector \"", f.connector, "\" is not an outgoing connector"));
    }
    for (const auto& r : t.exec_prepared("outbox_list_suppressions", f.connector, f.before_id,
                                         f.limit > 0 ? f.limit : 100)) {
      out.push_back(SuppressionOf(r));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<SuppressionRecord> PgOutboxStore::DeleteSuppression(const std::string& connector,
                                                                   const std::string& address,
                                                                   const std::string& actor,
                                                                   absl::Time now) {
  SuppressionRecord out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    pqxx::result c = t.exec_prepared("outbox_connector_id", connector);
    if (c.empty()) {
      return absl::NotFoundError(
          absl::StrCat("connector \"", connector, "\" is not an outgoing connector"));
    }
    pqxx::result r = t.exec_prepared("outbox_delete_suppression", c[0][0].as<int64_t>(), address);
    if (r.empty()) {
      return absl::NotFoundError(absl::StrCat("address \"", address,
                                              "\" is not suppressed for connector \"", connector,
                                              "\""));
    }
    out = SuppressionOf(r[0]);
    t.exec_prepared("outbox_audit_suppression", Ms(now), actor,
                    absl::StrCat(connector, "/", out.address), out.address, out.reason,
                    out.dsn_status, out.diagnostic, Ms(out.created_at), out.source_outbox_id,
                    out.source_message_id);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<ReplyContext> PgOutboxStore::LoadReplyContext(int64_t work_item_id) {
  ReplyContext out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out = ReplyContext();
    pqxx::result w = t.exec_prepared("reply_work_item", work_item_id);
    if (w.empty()) {
      return absl::NotFoundError(absl::StrCat("work item ", work_item_id, " does not exist"));
    }
    const pqxx::row& r = w[0];
    out.work_item_id = r[0].as<int64_t>();
    out.reference = r[1].as<std::string>();
    out.subject = r[2].as<std::string>();
    out.requester_address = r[3].as<std::string>();
    out.connector = r[4].as<std::string>();
    out.connector_spec = r[5].as<std::string>();
    out.outgoing_connector_id = r[6].as<int64_t>();
    out.outgoing_connector = r[7].as<std::string>();
    out.outgoing_spec = r[8].as<std::string>();
    std::vector<std::pair<int64_t, std::string>> messages;
    for (const auto& m : t.exec_prepared("reply_first_message", work_item_id)) {
      messages.emplace_back(m[0].as<int64_t>(), m[1].as<std::string>());
    }
    pqxx::result last = t.exec_prepared("reply_last_messages", work_item_id);
    for (auto it = last.rbegin(); it != last.rend(); ++it) {
      if (!messages.empty() && messages.front().first == (*it)[0].as<int64_t>()) continue;
      messages.emplace_back((*it)[0].as<int64_t>(), (*it)[1].as<std::string>());
    }
    for (const auto& [id, message_id] : messages) {
      if (!message_id.empty()) out.message_ids.push_back(message_id);
    }
    if (!messages.empty()) out.last_message_id = messages.back().first;
    for (const auto& a : t.exec_prepared("reply_first_recipients", work_item_id)) {
      out.first_recipients.push_back(a[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<QueuedReply> PgOutboxStore::QueueReply(
    const OutboxItem& row, const std::vector<OutboxAttachment>& files) {
  QueuedReply out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out = QueuedReply();
    pqxx::result ins = t.exec_prepared(
        "reply_insert", row.connector_id, row.reason, row.to_address, absl::StrJoin(row.cc, ","),
        row.from_address, row.subject, row.body_text, row.body_html, row.headers_json,
        row.work_item_id, row.message_id, row.dedupe_key, Ms(row.due_at));
    int64_t id = 0;
    if (ins.empty()) {
      // The same idempotency key queued it before (the unique dedupe_key decided).
      id = t.exec_prepared1("reply_by_dedupe_key", row.dedupe_key)[0].as<int64_t>();
    } else {
      id = ins[0][0].as<int64_t>();
      out.created = true;
      for (size_t i = 0; i < files.size(); ++i) {
        const OutboxAttachment& f = files[i];
        t.exec_prepared("reply_attachment_insert", id, static_cast<int>(i), f.filename,
                        f.content_type, pqxx::binarystring(f.content.data(), f.content.size()));
      }
    }
    out.item = ItemOf(t.exec_prepared1("outbox_get", id));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<OutboxAttachment>> PgOutboxStore::Attachments(int64_t outbox_id) {
  std::vector<OutboxAttachment> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& r : t.exec_prepared("outbox_attachments", outbox_id)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(),
                     pqxx::binarystring(r[2]).str()});
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace postroom::store
