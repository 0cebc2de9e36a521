#pragma once

// The config core's ports over the real libraries: libs/secrets, libs/rules, libs/templates.
#include "libs/secrets/keyring.h"
#include "services/config/core/ports.h"

namespace postroom::config {

class KeyringSealer : public SecretSealer {
 public:
  explicit KeyringSealer(const secrets::Keyring& keyring) : keyring_(keyring) {}
  absl::StatusOr<std::pair<std::string, std::string>> Seal(const std::string& plaintext,
                                                           const std::string& owner) override;
  absl::StatusOr<std::string> Open(const std::string& sealed, const std::string& owner) override;

 private:
  const secrets::Keyring& keyring_;
};

class RulesRouteValidator : public RouteValidator {
 public:
  std::vector<FieldError> Validate(const google::protobuf::Struct& when,
                                   const google::protobuf::Struct& then,
                                   const RouteContext& context) override;
};

class TemplatesValidator : public TemplateValidator {
 public:
  std::vector<FieldError> Validate(const v1::Template& t) override;
};

}  // namespace postroom::config
