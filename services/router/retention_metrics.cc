#include "services/router/retention_metrics.h"

namespace postroom::router {

PrometheusRetentionMetrics::PrometheusRetentionMetrics()
    : removed_(prometheus::BuildCounter()
                   .Name("postroom_retention_removed_messages_total")
                   .Help("Messages whose raw bytes and bodies the retention sweep removed, by "
                         "connector")
                   .Register(metrics::Registry())),
      last_sweep_(prometheus::BuildGauge()
                      .Name("postroom_retention_last_sweep_timestamp_seconds")
                      .Help("When this router's retention sweep last finished a run (Unix "
                            "seconds; 0: not yet)")
                      .Register(metrics::Registry())
                      .Add({})) {}

void PrometheusRetentionMetrics::Removed(const std::string& connector, int64_t messages) {
  removed_.Add({{"connector", connector}}).Increment(static_cast<double>(messages));
}

void PrometheusRetentionMetrics::Swept(absl::Time at) {
  last_sweep_.Set(absl::ToDoubleSeconds(at - absl::UnixEpoch()));
}

}  // namespace postroom::router
