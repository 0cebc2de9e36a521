#include "services/config/tests/fakes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"

namespace postroom::config::testing {

absl::StatusOr<std::pair<std::string, std::string>> FakeSealer::Seal(const std::string& plaintext,
                                                                     const std::string& owner) {
  std::string reversed(plaintext.rbegin(), plaintext.rend());
  return std::make_pair(absl::StrCat("fake:", owner, ":", reversed), std::string("fake"));
}

absl::StatusOr<std::string> FakeSealer::Open(const std::string& sealed, const std::string& owner) {
  std::string prefix = absl::StrCat("fake:", owner, ":");
  if (!absl::StartsWith(sealed, prefix)) return absl::DataLossError("wrong owner");
  std::string reversed = sealed.substr(prefix.size());
  return std::string(reversed.rbegin(), reversed.rend());
}

absl::StatusOr<v1::TestConnectorResponse> FakeTester::Test(const v1::Connector& connector) {
  ++calls;
  last_tested = connector;
  v1::TestConnectorResponse r;
  r.set_passed(pass);
  auto* step = r.add_steps();
  step->set_name("auth");
  step->set_passed(pass);
  if (!pass) {
    step->set_detail("NO [AUTHENTICATIONFAILED] Authentication failed.");
    r.set_failed_step("auth");
  }
  return r;
}

std::vector<FieldError> FakeRouteValidator::Validate(const google::protobuf::Struct& when,
                                                     const google::protobuf::Struct& then,
                                                     const RouteContext& context) {
  std::vector<FieldError> errors;
  if (when.fields().count("bad")) errors.push_back({"when.bad", "unknown condition"});
  auto queue = then.fields().find("queue");
  if (queue == then.fields().end() || queue->second.string_value().empty()) {
    errors.push_back({"then.queue", "required"});
  }
  auto tmpl = then.fields().find("ack_template");
  if (tmpl != then.fields().end() &&
      std::find(context.templates.begin(), context.templates.end(),
                tmpl->second.string_value()) == context.templates.end()) {
    errors.push_back({"then.ack_template", "unknown template"});
  }
  return errors;
}

std::vector<FieldError> FakeTemplateValidator::Validate(const v1::Template& t) {
  if (absl::StrContains(t.subject(), "{{unknown}}")) {
    return {{"subject", "unknown placeholder {{unknown}}"}};
  }
  return {};
}

}  // namespace postroom::config::testing
