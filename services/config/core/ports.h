#pragma once

// What the config core needs from the world, as small interfaces: encryption of secrets,
// connection tests, and the route and template languages. main.cc wires the real ones;
// tests use fakes.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "libs/base/field_errors.h"
#include "postroom/v1/config.pb.h"

namespace postroom::config {

// Encrypts secrets at rest. `owner` is associated data binding a ciphertext to its row (e.g.
// "connector:support:password"), so ciphertexts cannot be moved between rows. Thread-safe.
class SecretSealer {
 public:
  virtual ~SecretSealer() = default;
  // The sealed string and the id of the key that sealed it.
  virtual absl::StatusOr<std::pair<std::string, std::string>> Seal(const std::string& plaintext,
                                                                   const std::string& owner) = 0;
  // FAILED_PRECONDITION for an unknown key id; DATA_LOSS when the ciphertext was tampered with.
  virtual absl::StatusOr<std::string> Open(const std::string& sealed,
                                           const std::string& owner) = 0;
};

// Runs a connection test against a connector whose secrets are filled in (plaintext, in
// memory only). An error status means the test could not run at all (e.g. FAILED_PRECONDITION:
// no test exists for the protocol); a failed step is a normal response.
class ConnectionTester {
 public:
  virtual ~ConnectionTester() = default;
  virtual absl::StatusOr<v1::TestConnectorResponse> Test(const v1::Connector& connector) = 0;
};

// What a route may refer to, for validation.
struct RouteContext {
  bool fallback = false;                     // The connector's fallback route: no conditions.
  std::vector<std::string> work_item_types;  // Empty: any type.
  std::vector<std::string> templates;        // Known template names.
};

// The route language (libs/rules). Returns every problem; paths start at "when" / "then".
class RouteValidator {
 public:
  virtual ~RouteValidator() = default;
  virtual std::vector<FieldError> Validate(const google::protobuf::Struct& when,
                                           const google::protobuf::Struct& then,
                                           const RouteContext& context) = 0;
};

// The template language (libs/templates), including required parts. Paths are "subject",
// "body_text", "body_html".
class TemplateValidator {
 public:
  virtual ~TemplateValidator() = default;
  virtual std::vector<FieldError> Validate(const v1::Template& t) = 0;
};

}  // namespace postroom::config
