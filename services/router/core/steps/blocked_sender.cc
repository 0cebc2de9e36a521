// Step 1: a sender on the blocked addresses list (an address, or "@domain" and its subdomains).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/router/core/addresses.h"
#include "services/router/core/steps/step.h"

namespace postroom::router::steps {

StepResult BlockedSender(const StepInput& in, Router::Decision& d) {
  const std::string& sender = in.analysis.sender;
  const std::string sender_domain(DomainOf(sender));
  for (const std::string& pattern : in.config.blocked) {
    bool hit = absl::StartsWith(pattern, "@") ? DomainWithin(sender_domain, pattern)
                                              : sender == pattern;
    if (hit && !sender.empty()) {
      d.Decide("blocked", "blocked_sender",
               absl::StrCat("sender ", sender, " matches blocked address \"", pattern, "\""));
      return true;
    }
  }
  d.Pass("blocked_sender",
         sender.empty() ? "no sender address" : absl::StrCat("sender ", sender, " not blocked"));
  return false;
}

}  // namespace postroom::router::steps
