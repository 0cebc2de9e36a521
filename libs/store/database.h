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

// Wraps a string argument of CallArgs that goes as binary bytea (raw bytes, hashes).
struct Bytea {
  const std::string& data;
};

// The arguments of one Database::CallGrouped call, in order: each converted to PostgreSQL's
// text form (pqxx::to_string: booleans as true/false), Bytea sent as binary.
class CallArgs {
 public:
  template <typename... Args>
  explicit CallArgs(const Args&... args) {
    (Add(args), ...);
  }
  const std::vector<std::string>& text() const { return text_; }
  const std::vector<pqxx::binarystring>& binary() const { return binary_; }
  const std::vector<bool>& binary_args() const { return binary_args_; }

 private:
  void Add(const Bytea& b) {
    binary_.emplace_back(b.data);
    binary_args_.push_back(true);
  }
  void Add(const std::string& s) {
    text_.push_back(s);
    binary_args_.push_back(false);
  }
  template <typename T>
  void Add(const T& v) {
    text_.push_back(pqxx::to_string(v));
    binary_args_.push_back(false);
  }
  std::vector<std::string> text_;
  std::vector<pqxx::binarystring> binary_;
  std::vector<bool> binary_args_;
};

struct DatabaseOptions {
  std::string uri;               // libpq URI or key=value string.
  int pool_size = 4;             // Connections opened lazily, kept open.
  absl::Duration acquire_timeout = absl::Seconds(10);
  std::string application_name = "postroom";
  // PostgreSQL ends a session that stays idle inside a transaction this long (its
  // idle_in_transaction_session_timeout); zero: the server's setting. The fetcher sets it to
  // its lease period: a replica paused mid-batch (SIGSTOP, a frozen VM) otherwise keeps its
  // lease row share-locked, and the replica taking over skips that row for as long as the pause
  // lasts (scripts/reliability found it).
  absl::Duration idle_in_transaction_timeout = absl::ZeroDuration();
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
  // Registers `function` (a set-returning SQL function giving one row per call) for
  // CallGrouped under `name`. `binary_args` says, per argument in order, whether it is sent as
  // binary bytea (CallArgs' Bytea) rather than text. `what` names the call in errors.
  void PrepareGroupedCall(const std::string& name, const std::string& function,
                          std::vector<bool> binary_args, std::string what);
  // Calls the function registered as `name` with `args` and returns its row. Concurrent callers
  // share one statement, `SELECT f.* FROM function(...) f UNION ALL SELECT ...`, run without
  // BEGIN/COMMIT: one round trip and one WAL flush for the whole group, which is what bounds
  // small durable writes (measured: a routing decision per fsync capped the router at ~800/s;
  // a BEGIN, one statement per caller and a COMMIT per group cost the router and PostgreSQL a
  // context switch each). Callers queue; while fewer than kMaxGroupsRunning groups run, a
  // waiting caller leads the next group with what is queued (at most kMaxGroup calls of the
  // same function); the others wait. The function must be VOLATILE (each call then sees the
  // writes of the calls before it) and repeatable: when the group's statement fails, each call
  // runs again alone so that each gets its own outcome. UNKNOWN when the connection broke
  // during the statement (it may or may not have been applied; a connection idle for more
  // than kProbeIdleAfter is probed before use, so a server restart while idle is not that).
  static constexpr int kMaxGroup = 32;
  static constexpr int kMaxGroupsRunning = 2;
  static constexpr absl::Duration kProbeIdleAfter = absl::Seconds(1);
  absl::StatusOr<pqxx::row> CallGrouped(const std::string& name, const CallArgs& args);
  struct GroupedStats {
    int64_t calls = 0;
    int64_t statements = 0;  // Including the calls run again alone after a failed group.
  };
  GroupedStats GroupedCallStats();

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

  struct GroupedFunction;
  struct PendingCall;
  void RunGroup(const GroupedFunction& f, const std::vector<PendingCall*>& group);
  // One prepared statement without a transaction, on a connection probed first when it has
  // been idle a while (see CallGrouped).
  absl::StatusOr<pqxx::result> ExecAutocommit(const std::string& statement,
                                              const std::vector<std::string>& text,
                                              const std::vector<pqxx::binarystring>& binary,
                                              std::string_view what);

  DatabaseOptions options_;
  absl::Mutex group_mu_;
  std::vector<std::unique_ptr<GroupedFunction>> grouped_functions_ ABSL_GUARDED_BY(group_mu_);
  std::vector<PendingCall*> group_queue_ ABSL_GUARDED_BY(group_mu_);
  int groups_running_ ABSL_GUARDED_BY(group_mu_) = 0;
  GroupedStats grouped_stats_ ABSL_GUARDED_BY(group_mu_);
  absl::Mutex mu_;
  std::vector<std::pair<std::string, std::string>> statements_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<Slot*> idle_ ABSL_GUARDED_BY(mu_);
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
};

// Maps a libpqxx exception to a status: unique violation ALREADY_EXISTS, foreign key or check
// violation FAILED_PRECONDITION, serialization failure or deadlock ABORTED, broken connection
// UNAVAILABLE, a function's no_data_found (P0002) NOT_FOUND, anything else INTERNAL. `what`
// names the operation for the message.
absl::Status ToStatus(const std::exception& e, std::string_view what);

// Milliseconds since the epoch of a `timestamptz` field; 0 when NULL.
int64_t UnixMillisOrZero(const pqxx::field& f);

}  // namespace postroom::store
