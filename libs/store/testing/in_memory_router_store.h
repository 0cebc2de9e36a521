#pragma once

#include <map>

#include "absl/synchronization/mutex.h"
#include "libs/store/router_store.h"

namespace postroom::store {

// RouterStore for core unit tests. Configuration is set directly (SetConnector, PutRoute ...);
// every method runs under one mutex, and CommitDecision applies all or nothing, as the
// PostgreSQL transaction does. Times come from the records or from `now` arguments; stored_at
// and decided_at use the clock function given (default: the Unix epoch). Thread-safe.
class InMemoryRouterStore : public RouterStore {
 public:
  explicit InMemoryRouterStore(std::function<absl::Time()> now = nullptr);

  // Test setup. Each call bumps the configuration generation (the fingerprint).
  void PutConnector(const ConnectorRecord& connector);  // id assigned when 0.
  void PutRoute(const RouteRecord& route);               // Replaces by (connector, name).
  void DeleteRoute(int64_t connector_id, const std::string& name);
  void PutDocument(DocumentKind kind, const DocumentRecord& doc);
  // Stores a pending message as the fetcher would; returns its id.
  int64_t StorePending(MessageRecord message);

  // Everything queued, for assertions.
  std::vector<OutboxRecord> Outbox();
  // What the sender does with a row: sent through `connector_id` with this Message-ID.
  void MarkOutboxSent(int64_t id, int64_t connector_id, const std::string& smtp_message_id);
  std::vector<SuppressionRecord> Suppressions();

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
  struct Event {
    int64_t event_id;
    int64_t work_item_id;
    int64_t message_id;
    std::string kind;
  };
  absl::Time Now() { return now_ ? now_() : absl::UnixEpoch(); }
  const ConnectorRecord* ConnectorById(int64_t id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Mirrors postroom_duplicate_step.sql, reasons word for word.
  DuplicateCheck DuplicateStepLocked(int64_t connector_id, const std::string& message_id,
                                     const std::string& sha, int64_t exclude) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Acks by normalised sender (connector_id 0), or of an incoming connector (sender "").
  int CountAcksLocked(const std::string& sender, int64_t connector_id, absl::Time since) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int CountWorkItemAcksLocked(int64_t work_item_id, absl::Time since) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Mirror postroom_address_suppressed.sql and postroom_record_bounce.sql.
  bool SuppressedLocked(int64_t connector_id, const std::string& address) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordBounceLocked(int64_t message_id, const BounceWrite& b)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::function<absl::Time()> now_;
  absl::Mutex mu_;
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, ConnectorRecord> connectors_ ABSL_GUARDED_BY(mu_);
  std::vector<RouteRecord> routes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, DocumentRecord> documents_[3] ABSL_GUARDED_BY(mu_);
  std::map<int64_t, MessageRecord> messages_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, absl::Time> claimed_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, WorkItemRecord> work_items_ ABSL_GUARDED_BY(mu_);
  std::vector<OutboxRecord> outbox_ ABSL_GUARDED_BY(mu_);
  std::vector<SuppressionRecord> suppressions_ ABSL_GUARDED_BY(mu_);
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace postroom::store
