#include "libs/store/testing/in_memory_fetch_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace postroom::store {

int64_t InMemoryFetchStore::PutConnector(IncomingConnectorRecord record, std::string status) {
  absl::MutexLock l(&mu_);
  if (record.id == 0) record.id = static_cast<int64_t>(connectors_.size()) + 1;
  int64_t id = record.id;
  connectors_[id] = {std::move(record), std::move(status)};
  return id;
}

void InMemoryFetchStore::SetStatus(int64_t connector_id, const std::string& status) {
  absl::MutexLock l(&mu_);
  connectors_[connector_id].status = status;
  if (status == "active") states_[connector_id].consecutive_errors = 0;
}

std::string InMemoryFetchStore::Status(int64_t connector_id) {
  absl::MutexLock l(&mu_);
  return connectors_[connector_id].status;
}

void InMemoryFetchStore::SetAdminAddress(std::string address) {
  absl::MutexLock l(&mu_);
  admin_address_ = std::move(address);
}

void InMemoryFetchStore::FailAll(absl::Status status) {
  absl::MutexLock l(&mu_);
  fail_ = std::move(status);
}

std::vector<InMemoryFetchStore::Message> InMemoryFetchStore::Messages() {
  absl::MutexLock l(&mu_);
  return messages_;
}
InMemoryFetchStore::State InMemoryFetchStore::GetState(int64_t connector_id) {
  absl::MutexLock l(&mu_);
  return states_[connector_id];
}
std::vector<InMemoryFetchStore::Audit> InMemoryFetchStore::AuditLog() {
  absl::MutexLock l(&mu_);
  return audit_;
}
std::vector<AdminNotice> InMemoryFetchStore::Outbox() {
  absl::MutexLock l(&mu_);
  return outbox_;
}

bool InMemoryFetchStore::ActiveLocked(int64_t id) const {
  auto it = connectors_.find(id);
  return it != connectors_.end() && it->second.status == "active";
}

absl::Status InMemoryFetchStore::CheckLocked(const LeaseRecord& lease) const {
  if (!fail_.ok()) return fail_;
  auto it = leases_.find(lease.connector_id);
  if (it == leases_.end() || it->second.owner != lease.owner ||
      it->second.token != lease.fencing_token) {
    return absl::AbortedError(absl::StrCat("connector \"", lease.connector,
                                           "\": lease is no longer held; nothing written"));
  }
  return absl::OkStatus();
}

void InMemoryFetchStore::NoticeLocked(const AdminNotice& n) {
  if (admin_address_.empty() || !outbox_keys_.insert(n.dedupe_key).second) return;
  outbox_.push_back(n);
}

absl::StatusOr<std::vector<IncomingConnectorRecord>> InMemoryFetchStore::ListActiveIncoming() {
  absl::MutexLock l(&mu_);
  if (!fail_.ok()) return fail_;
  std::vector<IncomingConnectorRecord> out;
  for (const auto& [id, c] : connectors_) {
    if (c.status == "active") out.push_back(c.record);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> InMemoryFetchStore::ListIncomingNames() {
  absl::MutexLock l(&mu_);
  if (!fail_.ok()) return fail_;
  std::vector<std::string> out;
  for (const auto& [id, c] : connectors_) out.push_back(c.record.name);
  return out;
}

absl::StatusOr<std::vector<LeaseRecord>> InMemoryFetchStore::RenewLeases(
    const std::string& owner, absl::Time now, absl::Duration period,
    const std::set<int64_t>& busy) {
  absl::MutexLock l(&mu_);
  if (!fail_.ok()) return fail_;
  replicas_[owner] = now + period;
  int64_t active = 0, replicas = 0, held = 0;
  for (const auto& [id, c] : connectors_) {
    if (c.status != "active") continue;
    ++active;
    leases_.try_emplace(id);
  }
  for (const auto& [o, exp] : replicas_) replicas += exp > now ? 1 : 0;
  for (auto& [id, lease] : leases_) {
    if (lease.owner != owner) continue;
    if (!ActiveLocked(id)) {
      lease = {"", absl::InfinitePast(), lease.token};
      continue;
    }
    lease.expires_at = now + period;
    ++held;
  }
  const int64_t target =
      (active + std::max<int64_t>(1, replicas) - 1) / std::max<int64_t>(1, replicas);
  for (auto it = leases_.rbegin(); it != leases_.rend() && held > target; ++it) {
    if (it->second.owner == owner && busy.count(it->first) == 0) {
      it->second = {"", absl::InfinitePast(), it->second.token};
      --held;
    }
  }
  const int64_t shedding = std::max<int64_t>(0, held - target);
  for (auto& [id, lease] : leases_) {
    if (held >= target) break;
    if (ActiveLocked(id) && lease.expires_at <= now) {
      lease = {owner, now + period, lease.token + 1};
      ++held;
    }
  }
  std::vector<LeaseRecord> out;
  for (const auto& [id, lease] : leases_) {
    if (lease.owner == owner) {
      out.push_back({id, connectors_[id].record.name, owner, lease.token, lease.expires_at});
    }
  }
  MarkShedding(out, busy, shedding);
  std::sort(out.begin(), out.end(),
            [](const LeaseRecord& a, const LeaseRecord& b) { return a.connector < b.connector; });
  return out;
}

absl::Status InMemoryFetchStore::ReleaseAll(const std::string& owner) {
  absl::MutexLock l(&mu_);
  if (!fail_.ok()) return fail_;
  for (auto& [id, lease] : leases_) {
    if (lease.owner == owner) lease = {"", absl::InfinitePast(), lease.token};
  }
  replicas_.erase(owner);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LeaseView>> InMemoryFetchStore::ListLeases() {
  absl::MutexLock l(&mu_);
  if (!fail_.ok()) return fail_;
  std::vector<LeaseView> out;
  for (const auto& [id, lease] : leases_) {
    if (!lease.owner.empty()) {
      out.push_back({connectors_[id].record.name, lease.owner, lease.token, lease.expires_at});
    }
  }
  return out;
}

absl::StatusOr<std::vector<FolderCursorRecord>> InMemoryFetchStore::GetCursors(
    int64_t connector_id) {
  absl::MutexLock l(&mu_);
  if (!fail_.ok()) return fail_;
  std::vector<FolderCursorRecord> out;
  for (const auto& [key, c] : cursors_) {
    if (key.first == connector_id) out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> InMemoryFetchStore::GetPop3Seen(int64_t connector_id) {
  absl::MutexLock l(&mu_);
  if (!fail_.ok()) return fail_;
  const auto& s = seen_[connector_id];
  return std::vector<std::string>(s.begin(), s.end());
}

absl::StatusOr<BatchResult> InMemoryFetchStore::SaveBatch(const LeaseRecord& lease,
                                                          const BatchWrite& write) {
  absl::MutexLock l(&mu_);
  if (absl::Status st = CheckLocked(lease); !st.ok()) return st;
  BatchResult out;
  for (const NewMessage& m : write.messages) {
    if (!keys_.insert({lease.connector_id, m.fetch_key}).second) {
      ++out.already_stored;
      continue;
    }
    int64_t id = static_cast<int64_t>(messages_.size()) + 1;
    messages_.push_back({id, lease.connector_id, m, m.failed_reason.empty() ? "" : "failed"});
    out.inserted.push_back({id, m.fetch_key, m.failed_reason.empty()});
    out.bytes += static_cast<int64_t>(m.raw.size());
  }
  if (write.cursor.has_value())
    cursors_[{lease.connector_id, write.cursor->folder}] = *write.cursor;
  for (const std::string& u : write.pop3_uidls) seen_[lease.connector_id].insert(u);
  for (const std::string& u : write.pop3_forget) seen_[lease.connector_id].erase(u);
  for (const AdminNotice& n : write.notices) NoticeLocked(n);
  return out;
}

absl::Status InMemoryFetchStore::RecordSuccess(const LeaseRecord& lease, absl::Time at,
                                               int64_t backfill_done, int64_t backfill_total) {
  absl::MutexLock l(&mu_);
  if (absl::Status st = CheckLocked(lease); !st.ok()) return st;
  State& s = states_[lease.connector_id];
  s.last_check_at = s.last_success_at = at;
  s.consecutive_errors = 0;
  s.backfill_done = backfill_done;
  s.backfill_total = backfill_total;
  return absl::OkStatus();
}

absl::StatusOr<PollFailureResult> InMemoryFetchStore::RecordFailure(const LeaseRecord& lease,
                                                                    const PollFailure& f) {
  absl::MutexLock l(&mu_);
  if (absl::Status st = CheckLocked(lease); !st.ok()) return st;
  State& s = states_[lease.connector_id];
  s.last_check_at = f.at;
  s.last_error = f.error;
  s.last_error_class = f.error_class;
  PollFailureResult out;
  out.consecutive_errors = ++s.consecutive_errors;
  if (f.threshold > 0 && s.consecutive_errors >= f.threshold && ActiveLocked(lease.connector_id)) {
    out.auto_disabled = true;
    connectors_[lease.connector_id].status = "disabled_by_system";
    s.auto_disabled_reason = absl::StrCat(s.consecutive_errors, " consecutive ", f.error_class,
                                          " errors; last: ", f.error);
    audit_.push_back({"system", lease.connector, "auto_disable", s.auto_disabled_reason});
    NoticeLocked(f.notice);
  }
  return out;
}

}  // namespace postroom::store
