#include "libs/base/watchdog.h"

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace postroom {
namespace {

using ::testing::ElementsAre;

struct Overruns {
  absl::Mutex mu;
  std::vector<std::string> seen;
  Watchdog::Overrun Callback() {
    return [this](const std::string& what, absl::Duration age) {
      absl::MutexLock l(&mu);
      seen.push_back(what);
      EXPECT_GT(age, absl::Milliseconds(100));
    };
  }
  std::vector<std::string> WaitFor(size_t n, absl::Duration timeout) {
    absl::MutexLock l(&mu);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return seen.size() >= n; };
    mu.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return seen;
  }
};

TEST(Watchdog, ReportsWorkThatOutlivesTheDeadlineOnceAndOnlyThat) {
  Overruns overruns;
  Watchdog dog(absl::Milliseconds(100), overruns.Callback(), absl::Milliseconds(10));
  {
    Watchdog::Guard quick = dog.Watch("quick");
  }  // finished in time: never reported
  Watchdog::Guard slow = dog.Watch("message 7 of connector support");
  EXPECT_THAT(overruns.WaitFor(1, absl::Seconds(10)),
              ElementsAre("message 7 of connector support"));
  absl::SleepFor(absl::Milliseconds(100));  // more ticks: still reported once
  EXPECT_THAT(overruns.WaitFor(2, absl::ZeroDuration()), ElementsAre("message 7 of connector support"));
}

TEST(Watchdog, AFinishedGuardIsForgotten) {
  Overruns overruns;
  Watchdog dog(absl::Milliseconds(200), overruns.Callback(), absl::Milliseconds(10));
  {
    Watchdog::Guard a = dog.Watch("a");
    Watchdog::Guard moved = std::move(a);
    EXPECT_EQ(dog.watched(), 1u);
  }
  EXPECT_EQ(dog.watched(), 0u);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_TRUE(overruns.WaitFor(1, absl::ZeroDuration()).empty());
}

TEST(Watchdog, ADeadlineOfZeroWatchesNothing) {
  Overruns overruns;
  Watchdog dog(absl::ZeroDuration(), overruns.Callback(), absl::Milliseconds(10));
  Watchdog::Guard g = dog.Watch("x");
  EXPECT_EQ(dog.watched(), 0u);
}

}  // namespace
}  // namespace postroom
