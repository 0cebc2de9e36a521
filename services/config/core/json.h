#pragma once

// JSON <-> protobuf for what the config store keeps, with proto field names (snake_case),
// as the YAML files and the database use them.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace postroom::config {

std::string ToJson(const google::protobuf::Message& m);
// INTERNAL: stored JSON that no longer parses is a bug or a hand edit, not a user error.
absl::Status FromJson(const std::string& json, google::protobuf::Message* m);

// Paths of the fields that differ between two messages of one type, recursing into singular
// sub-messages (google.protobuf.Struct counts as one field). Repeated fields compare whole.
std::vector<std::string> ChangedFields(const google::protobuf::Message& before,
                                       const google::protobuf::Message& after);

// Paths of the fields set in a message that the receiver's schema does not know (fields added
// by a newer client, or garbage); a request carrying any is refused rather than half-applied.
std::vector<std::string> UnknownFields(const google::protobuf::Message& m);

}  // namespace postroom::config
