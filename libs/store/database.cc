#include "libs/store/database.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/base/log.h"

namespace postroom::store {

struct Database::Slot {
  std::unique_ptr<pqxx::connection> conn;
  size_t prepared = 0;  // How many of statements_ this connection has prepared.
  absl::Time idle_since = absl::InfiniteFuture();  // When it last went back to the pool.
};

Database::Database(DatabaseOptions options) : options_(std::move(options)) {
  if (options_.pool_size < 1) options_.pool_size = 1;
}

Database::~Database() = default;

void Database::Prepare(std::string name, std::string sql) {
  absl::MutexLock lock(&mu_);
  for (const auto& [n, s] : statements_) {
    if (n == name) return;
  }
  statements_.emplace_back(std::move(name), std::move(sql));
}

absl::Status Database::Open(Slot& slot) {
  try {
    slot.conn = std::make_unique<pqxx::connection>(options_.uri);
    pqxx::nontransaction setup(*slot.conn);
    setup.exec0("SET application_name = " + setup.quote(options_.application_name));
    if (options_.idle_in_transaction_timeout > absl::ZeroDuration()) {
      setup.exec0(absl::StrCat(
          "SET idle_in_transaction_session_timeout = ",
          absl::ToInt64Milliseconds(options_.idle_in_transaction_timeout)));
    }
    slot.prepared = 0;
    return absl::OkStatus();
  } catch (const std::exception& e) {
    slot.conn.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot connect to PostgreSQL: ", e.what(),
                     " (check POSTROOM_DATABASE and that the server runs)"));
  }
}

absl::StatusOr<Database::Slot*> Database::Acquire() {
  Slot* slot = nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || static_cast<int>(slots_.size()) < options_.pool_size;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&available), options_.acquire_timeout)) {
      return absl::UnavailableError(absl::StrCat(
          "no free database connection within ", absl::FormatDuration(options_.acquire_timeout),
          " (pool of ", options_.pool_size, " in use)"));
    }
    if (!idle_.empty()) {
      slot = idle_.back();
      idle_.pop_back();
    } else {
      slots_.push_back(std::make_unique<Slot>());
      slot = slots_.back().get();
    }
    ++in_use_;
  }
  if (!slot->conn || !slot->conn->is_open()) {
    if (absl::Status st = Open(*slot); !st.ok()) {
      Release(slot, /*broken=*/true);
      return st;
    }
  }
  // Prepare statements registered since this connection last looked.
  std::vector<std::pair<std::string, std::string>> pending;
  {
    absl::MutexLock lock(&mu_);
    pending.assign(statements_.begin() + slot->prepared, statements_.end());
  }
  try {
    for (const auto& [name, sql] : pending) slot->conn->prepare(name, sql);
    slot->prepared += pending.size();
  } catch (const std::exception& e) {
    Release(slot, /*broken=*/true);
    return ToStatus(e, "preparing statements");
  }
  return slot;
}

void Database::Release(Slot* slot, bool broken) {
  if (broken && slot->conn) {
    try {
      slot->conn->disconnect();
    } catch (...) {
    }
    slot->conn.reset();
  }
  absl::MutexLock lock(&mu_);
  --in_use_;
  if (broken) {
    for (auto it = slots_.begin(); it != slots_.end(); ++it) {
      if (it->get() == slot) {
        slots_.erase(it);
        break;
      }
    }
  } else {
    slot->idle_since = absl::Now();
    idle_.push_back(slot);
  }
}

absl::Status Database::Ping() {
  return WithConnection([](pqxx::connection& c) {
    pqxx::nontransaction n(c);
    n.exec1("SELECT 1");
    return absl::OkStatus();
  });
}

absl::Status Database::WithConnection(const std::function<absl::Status(pqxx::connection&)>& fn) {
  absl::StatusOr<Slot*> slot = Acquire();
  if (!slot.ok()) return slot.status();
  absl::Status result;
  bool broken = false;
  try {
    result = fn(*(*slot)->conn);
  } catch (const pqxx::broken_connection& e) {
    broken = true;
    result = ToStatus(e, "database call");
  } catch (const std::exception& e) {
    result = ToStatus(e, "database call");
    broken = !(*slot)->conn->is_open();
  }
  Release(*slot, broken);
  return result;
}

absl::Status Database::Transact(const std::function<absl::Status(pqxx::work&)>& fn) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<Slot*> slot = Acquire();
    if (!slot.ok()) return slot.status();
    bool started = false;
    try {
      pqxx::work txn(*(*slot)->conn);
      started = true;
      absl::Status st = fn(txn);
      if (st.ok()) {
        txn.commit();
      } else {
        txn.abort();
      }
      Release(*slot, false);
      return st;
    } catch (const pqxx::in_doubt_error& e) {
      Release(*slot, true);
      return absl::UnknownError(
          absl::StrCat("the database connection broke during commit; the change may or may not "
                       "have been applied: ",
                       e.what()));
    } catch (const pqxx::broken_connection& e) {
      Release(*slot, true);
      // A connection that died while idle in the pool: retry once on a fresh one.
      if (!started && attempt == 0) continue;
      return ToStatus(e, "database transaction");
    } catch (const std::exception& e) {
      bool broken = !(*slot)->conn->is_open();
      Release(*slot, broken);
      if (broken && !started && attempt == 0) continue;
      return ToStatus(e, "database transaction");
    }
  }
}

struct Database::GroupedFunction {
  std::string name;
  std::vector<bool> binary_args;
  std::string what;
};

struct Database::PendingCall {
  const GroupedFunction* function = nullptr;
  const CallArgs* args = nullptr;
  absl::StatusOr<pqxx::row> result = absl::UnknownError("not run");
  bool done = false;
};

namespace {
std::string GroupStatementName(const std::string& name, size_t members) {
  return absl::StrCat(name, "_x", members);
}

// SELECT f.*, 0 FROM function($1, ..) f UNION ALL SELECT f.*, 1 FROM ..: member k's text
// arguments are $(k * texts + 1).., then come all members' binary ones, member by member.
// The member number goes last so that a member's row reads like the function's own.
std::string GroupStatementSql(const std::string& function, const std::vector<bool>& binary_args,
                              size_t members) {
  const size_t texts = std::count(binary_args.begin(), binary_args.end(), false);
  const size_t binaries = binary_args.size() - texts;
  std::string sql;
  for (size_t k = 0; k < members; ++k) {
    size_t next_text = 1 + k * texts;
    size_t next_binary = 1 + members * texts + k * binaries;
    absl::StrAppend(&sql, k == 0 ? "" : " UNION ALL ", "SELECT f.*, ", k, " FROM ", function,
                    "(");
    for (size_t i = 0; i < binary_args.size(); ++i) {
      absl::StrAppend(&sql, i == 0 ? "$" : ", $", binary_args[i] ? next_binary++ : next_text++);
    }
    absl::StrAppend(&sql, ") f");
  }
  return sql;
}
}  // namespace

void Database::PrepareGroupedCall(const std::string& name, const std::string& function,
                                  std::vector<bool> binary_args, std::string what) {
  for (int members = 1; members <= kMaxGroup; ++members) {
    Prepare(GroupStatementName(name, members), GroupStatementSql(function, binary_args, members));
  }
  auto f = std::make_unique<GroupedFunction>();
  f->name = name;
  f->binary_args = std::move(binary_args);
  f->what = std::move(what);
  absl::MutexLock lock(&group_mu_);
  grouped_functions_.push_back(std::move(f));
}

absl::StatusOr<pqxx::row> Database::CallGrouped(const std::string& name, const CallArgs& args) {
  absl::MutexLock lock(&group_mu_);
  const GroupedFunction* function = nullptr;
  for (const auto& f : grouped_functions_) {
    if (f->name == name) function = f.get();
  }
  if (function == nullptr) {
    return absl::InternalError(absl::StrCat("no grouped call ", name, " is registered"));
  }
  if (args.binary_args() != function->binary_args) {
    return absl::InternalError(absl::StrCat(
        "the arguments of ", name, " do not have the registered count and binary positions"));
  }
  PendingCall me;
  me.function = function;
  me.args = &args;
  ++grouped_stats_.calls;
  group_queue_.push_back(&me);
  while (!me.done) {
    auto can_lead = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(group_mu_) {
      return me.done || (groups_running_ < kMaxGroupsRunning && !group_queue_.empty());
    };
    group_mu_.Await(absl::Condition(&can_lead));
    if (me.done) break;
    // Lead a group of what is queued for the first queued call's function (this caller's own
    // call among it, or already taken by another leader).
    std::vector<PendingCall*> group;
    const GroupedFunction* f = group_queue_.front()->function;
    for (auto it = group_queue_.begin();
         it != group_queue_.end() && group.size() < static_cast<size_t>(kMaxGroup);) {
      if ((*it)->function != f) {
        ++it;
        continue;
      }
      group.push_back(*it);
      it = group_queue_.erase(it);
    }
    ++groups_running_;
    group_mu_.Unlock();
    RunGroup(*f, group);
    group_mu_.Lock();
    for (PendingCall* c : group) c->done = true;
    --groups_running_;
  }
  return me.result;
}

void Database::RunGroup(const GroupedFunction& f, const std::vector<PendingCall*>& group) {
  std::vector<std::string> text;
  std::vector<pqxx::binarystring> binary;
  for (const PendingCall* c : group) {
    text.insert(text.end(), c->args->text().begin(), c->args->text().end());
    binary.insert(binary.end(), c->args->binary().begin(), c->args->binary().end());
  }
  // One statement of `calls` calls, which must give one row each.
  auto exec = [this, &f](size_t calls, const std::vector<std::string>& text,
                   const std::vector<pqxx::binarystring>& binary) {
    absl::StatusOr<pqxx::result> r =
        ExecAutocommit(GroupStatementName(f.name, calls), text, binary, f.what);
    if (r.ok() && r->size() != calls) {
      r = absl::InternalError(absl::StrCat(f.what, ": ", calls, " calls of ", f.name,
                                           " returned ", r->size(), " rows, not one each"));
    }
    return r;
  };
  absl::StatusOr<pqxx::result> r = exec(group.size(), text, binary);
  int64_t statements = 1;
  if (r.ok()) {
    const pqxx::row::size_type member = r->columns() - 1;
    for (const pqxx::row& row : *r) group[row[member].as<size_t>()]->result = row;
  } else if (group.size() == 1 || absl::IsUnknown(r.status())) {
    // Unknown: the group may have been applied; running its calls again could apply twice.
    for (PendingCall* c : group) c->result = r.status();
  } else {
    // The statement rolled back as a whole: each call again alone, for its own outcome.
    for (PendingCall* c : group) {
      absl::StatusOr<pqxx::result> alone = exec(1, c->args->text(), c->args->binary());
      ++statements;
      c->result = alone.ok() ? absl::StatusOr<pqxx::row>((*alone)[0]) : alone.status();
    }
  }
  absl::MutexLock lock(&group_mu_);
  grouped_stats_.statements += statements;
}

absl::StatusOr<pqxx::result> Database::ExecAutocommit(
    const std::string& statement, const std::vector<std::string>& text,
    const std::vector<pqxx::binarystring>& binary, std::string_view what) {
  // Every pooled connection may have died at once (a server restart): probe them all if need be.
  for (int probes_failed = 0;;) {
    absl::StatusOr<Slot*> slot = Acquire();
    if (!slot.ok()) return slot.status();
    pqxx::connection& conn = *(*slot)->conn;
    // Without BEGIN a connection found dead mid-statement leaves the outcome in doubt; one that
    // died while idle in the pool (a server restart, an idle timeout) is found here instead,
    // before anything is sent, and replaced.
    if (absl::Now() - (*slot)->idle_since > kProbeIdleAfter) {
      try {
        pqxx::nontransaction probe(conn);
        probe.exec0("SELECT 1");
      } catch (const std::exception& e) {
        Release(*slot, /*broken=*/true);
        if (++probes_failed <= options_.pool_size) continue;
        return ToStatus(e, what);
      }
    }
    try {
      pqxx::result r;
      {
        // Ended before the connection goes back to the pool: libpqxx allows one transaction
        // object per connection, and the next user may be another thread.
        pqxx::nontransaction t(conn);
        r = t.exec_prepared(statement, pqxx::prepare::make_dynamic_params(text),
                            pqxx::prepare::make_dynamic_params(binary));
      }
      Release(*slot, false);
      return r;
    } catch (const pqxx::broken_connection& e) {
      Release(*slot, true);
      return absl::UnknownError(
          absl::StrCat(std::string(what), ": the database connection broke during the statement; it may or "
                       "may not have been applied: ", e.what()));
    } catch (const std::exception& e) {
      Release(*slot, !conn.is_open());
      return ToStatus(e, what);
    }
  }
}

Database::GroupedStats Database::GroupedCallStats() {
  absl::MutexLock lock(&group_mu_);
  return grouped_stats_;
}

Database::PoolStats Database::Stats() {
  absl::MutexLock lock(&mu_);
  return PoolStats{in_use_, static_cast<int>(idle_.size())};
}

absl::Status ToStatus(const std::exception& e, std::string_view what) {
  std::string message = absl::StrCat(std::string(what), ": ", e.what());
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (dynamic_cast<const pqxx::unique_violation*>(&e)) return absl::AlreadyExistsError(message);
  if (dynamic_cast<const pqxx::foreign_key_violation*>(&e) ||
      dynamic_cast<const pqxx::check_violation*>(&e) ||
      dynamic_cast<const pqxx::not_null_violation*>(&e)) {
    return absl::FailedPreconditionError(message);
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) ||
      dynamic_cast<const pqxx::deadlock_detected*>(&e)) {
    return absl::AbortedError(message);
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) return absl::UnavailableError(message);
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    // Class 57 (operator intervention: shutdown, cancel) and 08 (connection) are transient.
    if (state.rfind("57", 0) == 0 || state.rfind("08", 0) == 0) {
      return absl::UnavailableError(message);
    }
    if (state == "22P02" || state == "22023") return absl::InvalidArgumentError(message);
    if (state == "P0002") return absl::NotFoundError(message);
  }
  LogError("db_error", {{"what", std::string(what)}, {"error", e.what()}});
  return absl::InternalError(message);
}

int64_t UnixMillisOrZero(const pqxx::field& f) {
  if (f.is_null()) return 0;
  return f.as<int64_t>();
}

}  // namespace postroom::store
