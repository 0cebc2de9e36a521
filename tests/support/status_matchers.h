#pragma once

// IsOk(), StatusIs(code[, message matcher]) and IsOkAndHolds(matcher) for absl::Status and
// absl::StatusOr<T>, as in Envoy and leveldb: GoogleTest ships none for Abseil 20220623.
#include <ostream>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace postroom::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& st = GetStatus(arg);
  if (!st.ok()) *result_listener << "status is " << st;
  return st.ok();
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& st = GetStatus(arg);
  *result_listener << "status is " << st;
  return st.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has status code " + absl::StatusCodeToString(code) + " and a matching message") {
  const absl::Status& st = GetStatus(arg);
  *result_listener << "status is " << st;
  return st.code() == code &&
         ::testing::Matches(message_matcher)(std::string(st.message()));
}

MATCHER_P(IsOkAndHolds, matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

}  // namespace postroom::testing
