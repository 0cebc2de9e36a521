#include "services/config/core/secret_destination.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace postroom::config {

std::vector<std::string> SecretDestinationChanges(const v1::Connector& before,
                                                  const v1::Connector& after) {
  std::vector<std::string> changes;
  auto check = [&](const char* path, const auto& a, const auto& b) {
    if (a != b) changes.push_back(path);
  };
  check("server.host", before.server().host(), after.server().host());
  check("server.port", before.server().port(), after.server().port());
  // Dropping TLS hands the secret to anyone on the path.
  if (after.server().tls() == v1::TLS_MODE_NONE && before.server().tls() != v1::TLS_MODE_NONE) {
    changes.push_back("server.tls");
  }
  check("auth.token_endpoint", before.auth().token_endpoint(), after.auth().token_endpoint());
  check("auth.tenant_id", before.auth().tenant_id(), after.auth().tenant_id());
  check("auth.client_id", before.auth().client_id(), after.auth().client_id());
  return changes;
}

bool UsesSecret(const v1::Connector& after, const std::string& field) {
  if (after.auth().method() == v1::AUTH_METHOD_PASSWORD) return field == "password";
  if (after.auth().method() == v1::AUTH_METHOD_OAUTH2) return field != "password";
  return false;
}

FieldError SecretRequiredAgain(const std::string& field, const std::vector<std::string>& changes) {
  return {absl::StrCat("auth.", field),
          absl::StrCat("required again because ", absl::StrJoin(changes, ", "), " changed (a stored secret is never sent to a new place)")};
}

}  // namespace postroom::config
