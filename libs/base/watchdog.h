#pragma once

// A watchdog for work that must finish in bounded time but cannot be interrupted from outside
// (a C++ thread cannot be cancelled mid-parse). Each piece of work is watched while a Guard
// lives; when one outlives the deadline, on_overrun runs once with its description and age, from
// the watchdog's own thread. The router passes a callback that logs and ends the process: its
// routing attempt was counted when it started, so a message that hangs the router is decided
// failed after router_max_attempts restarts instead of blocking a thread for ever.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace postroom {

class Watchdog {
 public:
  using Overrun = std::function<void(const std::string& what, absl::Duration age)>;
  // deadline <= 0: watches nothing (Watch returns inert guards). `tick` is how often ages are
  // checked; an overrun is seen at most `tick` late.
  Watchdog(absl::Duration deadline, Overrun on_overrun, absl::Duration tick = absl::Seconds(1));
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept : owner_(other.owner_), id_(other.id_) { other.owner_ = nullptr; }
    Guard& operator=(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    ~Guard();

   private:
    friend class Watchdog;
    Guard(Watchdog* owner, uint64_t id) : owner_(owner), id_(id) {}
    Watchdog* owner_ = nullptr;
    uint64_t id_ = 0;
  };

  // Watches `what` (e.g. "message 42 of connector support") until the guard is destroyed.
  [[nodiscard]] Guard Watch(std::string what);
  size_t watched();

 private:
  struct Entry {
    std::string what;
    absl::Time started;
    bool reported = false;
  };
  void Run();
  void Forget(uint64_t id);

  const absl::Duration deadline_;
  const absl::Duration tick_;
  const Overrun on_overrun_;
  absl::Mutex mu_;
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace postroom
