#include "libs/store/migrator.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "libs/base/log.h"
#include "libs/store/migrations.h"

namespace postroom::store {
namespace {

// Any fixed 64-bit number; it only has to differ from other advisory locks in the database.
constexpr int64_t kMigrationLockId = 0x706f7374726f6f6d;  // "postroom"

constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "  version integer PRIMARY KEY, name text NOT NULL,"
    "  applied_at timestamptz NOT NULL DEFAULT now())";

// What the migrator ran of each function and view file, by content hash (see Repeatable).
constexpr char kCreateRepeatablesTable[] =
    "CREATE TABLE IF NOT EXISTS schema_repeatables ("
    "  name text PRIMARY KEY, sha256 text NOT NULL,"
    "  applied_at timestamptz NOT NULL DEFAULT now())";

// Runs, in one transaction, each function and view file whose hash differs from the one last
// applied (or that never ran), in the given order.
void ApplyRepeatables(pqxx::connection& c, const std::vector<Repeatable>& repeatables) {
  pqxx::work t(c);
  std::map<std::string, std::string> applied;
  for (const auto& row : t.exec("SELECT name, sha256 FROM schema_repeatables")) {
    applied[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  for (const Repeatable& r : repeatables) {
    if (auto it = applied.find(r.name); it != applied.end() && it->second == r.sha256) continue;
    t.exec(r.sql);
    t.exec_params(
        "INSERT INTO schema_repeatables (name, sha256) VALUES ($1, $2) ON CONFLICT (name) "
        "DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now()",
        r.name, r.sha256);
    LogInfo("repeatable_applied", {{"name", r.name}, {"sha256", r.sha256}});
  }
  t.commit();
}

int ReadVersion(pqxx::transaction_base& t) {
  pqxx::result exists = t.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0][0].as<bool>()) return 0;
  return t.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0].as<int>();
}

}  // namespace

absl::StatusOr<int> CurrentSchemaVersion(Database& db) {
  int version = 0;
  absl::Status st = db.Transact([&](pqxx::work& t) {
    version = ReadVersion(t);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return version;
}

absl::StatusOr<int> Migrate(Database& db) {
  return Migrate(db, AllMigrations(), AllRepeatables(), {});
}

absl::StatusOr<int> Migrate(Database& db, const std::vector<Migration>& migrations,
                            const std::vector<Repeatable>& repeatables,
                            const MigrateOptions& options) {
  int reached = 0;
  absl::Status st = db.WithConnection([&](pqxx::connection& c) -> absl::Status {
    {
      pqxx::nontransaction n(c);
      n.exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLockId) + ")");
    }
    absl::Status result;
    try {
      {
        pqxx::work t(c);
        t.exec0(kCreateTable);
        t.exec0(kCreateRepeatablesTable);
        t.commit();
      }
      for (const Migration& m : migrations) {
        if (m.version > options.up_to_version) break;
        pqxx::work t(c);
        pqxx::result done =
            t.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
        if (!done.empty()) continue;
        t.exec(m.sql);
        t.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                      m.name);
        t.commit();
        LogInfo("migration_applied", {{"version", std::to_string(m.version)}, {"name", m.name}});
      }
      if (options.repeatables) ApplyRepeatables(c, repeatables);
      pqxx::work t(c);
      reached = ReadVersion(t);
      t.commit();
    } catch (const std::exception& e) {
      result = ToStatus(e, "applying migrations");
    }
    pqxx::nontransaction n(c);
    n.exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLockId) + ")");
    return result;
  });
  if (!st.ok()) return st;
  return reached;
}

absl::Status RequireSchemaVersion(Database& db, int needed) {
  absl::StatusOr<int> current = CurrentSchemaVersion(db);
  if (!current.ok()) return current.status();
  if (*current < needed) {
    return absl::FailedPreconditionError(
        absl::StrCat("database schema is at version ", *current, " but this binary needs ",
                     needed, ": run `postroom-config migrate` first"));
  }
  return absl::OkStatus();
}

}  // namespace postroom::store
