#pragma once

#include "libs/store/config_store.h"
#include "libs/store/database.h"

namespace postroom::store {

// ConfigStore over PostgreSQL: the tables of migrations/0001_foundation.sql through named
// prepared statements. Thread-safe; the Database must outlive it.
class PgConfigStore : public ConfigStore {
 public:
  explicit PgConfigStore(Database& db);
  absl::Status InTransaction(const std::function<absl::Status(ConfigTx&)>& fn) override;

 private:
  Database& db_;
};

}  // namespace postroom::store
