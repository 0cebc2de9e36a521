// Step 8: no route matched. The connector's fallback route decides, or the message is
// unhandled when there is none.
#include "services/router/core/steps/step.h"

namespace postroom::router::steps {

StepResult Fallback(const StepInput& in, Router::Decision& d) {
  if (!in.config.fallback) {
    d.Decide("unhandled", "fallback", "no route matched and the connector has no fallback route");
    return true;
  }
  d.Decide("", "fallback", "no route matched");
  d.route = in.config.fallback->name();
  d.test_mode = in.config.spec.test_mode_only();
  ApplyRouteActions(in.config.fallback->actions(), d);
  return true;
}

}  // namespace postroom::router::steps
