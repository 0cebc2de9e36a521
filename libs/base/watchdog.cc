#include "libs/base/watchdog.h"

#include <utility>
#include <vector>

namespace postroom {

Watchdog::Watchdog(absl::Duration deadline, Overrun on_overrun, absl::Duration tick)
    : deadline_(deadline), tick_(tick), on_overrun_(std::move(on_overrun)) {
  if (deadline_ > absl::ZeroDuration()) thread_ = std::thread([this] { Run(); });
}

Watchdog::~Watchdog() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

Watchdog::Guard::~Guard() {
  if (owner_ != nullptr) owner_->Forget(id_);
}

Watchdog::Guard& Watchdog::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    if (owner_ != nullptr) owner_->Forget(id_);
    owner_ = std::exchange(other.owner_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

Watchdog::Guard Watchdog::Watch(std::string what) {
  if (deadline_ <= absl::ZeroDuration()) return Guard();
  absl::MutexLock l(&mu_);
  const uint64_t id = next_id_++;
  entries_.emplace(id, Entry{.what = std::move(what), .started = absl::Now()});
  return Guard(this, id);
}

size_t Watchdog::watched() {
  absl::MutexLock l(&mu_);
  return entries_.size();
}

void Watchdog::Forget(uint64_t id) {
  absl::MutexLock l(&mu_);
  entries_.erase(id);
}

void Watchdog::Run() {
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  for (;;) {
    std::vector<std::pair<std::string, absl::Duration>> overdue;
    {
      absl::MutexLock l(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), tick_)) return;
      const absl::Time now = absl::Now();
      for (auto& [id, e] : entries_) {
        if (!e.reported && now - e.started > deadline_) {
          e.reported = true;
          overdue.emplace_back(e.what, now - e.started);
        }
      }
    }
    // Outside the lock: the callback may end the process, or watch something itself.
    for (const auto& [what, age] : overdue) on_overrun_(what, age);
  }
}

}  // namespace postroom
