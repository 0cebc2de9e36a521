#include "libs/store/pg_fetch_store.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/sha256.h"
#include "libs/store/connector_errors.h"

namespace postroom::store {
namespace {

// An incoming connector the fetcher polls; the same predicate everywhere.
constexpr char kActive[] =
    "c.status = 'active' AND c.direction IN ('incoming', 'both') "
    "AND c.protocol IN ('imap', 'pop3', 'graph')";

std::string Active() { return kActive; }

int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

absl::Status LeaseLost(const LeaseRecord& lease) {
  return absl::AbortedError(absl::StrCat(
      "connector \"", lease.connector, "\": lease (owner ", lease.owner, ", fencing token ",
      lease.fencing_token, ") is no longer held; another replica polls it now; nothing written"));
}

// Holds the lease row (FOR SHARE) until commit, so a take-over cannot slip in between this
// check and the commit: the taker's FOR UPDATE SKIP LOCKED skips a row we share-lock.
absl::Status CheckLease(pqxx::work& t, const LeaseRecord& lease) {
  pqxx::result r =
      t.exec_prepared("fetch_check_lease", lease.connector_id, lease.owner, lease.fencing_token);
  if (r.empty()) return LeaseLost(lease);
  return absl::OkStatus();
}

// A batch's messages go in with one INSERT per kRowsPerInsert rows, not one per message: every
// statement is a round trip, and on this VM a round trip (send, wake-up, reply) cost the fetcher
// and PostgreSQL more CPU than the row itself (see bench/fetcher). Statement `fetch_insert_N`
// takes the connector, then 8 text parameters per row, then each row's raw bytes and content
// hash as binary parameters (no escaping, no doubling on the wire).
constexpr size_t kRowsPerInsert = 16;
constexpr size_t kTextPerRow = 8;

std::string InsertMessagesName(size_t rows) { return absl::StrCat("fetch_insert_", rows); }

std::string InsertMessagesSql(size_t rows) {
  std::string values;
  for (size_t i = 0; i < rows; ++i) {
    const size_t t = 2 + i * kTextPerRow;            // this row's text parameters
    const size_t b = 2 + rows * kTextPerRow + 2 * i;  // its raw bytes and hash
    absl::StrAppend(&values, i == 0 ? "" : ", ", "($", t, "::text, $", t + 1, "::text, $", t + 2,
                    "::text, $", t + 3, "::bigint, $", t + 4, "::bigint, $", b, "::bytea, $",
                    t + 5, "::boolean, $", t + 6, "::text, $", t + 7, "::text, $", b + 1,
                    "::bytea)");
  }
  return absl::StrCat(
      "INSERT INTO messages (connector_id, fetch_key, folder, queue_hint, received_at, "
      "size_bytes, raw, truncated, message_id, decision, decided_at, decision_step, "
      "decision_reason, content_sha256) SELECT $1::bigint, v.key, v.folder, v.hint, CASE WHEN "
      "v.received = 0 THEN now() ELSE to_timestamp(v.received / 1000.0) END, v.size, v.raw, "
      "v.truncated, v.message_id, CASE WHEN v.failed = '' THEN NULL ELSE 'failed' END, CASE WHEN "
      "v.failed = '' THEN NULL ELSE now() END, CASE WHEN v.failed = '' THEN '' ELSE 'fetcher' "
      "END, v.failed, NULLIF(v.sha, ''::bytea) FROM (VALUES ",
      values,
      ") AS v (key, folder, hint, received, size, raw, truncated, message_id, failed, sha) "
      "ON CONFLICT (connector_id, fetch_key) DO NOTHING RETURNING id, fetch_key");
}

}  // namespace

PgFetchStore::PgFetchStore(Database& db) : db_(db) {
  const std::string T2 = "to_timestamp($2::bigint / 1000.0)";
  db_.Prepare("fetch_list_active",
              absl::StrCat("SELECT c.id, c.name, c.protocol, c.spec::text, c.version, "
                           "CASE WHEN s.last_test_passed THEN (extract(epoch FROM s.last_test_at) "
                           "* 1000)::bigint END FROM connectors c LEFT JOIN connector_state s ON "
                           "s.connector_id = c.id WHERE ",
                           Active(), " ORDER BY c.id"));
  db_.Prepare("fetch_list_names",
              "SELECT name FROM connectors WHERE direction IN ('incoming', 'both') AND protocol "
              "IN ('imap', 'pop3', 'graph') ORDER BY name");
  db_.Prepare("fetch_list_secrets",
              absl::StrCat("SELECT s.connector_id, s.field, s.sealed FROM secrets s JOIN "
                           "connectors c ON c.id = s.connector_id WHERE ",
                           Active()));
  db_.Prepare("fetch_heartbeat",
              "INSERT INTO fetcher_replicas (owner, expires_at) VALUES ($1, "
              "to_timestamp($2::bigint / 1000.0)) ON CONFLICT (owner) DO UPDATE SET "
              "expires_at = excluded.expires_at");
  db_.Prepare("fetch_gc_replicas",
              "DELETE FROM fetcher_replicas WHERE expires_at < to_timestamp($1::bigint / 1000.0) "
              "- interval '1 hour'");
  db_.Prepare("fetch_counts",
              absl::StrCat("SELECT (SELECT count(*) FROM connectors c WHERE ", Active(),
                           "), (SELECT count(*) FROM fetcher_replicas WHERE expires_at > "
                           "to_timestamp($1::bigint / 1000.0))"));
  db_.Prepare("fetch_ensure_rows",
              absl::StrCat("INSERT INTO fetcher_leases (connector_id, owner, expires_at, "
                           "fencing_token) SELECT c.id, '', '-infinity', 0 FROM connectors c "
                           "WHERE ",
                           Active(),
                           " AND NOT EXISTS (SELECT 1 FROM fetcher_leases l WHERE l.connector_id "
                           "= c.id) ORDER BY c.id ON CONFLICT DO NOTHING"));
  db_.Prepare("fetch_drop_inactive",
              absl::StrCat("UPDATE fetcher_leases l SET owner = '', expires_at = '-infinity' "
                           "WHERE l.owner = $1 AND NOT EXISTS (SELECT 1 FROM connectors c WHERE "
                           "c.id = l.connector_id AND ",
                           Active(), ")"));
  db_.Prepare("fetch_renew",
              "UPDATE fetcher_leases SET expires_at = to_timestamp($2::bigint / 1000.0) "
              "WHERE owner = $1");
  db_.Prepare("fetch_count_held", "SELECT count(*) FROM fetcher_leases WHERE owner = $1");
  // Only leases this replica has no session on ($3, the busy ids): the next owner may log in
  // the moment this commits.
  db_.Prepare("fetch_release_over",
              "UPDATE fetcher_leases SET owner = '', expires_at = '-infinity' WHERE owner = $1 "
              "AND connector_id IN (SELECT connector_id FROM fetcher_leases WHERE owner = $1 "
              "AND connector_id <> ALL($3::bigint[]) ORDER BY connector_id DESC LIMIT $2)");
  db_.Prepare("fetch_take",
              absl::StrCat("WITH cand AS (SELECT l.connector_id FROM fetcher_leases l JOIN "
                           "connectors c ON c.id = l.connector_id WHERE ",
                           Active(), " AND l.expires_at <= ", T2,
                           " ORDER BY l.connector_id LIMIT $4 FOR UPDATE OF l SKIP LOCKED) "
                           "UPDATE fetcher_leases l SET owner = $1, expires_at = "
                           "to_timestamp($3::bigint / 1000.0), fencing_token = l.fencing_token "
                           "+ 1 FROM cand WHERE l.connector_id = cand.connector_id"));
  db_.Prepare("fetch_held",
              "SELECT l.connector_id, c.name, l.fencing_token, "
              "(extract(epoch from l.expires_at) * 1000)::bigint FROM fetcher_leases l JOIN "
              "connectors c ON c.id = l.connector_id WHERE l.owner = $1 ORDER BY c.name");
  db_.Prepare("fetch_release_all",
              "UPDATE fetcher_leases SET owner = '', expires_at = '-infinity' WHERE owner = $1");
  db_.Prepare("fetch_forget_replica", "DELETE FROM fetcher_replicas WHERE owner = $1");
  db_.Prepare("fetch_list_leases",
              "SELECT c.name, l.owner, l.fencing_token, "
              "(extract(epoch from l.expires_at) * 1000)::bigint FROM fetcher_leases l JOIN "
              "connectors c ON c.id = l.connector_id WHERE l.owner <> '' ORDER BY c.name");
  db_.Prepare("fetch_get_cursors",
              "SELECT folder, uidvalidity, last_uid, delta_link, backfill_done, backfill_total "
              "FROM folder_cursors WHERE connector_id = $1 ORDER BY folder");
  db_.Prepare("fetch_get_seen", "SELECT uidl FROM pop3_seen WHERE connector_id = $1");
  db_.Prepare("fetch_check_lease",
              "SELECT 1 FROM fetcher_leases WHERE connector_id = $1 AND owner = $2 AND "
              "fencing_token = $3 FOR SHARE");
  for (size_t rows = 1; rows <= kRowsPerInsert; ++rows) {
    db_.Prepare(InsertMessagesName(rows), InsertMessagesSql(rows));
  }
  db_.Prepare("fetch_upsert_cursor",
              "INSERT INTO folder_cursors (connector_id, folder, uidvalidity, last_uid, "
              "delta_link, backfill_done, backfill_total, fencing_token, updated_at) VALUES ($1, "
              "$2, $3, $4, $5, $6, $7, $8, now()) ON CONFLICT (connector_id, folder) DO UPDATE "
              "SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, delta_link "
              "= excluded.delta_link, backfill_done = excluded.backfill_done, backfill_total = "
              "excluded.backfill_total, fencing_token = excluded.fencing_token, updated_at = "
              "now()");
  db_.Prepare("fetch_insert_seen",
              "INSERT INTO pop3_seen (connector_id, uidl) VALUES ($1, $2) ON CONFLICT DO NOTHING");
  db_.Prepare("fetch_forget_seen", "DELETE FROM pop3_seen WHERE connector_id = $1 AND uidl = $2");
  db_.Prepare("fetch_success",
              "INSERT INTO connector_state (connector_id, last_check_at, last_success_check_at, "
              "last_incoming_success_at, consecutive_incoming_errors, backfill_done, "
              "backfill_total) VALUES ($1, " +
                  T2 + ", " + T2 + ", " + T2 +
                  ", 0, $3, $4) ON CONFLICT (connector_id) DO UPDATE SET last_check_at = "
                  "excluded.last_check_at, last_success_check_at = "
                  "excluded.last_success_check_at, last_incoming_success_at = "
                  "excluded.last_incoming_success_at, consecutive_incoming_errors = 0, "
                  "backfill_done = excluded.backfill_done, backfill_total = "
                  "excluded.backfill_total");
  PrepareConnectorErrorStatements(db_);
}

absl::StatusOr<std::vector<IncomingConnectorRecord>> PgFetchStore::ListActiveIncoming() {
  std::vector<IncomingConnectorRecord> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& row : t.exec_prepared("fetch_list_active")) {
      IncomingConnectorRecord c;
      c.id = row[0].as<int64_t>();
      c.name = row[1].as<std::string>();
      c.protocol = row[2].as<std::string>();
      c.spec_json = row[3].as<std::string>();
      c.version = row[4].as<int64_t>();
      if (!row[5].is_null()) c.test_passed_at = absl::FromUnixMillis(row[5].as<int64_t>());
      out.push_back(std::move(c));
    }
    for (const auto& row : t.exec_prepared("fetch_list_secrets")) {
      int64_t id = row[0].as<int64_t>();
      for (auto& c : out) {
        if (c.id == id) {
          c.sealed_secrets.emplace_back(row[1].as<std::string>(), row[2].as<std::string>());
        }
      }
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<std::string>> PgFetchStore::ListIncomingNames() {
  std::vector<std::string> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& row : t.exec_prepared("fetch_list_names")) {
      out.push_back(row[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<LeaseRecord>> PgFetchStore::RenewLeases(
    const std::string& owner, absl::Time now, absl::Duration period,
    const std::set<int64_t>& busy) {
  std::vector<LeaseRecord> out;
  const std::string busy_ids = absl::StrCat("{", absl::StrJoin(busy, ","), "}");
  const int64_t now_ms = Ms(now);
  const int64_t exp_ms = Ms(now + period);
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    t.exec_prepared("fetch_heartbeat", owner, exp_ms);
    t.exec_prepared("fetch_gc_replicas", now_ms);
    t.exec_prepared("fetch_ensure_rows");
    t.exec_prepared("fetch_drop_inactive", owner);
    t.exec_prepared("fetch_renew", owner, exp_ms);
    pqxx::row counts = t.exec_prepared1("fetch_counts", now_ms);
    const int64_t active = counts[0].as<int64_t>();
    const int64_t replicas = std::max<int64_t>(1, counts[1].as<int64_t>());
    const int64_t target = (active + replicas - 1) / replicas;
    int64_t held = t.exec_prepared1("fetch_count_held", owner)[0].as<int64_t>();
    int64_t shedding = 0;
    if (held > target) {
      pqxx::result released = t.exec_prepared("fetch_release_over", owner, held - target, busy_ids);
      shedding = held - target - static_cast<int64_t>(released.affected_rows());
    } else if (held < target) {
      t.exec_prepared("fetch_take", owner, now_ms, exp_ms, target - held);
    }
    for (const auto& row : t.exec_prepared("fetch_held", owner)) {
      LeaseRecord l;
      l.connector_id = row[0].as<int64_t>();
      l.connector = row[1].as<std::string>();
      l.owner = owner;
      l.fencing_token = row[2].as<int64_t>();
      l.expires_at = absl::FromUnixMillis(row[3].as<int64_t>());
      out.push_back(std::move(l));
    }
    MarkShedding(out, busy, shedding);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status PgFetchStore::ReleaseAll(const std::string& owner) {
  return db_.Transact([&](pqxx::work& t) -> absl::Status {
    t.exec_prepared("fetch_release_all", owner);
    t.exec_prepared("fetch_forget_replica", owner);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<LeaseView>> PgFetchStore::ListLeases() {
  std::vector<LeaseView> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& row : t.exec_prepared("fetch_list_leases")) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int64_t>(),
                     absl::FromUnixMillis(row[3].as<int64_t>())});
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<FolderCursorRecord>> PgFetchStore::GetCursors(int64_t connector_id) {
  std::vector<FolderCursorRecord> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& row : t.exec_prepared("fetch_get_cursors", connector_id)) {
      FolderCursorRecord c;
      c.folder = row[0].as<std::string>();
      c.uid_validity = row[1].as<int64_t>();
      c.last_uid = row[2].as<int64_t>();
      c.delta_link = row[3].as<std::string>();
      c.backfill_done = row[4].as<int64_t>();
      c.backfill_total = row[5].as<int64_t>();
      out.push_back(std::move(c));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<std::string>> PgFetchStore::GetPop3Seen(int64_t connector_id) {
  std::vector<std::string> out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out.clear();
    for (const auto& row : t.exec_prepared("fetch_get_seen", connector_id)) {
      out.push_back(row[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<BatchResult> PgFetchStore::SaveBatch(const LeaseRecord& lease,
                                                    const BatchWrite& write) {
  BatchResult out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out = BatchResult();
    if (absl::Status held = CheckLease(t, lease); !held.ok()) return held;
    for (size_t first = 0; first < write.messages.size(); first += kRowsPerInsert) {
      const size_t rows = std::min(kRowsPerInsert, write.messages.size() - first);
      std::vector<std::string> text;
      std::vector<pqxx::binarystring> bytes;
      text.reserve(rows * kTextPerRow);
      bytes.reserve(rows * 2);
      for (size_t i = first; i < first + rows; ++i) {
        const NewMessage& m = write.messages[i];
        // The content hash lets the router trust bytes the fetcher hands it with the stored id
        // (it need not read them back); a truncated message has no hash of its content.
        const std::string sha = m.truncated ? std::string() : Sha256(m.raw);
        text.insert(text.end(),
                    {m.fetch_key, m.folder, m.queue_hint,
                     std::to_string(m.received_at.has_value() ? Ms(*m.received_at) : 0),
                     std::to_string(m.size_bytes), m.truncated ? "true" : "false", m.message_id,
                     m.failed_reason});
        bytes.emplace_back(m.raw.data(), m.raw.size());
        bytes.emplace_back(sha);
      }
      std::map<std::string, int64_t> stored;  // fetch key -> new id
      for (const auto& row : t.exec_prepared(InsertMessagesName(rows), lease.connector_id,
                                             pqxx::prepare::make_dynamic_params(text),
                                             pqxx::prepare::make_dynamic_params(bytes))) {
        stored.emplace(row[1].as<std::string>(), row[0].as<int64_t>());
      }
      for (size_t i = first; i < first + rows; ++i) {
        const NewMessage& m = write.messages[i];
        auto it = stored.find(m.fetch_key);
        if (it == stored.end()) {
          ++out.already_stored;
          continue;
        }
        out.inserted.push_back({it->second, m.fetch_key, m.failed_reason.empty()});
        out.bytes += static_cast<int64_t>(m.raw.size());
        stored.erase(it);  // The same key twice in one batch: stored once.
      }
    }
    if (write.cursor.has_value()) {
      const FolderCursorRecord& c = *write.cursor;
      t.exec_prepared("fetch_upsert_cursor", lease.connector_id, c.folder, c.uid_validity,
                      c.last_uid, c.delta_link, c.backfill_done, c.backfill_total,
                      lease.fencing_token);
    }
    for (const std::string& uidl : write.pop3_uidls) {
      t.exec_prepared("fetch_insert_seen", lease.connector_id, uidl);
    }
    for (const std::string& uidl : write.pop3_forget) {
      t.exec_prepared("fetch_forget_seen", lease.connector_id, uidl);
    }
    for (const AdminNotice& n : write.notices) QueueAdminNotice(t, n);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status PgFetchStore::RecordSuccess(const LeaseRecord& lease, absl::Time at,
                                         int64_t backfill_done, int64_t backfill_total) {
  return db_.Transact([&](pqxx::work& t) -> absl::Status {
    if (absl::Status held = CheckLease(t, lease); !held.ok()) return held;
    t.exec_prepared("fetch_success", lease.connector_id, Ms(at), backfill_done, backfill_total);
    return absl::OkStatus();
  });
}

absl::StatusOr<PollFailureResult> PgFetchStore::RecordFailure(const LeaseRecord& lease,
                                                              const PollFailure& f) {
  PollFailureResult out;
  absl::Status st = db_.Transact([&](pqxx::work& t) -> absl::Status {
    out = PollFailureResult();
    if (absl::Status held = CheckLease(t, lease); !held.ok()) return held;
    ConnectorFailureResult r = RecordConnectorFailure(t, {.connector_id = lease.connector_id,
                                                          .direction = Direction::kIncoming,
                                                          .at = f.at,
                                                          .error = f.error,
                                                          .error_class = f.error_class,
                                                          .threshold = f.threshold,
                                                          .notice = f.notice});
    out.consecutive_errors = r.consecutive_errors;
    out.auto_disabled = r.auto_disabled;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace postroom::store
