// Step 7: the connector's routes in order; the first that matches decides. Routes that no
// longer compile and test-mode-only routes of a connector not in test mode are shown, skipped.
#include "absl/strings/str_cat.h"
#include "services/router/core/steps/step.h"

namespace postroom::router::steps {

void ApplyRouteActions(const rules::Actions& actions, Router::Decision& d) {
  if (actions.stop) {
    d.decision = "unhandled";
    d.reason = absl::StrCat(d.reason, "; stop: no work item");
    d.trace.mutable_steps(d.trace.steps_size() - 1)->set_reason(d.reason);
    return;
  }
  d.decision = "created";
  d.actions = actions;
  d.queue = actions.queue;
}

StepResult Routes(const StepInput& in, Router::Decision& d) {
  const bool test_connector = in.config.spec.test_mode_only();
  for (const std::string& e : in.config.route_errors) {
    d.Pass("route_error", absl::StrCat("skipped, does not compile: ", e));
  }
  for (const Router::ConnectorConfig::Route& r : in.config.routes) {
    std::string step = absl::StrCat("route:", r.compiled.name());
    if (r.test_mode_only && !test_connector) {
      d.Pass(step, "skipped: test mode only (connector not in test mode)");
      continue;
    }
    rules::RouteOutcome o = r.compiled.Evaluate(in.analysis.facts);
    std::string reason = o.path.empty() ? o.reason : absl::StrCat(o.path, ": ", o.reason);
    if (!o.matched) {
      d.Pass(step, absl::StrCat("no match: ", reason));
      continue;
    }
    d.Decide("", step, absl::StrCat("matched: ", reason));
    d.route = r.compiled.name();
    d.test_mode = r.test_mode_only || test_connector;
    ApplyRouteActions(r.compiled.actions(), d);
    return true;
  }
  return false;
}

}  // namespace postroom::router::steps
