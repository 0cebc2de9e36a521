#include "libs/metrics/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/exposer.h"

namespace postroom::metrics {

namespace {
// The exposer holds collectables by weak_ptr: the shared_ptr must live as long as the process.
const std::shared_ptr<prometheus::Registry>& SharedRegistry() {
  static auto* registry =
      new std::shared_ptr<prometheus::Registry>(std::make_shared<prometheus::Registry>());
  return *registry;
}
}  // namespace

prometheus::Registry& Registry() { return *SharedRegistry(); }

absl::StatusOr<int> StartExposer(const std::string& address) {
  static absl::Mutex mu;
  static prometheus::Exposer* exposer = nullptr;  // Lives as long as the process.
  absl::MutexLock lock(&mu);
  if (exposer != nullptr) return absl::FailedPreconditionError("metrics exposer already started");
  try {
    exposer = new prometheus::Exposer(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what(),
                     " (is the port taken? set another with --metrics-listen)"));
  }
  exposer->RegisterCollectable(SharedRegistry());
  std::vector<int> ports = exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void SetBuildInfo(const std::string& service) {
  auto& family = prometheus::BuildGauge()
                     .Name("postroom_build_info")
                     .Help("Always 1; labels name the service and its version.")
                     .Register(Registry());
  family.Add({{"service", service}, {"version", POSTROOM_VERSION}}).Set(1);
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace postroom::metrics
