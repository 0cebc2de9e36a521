#include "services/router/prometheus_metrics.h"

#include "absl/strings/ascii.h"
#include "postroom/v1/router.pb.h"

namespace postroom::router {

PrometheusRouterMetrics::PrometheusRouterMetrics()
    : decisions_(prometheus::BuildCounter()
                     .Name("postroom_router_decisions_total")
                     .Help("Routing decisions by connector and decision")
                     .Register(metrics::Registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("postroom_router_route_duration_seconds")
                    .Help("Time to route one message, parse to recorded decision")
                    .Register(metrics::Registry())
                    .Add({}, metrics::LatencyBuckets())),
      acks_queued_(prometheus::BuildCounter()
                       .Name("postroom_router_acks_queued_total")
                       .Help("Acknowledgement emails queued in the outbox")
                       .Register(metrics::Registry())),
      acks_suppressed_(prometheus::BuildCounter()
                           .Name("postroom_router_acks_suppressed_total")
                           .Help("Acknowledgements not sent on purpose, by reason")
                           .Register(metrics::Registry())),
      bounces_matched_(prometheus::BuildCounter()
                           .Name("postroom_router_bounces_matched_total")
                           .Help("Bounces tied to the outbox row they answer, by kind "
                                 "(permanent, transient, unknown)")
                           .Register(metrics::Registry())),
      poison_(prometheus::BuildCounter()
                  .Name("postroom_router_poison_messages_total")
                  .Help("Messages decided failed because router_max_attempts routing attempts "
                        "did not finish")
                  .Register(metrics::Registry())),
      spec_unreadable_(prometheus::BuildCounter()
                           .Name("postroom_router_connector_spec_unreadable_total")
                           .Help("Calls that found the connector's stored spec unreadable")
                           .Register(metrics::Registry())) {}

void PrometheusRouterMetrics::Decided(const std::string& connector, const std::string& decision,
                                      absl::Duration latency) {
  decisions_.Add({{"connector", connector}, {"decision", decision}}).Increment();
  duration_.Observe(absl::ToDoubleSeconds(latency));
}

void PrometheusRouterMetrics::AckQueued(const std::string& connector) {
  acks_queued_.Add({{"connector", connector}}).Increment();
}

void PrometheusRouterMetrics::AckSuppressed(const std::string& connector,
                                            const std::string& reason) {
  acks_suppressed_.Add({{"connector", connector}, {"reason", reason}}).Increment();
}

void PrometheusRouterMetrics::BounceMatched(const std::string& connector,
                                            const std::string& kind) {
  bounces_matched_.Add({{"connector", connector}, {"kind", kind}}).Increment();
}

void PrometheusRouterMetrics::Poisoned(const std::string& connector) {
  poison_.Add({{"connector", connector}}).Increment();
}

void PrometheusRouterMetrics::SpecUnreadable(const std::string& connector) {
  spec_unreadable_.Add({{"connector", connector}}).Increment();
}

void PrometheusRouterMetrics::InitConnector(const std::string& connector) {
  const auto* decisions = v1::Decision_descriptor();
  for (int i = 0; i < decisions->value_count(); ++i) {
    if (decisions->value(i)->number() == v1::DECISION_UNSPECIFIED) continue;
    // DECISION_AUTO_REPLY -> auto_reply, as the core names decisions.
    std::string name = absl::AsciiStrToLower(decisions->value(i)->name().substr(9));
    decisions_.Add({{"connector", connector}, {"decision", name}});
  }
  acks_queued_.Add({{"connector", connector}});
  poison_.Add({{"connector", connector}});
  spec_unreadable_.Add({{"connector", connector}});
  for (const char* reason : kAckSuppressionReasons) {
    acks_suppressed_.Add({{"connector", connector}, {"reason", reason}});
  }
  for (const char* kind : kBounceKinds) {
    bounces_matched_.Add({{"connector", connector}, {"kind", kind}});
  }
}

}  // namespace postroom::router
