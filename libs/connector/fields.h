#pragma once

// Secret and output-only fields of a connector, found by reflection from the proto field
// options (postroom/v1/options.proto), never listed by hand: a secret added to the proto is
// sealed, stripped and opened everywhere without another edit.
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "postroom/v1/config.pb.h"

namespace postroom::connector {

// One `(postroom.v1.secret) = true` field of v1::Connector, wherever it is nested.
struct SecretField {
  std::string name;  // The field's own name: the key of the `secrets` table ("password").
  std::string path;  // From the connector: "auth.password".
  std::vector<const google::protobuf::FieldDescriptor*> chain;  // Connector to the field.
  const google::protobuf::FieldDescriptor* has_flag = nullptr;  // Sibling has_<name>, if any.
};

// Every secret field of v1::Connector, in descriptor order. Computed once; thread-safe.
const std::vector<SecretField>& SecretFields();
// The secret field stored as `name`; nullptr for a name no field has.
const SecretField* FindSecretField(absl::string_view name);

// The associated data a connector's secret is sealed with: "connector:<connector>:<field>", so a
// ciphertext copied to another row or field does not open there.
std::string SecretOwner(absl::string_view connector, absl::string_view field);
// The same for a webhook's signing secret: "webhook:<webhook>:secret".
std::string WebhookSecretOwner(absl::string_view webhook);

std::string SecretValue(const v1::Connector& c, const SecretField& f);
void SetSecret(v1::Connector& c, const SecretField& f, std::string value);
// Sets has_<name>; does nothing for a secret without one.
void SetHasSecret(v1::Connector& c, const SecretField& f, bool has);

// Clears every secret value (the has_* flags stay).
void ClearSecrets(v1::Connector& c);
// Clears every `(postroom.v1.output_only) = true` field of `m` and of the messages set in it.
void ClearOutputOnly(google::protobuf::Message& m);

}  // namespace postroom::connector
