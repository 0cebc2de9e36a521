#pragma once

// RouterMetrics on the process-wide Prometheus registry, with the names of docs/metrics.md.
// Thread-safe.
#include "libs/metrics/metrics.h"
#include "services/router/core/router_core.h"

namespace postroom::router {

class PrometheusRouterMetrics : public RouterMetrics {
 public:
  PrometheusRouterMetrics();
  void Decided(const std::string& connector, const std::string& decision,
               absl::Duration latency) override;
  void AckQueued(const std::string& connector) override;
  void AckSuppressed(const std::string& connector, const std::string& reason) override;
  void BounceMatched(const std::string& connector, const std::string& kind) override;
  void Poisoned(const std::string& connector) override;
  void SpecUnreadable(const std::string& connector) override;

  // Creates the connector's series at 0 (every decision, acks queued, every suppression
  // reason, bounce kinds, poison messages, unreadable specs), so rates and alerts see a
  // connector before its first message. Idempotent.
  void InitConnector(const std::string& connector);

 private:
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Histogram& duration_;
  prometheus::Family<prometheus::Counter>& acks_queued_;
  prometheus::Family<prometheus::Counter>& acks_suppressed_;
  prometheus::Family<prometheus::Counter>& bounces_matched_;
  prometheus::Family<prometheus::Counter>& poison_;
  prometheus::Family<prometheus::Counter>& spec_unreadable_;
};

}  // namespace postroom::router
