#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/store/database.h"

namespace postroom::testing {

// A schema of its own in the PostgreSQL named by POSTROOM_TEST_DATABASE, migrated to the
// latest version, dropped when this object goes away. Tests use Uri(): a libpq URI whose
// `options` put the schema first on the search_path, so the code under test needs no
// knowledge of it. Create() fails, saying how to set the variable, when it is missing.
class PgTestDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<PgTestDatabase>> Create(bool migrate = true);
  ~PgTestDatabase();

  const std::string& Uri() const { return uri_; }
  const std::string& Schema() const { return schema_; }
  const std::string& BaseUri() const { return base_uri_; }

 private:
  PgTestDatabase(std::string base_uri, std::string schema, std::string uri)
      : base_uri_(std::move(base_uri)), schema_(std::move(schema)), uri_(std::move(uri)) {}
  std::string base_uri_;
  std::string schema_;
  std::string uri_;
};

// The variable's value, or a failed status that says how to set it.
absl::StatusOr<std::string> TestDatabaseBaseUri();

// Runs `sql` in its own transaction; the first column of its first row as text, "" when there
// is no row or it is NULL, or the error.
absl::StatusOr<std::string> QueryFirst(store::Database& db, const std::string& sql);

}  // namespace postroom::testing
