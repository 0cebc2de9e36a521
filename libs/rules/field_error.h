#pragma once

// The one shape in which save-time validation reports problems: a field path and a message.
// Shared by libs/rules (routes) and libs/templates (acknowledgement templates) so the config
// service turns both into one INVALID_ARGUMENT reply the same way.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace postroom::rules {

// One problem in a submitted object. `path` names the field the way the user wrote it:
// `when.any[1].subject_matches`, `then.priority`, `body_html`. An empty path means the object
// as a whole. `message` says what is wrong and what to write instead.
struct FieldError {
  std::string path;
  std::string message;

  bool operator==(const FieldError&) const = default;
};

// "path: message", or the bare message for an empty path.
inline std::string FormatFieldError(const FieldError& error) {
  if (error.path.empty()) return error.message;
  return absl::StrCat(error.path, ": ", error.message);
}

// OK for no errors; else INVALID_ARGUMENT naming the object and listing every problem:
// `route "support/invoices": 2 problems: when.subject_matches: ...; then.priority: ...`.
inline absl::Status FieldErrorsToStatus(absl::string_view object,
                                        const std::vector<FieldError>& errors) {
  if (errors.empty()) return absl::OkStatus();
  std::string message = absl::StrCat(object, ": ", errors.size(),
                                     errors.size() == 1 ? " problem: " : " problems: ");
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) absl::StrAppend(&message, "; ");
    absl::StrAppend(&message, FormatFieldError(errors[i]));
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace postroom::rules
