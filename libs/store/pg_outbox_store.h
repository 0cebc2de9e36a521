#pragma once

#include "libs/store/database.h"
#include "libs/store/outbox_store.h"

namespace postroom::store {

// OutboxStore over PostgreSQL (migrations 0002, 0006, 0014) through named prepared statements. Times
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
  absl::StatusOr<std::vector<SuppressionRecord>> ListSuppressions(
      const SuppressionFilter& filter) override;
  absl::StatusOr<SuppressionRecord> DeleteSuppression(const std::string& connector,
                                                             const std::string& address,
                                                             const std::string& actor,
                                                             absl::Time now) override;
  absl::StatusOr<ReplyContext> LoadReplyContext(int64_t work_item_id) override;
  absl::StatusOr<QueuedReply> QueueReply(const OutboxItem& row,
                                         const std::vector<OutboxAttachment>& files) override;
  absl::StatusOr<std::vector<OutboxAttachment>> Attachments(int64_t outbox_id) override;

 private:
  void PrepareReplyStatements();

  Database& db_;
};

}  // namespace postroom::store
