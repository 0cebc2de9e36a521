#pragma once

#include <string>
#include <vector>

namespace postroom::store {

// One schema step. Versions are the numeric prefix of libs/store/migrations/NNNN_what.sql;
// a landed migration is never edited, only followed by a new one.
struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// Every migration compiled into this binary, in version order.
const std::vector<Migration>& AllMigrations();

// A database function or view kept whole in one file, libs/store/sql/functions/NAME.sql or
// views/NAME.sql (CREATE OR REPLACE ...), so the live definition is read in one place. Migrate
// runs it again whenever its content changes, like Flyway's repeatable migrations; numbered
// migrations keep only schema changes.
struct Repeatable {
  std::string name;    // "functions/NAME" or "views/NAME".
  std::string sql;
  std::string sha256;  // Hex SHA-256 of `sql`.
};

// Every function and view file compiled into this binary: functions first, then views, each in
// name order (the order Migrate applies them in).
const std::vector<Repeatable>& AllRepeatables();

inline int LatestSchemaVersion() {
  return AllMigrations().empty() ? 0 : AllMigrations().back().version;
}

}  // namespace postroom::store
