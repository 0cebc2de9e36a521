// Step 5: the connector's allowed sender domains, when it lists any.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/router/core/addresses.h"
#include "services/router/core/steps/step.h"

namespace postroom::router::steps {

StepResult AllowedDomains(const StepInput& in, Router::Decision& d) {
  const v1::Connector& spec = in.config.spec;
  if (spec.allowed_sender_domains_size() == 0) {
    d.Pass("allowed_domains", "any sender domain allowed");
    return false;
  }
  const std::string sender_domain(DomainOf(in.analysis.sender));
  bool ok = false;
  for (const std::string& dom : spec.allowed_sender_domains()) {
    ok = ok || DomainWithin(sender_domain, Lower(dom));
  }
  if (!ok) {
    d.Decide("unhandled", "allowed_domains",
             absl::StrCat("sender domain \"", sender_domain, "\" is not in [",
                          absl::StrJoin(spec.allowed_sender_domains(), ", "), "]"));
    return true;
  }
  d.Pass("allowed_domains", absl::StrCat("sender domain \"", sender_domain, "\" is allowed"));
  return false;
}

}  // namespace postroom::router::steps
