// Step 3: spam. A status set by hand wins over the classifier's signals.
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/router/core/steps/step.h"

namespace postroom::router::steps {

StepResult Spam(const StepInput& in, Router::Decision& d) {
  const Router::Analysis& a = in.analysis;
  std::vector<std::string> spam_reasons;
  for (const std::string& r : a.cls.reasons) {
    if (absl::StartsWith(r, "spam:")) spam_reasons.push_back(r);
  }
  std::string spam_reason;
  if (in.spam_status == "manual_spam") {
    d.spam_status = in.spam_status;  // Kept as it is; the response reports it.
    spam_reason = "marked spam by hand";
  } else if (in.spam_status == "manual_clean") {
    d.spam_status = in.spam_status;
    d.Pass("spam", spam_reasons.empty()
                       ? "marked clean by hand"
                       : absl::StrCat("marked clean by hand (ignoring ",
                                      absl::StrJoin(spam_reasons, ", "), ")"));
    return false;
  } else if (a.cls.kind == mime::MessageKind::kSpam) {
    d.spam_status = "auto_spam";
    spam_reason = absl::StrJoin(spam_reasons, ", ");
  } else {
    d.Pass("spam", "no spam signal");
    return false;
  }
  const std::string& queue = in.config.spec.spam_queue();
  if (queue.empty()) {
    d.Decide("spam", "spam", spam_reason);
    return true;
  }
  d.actions = rules::Actions{};
  d.actions->queue = queue;
  d.queue = queue;
  d.Decide("spam", "spam", absl::StrCat(spam_reason, "; work item in spam queue \"", queue, "\""));
  return true;
}

}  // namespace postroom::router::steps
