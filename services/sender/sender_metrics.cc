#include "services/sender/sender_metrics.h"

#include "libs/metrics/metrics.h"

namespace postroom::sender {

PrometheusObserver::PrometheusObserver()
    : attempts_(prometheus::BuildCounter()
                    .Name("postroom_sender_attempts_total")
                    .Help("Delivery attempts; outcome sent, retry (temporary failure, will "
                          "retry) or failed (given up).")
                    .Register(metrics::Registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("postroom_sender_send_duration_seconds")
                    .Help("Duration of one delivery attempt: connect to the server's answer.")
                    .Register(metrics::Registry())),
      webhook_deliveries_(prometheus::BuildCounter()
                              .Name("postroom_sender_webhook_deliveries_total")
                              .Help("Webhook delivery attempts; outcome sent (2xx), retry (5xx, "
                                    "408, 429, no answer) or failed (other answer, or given up).")
                              .Register(metrics::Registry())),
      webhook_duration_(prometheus::BuildHistogram()
                            .Name("postroom_sender_webhook_duration_seconds")
                            .Help("Duration of one webhook post: connect to the receiver's "
                                  "answer.")
                            .Register(metrics::Registry())) {}

void PrometheusObserver::Attempted(const std::string& connector, const std::string& outcome,
                                   absl::Duration duration) {
  attempts_.Add({{"connector", connector}, {"outcome", outcome}}).Increment();
  duration_.Add({{"connector", connector}}, metrics::LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(duration));
}

void PrometheusObserver::Known(const std::string& connector) {
  for (const char* outcome : {"sent", "retry", "failed"}) {
    attempts_.Add({{"connector", connector}, {"outcome", outcome}});
  }
}

void PrometheusObserver::Delivered(const std::string& webhook, const std::string& outcome,
                                   absl::Duration duration) {
  webhook_deliveries_.Add({{"webhook", webhook}, {"outcome", outcome}}).Increment();
  webhook_duration_.Add({{"webhook", webhook}}, metrics::LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(duration));
}

}  // namespace postroom::sender
