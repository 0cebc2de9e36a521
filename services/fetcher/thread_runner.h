#pragma once

// The core's TaskRunner over plain threads: one per task (an IMAP IDLE lasts up to a poll
// interval and blocks in poll(2), so a shared pool would let a few idle connectors starve the
// rest). Finished threads are joined on the next Run; JoinAll waits for the rest.
#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "services/fetcher/core/ports.h"

namespace postroom::fetcher {

class ThreadRunner : public TaskRunner {
 public:
  ThreadRunner() = default;
  ThreadRunner(const ThreadRunner&) = delete;
  ThreadRunner& operator=(const ThreadRunner&) = delete;
  ~ThreadRunner() override { JoinAll(); }

  void Run(std::function<void()> task) override {
    absl::MutexLock l(&mu_);
    Reap();
    auto done = std::make_shared<std::atomic<bool>>(false);
    threads_.push_back({std::thread([task = std::move(task), done] {
                          task();
                          *done = true;
                        }),
                        done});
  }

  // Waits for every task (the core must have told them to stop: FetcherCore::ReleaseAll).
  void JoinAll() {
    absl::MutexLock l(&mu_);
    for (Worker& w : threads_) w.thread.join();
    threads_.clear();
  }

 private:
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  void Reap() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto it = threads_.begin(); it != threads_.end();) {
      if (*it->done) {
        it->thread.join();
        it = threads_.erase(it);
      } else {
        ++it;
      }
    }
  }

  absl::Mutex mu_;
  std::list<Worker> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace postroom::fetcher
