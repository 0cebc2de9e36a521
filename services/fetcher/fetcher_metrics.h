#pragma once

// The fetcher's metrics (docs/metrics.md) as the core's FetcherObserver, in the process-wide
// registry of libs/metrics. Thread-safe.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "services/fetcher/core/ports.h"

namespace postroom::fetcher {

class PrometheusObserver : public FetcherObserver {
 public:
  explicit PrometheusObserver(std::string replica);
  void Stored(const std::string& connector, int64_t messages, int64_t bytes) override;
  void Polled(const std::string& connector, const std::string& outcome,
              absl::Duration duration) override;
  void BackfillRemaining(const std::string& connector, int64_t remaining) override;
  void LeasesHeld(int64_t count) override;
  void Forget(const std::string& connector) override;
  void Known(const std::string& connector) override;
  // OAuth2 (OAuthTokenHooks): the gauge exists only for connectors whose token this replica
  // holds, so a connector without OAuth never looks like an expiring token.
  void TokenIssued(const std::string& connector, absl::Time expires_at);
  void TokenFailed(const std::string& connector);

 private:
  std::string replica_;
  prometheus::Family<prometheus::Counter>& stored_;
  prometheus::Family<prometheus::Counter>& bytes_;
  prometheus::Family<prometheus::Counter>& polls_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Gauge>& backfill_;
  prometheus::Family<prometheus::Gauge>& leases_;
  prometheus::Family<prometheus::Counter>& oauth_failures_;
  prometheus::Family<prometheus::Gauge>& oauth_expiry_;
};

}  // namespace postroom::fetcher
