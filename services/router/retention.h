#pragma once

// The retention sweep (issue #20, docs/privacy.md "Retention"): empties the raw bytes and
// bodies of decided mail older than each connector's retention, in small batches of one short
// transaction each (the database function postroom_retention_sweep), with a pause between
// batches so ingestion keeps the database. Leader-less: batches skip rows another transaction
// holds, so every router replica may run it. One audit entry per run that removed anything.
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/store/database.h"

namespace postroom::router {

// Where the sweep's figures go (docs/metrics.md); may be absent.
class RetentionMetrics {
 public:
  virtual ~RetentionMetrics() = default;
  virtual void Removed(const std::string& connector, int64_t messages) = 0;
  // A run finished (whether or not it removed anything).
  virtual void Swept(absl::Time at) = 0;
};

struct RetentionOptions {
  int batch = 500;  // Messages per transaction (the function accepts 1-10000).
  absl::Duration pause = absl::Milliseconds(100);  // Between two batches.
  // Batches per connector and run: with `batch` a bound on what one run does, so a run ends
  // (the next one continues) even while old mail keeps arriving.
  int max_batches = 2000;
  RetentionMetrics* metrics = nullptr;  // Not owned; may be null.
};

struct RetentionRun {
  std::map<std::string, int64_t> removed;  // Per connector name; only those that removed any.
  int64_t total = 0;
  int batches = 0;
};

// Sweeps every connector with a retention (its own retention_days, else the system setting)
// once. `stop` (may be null) ends the run between batches. The run's counts, also written to
// the audit log (kind "retention", action "sweep", actor "system") when anything was removed.
absl::StatusOr<RetentionRun> SweepRetention(store::Database& db, const RetentionOptions& options,
                                            const absl::Notification* stop = nullptr);

}  // namespace postroom::router
