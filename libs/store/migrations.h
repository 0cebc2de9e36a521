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

inline int LatestSchemaVersion() {
  return AllMigrations().empty() ? 0 : AllMigrations().back().version;
}

}  // namespace postroom::store
