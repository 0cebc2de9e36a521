#pragma once

#include "libs/store/database.h"
#include "libs/store/fetch_store.h"

namespace postroom::store {

// FetchStore over PostgreSQL (migrations 0001, 0002, 0004) through named prepared statements.
// Times come from the caller's clock (as unix milliseconds), so every replica and the tests
// agree on "now" the way they pass it. Raw bytes travel as binary parameters. Thread-safe; the
// Database must outlive it.
class PgFetchStore : public FetchStore {
 public:
  explicit PgFetchStore(Database& db);

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
  Database& db_;
};

}  // namespace postroom::store
