#pragma once

// Helpers shared by the .cc files of ConfigCore; not part of its interface.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "libs/store/config_store.h"
#include "postroom/v1/config.pb.h"

namespace postroom::config::internal {

// ABORTED when expected is set and differs from the stored version.
inline absl::Status CheckVersion(const std::string& what, int64_t stored, int64_t expected) {
  if (expected == 0 || expected == stored) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat(what, " is at version ", stored, ", not ", expected,
                                         ": someone changed it since you read it; read it again "
                                         "and re-apply"));
}

inline absl::Status NotFound(const std::string& what) {
  return absl::NotFoundError(absl::StrCat(what, " does not exist"));
}

inline std::string Quoted(const std::string& kind, const std::string& name) {
  return absl::StrCat(kind, " \"", name, "\"");
}

// Appends `"_changed_secrets": [...]` to an object's JSON for the audit: the history records
// that a secret changed, never its value.
std::string WithChangedSecrets(const std::string& json, const std::vector<std::string>& secrets);

// INTERNAL, naming the route, when its stored `when` or `then` does not parse.
absl::StatusOr<v1::Route> RouteFromRecord(const store::RouteRecord& r,
                                          const std::string& connector);

}  // namespace postroom::config::internal
