#pragma once

#include <vector>

#include "absl/synchronization/mutex.h"
#include "libs/store/database.h"
#include "libs/store/router_store.h"

namespace postroom::store {

// RouterStore over PostgreSQL (migrations 0001-0003) through named prepared statements.
// Single reads run without a transaction (one round trip); CommitDecision is one call of the
// SQL function postroom_commit_decision (migration 0005) in one statement shared with
// concurrent decisions (Database::CallGrouped), with
// message and work item ids drawn beforehand from the sequences in blocks (gaps in the ids are
// harmless; they also arise from rollbacks). Thread-safe; the Database must outlive it.
class PgRouterStore : public RouterStore {
 public:
  explicit PgRouterStore(Database& db);

  // Two of the lookups' prepared statements, for the test of their generic plans.
  static std::string DuplicateStepSql();
  static std::string WorkItemByThreadRootSql();

  absl::StatusOr<std::optional<std::string>> ConfigFingerprint(
      const std::string& connector) override;
  absl::StatusOr<std::optional<RouterConfigRecord>> LoadConfig(
      const std::string& connector) override;
  absl::StatusOr<MessageRecord> GetMessage(int64_t id, bool include_raw) override;
  absl::StatusOr<std::optional<MessageRecord>> FindMessageByFetchKey(
      int64_t connector_id, const std::string& fetch_key) override;
  absl::StatusOr<std::vector<MessageRecord>> ListMessages(const MessageFilter& f) override;
  absl::StatusOr<DuplicateCheck> CheckDuplicate(int64_t connector_id,
                                                const std::string& message_id,
                                                const std::string& content_sha256,
                                                int64_t exclude_id) override;
  absl::StatusOr<int64_t> FindWorkItemByMessageIds(
      int64_t connector_id, const std::vector<std::string>& message_ids) override;
  absl::StatusOr<int64_t> FindWorkItemByThreadRoot(int64_t connector_id,
                                                   const std::string& thread_root) override;
  absl::StatusOr<int64_t> FindWorkItemByReference(const std::string& reference) override;
  absl::StatusOr<int64_t> FindFollowUpByReference(int64_t connector_id,
                                                  const std::string& reference) override;
  absl::StatusOr<int> CountAcksSince(const std::string& sender_key, absl::Time since) override;
  absl::StatusOr<int> CountConnectorAcksSince(int64_t connector_id, absl::Time since) override;
  absl::StatusOr<int> CountWorkItemAcksSince(int64_t work_item_id, absl::Time since) override;
  absl::StatusOr<std::optional<OutboxRecord>> FindOutboxForBounce(
      int64_t outbox_id, const std::string& smtp_message_id) override;
  absl::StatusOr<bool> IsAddressSuppressed(int64_t connector_id,
                                           const std::string& address) override;
  absl::StatusOr<int64_t> NextWorkItemId() override;
  absl::StatusOr<DecisionResult> CommitDecision(const DecisionWrite& write) override;
  absl::StatusOr<MessageRecord> SetSpamStatus(int64_t id, const std::string& status) override;
  absl::Status RecordAttemptError(int64_t id, const std::string& error) override;
  absl::StatusOr<std::vector<int64_t>> ClaimPending(absl::Time stored_before,
                                                    absl::Time claimed_before, absl::Time now,
                                                    int limit) override;
  absl::StatusOr<std::optional<Attempt>> StartAttempt(int64_t id, int64_t connector_id,
                                                      absl::Time now) override;
  absl::StatusOr<WorkItemRecord> GetWorkItem(int64_t id) override;
  absl::StatusOr<int64_t> WorkItemIdByReference(const std::string& reference) override;
  absl::StatusOr<std::vector<WorkItemRecord>> ListWorkItems(const WorkItemFilter& f) override;
  absl::StatusOr<std::vector<OutboxRecord>> ListOutboxForWorkItem(int64_t id) override;
  absl::StatusOr<std::vector<MessageRecord>> ListMessagesOfWorkItem(int64_t id) override;
  absl::StatusOr<std::vector<WorkItemEventRecord>> ListWorkItemEvents(int64_t after_event_id,
                                                                      const std::string& queue,
                                                                      int limit) override;
  absl::StatusOr<int64_t> LatestEventId() override;
  absl::StatusOr<ForgetResult> ForgetAddress(const ForgetBatch& batch) override;

 private:
  // One statement without a transaction; libpqxx exceptions become a status.
  absl::Status Read(const std::function<absl::Status(pqxx::nontransaction&)>& fn,
                    std::string_view what);
  // The count a prepared statement of (id, since in ms) returns.
  absl::StatusOr<int> CountById(const char* statement, int64_t id, absl::Time since,
                                std::string_view what);

  // Ids drawn ahead from one sequence, kIdBlockSize per round trip.
  static constexpr int kIdBlockSize = 64;
  struct IdBlock {
    std::string statement;
    absl::Mutex mu;
    std::vector<int64_t> ids ABSL_GUARDED_BY(mu);
    // The next id, or why the database could not give more.
    absl::StatusOr<int64_t> Next(Database& db);
  };

  Database& db_;
  IdBlock message_ids_{"router_next_message_ids"};
  IdBlock work_item_ids_{"router_next_work_item_ids"};
};

}  // namespace postroom::store
