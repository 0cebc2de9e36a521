// Step 6: a follow-up to an existing work item, found by (in this order) a signed reply token in
// a plus address, a subject token [#PREFIX-123], In-Reply-To/References naming a message on a
// work item, or an Outlook Thread-Index conversation. The trace lists everything checked.
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/status_macros.h"
#include "services/router/core/addresses.h"
#include "services/router/core/steps/step.h"

namespace postroom::router::steps {
namespace {

// At most this many In-Reply-To/References ids are looked up.
constexpr size_t kMaxReferences = 50;

// The work item a valid reply token in a recipient's plus address names; 0: none.
absl::StatusOr<int64_t> ByReplyToken(const StepInput& in, std::vector<std::string>& checked,
                                     Router::Decision& d) {
  const Router::ConnectorConfig& cfg = in.config;
  if (cfg.reply_key.empty()) {
    checked.push_back("reply tokens off (no key)");
    return 0;
  }
  const mime::ParsedMessage& p = in.analysis.parsed;
  std::vector<std::string> recipients;
  AppendAddresses(p.to, recipients);
  AppendAddresses(p.cc, recipients);
  AppendAddresses(p.delivered_to, recipients);
  AppendAddresses(p.x_original_to, recipients);
  for (const std::string& r : recipients) {
    size_t plus = r.find('+');
    size_t at = r.rfind('@');
    if (plus == std::string::npos || at == std::string::npos || plus > at) continue;
    int64_t id = VerifyReplyToken(cfg.reply_key, r.substr(plus + 1, at - plus - 1));
    if (id == 0) continue;
    absl::StatusOr<store::WorkItemRecord> wi = in.store.GetWorkItem(id);
    if (!wi.ok()) {
      if (absl::IsNotFound(wi.status())) continue;
      return wi.status();
    }
    d.Decide("appended", "follow_up",
             absl::StrCat("reply token in ", r, " names work item ", wi->reference));
    return id;
  }
  checked.push_back("no valid reply token");
  return 0;
}

absl::StatusOr<int64_t> BySubjectToken(const StepInput& in, std::vector<std::string>& checked,
                                       Router::Decision& d) {
  const RE2& re = *in.config.subject_token;
  std::string ref;
  if (!re.ok() || !RE2::PartialMatch(in.analysis.parsed.subject, re, &ref)) {
    checked.push_back(absl::StrCat("no [#", in.config.prefix, "-n] subject token"));
    return 0;
  }
  POSTROOM_ASSIGN_OR_RETURN(int64_t id,
                            in.store.FindFollowUpByReference(in.config.record.id, ref));
  if (id != 0) {
    d.Decide("appended", "follow_up", absl::StrCat("subject token [#", ref, "]"));
    return id;
  }
  checked.push_back(
      absl::StrCat("subject token [#", ref, "] names no work item of this connector or its prefix"));
  return 0;
}

absl::StatusOr<int64_t> ByReferences(const StepInput& in, std::vector<std::string>& checked,
                                     Router::Decision& d) {
  const mime::ParsedMessage& p = in.analysis.parsed;
  std::vector<std::string> ids;
  if (!p.in_reply_to.empty()) ids.push_back(p.in_reply_to);
  for (const std::string& r : p.references) {
    if (std::find(ids.begin(), ids.end(), r) == ids.end()) ids.push_back(r);
  }
  if (ids.size() > kMaxReferences) ids.resize(kMaxReferences);
  if (ids.empty()) {
    checked.push_back("no In-Reply-To/References");
    return 0;
  }
  POSTROOM_ASSIGN_OR_RETURN(int64_t id,
                            in.store.FindWorkItemByMessageIds(in.config.record.id, ids));
  if (id != 0) {
    d.Decide("appended", "follow_up",
             absl::StrCat("In-Reply-To/References name a message of work item ", id));
    return id;
  }
  checked.push_back("In-Reply-To/References name no message on a work item");
  return 0;
}

absl::StatusOr<int64_t> ByThreadIndex(const StepInput& in, std::vector<std::string>& checked,
                                      Router::Decision& d) {
  const std::string& root = in.analysis.thread_root;
  if (root.empty()) {
    checked.push_back("no Thread-Index");
    return 0;
  }
  POSTROOM_ASSIGN_OR_RETURN(int64_t id,
                            in.store.FindWorkItemByThreadRoot(in.config.record.id, root));
  if (id != 0) {
    d.Decide("appended", "follow_up", absl::StrCat("Thread-Index conversation of work item ", id));
    return id;
  }
  checked.push_back("Thread-Index conversation has no work item");
  return 0;
}

}  // namespace

StepResult FollowUp(const StepInput& in, Router::Decision& d) {
  std::vector<std::string> checked;
  for (auto* lookup : {&ByReplyToken, &BySubjectToken, &ByReferences, &ByThreadIndex}) {
    POSTROOM_ASSIGN_OR_RETURN(int64_t id, lookup(in, checked, d));
    if (id != 0) {
      d.append_to = id;
      return true;
    }
  }
  d.Pass("follow_up", absl::StrJoin(checked, "; "));
  return false;
}

}  // namespace postroom::router::steps
