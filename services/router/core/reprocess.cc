// Routing stored messages again: Reprocess, and SetSpamStatus when the new status changes the
// decision.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "services/router/core/internal.h"

namespace postroom::router {

absl::StatusOr<v1::RouteEmailResponse> Router::Reroute(int64_t id) {
  absl::Time started = options_.clock->Now();
  POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m, options_.store->GetMessage(id, true));
  // A forgotten message, or a decided one past its retention (raw emptied), has no bytes to
  // route again: it keeps the decision it has.
  if (m.work_item_id != 0 || m.decision == "duplicate" || m.forgotten ||
      (m.raw.empty() && !m.decision.empty())) {
    return ReplayOf(m);
  }
  POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg, Config(m.connector));
  POSTROOM_RETURN_IF_ERROR(CheckRoutable(*cfg));
  return RouteStored(*cfg, m, started);
}

absl::StatusOr<v1::ReprocessResponse> Router::Reprocess(const v1::ReprocessRequest& req) {
  std::vector<int64_t> ids(req.ids().begin(), req.ids().end());
  if (ids.empty()) {
    if (req.connector().empty() || req.decision() == v1::DECISION_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          "give message ids, or a connector and a decision (e.g. unhandled)");
    }
    v1::ListMessagesRequest list;
    list.set_connector(req.connector());
    list.set_decision(req.decision());
    list.set_limit(req.limit() == 0 ? 1000 : req.limit());
    POSTROOM_ASSIGN_OR_RETURN(v1::ListMessagesResponse found, ListMessages(list));
    for (const v1::StoredMessage& m : found.messages()) ids.push_back(m.id());
    std::sort(ids.begin(), ids.end());
  }
  v1::ReprocessResponse out;
  for (int64_t id : ids) {
    absl::StatusOr<v1::RouteEmailResponse> r = Reroute(id);
    if (absl::IsAborted(r.status())) r = Reroute(id);  // Decided meanwhile: report what it is.
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("reprocessing message ", id, ": ", r.status().message()));
    }
    *out.add_results() = *std::move(r);
  }
  return out;
}

absl::StatusOr<v1::SetSpamStatusResponse> Router::SetSpamStatus(
    const v1::SetSpamStatusRequest& req) {
  if (req.id() <= 0) return absl::InvalidArgumentError("id is required: a stored message's id");
  POSTROOM_ASSIGN_OR_RETURN(
      store::MessageRecord m,
      options_.store->SetSpamStatus(req.id(), req.spam() ? "manual_spam" : "manual_clean"));
  v1::SetSpamStatusResponse out;
  const bool reroute = req.spam() ? (m.work_item_id == 0 && m.decision != "spam")
                                  : (m.work_item_id == 0 && m.decision == "spam");
  if (reroute && !m.decision.empty()) {
    POSTROOM_ASSIGN_OR_RETURN(*out.mutable_rerouted(), Reroute(m.id));
  }
  POSTROOM_ASSIGN_OR_RETURN(*out.mutable_message(), GetMessage(m.id, false));
  return out;
}

}  // namespace postroom::router
