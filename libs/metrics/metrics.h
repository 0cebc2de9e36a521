#pragma once

// The process-wide Prometheus registry and its HTTP exposer. Names follow the catalogue in
// docs/metrics.md: `postroom_` prefix, base units, counters ending in `_total`, bounded labels.
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace postroom::metrics {

// The registry every metric of this process lives in. Thread-safe.
prometheus::Registry& Registry();

// Serves /metrics at `address` ("127.0.0.1:9101"; port 0 picks one). Returns the bound port.
// UNAVAILABLE when the address cannot be bound. Call once.
absl::StatusOr<int> StartExposer(const std::string& address);

// Sets postroom_build_info{service,version} to 1.
void SetBuildInfo(const std::string& service);

// Latency buckets in seconds, from 0.5 ms to 60 s.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

}  // namespace postroom::metrics
