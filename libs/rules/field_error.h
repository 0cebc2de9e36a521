#pragma once

// The shape in which save-time validation reports problems: postroom::FieldError (libs/base),
// a field path and a message. libs/rules (routes) and libs/templates (acknowledgement templates)
// both use it, so the config service passes their problems on unchanged.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/base/field_errors.h"

namespace postroom::rules {

// `path` names the field the way the user wrote it: `when.any[1].subject_matches`,
// `then.priority`, `body_html`. An empty path means the object as a whole. `message` says what
// is wrong and what to write instead.
using FieldError = ::postroom::FieldError;

// "path: message", or the bare message for an empty path.
inline std::string FormatFieldError(const FieldError& error) {
  if (error.path.empty()) return error.message;
  return absl::StrCat(error.path, ": ", error.message);
}

// OK for no errors; else INVALID_ARGUMENT naming the object and listing every problem in the
// house format (postroom::InvalidFields):
// `route "invoices": invalid (2 problems):\n  - when.subject_matches: ...\n  - then.priority: ...`
inline absl::Status FieldErrorsToStatus(absl::string_view object,
                                        const std::vector<FieldError>& errors) {
  return InvalidFields(absl::StrCat(object, ": invalid"), errors);
}

}  // namespace postroom::rules
