#include "libs/store/pg_router_store.h"

#include "absl/strings/str_cat.h"
#include <algorithm>

#include "absl/strings/str_join.h"

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
    "m.route_attempts, m.last_error";

std::string MessageColumns(bool raw, bool trace) {
  std::string tail = kMessageTail;
  tail.replace(tail.find("%TRACE%"), 7, trace ? "coalesce(m.trace::text, '')" : "''");
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
  return m;
}

const std::string kWorkItemColumns =
    "w.id, coalesce(w.connector_id, 0), coalesce(c.name, ''), w.reference, w.source, w.queue, "
    "w.type, w.priority, w.requester_address, w.requester_name, w.subject, %BODY%, "
    "w.fields::text, w.attachments::text, w.test_mode, " +
    Ms("w.created_at") + ", " + Ms("w.updated_at");
std::string WorkItemColumns(bool body) {
  std::string s = kWorkItemColumns;
  s.replace(s.find("%BODY%"), 6, body ? "w.body" : "''");
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
  // `message_id <> ''` (and `thread_root <> ''` below) repeat the partial indexes' predicates:
  // without them a generic prepared plan cannot use those indexes and scans every message of
  // the connector (measured: most of PostgreSQL's CPU in the benchmark).
  db_.Prepare("router_find_duplicate",
              absl::StrCat("SELECT ", MessageColumns(false, false), kMessageFrom,
                           "WHERE m.connector_id = $1 AND m.message_id = $2 AND m.message_id <> '' "
                           "AND m.content_sha256 = $3 AND m.id <> $4 AND m.decision IS NOT NULL "
                           "AND m.decision <> 'duplicate' ORDER BY m.id LIMIT 1"));
  db_.Prepare("router_work_item_by_message_ids",
              "SELECT work_item_id FROM messages WHERE connector_id = $1 "
              "AND message_id = ANY($2::text[]) AND message_id <> '' AND work_item_id IS NOT NULL "
              "ORDER BY id DESC LIMIT 1");
  db_.Prepare("router_work_item_by_thread_root",
              "SELECT work_item_id FROM messages WHERE connector_id = $1 AND thread_root = $2 "
              "AND thread_root <> '' "
              "AND work_item_id IS NOT NULL ORDER BY id DESC LIMIT 1");
  db_.Prepare("router_work_item_by_reference", "SELECT id FROM work_items WHERE reference = $1");
  db_.Prepare("router_count_acks",
              "SELECT count(*) FROM outbox WHERE reason = 'ack' AND to_address = $1 "
              "AND created_at >= to_timestamp($2::double precision / 1000)");
  db_.Prepare("router_lock_message",
              "SELECT coalesce(decision, ''), connector_id FROM messages WHERE id = $1 FOR UPDATE");
  db_.Prepare("router_create_work_item",
              "WITH wi AS (INSERT INTO work_items (id, connector_id, reference, source, queue, "
              "type, priority, requester_address, requester_name, subject, body, fields, "
              "attachments, test_mode) SELECT n, $1, $2 || '-' || n, $3, $4, $5, $6, $7, $8, $9, "
              "$10, $11::jsonb, $12::jsonb, $13 FROM nextval('work_items_id_seq') n "
              "RETURNING id, reference), "
              "link AS (INSERT INTO work_item_messages (work_item_id, message_id, role) "
              "SELECT id, $14, 'created' FROM wi) "
              "SELECT id, reference FROM wi");
  db_.Prepare("router_append_work_item",
              "WITH wi AS (UPDATE work_items SET updated_at = now() WHERE id = $1 "
              "RETURNING id, reference), "
              "link AS (INSERT INTO work_item_messages (work_item_id, message_id, role) "
              "SELECT id, $2, 'appended' FROM wi) "
              "SELECT id, reference FROM wi");
  db_.Prepare("router_decide",
              "UPDATE messages SET decision = $2, decided_at = now(), decision_step = $3, "
              "decision_route = $4, decision_reason = $5, trace = NULLIF($6, '')::jsonb, "
              "summary = NULLIF($7, '')::jsonb, work_item_id = NULLIF($8::bigint, 0), "
              "duplicate_of = NULLIF($9::bigint, 0), spam_status = CASE WHEN spam_status IN "
              "('manual_spam', 'manual_clean') THEN spam_status ELSE NULLIF($10, '') END, "
              "message_id = $11, content_sha256 = NULLIF($12, ''::bytea), thread_root = $13, "
              "last_error = '' WHERE id = $1");
  // The insert path in one statement: the message with its decision, the new work item (id
  // drawn first so the message row is written once) or the append, and the link.
  db_.Prepare("router_insert_decided",
              "WITH n AS (SELECT CASE WHEN $20 THEN nextval('work_items_id_seq') END AS wid), "
              "m AS (INSERT INTO messages (connector_id, fetch_key, folder, queue_hint, "
              "received_at, size_bytes, raw, truncated, message_id, content_sha256, thread_root, "
              "summary, decision, decided_at, decision_step, decision_route, decision_reason, "
              "trace, work_item_id, duplicate_of, spam_status) "
              "SELECT $1, $2, $3, $4, to_timestamp($5::double precision / 1000), $6, $7, $8, $9, "
              "NULLIF($10, ''::bytea), $11, NULLIF($12, '')::jsonb, $13, now(), $14, $15, $16, "
              "NULLIF($17, '')::jsonb, coalesce(n.wid, NULLIF($18::bigint, 0)), NULLIF($19::bigint, 0), "
              "NULLIF($21, '') FROM n "
              "ON CONFLICT (connector_id, fetch_key) DO NOTHING RETURNING id, work_item_id), "
              "wi AS (INSERT INTO work_items (id, connector_id, reference, source, queue, type, "
              "priority, requester_address, requester_name, subject, body, fields, attachments, "
              "test_mode) SELECT m.work_item_id, $1, $22 || '-' || m.work_item_id, $23, $24, $25, "
              "$26, $27, $28, $29, $30, $31::jsonb, $32::jsonb, $33 FROM m WHERE $20 "
              "RETURNING id, reference), "
              "app AS (UPDATE work_items SET updated_at = now() WHERE NOT $20 AND id = NULLIF($18::bigint, 0) "
              "AND EXISTS (SELECT 1 FROM m) RETURNING id, reference), "
              "link AS (INSERT INTO work_item_messages (work_item_id, message_id, role) "
              "SELECT m.work_item_id, m.id, CASE WHEN $20 THEN 'created' ELSE 'appended' END "
              "FROM m WHERE m.work_item_id IS NOT NULL) "
              "SELECT m.id, coalesce(m.work_item_id, 0), "
              "coalesce((SELECT reference FROM wi), (SELECT reference FROM app), '') FROM m");
  db_.Prepare("router_locks",
              "SELECT CASE WHEN $2 <> '' THEN pg_advisory_xact_lock($1::int, hashtext($2)) END, "
              "CASE WHEN $3 <> '' THEN pg_advisory_xact_lock(hashtext('ack:' || $3)) END");
  // Rate limit and queueing in one statement; the ack lock (taken by an earlier statement)
  // makes the count see every committed ack to this address.
  db_.Prepare("router_queue_ack",
              "WITH c AS (SELECT count(*) AS n FROM outbox WHERE reason = 'ack' AND "
              "to_address = $3 AND created_at >= to_timestamp($11::double precision / 1000)), "
              "ins AS (INSERT INTO outbox (connector_id, kind, reason, to_address, subject, "
              "body_text, body_html, headers, work_item_id, message_id, dedupe_key) "
              "SELECT NULLIF($1::bigint, 0), 'email', $2, $3, $4, $5, $6, $7::jsonb, NULLIF($8::bigint, 0), "
              "NULLIF($9::bigint, 0), $10 FROM c WHERE c.n < $12 "
              "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id) "
              "SELECT (SELECT n FROM c), (SELECT count(*) FROM ins)");
  db_.Prepare("router_set_spam",
              "UPDATE messages SET spam_status = $2 WHERE id = $1 RETURNING id");
  db_.Prepare("router_attempt_error",
              "UPDATE messages SET last_error = $2, route_attempts = route_attempts + 1 "
              "WHERE id = $1 AND decision IS NULL");
  db_.Prepare("router_claim_pending",
              "UPDATE messages SET route_claimed_at = to_timestamp($3::double precision / 1000) "
              "WHERE id IN (SELECT id FROM messages WHERE decision IS NULL "
              "AND stored_at < to_timestamp($1::double precision / 1000) "
              "AND (route_claimed_at IS NULL OR "
              "     route_claimed_at < to_timestamp($2::double precision / 1000)) "
              "ORDER BY stored_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING id");
  db_.Prepare("router_get_work_item",
              absl::StrCat("SELECT ", WorkItemColumns(true), kWorkItemFrom, "WHERE w.id = $1"));
  db_.Prepare("router_work_item_messages",
              "SELECT message_id FROM work_item_messages WHERE work_item_id = $1 ORDER BY event_id");
  db_.Prepare("router_list_work_items",
              absl::StrCat("SELECT ", WorkItemColumns(false), kWorkItemFrom,
                           "WHERE ($1 = '' OR w.queue = $1) AND ($2::bigint = 0 OR w.connector_id = $2) "
                           "AND ($3::bigint = 0 OR w.id < $3) ORDER BY w.id DESC LIMIT $4"));
  db_.Prepare("router_outbox_of_work_item",
              "SELECT o.id, coalesce(o.connector_id, 0), coalesce(c.name, ''), o.reason, o.status, "
              "o.to_address, o.subject, o.body_text, o.body_html, o.headers::text, "
              "coalesce(o.work_item_id, 0), coalesce(o.message_id, 0), coalesce(o.dedupe_key, ''), " +
                  Ms("o.created_at") +
                  " FROM outbox o LEFT JOIN connectors c ON c.id = o.connector_id "
                  "WHERE o.work_item_id = $1 ORDER BY o.id");
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

absl::StatusOr<std::optional<MessageRecord>> PgRouterStore::FindDuplicate(
    int64_t connector_id, const std::string& message_id, const std::string& content_sha256,
    int64_t exclude_id) {
  std::optional<MessageRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        pqxx::result r = t.exec_prepared("router_find_duplicate", connector_id, message_id,
                                         pqxx::binarystring(content_sha256), exclude_id);
        if (!r.empty()) out = MessageFromRow(r[0]);
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
        pqxx::result r = t.exec_prepared("router_work_item_by_message_ids", connector_id,
                                         TextArray(message_ids));
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

absl::StatusOr<int> PgRouterStore::CountAcksSince(const std::string& to_address,
                                                  absl::Time since) {
  int out = 0;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        out = t.exec_prepared("router_count_acks", to_address, MsOf(since))[0][0].as<int>();
        return absl::OkStatus();
      },
      "counting acknowledgements");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<DecisionResult> PgRouterStore::CommitDecision(const DecisionWrite& w) {
  DecisionResult res;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    res = DecisionResult();
    MessageRecord d = w.decision;
    bool create = w.create.has_value();
    int64_t append_to = w.append_to;
    bool ack = w.ack.has_value() && (create || append_to != 0);
    const bool dedupe = w.check_duplicate && !d.message_id.empty();
    int64_t id = w.message_id;
    int64_t connector_id = w.insert ? w.insert->connector_id : 0;
    if (!w.insert) {
      pqxx::result r = t.exec_prepared("router_lock_message", id);
      if (r.empty()) return absl::NotFoundError(absl::StrCat("message ", id, " does not exist"));
      if (r[0][0].as<std::string>() != w.expected_decision) {
        return absl::AbortedError(absl::StrCat("message ", id, " was decided meanwhile (",
                                               r[0][0].as<std::string>(), "); read it again"));
      }
      connector_id = r[0][1].as<int64_t>();
    }
    // Locks first, always in the order (Message-ID, ack address): no deadlocks.
    if (dedupe || ack) {
      t.exec_prepared("router_locks", static_cast<int>(connector_id),
                      dedupe ? d.message_id : std::string(),
                      ack ? w.ack->to_address : std::string());
    }
    if (dedupe) {
      pqxx::result dup = t.exec_prepared("router_find_duplicate", connector_id, d.message_id,
                                         pqxx::binarystring(d.content_sha256), id);
      if (!dup.empty()) {
        res.duplicate_of = dup[0][0].as<int64_t>();
        d.decision = "duplicate";
        d.decision_step = "duplicate";
        d.decision_route = "";
        d.decision_reason = absl::StrCat("same Message-ID and content as message ",
                                         res.duplicate_of, " (found while committing)");
        d.duplicate_of = res.duplicate_of;
        create = false;
        append_to = 0;
        ack = false;
      }
    }
    std::string reference;
    bool inserted = false;
    if (w.insert) {
      const MessageRecord& m = *w.insert;
      WorkItemRecord wi = create ? *w.create : WorkItemRecord();
      pqxx::result r = t.exec_prepared(
          "router_insert_decided", m.connector_id, m.fetch_key, m.folder, m.queue_hint,
          MsOf(m.received_at), m.size_bytes, pqxx::binarystring(m.raw), m.truncated, d.message_id,
          pqxx::binarystring(d.content_sha256), d.thread_root, d.summary_json, d.decision,
          d.decision_step, d.decision_route, d.decision_reason, d.trace_json, append_to,
          d.duplicate_of, create, d.spam_status, w.reference_prefix, wi.source, wi.queue,
          wi.type, wi.priority, wi.requester_address, wi.requester_name, wi.subject, wi.body,
          wi.fields_json, wi.attachments_json, wi.test_mode);
      if (!r.empty()) {
        inserted = true;
        id = r[0][0].as<int64_t>();
        res.work_item_id = r[0][1].as<int64_t>();
        reference = r[0][2].as<std::string>();
        if (append_to != 0 && reference.empty()) {
          return absl::NotFoundError(absl::StrCat("work item ", append_to, " does not exist"));
        }
      } else {
        pqxx::result e =
            t.exec_prepared("router_message_by_fetch_key", m.connector_id, m.fetch_key);
        if (e.empty()) return absl::AbortedError("message vanished while routing; retry");
        MessageRecord existing = MessageFromRow(e[0]);
        if (!existing.decision.empty()) {
          res.message_id = existing.id;
          res.replayed = true;
          res.existing = std::move(existing);
          return absl::OkStatus();
        }
        id = existing.id;  // Stored by the fetcher, still pending: decide it now.
        t.exec_prepared("router_lock_message", id);
      }
    }
    res.message_id = id;
    if (!inserted) {
      if (create) {
        const WorkItemRecord& wi = *w.create;
        pqxx::result r = t.exec_prepared(
            "router_create_work_item", connector_id, w.reference_prefix, wi.source, wi.queue,
            wi.type, wi.priority, wi.requester_address, wi.requester_name, wi.subject, wi.body,
            wi.fields_json, wi.attachments_json, wi.test_mode, id);
        res.work_item_id = r[0][0].as<int64_t>();
        reference = r[0][1].as<std::string>();
      } else if (append_to != 0) {
        pqxx::result r = t.exec_prepared("router_append_work_item", append_to, id);
        if (r.empty()) {
          return absl::NotFoundError(absl::StrCat("work item ", append_to, " does not exist"));
        }
        res.work_item_id = append_to;
        reference = r[0][1].as<std::string>();
      }
      t.exec_prepared("router_decide", id, d.decision, d.decision_step, d.decision_route,
                      d.decision_reason, d.trace_json, d.summary_json, res.work_item_id,
                      d.duplicate_of, d.spam_status, d.message_id,
                      pqxx::binarystring(d.content_sha256), d.thread_root);
    }
    res.reference = reference;
    if (ack && res.work_item_id != 0) {
      const AckRequest& a = *w.ack;
      OutboxRecord o = a.render(id, res.work_item_id, reference);
      pqxx::result r = t.exec_prepared(
          "router_queue_ack", o.connector_id, o.reason, o.to_address, o.subject, o.body_text,
          o.body_html, o.headers_json, res.work_item_id, id, o.dedupe_key,
          MsOf(a.now - absl::Hours(1)), a.limit_per_hour);
      if (r[0][0].as<int64_t>() >= a.limit_per_hour) {
        res.ack_suppressed = "rate_limited";
      } else if (r[0][1].as<int64_t>() == 0) {
        res.ack_suppressed = "already_queued";
      } else {
        res.ack_queued = true;
      }
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
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

absl::StatusOr<std::vector<OutboxRecord>> PgRouterStore::ListOutboxForWorkItem(int64_t id) {
  std::vector<OutboxRecord> out;
  absl::Status st = Read(
      [&](pqxx::nontransaction& t) {
        for (const auto& r : t.exec_prepared("router_outbox_of_work_item", id)) {
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
          out.push_back(std::move(o));
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

}  // namespace postroom::store
