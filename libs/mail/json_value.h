#pragma once

// JSON for the Graph and OAuth clients, parsed with protobuf's JSON parser into
// google.protobuf.Value (already a dependency of every service), so no JSON library is hand-written
// or added.
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"

namespace postroom::mail {

// INVALID_ARGUMENT when `text` is not JSON.
absl::StatusOr<google::protobuf::Value> ParseJson(const std::string& text);
// The string field `name` of an object, or "" (absent, not a string, not an object).
std::string JsonString(const google::protobuf::Value& v, const std::string& name);
// The number field `name` (a JSON number or a numeric string), or `fallback`.
double JsonNumber(const google::protobuf::Value& v, const std::string& name, double fallback);
// The object field `name`, or null when absent.
const google::protobuf::Value* JsonField(const google::protobuf::Value& v, const std::string& name);

}  // namespace postroom::mail
