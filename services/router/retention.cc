#include "services/router/retention.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"

namespace postroom::router {
namespace {

struct Retained {
  int64_t id = 0;
  std::string name;
  int days = 0;
};

absl::StatusOr<std::vector<Retained>> ConnectorsWithRetention(store::Database& db) {
  std::vector<Retained> out;
  POSTROOM_RETURN_IF_ERROR(db.Transact([&](pqxx::work& t) {
    for (const auto& row : t.exec("SELECT c.id, c.name, postroom_retention_days(c) FROM "
                                  "connectors c WHERE postroom_retention_days(c) > 0 "
                                  "ORDER BY c.id")) {
      out.push_back({row[0].as<int64_t>(), row[1].as<std::string>(), row[2].as<int>()});
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int> SweepBatch(store::Database& db, const Retained& c, int limit) {
  int n = 0;
  POSTROOM_RETURN_IF_ERROR(db.Transact([&](pqxx::work& t) {
    n = t.exec_params1("SELECT postroom_retention_sweep($1, $2, $3)", c.id, c.days, limit)[0]
            .as<int>();
    return absl::OkStatus();
  }));
  return n;
}

// Counts only: the audit log never holds mail. The counts travel as "name<TAB>n" lines
// (connector names hold neither), so no JSON is assembled by hand.
absl::Status WriteAudit(store::Database& db, const RetentionRun& run) {
  std::string lines;
  for (const auto& [name, n] : run.removed) absl::StrAppend(&lines, name, "\t", n, "\n");
  return db.Transact([&](pqxx::work& t) {
    t.exec_params(
        "INSERT INTO audit_log (actor, kind, object, action, after) SELECT 'system', "
        "'retention', 'messages', 'sweep', jsonb_build_object('removed', "
        "jsonb_object_agg(split_part(l, E'\\t', 1), split_part(l, E'\\t', 2)::bigint), "
        "'messages', $2::bigint) FROM regexp_split_to_table(rtrim($1, E'\\n'), E'\\n') l",
        lines, run.total);
    return absl::OkStatus();
  });
}

}  // namespace

absl::StatusOr<RetentionRun> SweepRetention(store::Database& db, const RetentionOptions& o,
                                            const absl::Notification* stop) {
  POSTROOM_ASSIGN_OR_RETURN(std::vector<Retained> connectors, ConnectorsWithRetention(db));
  RetentionRun run;
  auto stopped = [&] { return stop != nullptr && stop->HasBeenNotified(); };
  // True when stopped during the pause.
  auto pause = [&] {
    if (stop != nullptr) return stop->WaitForNotificationWithTimeout(o.pause);
    absl::SleepFor(o.pause);
    return false;
  };
  absl::Status failed;
  for (const Retained& c : connectors) {
    for (int i = 0; i < o.max_batches && !stopped(); ++i) {
      if (run.batches > 0 && pause()) break;
      absl::StatusOr<int> n = SweepBatch(db, c, o.batch);
      ++run.batches;
      if (!n.ok()) {
        failed = n.status();
        break;
      }
      if (*n > 0) {
        run.removed[c.name] += *n;
        run.total += *n;
        if (o.metrics != nullptr) o.metrics->Removed(c.name, *n);
      }
      // Fewer than asked: nothing older is left but rows others hold, taken next run.
      if (*n < o.batch) break;
    }
    if (!failed.ok() || stopped()) break;
  }
  // What was removed is removed: the audit entry says so even when a later batch failed.
  if (run.total > 0) POSTROOM_RETURN_IF_ERROR(WriteAudit(db, run));
  if (!failed.ok()) return failed;
  if (o.metrics != nullptr) o.metrics->Swept(absl::Now());
  return run;
}

}  // namespace postroom::router
