// Step 4: mail made by machines. Bounces and auto-replies stop here; list mail is marked and
// routed on (never acknowledged, see acknowledgement.cc).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/router/core/steps/step.h"

namespace postroom::router::steps {

StepResult AutomaticMail(const StepInput& in, Router::Decision& d) {
  const mime::Classification& cls = in.analysis.cls;
  if (cls.kind == mime::MessageKind::kBounce) {
    std::string reason = absl::StrJoin(cls.reasons, ", ");
    if (cls.has_bounce && !cls.bounce.original_message_id.empty()) {
      absl::StrAppend(&reason, "; about <", cls.bounce.original_message_id, ">");
    }
    if (cls.has_bounce && !cls.bounce.status.empty()) {
      absl::StrAppend(&reason, " status ", cls.bounce.status);
    }
    d.Decide("bounce", "auto_reply", reason);
    return true;
  }
  if (cls.kind == mime::MessageKind::kAutoReply) {
    d.Decide("auto_reply", "auto_reply", absl::StrJoin(cls.reasons, ", "));
    return true;
  }
  if (cls.kind == mime::MessageKind::kList) {
    d.Pass("auto_reply", absl::StrCat("list mail (", absl::StrJoin(cls.reasons, ", "),
                                      "): routed on, never acknowledged"));
  } else {
    d.Pass("auto_reply", "no auto-reply, bounce or list signal");
  }
  return false;
}

}  // namespace postroom::router::steps
