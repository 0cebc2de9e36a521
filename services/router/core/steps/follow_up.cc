// Step 6: a follow-up to an existing work item, found by (in this order) a signed reply token in
// a plus address, a subject token [#PREFIX-123], In-Reply-To/References naming a message on a
// work item, or an Outlook Thread-Index conversation. The trace lists everything checked. A reply
// token older than reply_token_days is passed over (the trace says so) and the other ways
// still apply: a subject token or References can thread the same mail.
#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "libs/base/status_macros.h"
#include "services/router/core/addresses.h"
#include "services/router/core/steps/step.h"

namespace postroom::router::steps {
namespace {

// At most this many In-Reply-To/References ids are looked up.
constexpr size_t kMaxReferences = 50;

constexpr char kExpiredToken[] = "reply token for ";

std::string Day(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

// Why a valid token for `wi` no longer threads (reply_token_days), or "" while it does. An
// undated token (mail sent before tokens carried their day) counts from the work item's
// creation: it cannot have been issued earlier, and no later day is known.
std::string TokenExpiry(const StepInput& in, const secrets::ReplyTokenClaims& claims,
                        const store::WorkItemRecord& wi) {
  const int days = in.config.reply_token_days;
  const absl::Time issued = claims.issued.value_or(wi.created_at);
  if (!secrets::ReplyTokenExpired(issued, days, in.now)) return "";
  return absl::StrCat(kExpiredToken, wi.reference, " expired: ",
                      claims.issued ? "issued " : "undated, counted from the work item's creation ",
                      Day(issued), ", older than reply_token_days ", days);
}

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
  bool expired = false;
  for (const std::string& r : recipients) {
    size_t plus = r.find('+');
    size_t at = r.rfind('@');
    if (plus == std::string::npos || at == std::string::npos || plus > at) continue;
    const secrets::ReplyTokenClaims claims =
        secrets::CheckReplyToken(cfg.reply_key, r.substr(plus + 1, at - plus - 1));
    const int64_t id = claims.work_item_id;
    if (id == 0) continue;
    absl::StatusOr<store::WorkItemRecord> wi = in.store.GetWorkItem(id);
    if (!wi.ok()) {
      if (absl::IsNotFound(wi.status())) continue;
      return wi.status();
    }
    if (std::string why = TokenExpiry(in, claims, *wi); !why.empty()) {
      checked.push_back(std::move(why));
      expired = true;
      continue;
    }
    d.Decide("appended", "follow_up",
             absl::StrCat("reply token in ", r, " names work item ", wi->reference));
    return id;
  }
  if (!expired) checked.push_back("no valid reply token");
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

// An expired reply token is worth knowing even where a later lookup threaded the mail: the
// decided step's reason names it too.
void NoteExpiredTokens(const std::vector<std::string>& checked, Router::Decision& d) {
  bool noted = false;
  for (const std::string& c : checked) {
    if (!absl::StartsWith(c, kExpiredToken)) continue;
    absl::StrAppend(&d.reason, " (", c, ")");
    noted = true;
  }
  if (noted) d.trace.mutable_steps(d.trace.steps_size() - 1)->set_reason(d.reason);
}

}  // namespace

StepResult FollowUp(const StepInput& in, Router::Decision& d) {
  std::vector<std::string> checked;
  for (auto* lookup : {&ByReplyToken, &BySubjectToken, &ByReferences, &ByThreadIndex}) {
    POSTROOM_ASSIGN_OR_RETURN(int64_t id, lookup(in, checked, d));
    if (id != 0) {
      d.append_to = id;
      NoteExpiredTokens(checked, d);
      return true;
    }
  }
  d.Pass("follow_up", absl::StrJoin(checked, "; "));
  return false;
}

}  // namespace postroom::router::steps
