#include "libs/store/database.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/base/log.h"

namespace postroom::store {

struct Database::Slot {
  std::unique_ptr<pqxx::connection> conn;
  size_t prepared = 0;  // How many of statements_ this connection has prepared.
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

struct Database::Grouped {
  const std::function<absl::Status(pqxx::work&)>* fn;
  absl::Status result;
  bool done = false;
};

absl::Status Database::TransactGrouped(const std::function<absl::Status(pqxx::work&)>& fn) {
  Grouped me{&fn};
  absl::MutexLock lock(&group_mu_);
  group_queue_.push_back(&me);
  while (!me.done) {
    auto can_lead = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(group_mu_) {
      return me.done || (groups_running_ < kMaxGroupsRunning && !group_queue_.empty());
    };
    group_mu_.Await(absl::Condition(&can_lead));
    if (me.done) break;
    // Lead a group of what is queued (this caller's own fn among it, or already taken).
    size_t n = std::min<size_t>(group_queue_.size(), kMaxGroup);
    std::vector<Grouped*> group(group_queue_.begin(), group_queue_.begin() + n);
    group_queue_.erase(group_queue_.begin(), group_queue_.begin() + n);
    ++groups_running_;
    group_mu_.Unlock();
    RunGroup(group);
    group_mu_.Lock();
    for (Grouped* g : group) g->done = true;
    --groups_running_;
  }
  return me.result;
}

void Database::RunGroup(const std::vector<Grouped*>& group) {
  absl::Status st = Transact([&](pqxx::work& txn) -> absl::Status {
    for (Grouped* g : group) {
      absl::Status one = (*g->fn)(txn);
      if (!one.ok()) return one;
    }
    return absl::OkStatus();
  });
  if (st.ok() || group.size() == 1 || absl::IsUnknown(st)) {
    // Unknown: the commit is in doubt for all of them; running them again could apply twice.
    for (Grouped* g : group) g->result = st;
    return;
  }
  for (Grouped* g : group) g->result = Transact(*g->fn);
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
  }
  LogError("db_error", {{"what", std::string(what)}, {"error", e.what()}});
  return absl::InternalError(message);
}

int64_t UnixMillisOrZero(const pqxx::field& f) {
  if (f.is_null()) return 0;
  return f.as<int64_t>();
}

}  // namespace postroom::store
