#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "libs/store/fetch_store.h"

namespace postroom::store {

// FetchStore in memory, for core tests: same lease, fencing and auto-disable rules as
// PgFetchStore, plus accessors to look at what was written. Thread-safe.
class InMemoryFetchStore : public FetchStore {
 public:
  struct Connector {
    IncomingConnectorRecord record;
    std::string status = "active";  // only "active" ones are polled
  };
  struct Message {
    int64_t id = 0;
    int64_t connector_id = 0;
    NewMessage message;
    std::string decision;  // "" while pending
  };
  struct State {
    absl::Time last_check_at = absl::InfinitePast();
    absl::Time last_success_at = absl::InfinitePast();
    std::string last_error;
    std::string last_error_class;
    int consecutive_errors = 0;
    std::string auto_disabled_reason;
    int64_t backfill_done = 0;
    int64_t backfill_total = 0;
  };
  struct Audit {
    std::string actor, object, action, reason;
  };

  // Adds or replaces a connector (by id); returns its id.
  int64_t PutConnector(IncomingConnectorRecord record, std::string status = "active");
  void SetStatus(int64_t connector_id, const std::string& status);
  std::string Status(int64_t connector_id);
  // The admin address notices go to; empty drops them (as when the setting is missing).
  void SetAdminAddress(std::string address);
  // Makes every call fail with `status` until cleared with OK.
  void FailAll(absl::Status status);

  std::vector<Message> Messages();
  State GetState(int64_t connector_id);
  std::vector<Audit> AuditLog();
  std::vector<AdminNotice> Outbox();

  absl::StatusOr<std::vector<IncomingConnectorRecord>> ListActiveIncoming() override;
  absl::StatusOr<std::vector<std::string>> ListIncomingNames() override;
  absl::StatusOr<std::vector<LeaseRecord>> RenewLeases(const std::string& owner, absl::Time now,
                                                       absl::Duration period,
                                                       const std::set<int64_t>& busy) override;
  absl::Status ReleaseAll(const std::string& owner) override;
  absl::StatusOr<std::vector<LeaseView>> ListLeases() override;
  absl::StatusOr<std::vector<FolderCursorRecord>> GetCursors(int64_t connector_id) override;
  absl::StatusOr<std::vector<std::string>> GetPop3Seen(int64_t connector_id) override;
  absl::StatusOr<BatchResult> SaveBatch(const LeaseRecord& lease, const BatchWrite& write) override;
  absl::Status RecordSuccess(const LeaseRecord& lease, absl::Time at, int64_t backfill_done,
                             int64_t backfill_total) override;
  absl::StatusOr<PollFailureResult> RecordFailure(const LeaseRecord& lease,
                                                  const PollFailure& failure) override;

 private:
  struct Lease {
    std::string owner;
    absl::Time expires_at = absl::InfinitePast();
    int64_t token = 0;
  };
  bool ActiveLocked(int64_t id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckLocked(const LeaseRecord& lease) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NoticeLocked(const AdminNotice& n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, Connector> connectors_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, Lease> leases_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> replicas_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<int64_t, std::string>, FolderCursorRecord> cursors_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::set<std::string>> seen_ ABSL_GUARDED_BY(mu_);
  std::vector<Message> messages_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<int64_t, std::string>> keys_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, State> states_ ABSL_GUARDED_BY(mu_);
  std::vector<Audit> audit_ ABSL_GUARDED_BY(mu_);
  std::vector<AdminNotice> outbox_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> outbox_keys_ ABSL_GUARDED_BY(mu_);
  std::string admin_address_ ABSL_GUARDED_BY(mu_) = "admin@example.com";
};

}  // namespace postroom::store
