#include "services/config/adapters.h"

#include <algorithm>

#include "libs/rules/route.h"
#include "libs/templates/template.h"

namespace postroom::config {

absl::StatusOr<std::pair<std::string, std::string>> KeyringSealer::Seal(
    const std::string& plaintext, const std::string& owner) {
  absl::StatusOr<secrets::Sealed> sealed = keyring_.Encrypt(plaintext, owner);
  if (!sealed.ok()) return sealed.status();
  return std::make_pair(secrets::EncodeSealed(*sealed), sealed->key_id);
}

absl::StatusOr<std::string> KeyringSealer::Open(const std::string& sealed,
                                                const std::string& owner) {
  return keyring_.DecryptString(sealed, owner);
}

std::vector<FieldError> RulesRouteValidator::Validate(const google::protobuf::Struct& when,
                                                      const google::protobuf::Struct& then,
                                                      const RouteContext& context) {
  rules::RouteContext rc;
  rc.fallback = context.fallback;
  rc.allowed_work_item_types = context.work_item_types;
  auto exists = [&](absl::string_view name) {
    return std::find(context.templates.begin(), context.templates.end(), name) !=
           context.templates.end();
  };
  rc.ack_template_exists = exists;
  // `template` names a form of the service desk, which postroom does not know.
  rc.work_item_template_exists = nullptr;
  return rules::ValidateRoute(when, then, rc);
}

std::vector<FieldError> TemplatesValidator::Validate(const v1::Template& t) {
  return templates::ValidateTemplate({t.subject(), t.body_text(), t.body_html()});
}

}  // namespace postroom::config
