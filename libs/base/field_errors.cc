#include "libs/base/field_errors.h"

#include "absl/strings/str_cat.h"

namespace postroom {

absl::Status InvalidFields(absl::string_view summary, const std::vector<FieldError>& errors) {
  if (errors.empty()) return absl::OkStatus();
  std::string message(summary);
  if (errors.size() == 1) {
    absl::StrAppend(&message, " (1 problem):");
  } else {
    absl::StrAppend(&message, " (", errors.size(), " problems):");
  }
  for (const FieldError& e : errors) absl::StrAppend(&message, "\n  - ", e.path, ": ", e.message);
  return absl::InvalidArgumentError(message);
}

std::vector<FieldError> Prefixed(absl::string_view prefix, std::vector<FieldError> errors) {
  for (FieldError& e : errors) {
    e.path = e.path.empty() ? std::string(prefix)
             : e.path[0] == '[' ? absl::StrCat(prefix, e.path)
                                : absl::StrCat(prefix, ".", e.path);
  }
  return errors;
}

}  // namespace postroom
