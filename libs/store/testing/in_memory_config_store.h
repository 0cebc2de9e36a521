#pragma once

#include <map>

#include "absl/synchronization/mutex.h"
#include "libs/store/config_store.h"

namespace postroom::store {

// ConfigStore for core unit tests: transactions run one at a time on a copy of the state,
// which replaces the state only when the function returns OK, so a failed call leaves no trace
// (as a rolled-back PostgreSQL transaction would). Thread-safe.
class InMemoryConfigStore : public ConfigStore {
 public:
  struct State {
    int64_t next_id = 1;
    std::map<std::string, ConnectorRecord> connectors;  // By name.
    std::map<int64_t, ConnectorStateRecord> states;
    std::map<int64_t, std::map<std::string, SecretRecord>> secrets;
    std::map<int64_t, RouteRecord> routes;  // By id.
    std::map<std::string, DocumentRecord> documents[4];
    std::map<std::string, SecretRecord> webhook_secrets;  // By webhook name.
    std::vector<AuditRecord> audit;
    std::map<int64_t, StoredMail> mail;           // By connector id; tests seed it.
    std::map<std::string, std::string> tombstones;  // Mailbox identity -> connector name.
  };

  absl::Status InTransaction(const std::function<absl::Status(ConfigTx&)>& fn) override;

  // Gives a connector stored mail, as the fetcher and router would.
  void SeedMail(const std::string& connector, const StoredMail& mail) {
    absl::MutexLock lock(&mu_);
    state_.mail[state_.connectors.at(connector).id] = mail;
  }

  // A copy of the committed state, for assertions.
  State Snapshot() {
    absl::MutexLock lock(&mu_);
    return state_;
  }

 private:
  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace postroom::store
