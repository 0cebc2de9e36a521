// The pipeline: each step of steps/ in order until one decides, then whether a created work
// item (or, with acknowledge_follow_ups, an appended message) is acknowledged.
#include "libs/base/status_macros.h"
#include "services/router/core/steps/step.h"

namespace postroom::router {

absl::StatusOr<Router::Decision> Router::Decide(const ConnectorConfig& cfg, const Analysis& a,
                                                const std::string& spam_status,
                                                int64_t message_id, bool dry_run) {
  static constexpr steps::StepResult (*kPipeline[])(const steps::StepInput&, Decision&) = {
      steps::BlockedSender, steps::Duplicate,  steps::Spam,   steps::AutomaticMail,
      steps::AllowedDomains, steps::FollowUp, steps::Routes, steps::Fallback};
  const steps::StepInput in{.config = cfg,
                            .analysis = a,
                            .store = *options_.store,
                            .spam_status = spam_status,
                            .message_id = message_id,
                            .dry_run = dry_run,
                            .now = options_.clock->Now()};
  Decision d;
  for (auto* step : kPipeline) {
    POSTROOM_ASSIGN_OR_RETURN(bool decided, step(in, d));
    if (decided) break;
  }
  if (d.decision == "created") DecideAcknowledgement(cfg, a, d);
  if (d.decision == "appended") {
    POSTROOM_RETURN_IF_ERROR(DecideFollowUpAcknowledgement(cfg, a, *options_.store, d));
  }
  return d;
}

}  // namespace postroom::router
