#pragma once

// The sender's metrics (docs/metrics.md) as the core's SenderObserver, in the process-wide
// registry of libs/metrics. Outbox depth and oldest due age are the config service's (it reads
// them from the database for every connector); they are not exported twice. Thread-safe.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include "services/sender/core/ports.h"
#include "services/sender/core/webhook_sender.h"

namespace postroom::sender {

class PrometheusObserver : public SenderObserver, public WebhookObserver {
 public:
  PrometheusObserver();
  void Attempted(const std::string& connector, const std::string& outcome,
                 absl::Duration duration) override;
  void Known(const std::string& connector) override;
  void Delivered(const std::string& webhook, const std::string& outcome,
                 absl::Duration duration) override;

 private:
  prometheus::Family<prometheus::Counter>& attempts_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& webhook_deliveries_;
  prometheus::Family<prometheus::Histogram>& webhook_duration_;
};

}  // namespace postroom::sender
