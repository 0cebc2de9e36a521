// Step 2: a copy of a message already decided (same Message-ID and the same bytes). A routing
// run only marks it for the commit, which checks under a lock on the Message-ID so two copies
// routed at once make one work item; a dry run looks it up here.
#include <optional>

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
    d.check_duplicate = true;
    d.Pass("duplicate", absl::StrCat("no earlier copy of <", message_id, ">"));
    return false;
  }
  POSTROOM_ASSIGN_OR_RETURN(std::optional<store::MessageRecord> dup,
                            in.store.FindDuplicate(in.config.record.id, message_id,
                                                   in.analysis.sha256, in.message_id));
  if (dup) {
    d.duplicate_of = dup->id;
    d.Decide("duplicate", "duplicate",
             absl::StrCat("same Message-ID <", message_id, "> and content as message ", dup->id,
                          " (", dup->decision, ")"));
    return true;
  }
  d.Pass("duplicate", absl::StrCat("no earlier copy of <", message_id, ">"));
  return false;
}

}  // namespace postroom::router::steps
