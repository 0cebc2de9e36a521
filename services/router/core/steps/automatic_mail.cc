// Step 4: mail made by machines. Bounces and auto-replies stop here; list mail is marked and
// routed on (never acknowledged, see acknowledgement.cc).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/status_macros.h"
#include "services/router/core/steps/step.h"

namespace postroom::router::steps {
namespace {

// What tying the bounce to the mail it answers does, for the trace (ExplainRoute writes nothing,
// so it says what would be done).
std::string BounceOutcome(const BounceLink& link, bool dry_run) {
  const store::OutboxRecord& row = link.row;
  std::string out = absl::StrCat("answers outbox ", row.id, " (", row.reason, " to ",
                                 row.to_address, "): ", link.write.kind,
                                 dry_run ? ", would be marked bounced" : ", marked bounced");
  if (link.write.kind == "permanent") {
    absl::StrAppend(&out, dry_run ? ", address would be suppressed" : ", address suppressed");
  }
  return out;
}

}  // namespace

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
    POSTROOM_ASSIGN_OR_RETURN(d.bounce, LinkBounce(in.store, in.analysis));
    if (d.bounce) absl::StrAppend(&reason, "; ", BounceOutcome(*d.bounce, in.dry_run));
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
