#pragma once

#include <memory>

#include "libs/store/config_store.h"

namespace postroom::config::testing {

// The same core tests run twice: over InMemoryConfigStore (config_core_test) and over
// PostgreSQL (config_core_pg_test); each binary links one definition of this.
class StoreHolder {
 public:
  virtual ~StoreHolder() = default;
  virtual store::ConfigStore& store() = 0;
  // Gives connector `name` stored mail as the fetcher and router would: `mail.messages`
  // messages, the first `mail.work_items` of them each with its own work item, the first
  // `mail.outbox` of them acknowledged.
  virtual void AddMail(const std::string& name, const store::StoredMail& mail) = 0;
};
std::unique_ptr<StoreHolder> MakeStore();

}  // namespace postroom::config::testing
