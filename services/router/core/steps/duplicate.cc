// Step 2: a copy of a message already decided. The rule (same Message-ID and the same bytes)
// and its reasons are the store's, in one place (libs/store/sql/functions/
// postroom_duplicate_step.sql): a dry run asks it here; a routing run leaves it to the commit,
// which applies it under a lock on the Message-ID so two copies routed at once make one work
// item, and reports when it found otherwise than this step wrote.
#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "services/router/core/steps/step.h"

namespace postroom::router::steps {

StepResult Duplicate(const StepInput& in, Router::Decision& d) {
  const std::string& message_id = in.analysis.parsed.message_id;
  if (message_id.empty()) {
    d.Pass("duplicate", "no Message-ID: cannot be a duplicate");
    return false;
  }
  if (!in.dry_run) {
    // What the commit's check finds nearly always (the store's wording for it); anything else
    // replaces this entry (ApplyCommitDuplicateCheck).
    d.check_duplicate = true;
    d.Pass("duplicate", absl::StrCat("no earlier copy of <", message_id, ">"));
    return false;
  }
  POSTROOM_ASSIGN_OR_RETURN(store::DuplicateCheck check,
                            in.store.CheckDuplicate(in.config.record.id, message_id,
                                                    in.analysis.sha256, in.message_id));
  if (check.duplicate_of == 0) {
    d.Pass("duplicate", check.reason);
    return false;
  }
  d.duplicate_of = check.duplicate_of;
  d.Decide("duplicate", "duplicate", check.reason);
  return true;
}

void ApplyCommitDuplicateCheck(const store::DecisionResult& committed, Router::Decision& d) {
  if (committed.duplicate_step.empty()) return;
  const bool duplicate = committed.duplicate_of != 0;
  auto* steps = d.trace.mutable_steps();
  for (int i = 0; i < steps->size(); ++i) {
    v1::TraceStep& s = *steps->Mutable(i);
    if (s.step() != "duplicate") continue;
    s.set_decided(duplicate);
    s.set_reason(committed.duplicate_step);
    if (duplicate) steps->DeleteSubrange(i + 1, steps->size() - i - 1);
    break;
  }
  if (!duplicate) return;
  d.decision = "duplicate";
  d.step = "duplicate";
  d.route.clear();
  d.reason = committed.duplicate_step;
  d.duplicate_of = committed.duplicate_of;
  d.actions.reset();
  d.queue.clear();
  d.append_to = 0;
  d.want_ack = false;
  d.ack_suppressed.clear();
}

}  // namespace postroom::router::steps
