#pragma once

// RetentionMetrics on the process-wide Prometheus registry (docs/metrics.md):
// postroom_retention_removed_messages_total{connector} and
// postroom_retention_last_sweep_timestamp_seconds. Thread-safe.
#include "libs/metrics/metrics.h"
#include "services/router/retention.h"

namespace postroom::router {

class PrometheusRetentionMetrics : public RetentionMetrics {
 public:
  PrometheusRetentionMetrics();
  void Removed(const std::string& connector, int64_t messages) override;
  void Swept(absl::Time at) override;

 private:
  prometheus::Family<prometheus::Counter>& removed_;
  prometheus::Gauge& last_sweep_;
};

}  // namespace postroom::router
