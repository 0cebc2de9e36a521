#pragma once

// The routing pipeline's steps, one file each, in the order decide.cc runs them:
//
//   blocked_sender -> duplicate -> spam -> automatic_mail -> allowed_domains -> follow_up ->
//   routes -> fallback
//
// Each step appends its own TraceStep to the decision's trace: its name, whether it decided, and
// what it compared. A step that decides also sets the decision and returns true; the pipeline
// stops there. Errors are the store's (a lookup that failed).
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/store/router_store.h"
#include "services/router/core/internal.h"

namespace postroom::router::steps {

struct StepInput {
  const Router::ConnectorConfig& config;
  const Router::Analysis& analysis;
  store::RouterStore& store;
  const std::string& spam_status;  // As stored; "" for a new message.
  int64_t message_id = 0;          // 0 for a new message.
  bool dry_run = false;            // ExplainRoute: nothing will be committed.
  absl::Time now = absl::UnixEpoch();  // The router's clock (reply token expiry).
};

// Whether the step decided.
using StepResult = absl::StatusOr<bool>;

StepResult BlockedSender(const StepInput& in, Router::Decision& d);
StepResult Duplicate(const StepInput& in, Router::Decision& d);
StepResult Spam(const StepInput& in, Router::Decision& d);
// Bounces and auto-replies; list mail is marked and routed on.
StepResult AutomaticMail(const StepInput& in, Router::Decision& d);
StepResult AllowedDomains(const StepInput& in, Router::Decision& d);
// Reply token, subject token, In-Reply-To/References, Thread-Index.
StepResult FollowUp(const StepInput& in, Router::Decision& d);
// The routes in order, first match wins.
StepResult Routes(const StepInput& in, Router::Decision& d);
// No route matched: the fallback route, or unhandled. Always decides.
StepResult Fallback(const StepInput& in, Router::Decision& d);

// The duplicate step as the commit's own check found it (DecisionResult::duplicate_step): the
// same change the store made to the stored trace and decision, so the answer is what was stored
// (duplicate.cc).
void ApplyCommitDuplicateCheck(const store::DecisionResult& committed, Router::Decision& d);

// What a matched route (or the fallback) does with the message: a work item, or none when the
// route says stop (routes.cc).
void ApplyRouteActions(const rules::Actions& actions, Router::Decision& d);

}  // namespace postroom::router::steps
