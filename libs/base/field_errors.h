#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace postroom {

// One problem with one field of a request, e.g. {"settings.poll_interval_s", "must be at
// least 10"}. Validators collect all of them, so a caller fixes everything in one round.
struct FieldError {
  std::string path;
  std::string message;
  bool operator==(const FieldError&) const = default;
};

// INVALID_ARGUMENT whose message is `summary` followed by one line per problem,
// "\n  - <path>: <message>"; the wire format postroomctl prints. OK when errors is empty.
absl::Status InvalidFields(absl::string_view summary, const std::vector<FieldError>& errors);

// Prefixes every path with `prefix.` (or `prefix` alone for an empty path).
std::vector<FieldError> Prefixed(absl::string_view prefix, std::vector<FieldError> errors);

}  // namespace postroom
