#pragma once

// Polls `done` every 10 ms until it holds or `within` passes; whether it held. For tests of
// what other threads do within a bound.
#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace postroom::testing {

inline bool Eventually(const std::function<bool()>& done,
                       absl::Duration within = absl::Seconds(3)) {
  const absl::Time end = absl::Now() + within;
  while (absl::Now() < end) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

}  // namespace postroom::testing
