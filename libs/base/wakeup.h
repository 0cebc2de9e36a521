#pragma once

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace postroom {

// Lets a worker loop sleep until its next deadline or until woken (a NOTIFY, a new job), and
// tells it to stop. Thread-safe.
class Wakeup {
 public:
  void Notify() {
    absl::MutexLock l(&mu_);
    woken_ = true;
  }
  // Sleeps up to `d` or until Notify/Stop; false when stopping.
  bool Wait(absl::Duration d) {
    absl::MutexLock l(&mu_);
    auto cond = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stop_; };
    mu_.AwaitWithTimeout(absl::Condition(&cond), d);
    woken_ = false;
    return !stop_;
  }
  void Stop() {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  bool stopping() {
    absl::MutexLock l(&mu_);
    return stop_;
  }

 private:
  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace postroom
