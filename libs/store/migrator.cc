#include "libs/store/migrator.h"

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
        t.commit();
      }
      for (const Migration& m : AllMigrations()) {
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
