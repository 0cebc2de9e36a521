#include "tests/support/pg_test_database.h"

#include <unistd.h>

#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/status_macros.h"
#include "libs/store/database.h"
#include "libs/store/migrator.h"

namespace postroom::testing {

absl::StatusOr<std::string> TestDatabaseBaseUri() {
  const char* uri = std::getenv("POSTROOM_TEST_DATABASE");
  if (uri == nullptr || *uri == '\0') {
    return absl::FailedPreconditionError(
        "POSTROOM_TEST_DATABASE is not set: run the tests through scripts/test, or start a "
        "PostgreSQL (scripts/pg start DIR) and export POSTROOM_TEST_DATABASE=<its libpq URI>");
  }
  return std::string(uri);
}

absl::StatusOr<std::unique_ptr<PgTestDatabase>> PgTestDatabase::Create(bool migrate) {
  POSTROOM_ASSIGN_OR_RETURN(std::string base, TestDatabaseBaseUri());
  std::random_device rd;
  std::string schema = absl::StrFormat("t_%d_%08x", getpid(), rd());
  std::string uri = absl::StrCat(base, base.find('?') == std::string::npos ? "?" : "&",
                                 "options=-c%20search_path%3D", schema);
  {
    store::Database admin({.uri = base, .pool_size = 1});
    POSTROOM_RETURN_IF_ERROR(admin.Transact([&](pqxx::work& t) {
      t.exec0("CREATE SCHEMA " + t.quote_name(schema));
      return absl::OkStatus();
    }));
  }
  std::unique_ptr<PgTestDatabase> db(new PgTestDatabase(base, schema, uri));
  if (migrate) {
    store::Database conn({.uri = uri, .pool_size = 1});
    absl::StatusOr<int> version = store::Migrate(conn);
    if (!version.ok()) return version.status();
  }
  return db;
}

PgTestDatabase::~PgTestDatabase() {
  store::Database admin({.uri = base_uri_, .pool_size = 1});
  (void)admin.Transact([&](pqxx::work& t) {
    t.exec0("DROP SCHEMA " + t.quote_name(schema_) + " CASCADE");
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> QueryFirst(store::Database& db, const std::string& sql) {
  std::string out;
  absl::Status st = db.Transact([&](pqxx::work& t) {
    pqxx::result r = t.exec(sql);
    out = r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace postroom::testing
