#pragma once

#include "services/config/core/ports.h"

namespace postroom::config::testing {

// Seals by reversing the text and tagging it with the owner: enough to tell that the store
// never holds the plaintext and that a ciphertext opens only for its owner.
class FakeSealer : public SecretSealer {
 public:
  absl::StatusOr<std::pair<std::string, std::string>> Seal(const std::string& plaintext,
                                                           const std::string& owner) override;
  absl::StatusOr<std::string> Open(const std::string& sealed, const std::string& owner) override;
};

// Answers with the report it is given.
class FakeTester : public ConnectionTester {
 public:
  absl::StatusOr<v1::TestConnectorResponse> Test(const v1::Connector& connector) override;
  bool pass = true;
  int calls = 0;
  v1::Connector last_tested;
};

// A tiny route language: `then` needs a string "queue"; any `when` key named "bad" is an error;
// "ack_template" must name a known template.
class FakeRouteValidator : public RouteValidator {
 public:
  std::vector<FieldError> Validate(const google::protobuf::Struct& when,
                                   const google::protobuf::Struct& then,
                                   const RouteContext& context) override;
};

// "{{unknown}}" in the subject is an error.
class FakeTemplateValidator : public TemplateValidator {
 public:
  std::vector<FieldError> Validate(const v1::Template& t) override;
};

}  // namespace postroom::config::testing
