#pragma once

// The one place that owns PostgreSQL connections. Store implementations include this header
// (and so libpqxx); domain cores never do.
#define PQXX_HAVE_OPTIONAL 1
#include <pqxx/pqxx>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace postroom::store {

struct DatabaseOptions {
  std::string uri;               // libpq URI or key=value string.
  int pool_size = 4;             // Connections opened lazily, kept open.
  absl::Duration acquire_timeout = absl::Seconds(10);
  std::string application_name = "postroom";
};

// A small connection pool with named prepared statements. Statements registered with
// Prepare() before first use are prepared on every connection as it opens. Transact() runs a
// function in one transaction and turns every libpqxx exception into an absl::Status (see
// ToStatus), so nothing thrown escapes. A broken connection is dropped and reopened on the next
// use. Thread-safe.
class Database {
 public:
  explicit Database(DatabaseOptions options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Registers a statement; call before the first Transact() that uses it.
  void Prepare(std::string name, std::string sql);

  // Opens one connection to check that the database answers. UNAVAILABLE with libpq's words.
  absl::Status Ping();

  // Runs fn(txn) in a READ COMMITTED transaction and commits when fn returns OK; rolls back
  // otherwise. Retries once on a broken connection before fn has run.
  absl::Status Transact(const std::function<absl::Status(pqxx::work&)>& fn);
  // Like Transact, but concurrent callers share one transaction: one BEGIN/COMMIT and so one
  // WAL flush for the group, which is what bounds small durable writes (measured: a routing
  // decision per fsync capped the router at ~800/s). Callers queue; while fewer than
  // kMaxGroupsRunning groups run, a waiting caller leads the next group with what is queued
  // (at most kMaxGroup); the others wait. Several groups keep several backends busy.
  // fn may run more than once and must be repeatable: when anything in a group fails, the group
  // rolls back and each fn runs again alone, so each gets its own outcome. fn's effects are
  // committed when this returns OK.
  static constexpr int kMaxGroup = 32;
  static constexpr int kMaxGroupsRunning = 2;
  absl::Status TransactGrouped(const std::function<absl::Status(pqxx::work&)>& fn);
  // Like Transact, without a transaction (for LISTEN, advisory locks, VACUUM ...).
  absl::Status WithConnection(const std::function<absl::Status(pqxx::connection&)>& fn);

  struct PoolStats {
    int in_use = 0;
    int idle = 0;
  };
  PoolStats Stats();

  const DatabaseOptions& options() const { return options_; }

 private:
  struct Slot;
  absl::StatusOr<Slot*> Acquire();
  void Release(Slot* slot, bool broken);
  absl::Status Open(Slot& slot);

  struct Grouped;
  void RunGroup(const std::vector<Grouped*>& group);

  DatabaseOptions options_;
  absl::Mutex group_mu_;
  std::vector<Grouped*> group_queue_ ABSL_GUARDED_BY(group_mu_);
  int groups_running_ ABSL_GUARDED_BY(group_mu_) = 0;
  absl::Mutex mu_;
  std::vector<std::pair<std::string, std::string>> statements_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<Slot*> idle_ ABSL_GUARDED_BY(mu_);
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
};

// Maps a libpqxx exception to a status: unique violation ALREADY_EXISTS, foreign key or check
// violation FAILED_PRECONDITION, serialization failure or deadlock ABORTED, broken connection
// UNAVAILABLE, anything else INTERNAL. `what` names the operation for the message.
absl::Status ToStatus(const std::exception& e, std::string_view what);

// Milliseconds since the epoch of a `timestamptz` field; 0 when NULL.
int64_t UnixMillisOrZero(const pqxx::field& f);

}  // namespace postroom::store
