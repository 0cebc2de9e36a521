#pragma once

#include "libs/store/database.h"
#include "libs/store/outbox_store.h"

namespace postroom::store {

// OutboxStore over PostgreSQL (migrations 0002, 0006) through named prepared statements. Times
// come from the caller's clock as unix milliseconds, so replicas and tests agree on "now" the
// way they pass it. Thread-safe; the Database must outlive it.
class PgOutboxStore : public OutboxStore {
 public:
  explicit PgOutboxStore(Database& db);

  absl::StatusOr<std::vector<OutboxItem>> ClaimDue(const std::string& owner, absl::Time now,
                                                   absl::Duration lease, int limit) override;
  absl::StatusOr<std::vector<WebhookDelivery>> ClaimDueWebhooks(const std::string& owner,
                                                                absl::Time now,
                                                                absl::Duration lease,
                                                                int limit) override;
  absl::StatusOr<std::vector<OutgoingConnectorRecord>> ListOutgoing() override;
  absl::StatusOr<std::vector<std::string>> ListOutgoingNames() override;
  absl::StatusOr<AttemptResult> FinishAttempt(const AttemptOutcome& outcome) override;
  absl::StatusOr<std::optional<absl::Time>> NextDue() override;
  absl::StatusOr<std::vector<OutboxItem>> List(const OutboxFilter& filter) override;
  absl::StatusOr<OutboxItem> Get(int64_t id) override;
  absl::StatusOr<OutboxItem> RetryNow(int64_t id, absl::Time now) override;

 private:
  Database& db_;
};

}  // namespace postroom::store
