#include "libs/store/pg_router_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/status_macros.h"

namespace postroom::store {
namespace {

std::string Ms(const std::string& column) {
  return absl::StrCat("coalesce((extract(epoch from ", column, ") * 1000)::bigint, 0)");
}
absl::Time TimeOrPast(const pqxx::field& f) {
  int64_t ms = f.is_null() ? 0 : f.as<int64_t>();
  return ms == 0 ? absl::InfinitePast() : absl::FromUnixMillis(ms);
}
int64_t MsOf(absl::Time t) {
  if (t == absl::InfinitePast()) return 0;
  return absl::ToUnixMillis(t);
}
// A row of the outbox columns the router reads (router_outbox_of_work_item).
OutboxRecord OutboxOf(const pqxx::row& r) {
  OutboxRecord o;
  o.id = r[0].as<int64_t>();
  o.connector_id = r[1].as<int64_t>();
  o.outgoing_connector = r[2].as<std::string>();
  o.reason = r[3].as<std::string>();
  o.status = r[4].as<std::string>();
  o.to_address = r[5].as<std::string>();
  o.subject = r[6].as<std::string>();
  o.body_text = r[7].as<std::string>();
  o.body_html = r[8].as<std::string>();
  o.headers_json = r[9].as<std::string>();
  o.work_item_id = r[10].as<int64_t>();
  o.message_id = r[11].as<int64_t>();
  o.dedupe_key = r[12].as<std::string>();
  o.created_at = TimeOrPast(r[13]);
  o.smtp_message_id = r[14].as<std::string>();
  o.bounce_status = r[15].as<std::string>();
  o.bounce_diagnostic = r[16].as<std::string>();
  return o;
}
std::string Bytes(const pqxx::field& f) {
  if (f.is_null()) return "";
  return pqxx::binarystring(f).str();
}

const std::string kMessageHead =
    "m.id, m.connector_id, c.name, m.fetch_key, m.folder, m.queue_hint, " + Ms("m.received_at") +
    ", " + Ms("m.stored_at") + ", m.size_bytes, ";
const std::string kMessageTail =
    ", m.truncated, m.message_id, m.content_sha256, m.thread_root, coalesce(m.summary::text, ''), "
    "coalesce(m.decision, ''), " +
    Ms("m.decided_at") +
    ", m.decision_step, m.decision_route, m.decision_reason, %TRACE%, "
    "coalesce(m.work_item_id, 0), coalesce(m.duplicate_of, 0), coalesce(m.spam_status, ''), "
    "m.route_attempts, m.last_error, coalesce(m.ack_outcome::text, ''), "
    "m.forgotten_at IS NOT NULL, %NEW_TEXT%";
// Reads of one record (with the trace) give the new text whole, lists its preview.
const std::string kNewTextPreview =
    absl::StrCat("left(%s.new_text, ", kNewTextPreviewChars, ")");
std::string NewTextColumn(const char* table, bool whole) {
  std::string s = whole ? "%s.new_text" : kNewTextPreview;
  s.replace(s.find("%s"), 2, table);
  return s;
}

std::string MessageColumns(bool raw, bool trace) {
  std::string tail = kMessageTail;
  tail.replace(tail.find("%TRACE%"), 7, trace ? "coalesce(m.trace::text, '')" : "''");
  tail.replace(tail.find("%NEW_TEXT%"), 10, NewTextColumn("m", trace));
  return absl::StrCat(kMessageHead, raw ? "m.raw" : "''::bytea", tail);
}
const char kMessageFrom[] = " FROM messages m JOIN connectors c ON c.id = m.connector_id ";

MessageRecord MessageFromRow(const pqxx::row& r) {
  MessageRecord m;
  m.id = r[0].as<int64_t>();
  m.connector_id = r[1].as<int64_t>();
  m.connector = r[2].as<std::string>();
  m.fetch_key = r[3].as<std::string>();
  m.folder = r[4].as<std::string>();
  m.queue_hint = r[5].as<std::string>();
  m.received_at = TimeOrPast(r[6]);
  m.stored_at = TimeOrPast(r[7]);
  m.size_bytes = r[8].as<int64_t>();
  m.raw = Bytes(r[9]);
  m.truncated = r[10].as<bool>();
  m.message_id = r[11].as<std::string>();
  m.content_sha256 = Bytes(r[12]);
  m.thread_root = r[13].as<std::string>();
  m.summary_json = r[14].as<std::string>();
  m.decision = r[15].as<std::string>();
  m.decided_at = TimeOrPast(r[16]);
  m.decision_step = r[17].as<std::string>();
  m.decision_route = r[18].as<std::string>();
  m.decision_reason = r[19].as<std::string>();
  m.trace_json = r[20].as<std::string>();
  m.work_item_id = r[21].as<int64_t>();
  m.duplicate_of = r[22].as<int64_t>();
  m.spam_status = r[23].as<std::string>();
  m.route_attempts = r[24].as<int>();
  m.last_error = r[25].as<std::string>();
  m.ack_outcome_json = r[26].as<std::string>();
  m.forgotten = r[27].as<bool>();
  m.new_text = r[28].as<std::string>();
  return m;
}

const std::string kWorkItemColumns =
    "w.id, coalesce(w.connector_id, 0), coalesce(c.name, ''), w.reference, w.source, w.queue, "
    "w.type, w.priority, w.requester_address, w.requester_name, w.subject, %BODY%, "
    "w.fields::text, w.attachments::text, w.test_mode, " +
    Ms("w.created_at") + ", " + Ms("w.updated_at") + ", %NEW_TEXT%, w.template";
std::string WorkItemColumns(bool body) {
  std::string s = kWorkItemColumns;
  s.replace(s.find("%BODY%"), 6, body ? "w.body" : "''");
  s.replace(s.find("%NEW_TEXT%"), 10, NewTextColumn("w", body));
  return s;
}
const char kWorkItemFrom[] = " FROM work_items w LEFT JOIN connectors c ON c.id = w.connector_id ";

WorkItemRecord WorkItemFromRow(const pqxx::row& r, int base = 0) {
  WorkItemRecord w;
  w.id = r[base + 0].as<int64_t>();
  w.connector_id = r[base + 1].as<int64_t>();
  w.connector = r[base + 2].as<std::string>();
  w.reference = r[base + 3].as<std::string>();
  w.source = r[base + 4].as<std::string>();
  w.queue = r[base + 5].as<std::string>();
  w.type = r[base + 6].as<std::string>();
  w.priority = r[base + 7].as<std::string>();
  w.requester_address = r[base + 8].as<std::string>();
  w.requester_name = r[base + 9].as<std::string>();
  w.subject = r[base + 10].as<std::string>();
  w.body = r[base + 11].as<std::string>();
  w.fields_json = r[base + 12].as<std::string>();
  w.attachments_json = r[base + 13].as<std::string>();
  w.test_mode = r[base + 14].as<bool>();
  w.created_at = TimeOrPast(r[base + 15]);
  w.updated_at = TimeOrPast(r[base + 16]);
  w.new_text = r[base + 17].as<std::string>();
  w.template_name = r[base + 18].as<std::string>();
  return w;
}

DocumentRecord DocFromRow(const pqxx::row& r) {
  DocumentRecord d;
  d.key = r[0].as<std::string>();
  d.spec_json = r[1].as<std::string>();
  d.version = r[2].as<int64_t>();
  return d;
}

// Fingerprint parts: a change to any object changes a count, a version sum or a time.
const char kFingerprintSql[] =
    "SELECT concat_ws(':', c.id, c.version, c.status, "
    " (SELECT concat_ws('.', count(*), sum(version), sum(position), max(modified_at)) "
    "    FROM routes WHERE connector_id = c.id), "
    " (SELECT concat_ws('.', count(*), sum(version), max(modified_at)) FROM templates), "
    " (SELECT concat_ws('.', count(*), sum(version), max(modified_at)) FROM blocked_addresses), "
    " (SELECT concat_ws('.', count(*), sum(version), max(modified_at)) FROM settings), "
    " (SELECT concat_ws('.', count(*), sum(version), max(modified_at)) FROM connectors)) "
    "FROM connectors c WHERE c.name = $1";

// p_ack_policy of postroom_commit_decision (see its file): the limits of a requested ack, or
// the router's reason for none.
std::string AckPolicyJson(const DecisionWrite& w) {
  google::protobuf::Struct s;
  auto& f = *s.mutable_fields();
  if (w.ack) {
    f["sender_key"].set_string_value(w.ack->sender_key);
    if (!w.ack->email.from_address.empty()) {
      f["from_address"].set_string_value(w.ack->email.from_address);
    }
    if (w.ack->connector_limit_per_hour >= 0) {
      f["connector_limit"].set_number_value(w.ack->connector_limit_per_hour);
      f["connector_since_ms"].set_number_value(
          static_cast<double>(MsOf(w.ack->now - absl::Hours(1))));
    }
    if (w.ack->work_item_limit > 0) {
      f["work_item_limit"].set_number_value(w.ack->work_item_limit);
      f["work_item_window_min"].set_number_value(
          static_cast<double>(absl::ToInt64Minutes(w.ack->sender_window)));
    }
  } else if ((w.create || w.append_to != 0) && !w.ack_suppressed.empty()) {
    f["suppressed"].set_string_value(w.ack_suppressed);
    f["detail"].set_string_value(w.ack_suppressed_detail);
  }
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(s, &out).ok()) return "{}";
  return out;
}

}  // namespace

PgRouterStore::PgRouterStore(Database& db) : db_(db) {
  db_.Prepare("router_fingerprint", kFingerprintSql);
  db_.Prepare("router_message_by_id",
              absl::StrCat("SELECT ", MessageColumns(false, true), kMessageFrom, "WHERE m.id = $1"));
  db_.Prepare("router_message_by_id_raw",
              absl::StrCat("SELECT ", MessageColumns(true, true), kMessageFrom, "WHERE m.id = $1"));
  db_.Prepare("router_message_by_fetch_key",
              absl::StrCat("SELECT ", MessageColumns(false, true), kMessageFrom,
                           "WHERE m.connector_id = $1 AND m.fetch_key = $2"));
  db_.Prepare("router_list_messages",
              absl::StrCat("SELECT ", MessageColumns(false, false), kMessageFrom,
                           "WHERE ($1::bigint = 0 OR m.connector_id = $1) "
                           "AND ($2 = '' OR m.decision = $2) AND (NOT $3 OR m.decision IS NULL) "
                           "AND m.stored_at >= to_timestamp($4::double precision / 1000) "
                           "AND ($5::bigint = 0 OR m.stored_at < to_timestamp($5::double precision / 1000)) "
                           "AND ($6::bigint = 0 OR m.id < $6) ORDER BY m.id DESC LIMIT $7"));
  db_.Prepare("router_work_item_by_reference", "SELECT id FROM work_items WHERE reference = $1");
  // By the unique reference first; then whether the work item's connector is this one or
  // shares its explicit prefix.
  db_.Prepare("router_follow_up_by_reference",
              "SELECT w.id FROM work_items w JOIN connectors theirs ON theirs.id = w.connector_id "
              "WHERE w.reference = $2 AND (w.connector_id = $1 OR "
              "  (coalesce(theirs.spec->>'subject_token_prefix', '') <> '' AND "
              "   theirs.spec->>'subject_token_prefix' = "
              "     (SELECT spec->>'subject_token_prefix' FROM connectors WHERE id = $1)))");
  db_.Prepare("router_duplicate_step", DuplicateStepSql());
  db_.Prepare("router_work_item_by_thread_root", WorkItemByThreadRootSql());
  db_.Prepare("router_count_acks",
              "SELECT count(*) FROM outbox WHERE reason = 'ack' AND ack_sender = $1 "
              "AND created_at >= to_timestamp($2::double precision / 1000)");
  db_.Prepare("router_count_connector_acks",
              "SELECT count(*) FROM outbox WHERE reason = 'ack' AND ack_connector_id = $1 "
              "AND created_at >= to_timestamp($2::double precision / 1000)");
  db_.Prepare("router_count_work_item_acks",
              "SELECT count(*) FROM outbox WHERE reason = 'ack' AND work_item_id = $1 "
              "AND created_at >= to_timestamp($2::double precision / 1000)");
  // The whole decision in one call (migrations 0005 and 0008 say why and what it does), one
  // statement for a group of concurrent decisions; the message's raw bytes (10th argument) and
  // content hash (13th) go as binary.
  std::vector<bool> binary_args(53, false);
  binary_args[9] = binary_args[12] = true;
  db_.PrepareGroupedCall("router_commit_decision", "postroom_commit_decision",
                         std::move(binary_args), "committing a routing decision");
  db_.Prepare(message_ids_.statement,
              "SELECT nextval('messages_id_seq') FROM generate_series(1, $1)");
  db_.Prepare(work_item_ids_.statement,
              "SELECT nextval('work_items_id_seq') FROM generate_series(1, $1)");
  // A change of the status queues message.spam_status_changed in the same statement (one
  // implicit transaction); setting the status it already has queues nothing.
  db_.Prepare("router_set_spam",
              "WITH old AS (SELECT id, coalesce(spam_status, '') AS status FROM messages "
              "WHERE id = $1 FOR UPDATE), upd AS (UPDATE messages m SET spam_status = $2 FROM "
              "old WHERE m.id = old.id RETURNING m.id, m.connector_id, m.work_item_id, "
              "old.status AS before) SELECT upd.id, CASE WHEN upd.before <> $2 THEN "
              "postroom_queue_webhook_event('message.spam_status_changed', upd.work_item_id, "
              "upd.connector_id, jsonb_build_object('message_id', upd.id, 'before', "
              "NULLIF(upd.before, ''), 'after', $2::text)) ELSE 0 END FROM upd");
  db_.Prepare("router_attempt_error",
              "UPDATE messages SET last_error = $2 WHERE id = $1 AND decision IS NULL");
  // Claiming counts the attempt in the same statement (see RouterStore::ClaimPending); mail
  // of a disabled connector is not claimed, so waiting for it to be enabled costs no attempts.
  db_.Prepare("router_claim_pending",
              "UPDATE messages SET route_claimed_at = to_timestamp($3::double precision / 1000), "
              "route_attempts = route_attempts + 1 "
              "WHERE id IN (SELECT id FROM messages WHERE decision IS NULL "
              "AND stored_at < to_timestamp($1::double precision / 1000) "
              "AND (route_claimed_at IS NULL OR "
              "     route_claimed_at < to_timestamp($2::double precision / 1000)) "
              "AND connector_id IN (SELECT id FROM connectors WHERE direction <> 'outgoing' "
              "     AND status NOT IN ('disabled', 'disabled_by_system')) "
              "ORDER BY stored_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING id");
  db_.Prepare("router_start_attempt",
              "UPDATE messages SET route_claimed_at = to_timestamp($3::double precision / 1000), "
              "route_attempts = route_attempts + 1 "
              "WHERE id = $1 AND connector_id = $2 AND decision IS NULL "
              "RETURNING route_attempts, last_error, message_id, "
              "coalesce(content_sha256, ''::bytea)");
  db_.Prepare("router_get_work_item",
              absl::StrCat("SELECT ", WorkItemColumns(true), kWorkItemFrom, "WHERE w.id = $1"));
  db_.Prepare("router_work_item_messages",
              "SELECT message_id FROM work_item_messages WHERE work_item_id = $1 ORDER BY event_id");
  db_.Prepare("router_list_work_items",
              absl::StrCat("SELECT ", WorkItemColumns(false), kWorkItemFrom,
                           "WHERE ($1 = '' OR w.queue = $1) AND ($2::bigint = 0 OR w.connector_id = $2) "
                           "AND ($3::bigint = 0 OR w.id < $3) ORDER BY w.id DESC LIMIT $4"));
  const std::string outbox_columns =
      "SELECT o.id, coalesce(o.connector_id, 0), coalesce(c.name, ''), o.reason, o.status, "
      "o.to_address, o.subject, o.body_text, o.body_html, o.headers::text, "
      "coalesce(o.work_item_id, 0), coalesce(o.message_id, 0), coalesce(o.dedupe_key, ''), " +
      Ms("o.created_at") +
      ", o.smtp_message_id, o.bounce_status, o.bounce_diagnostic "
      "FROM outbox o LEFT JOIN connectors c ON c.id = o.connector_id ";
  db_.Prepare("router_outbox_of_work_item", outbox_columns + "WHERE o.work_item_id = $1 ORDER BY o.id");
  // A bounce names a row by its id and the Message-ID the sender gave it; both must agree.
  db_.Prepare("router_outbox_for_bounce",
              outbox_columns + "WHERE o.id = $1 AND o.smtp_message_id = $2 AND "
                               "o.smtp_message_id <> '' AND o.status IN ('sent', 'bounced')");
  db_.Prepare("router_address_suppressed", "SELECT postroom_address_suppressed($1, $2)");
  db_.Prepare("router_messages_of_work_item",
              absl::StrCat("SELECT ", MessageColumns(false, true), kMessageFrom,
                           "JOIN work_item_messages l ON l.message_id = m.id "
                           "WHERE l.work_item_id = $1 ORDER BY l.event_id"));
  db_.Prepare("router_events",
              absl::StrCat("SELECT l.event_id, l.role, l.message_id, ", WorkItemColumns(false),
                           " FROM work_item_messages l JOIN work_items w ON w.id = l.work_item_id "
                           "LEFT JOIN connectors c ON c.id = w.connector_id "
                           "WHERE l.event_id > $1 AND ($2 = '' OR w.queue = $2) "
                           "ORDER BY l.event_id LIMIT $3"));
  db_.Prepare("router_latest_event",
              "SELECT coalesce(max(event_id), 0) FROM work_item_messages");
}

absl::Status PgRouterStore::Read(const std::function<absl::Status(pqxx::nontransaction&)>& fn,
                                 std::string_view what) {
  return db_.WithConnection([&](pqxx::connection& conn) -> absl::Status {
    try {
      pqxx::nontransaction t(conn);
      return fn(t);
    } catch (const std::exception& e) {
      return ToStatus(e, what);
    }
  });
}

absl::StatusOr<std::optional<std::string>> PgRouterStore::ConfigFingerprint(
    const std::string& connector) {
  std::optional<std::string> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r = t.exec_prepared("router_fingerprint", connector);
        if (!r.empty()) out = r[0][0].as<std::string>();
        return absl::OkStatus();
      },
      "reading the config fingerprint");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::optional<RouterConfigRecord>> PgRouterStore::LoadConfig(
    const std::string& connector) {
  std::optional<RouterConfigRecord> out;
  // REPEATABLE READ: one snapshot, so the fingerprint matches what was read.
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    t.exec0("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    pqxx::result fp = t.exec_prepared("router_fingerprint", connector);
    if (fp.empty()) return absl::OkStatus();
    RouterConfigRecord rec;
    rec.fingerprint = fp[0][0].as<std::string>();
    pqxx::result c = t.exec_params(
        "SELECT id, name, protocol, direction, status, system_default, spec::text, version "
        "FROM connectors WHERE name = $1",
        connector);
    if (c.empty()) return absl::OkStatus();
    ConnectorRecord& cr = rec.connector;
    cr.id = c[0][0].as<int64_t>();
    cr.name = c[0][1].as<std::string>();
    cr.protocol = c[0][2].as<std::string>();
    cr.direction = c[0][3].as<std::string>();
    cr.status = c[0][4].as<std::string>();
    cr.system_default = c[0][5].as<bool>();
    cr.spec_json = c[0][6].as<std::string>();
    cr.version = c[0][7].as<int64_t>();
    for (const auto& r : t.exec_params(
             "SELECT id, name, position, is_fallback, when_json::text, then_json::text, "
             "test_mode_only, version FROM routes WHERE connector_id = $1 ORDER BY is_fallback, "
             "position",
             cr.id)) {
      RouteRecord x;
      x.id = r[0].as<int64_t>();
      x.connector_id = cr.id;
      x.name = r[1].as<std::string>();
      x.position = r[2].as<int>();
      x.fallback = r[3].as<bool>();
      x.when_json = r[4].as<std::string>();
      x.then_json = r[5].as<std::string>();
      x.test_mode_only = r[6].as<bool>();
      x.version = r[7].as<int64_t>();
      rec.routes.push_back(std::move(x));
    }
    for (const auto& r : t.exec("SELECT name, spec::text, version FROM templates")) {
      rec.templates.push_back(DocFromRow(r));
    }
    for (const auto& r : t.exec("SELECT pattern, spec::text, version FROM blocked_addresses")) {
      rec.blocked_addresses.push_back(DocFromRow(r));
    }
    for (const auto& r : t.exec("SELECT key, spec::text, version FROM settings")) {
      rec.settings.push_back(DocFromRow(r));
    }
    for (const auto& r : t.exec("SELECT name, id, system_default FROM connectors "
                                "WHERE direction IN ('outgoing', 'both')")) {
      rec.outgoing_connectors.emplace_back(r[0].as<std::string>(), r[1].as<int64_t>());
      if (r[2].as<bool>()) rec.system_default_outgoing_id = r[1].as<int64_t>();
    }
    for (const auto& r : t.exec(
             "SELECT DISTINCT lower(a) FROM connectors c, LATERAL (SELECT c.spec->>'primary_address' "
             "UNION ALL SELECT jsonb_array_elements_text(CASE jsonb_typeof(c.spec->'aliases') "
             "WHEN 'array' THEN c.spec->'aliases' ELSE '[]' END)) x(a) WHERE coalesce(a, '') <> ''")) {
      rec.own_addresses.push_back(r[0].as<std::string>());
    }
    out = std::move(rec);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<MessageRecord> PgRouterStore::GetMessage(int64_t id, bool include_raw) {
  std::optional<MessageRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r =
            t.exec_prepared(include_raw ? "router_message_by_id_raw" : "router_message_by_id", id);
        if (!r.empty()) out = MessageFromRow(r[0]);
        return absl::OkStatus();
      },
      "reading a message");
  if (!st.ok()) return st;
  if (!out) return absl::NotFoundError(absl::StrCat("message ", id, " does not exist"));
  return *std::move(out);
}

absl::StatusOr<std::optional<MessageRecord>> PgRouterStore::FindMessageByFetchKey(
    int64_t connector_id, const std::string& fetch_key) {
  std::optional<MessageRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r = t.exec_prepared("router_message_by_fetch_key", connector_id, fetch_key);
        if (!r.empty()) out = MessageFromRow(r[0]);
        return absl::OkStatus();
      },
      "reading a message by fetch key");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<MessageRecord>> PgRouterStore::ListMessages(const MessageFilter& f) {
  std::vector<MessageRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        int64_t since = f.since == absl::InfinitePast() ? 0 : absl::ToUnixMillis(f.since);
        int64_t until = f.until == absl::InfiniteFuture() ? 0 : absl::ToUnixMillis(f.until);
        for (const auto& r : t.exec_prepared("router_list_messages", f.connector_id, f.decision,
                                             f.pending, since, until, f.before_id, f.limit)) {
          out.push_back(MessageFromRow(r));
        }
        return absl::OkStatus();
      },
      "listing messages");
  if (!st.ok()) return st;
  return out;
}

namespace {
// `thread_root <> ''` repeats the partial index's predicate: a generic
// plan cannot prove them from `message_id = $2` and would not use those indexes otherwise.
// Runs as an unnamed statement, planned with its values on every call: its generic plan, made
// while `messages` is empty (a fresh database), takes only connector_id as the index condition
// and filters message_id = ANY($2), so it would read every message of the connector per lookup
// as the table grows, until an ANALYZE replaced it (0007's comment measured that: 1.2 ms of a
// 1.8 ms decision at 6,000 messages). Planning it costs ~0.1 ms per message that carries
// In-Reply-To or References.
constexpr char kWorkItemByMessageIds[] =
    "SELECT work_item_id FROM messages WHERE connector_id = $1 "
    "AND message_id = ANY($2::text[]) AND message_id <> '' AND work_item_id IS NOT NULL "
    "ORDER BY id DESC LIMIT 1";
constexpr char kWorkItemByThreadRoot[] =
    "SELECT work_item_id FROM messages WHERE connector_id = $1 AND thread_root = $2 "
    "AND thread_root <> '' AND work_item_id IS NOT NULL ORDER BY id DESC LIMIT 1";
}  // namespace

// Prepared: their generic plans use both columns of messages_by_message_id and
// messages_by_thread_root at every table size, an empty one included (store_pg_test checks
// that), where planning the duplicate lookup on every call cost 0.14 ms of PostgreSQL's time per
// ExplainRoute.
std::string PgRouterStore::DuplicateStepSql() {
  return "SELECT duplicate_of, reason FROM postroom_duplicate_step($1, $2, $3, $4)";
}
std::string PgRouterStore::WorkItemByThreadRootSql() { return kWorkItemByThreadRoot; }

absl::StatusOr<DuplicateCheck> PgRouterStore::CheckDuplicate(int64_t connector_id,
                                                             const std::string& message_id,
                                                             const std::string& content_sha256,
                                                             int64_t exclude_id) {
  DuplicateCheck out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::row r = t.exec_prepared1("router_duplicate_step", connector_id, message_id,
                                       pqxx::binarystring(content_sha256), exclude_id);
        out.duplicate_of = r[0].as<int64_t>();
        out.reason = r[1].as<std::string>();
        return absl::OkStatus();
      },
      "looking for a duplicate");
  if (!st.ok()) return st;
  return out;
}

namespace {
// A text[] literal: every element double-quoted with \ and " escaped.
std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}
}  // namespace

absl::StatusOr<int64_t> PgRouterStore::FindWorkItemByMessageIds(
    int64_t connector_id, const std::vector<std::string>& message_ids) {
  int64_t out = 0;
  if (message_ids.empty()) return out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r = t.exec_params(kWorkItemByMessageIds, connector_id, TextArray(message_ids));
        if (!r.empty()) out = r[0][0].as<int64_t>();
        return absl::OkStatus();
      },
      "looking up In-Reply-To/References");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int64_t> PgRouterStore::FindWorkItemByThreadRoot(int64_t connector_id,
                                                                const std::string& thread_root) {
  int64_t out = 0;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r =
            t.exec_prepared("router_work_item_by_thread_root", connector_id, thread_root);
        if (!r.empty()) out = r[0][0].as<int64_t>();
        return absl::OkStatus();
      },
      "looking up Thread-Index");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int64_t> PgRouterStore::FindWorkItemByReference(const std::string& reference) {
  int64_t out = 0;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r = t.exec_prepared("router_work_item_by_reference", reference);
        if (!r.empty()) out = r[0][0].as<int64_t>();
        return absl::OkStatus();
      },
      "looking up a work item reference");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int64_t> PgRouterStore::FindFollowUpByReference(int64_t connector_id,
                                                               const std::string& reference) {
  int64_t out = 0;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r = t.exec_prepared("router_follow_up_by_reference", connector_id, reference);
        if (!r.empty()) out = r[0][0].as<int64_t>();
        return absl::OkStatus();
      },
      "looking up a subject token");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int> PgRouterStore::CountAcksSince(const std::string& sender_key,
                                                  absl::Time since) {
  int out = 0;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        out = t.exec_prepared("router_count_acks", sender_key, MsOf(since))[0][0].as<int>();
        return absl::OkStatus();
      },
      "counting acknowledgements");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int> PgRouterStore::CountById(const char* statement, int64_t id, absl::Time since,
                                             std::string_view what) {
  int out = 0;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        out = t.exec_prepared(statement, id, MsOf(since))[0][0].as<int>();
        return absl::OkStatus();
      },
      what);
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int> PgRouterStore::CountConnectorAcksSince(int64_t connector_id,
                                                           absl::Time since) {
  return CountById("router_count_connector_acks", connector_id, since,
                   "counting the connector's acknowledgements");
}

absl::StatusOr<int> PgRouterStore::CountWorkItemAcksSince(int64_t work_item_id,
                                                          absl::Time since) {
  return CountById("router_count_work_item_acks", work_item_id, since,
                   "counting the work item's acknowledgements");
}

absl::StatusOr<int64_t> PgRouterStore::NextWorkItemId() { return work_item_ids_.Next(db_); }

absl::StatusOr<int64_t> PgRouterStore::IdBlock::Next(Database& db) {
  absl::MutexLock lock(&mu);
  if (ids.empty()) {
    POSTROOM_RETURN_IF_ERROR(db.WithConnection([&](pqxx::connection& conn) {
      pqxx::nontransaction t(conn);
      for (const auto& r : t.exec_prepared(statement, kIdBlockSize)) ids.push_back(r[0].as<int64_t>());
      std::reverse(ids.begin(), ids.end());  // Hand them out in ascending order.
      return absl::OkStatus();
    }));
    if (ids.empty()) return absl::InternalError(absl::StrCat(statement, " gave no ids"));
  }
  int64_t id = ids.back();
  ids.pop_back();
  return id;
}

absl::StatusOr<DecisionResult> PgRouterStore::CommitDecision(const DecisionWrite& w) {
  const MessageRecord& d = w.decision;
  const bool insert = w.insert.has_value();
  const bool create = w.create.has_value();
  // A failure to draw the message id stops the commit: an id of 0 must never reach the insert.
  int64_t id = w.message_id;
  if (insert) {
    POSTROOM_ASSIGN_OR_RETURN(id, message_ids_.Next(db_));
  }
  const int64_t work_item_id = create ? w.create->id : 0;
  if (create && (work_item_id <= 0 || w.create->reference.empty())) {
    return absl::InternalError("a work item to create needs its id (NextWorkItemId) and reference");
  }
  const std::string reference = create ? w.create->reference : "";
  const bool want_ack = w.ack.has_value() && (create || w.append_to != 0);
  OutboxRecord ack;
  if (want_ack) {
    ack = w.ack->email;
    ack.dedupe_key = absl::StrCat("ack:", id);
  }

  // The row columns: the new message's, or for a stored one the decision record's (the
  // function reads connector, folder and queue hint only to verify them, see verify_stored).
  const MessageRecord& m = insert ? *w.insert : d;
  static const WorkItemRecord kNoWorkItem;
  const WorkItemRecord& wi = create ? *w.create : kNoWorkItem;
  const AckRequest* a = w.ack ? &*w.ack : nullptr;
  const CallArgs args(
      id, insert, w.expected_decision, m.connector_id, m.fetch_key, m.folder, m.queue_hint,
      MsOf(m.received_at), m.size_bytes, Bytea{m.raw}, m.truncated, d.message_id,
      Bytea{d.content_sha256}, d.thread_root, d.summary_json, d.decision, d.decision_step,
      d.decision_route, d.decision_reason, d.trace_json, d.duplicate_of, d.spam_status,
      w.check_duplicate && !d.message_id.empty(), create, work_item_id, reference, wi.source,
      wi.queue, wi.type, wi.priority, wi.requester_address, wi.requester_name, wi.subject,
      wi.body, wi.fields_json, wi.attachments_json, wi.test_mode, w.append_to, want_ack,
      ack.connector_id, ack.reason, ack.to_address, ack.subject, ack.body_text, ack.body_html,
      ack.headers_json, ack.dedupe_key, a ? MsOf(a->now - a->sender_window) : 0,
      a ? a->limit_per_hour : 0, !insert && w.verify_stored, AckPolicyJson(w), d.new_text,
      wi.template_name);
  absl::StatusOr<pqxx::row> row;
  // A deadlock or serialization failure rolled the whole call back: run it again, twice.
  for (int attempt = 0; attempt < 3; ++attempt) {
    row = db_.CallGrouped("router_commit_decision", args);
    if (!absl::IsAborted(row.status())) break;
  }
  if (absl::IsNotFound(row.status())) {  // The function's P0002: the work item is gone.
    return absl::NotFoundError(absl::StrCat("work item ", w.append_to, " does not exist"));
  }
  if (!row.ok()) return row.status();
  const pqxx::row& r = *row;
  const std::string outcome = r[0].as<std::string>();
  DecisionResult res;
  res.message_id = r[1].as<int64_t>();
  res.work_item_id = r[2].as<int64_t>();
  res.reference = r[3].as<std::string>();
  res.duplicate_of = r[4].as<int64_t>();
  const std::string ack_state = r[5].as<std::string>();
  const std::string detail = r[6].as<std::string>();
  res.ack_queued = ack_state == "queued";
  if (!ack_state.empty() && ack_state != "queued") {
    res.ack_suppressed = ack_state;
  }
  if (outcome == "not_found") {
    return absl::NotFoundError(absl::StrCat("message ", id, " does not exist"));
  }
  if (outcome == "unverified") {
    return absl::AbortedError(absl::StrCat(
        "message ", id, " is not as assumed from the bytes sent along (another connector, "
        "folder, queue hint or content hash, truncated or a manual spam status); read it "
        "again"));
  }
  if (outcome == "aborted") {
    return absl::AbortedError(
        absl::StrCat("message ", id, " was decided meanwhile (", detail, "); read it again"));
  }
  if (outcome == "replayed") {
    res.replayed = true;
    POSTROOM_ASSIGN_OR_RETURN(MessageRecord existing, GetMessage(res.message_id, false));
    res.existing = std::move(existing);
    return res;
  }
  if (outcome == "ok") res.duplicate_step = detail;
  if (outcome == "pending") {
    // Stored by the fetcher and still undecided: decide that message instead.
    DecisionWrite again = w;
    again.insert.reset();
    again.message_id = res.message_id;
    again.expected_decision = "";
    return CommitDecision(again);
  }
  return res;
}

absl::StatusOr<MessageRecord> PgRouterStore::SetSpamStatus(int64_t id, const std::string& status) {
  bool found = false;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        found = !t.exec_prepared("router_set_spam", id, status).empty();
        return absl::OkStatus();
      },
      "setting the spam status");
  if (!st.ok()) return st;
  if (!found) return absl::NotFoundError(absl::StrCat("message ", id, " does not exist"));
  return GetMessage(id, false);
}

absl::Status PgRouterStore::RecordAttemptError(int64_t id, const std::string& error) {
  return Read(
      [&](pqxx::nontransaction& t) {
        t.exec_prepared("router_attempt_error", id, error);
        return absl::OkStatus();
      },
      "recording a routing error");
}

absl::StatusOr<std::vector<int64_t>> PgRouterStore::ClaimPending(absl::Time stored_before,
                                                                 absl::Time claimed_before,
                                                                 absl::Time now, int limit) {
  std::vector<int64_t> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) {
    out.clear();
    for (const auto& r : t.exec_prepared("router_claim_pending", MsOf(stored_before),
                                         MsOf(claimed_before), MsOf(now), limit)) {
      out.push_back(r[0].as<int64_t>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::optional<RouterStore::Attempt>> PgRouterStore::StartAttempt(
    int64_t id, int64_t connector_id, absl::Time now) {
  std::optional<Attempt> out;
  // Without a transaction: the statement commits on its own, before routing starts.
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r = t.exec_prepared("router_start_attempt", id, connector_id, MsOf(now));
        if (r.empty()) return absl::OkStatus();
        out.emplace();
        out->route_attempts = r[0][0].as<int>();
        out->last_error = r[0][1].as<std::string>();
        out->message_id = r[0][2].as<std::string>();
        out->content_sha256 = Bytes(r[0][3]);
        return absl::OkStatus();
      },
      "counting a routing attempt");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<WorkItemRecord> PgRouterStore::GetWorkItem(int64_t id) {
  std::optional<WorkItemRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r = t.exec_prepared("router_get_work_item", id);
        if (r.empty()) return absl::OkStatus();
        out = WorkItemFromRow(r[0]);
        for (const auto& m : t.exec_prepared("router_work_item_messages", id)) {
          out->message_ids.push_back(m[0].as<int64_t>());
        }
        return absl::OkStatus();
      },
      "reading a work item");
  if (!st.ok()) return st;
  if (!out) return absl::NotFoundError(absl::StrCat("work item ", id, " does not exist"));
  return *std::move(out);
}

absl::StatusOr<int64_t> PgRouterStore::WorkItemIdByReference(const std::string& reference) {
  absl::StatusOr<int64_t> id = FindWorkItemByReference(reference);
  if (!id.ok()) return id.status();
  if (*id == 0) {
    return absl::NotFoundError(absl::StrCat("work item \"", reference, "\" does not exist"));
  }
  return *id;
}

absl::StatusOr<std::vector<WorkItemRecord>> PgRouterStore::ListWorkItems(const WorkItemFilter& f) {
  std::vector<WorkItemRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        for (const auto& r :
             t.exec_prepared("router_list_work_items", f.queue, f.connector_id, f.before_id,
                             f.limit)) {
          out.push_back(WorkItemFromRow(r));
        }
        return absl::OkStatus();
      },
      "listing work items");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::optional<OutboxRecord>> PgRouterStore::FindOutboxForBounce(
    int64_t outbox_id, const std::string& smtp_message_id) {
  std::optional<OutboxRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r = t.exec_prepared("router_outbox_for_bounce", outbox_id, smtp_message_id);
        if (!r.empty()) out = OutboxOf(r[0]);
        return absl::OkStatus();
      },
      "looking up the outbox row of a bounce");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<bool> PgRouterStore::IsAddressSuppressed(int64_t connector_id,
                                                        const std::string& address) {
  bool out = false;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        out = t.exec_prepared1("router_address_suppressed", connector_id, address)[0].as<bool>();
        return absl::OkStatus();
      },
      "looking up a suppressed address");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<OutboxRecord>> PgRouterStore::ListOutboxForWorkItem(int64_t id) {
  std::vector<OutboxRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        for (const auto& r : t.exec_prepared("router_outbox_of_work_item", id)) {
          out.push_back(OutboxOf(r));
        }
        return absl::OkStatus();
      },
      "listing the outbox of a work item");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<MessageRecord>> PgRouterStore::ListMessagesOfWorkItem(int64_t id) {
  std::vector<MessageRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        for (const auto& r : t.exec_prepared("router_messages_of_work_item", id)) {
          out.push_back(MessageFromRow(r));
        }
        return absl::OkStatus();
      },
      "listing the messages of a work item");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<WorkItemEventRecord>> PgRouterStore::ListWorkItemEvents(
    int64_t after_event_id, const std::string& queue, int limit) {
  std::vector<WorkItemEventRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        for (const auto& r : t.exec_prepared("router_events", after_event_id, queue, limit)) {
          WorkItemEventRecord e;
          e.event_id = r[0].as<int64_t>();
          e.kind = r[1].as<std::string>();
          e.message_id = r[2].as<int64_t>();
          e.work_item = WorkItemFromRow(r, 3);
          out.push_back(std::move(e));
        }
        return absl::OkStatus();
      },
      "listing work item events");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int64_t> PgRouterStore::LatestEventId() {
  int64_t out = 0;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        out = t.exec_prepared("router_latest_event")[0][0].as<int64_t>();
        return absl::OkStatus();
      },
      "reading the latest event");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<ForgetResult> PgRouterStore::ForgetAddress(const ForgetBatch& b) {
  ForgetResult out;
  absl::Status st = db_.Transact([&](pqxx::work& t) {
    pqxx::row r = t.exec_params1(
        "SELECT (c->>'messages')::bigint, (c->>'messages_sent')::bigint, "
        "(c->>'messages_named')::bigint, (c->>'work_items')::bigint, (c->>'outbox')::bigint, "
        "(c->>'webhook_deliveries')::bigint, (c->>'outbox_attachments')::bigint, "
        "(c->>'suppressions')::bigint, (r->>'remaining')::bigint, "
        "(r->>'next_after_id')::bigint, r->>'hash' "
        "FROM postroom_forget_address($1, $2, $3, $4, $5) r, LATERAL (SELECT r->'counts' c) x",
        b.address, b.dry_run, b.after_id, b.limit, b.actor);
    ForgetCounts& c = out.counts;
    int64_t* fields[] = {&c.messages,   &c.messages_sent,      &c.messages_named,
                         &c.work_items, &c.outbox,             &c.webhook_deliveries,
                         &c.outbox_attachments, &c.suppressions, &out.remaining,
                         &out.next_after_id};
    for (int i = 0; i < static_cast<int>(std::size(fields)); ++i) {
      *fields[i] = r[i].is_null() ? 0 : r[i].as<int64_t>();
    }
    out.hash = r[10].as<std::string>();
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace postroom::store
