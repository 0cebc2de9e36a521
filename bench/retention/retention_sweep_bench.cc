// Runs the router's retention sweep (services/router/retention.h, the code the router runs)
// once against $POSTROOM_DATABASE and prints what it removed and how fast:
//   removed=N batches=B seconds=S rows_per_s=R
// Flags: --batch N (500), --pause-ms N (100), --max-batches N (100000).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "bench/flag.h"
#include "services/router/retention.h"

int main(int argc, char** argv) {
  using postroom::bench::Flag;
  const char* uri = std::getenv("POSTROOM_DATABASE");
  if (uri == nullptr) {
    std::fprintf(stderr, "retention_sweep_bench: set POSTROOM_DATABASE\n");
    return 2;
  }
  postroom::store::Database db({.uri = uri, .pool_size = 1,
                                .application_name = "retention_sweep_bench"});
  postroom::router::RetentionOptions o{
      .batch = std::atoi(Flag(argc, argv, "batch", "500").c_str()),
      .pause = absl::Milliseconds(std::atoi(Flag(argc, argv, "pause-ms", "100").c_str())),
      .max_batches = std::atoi(Flag(argc, argv, "max-batches", "100000").c_str())};
  const absl::Time start = absl::Now();
  absl::StatusOr<postroom::router::RetentionRun> run = postroom::router::SweepRetention(db, o);
  const double s = absl::ToDoubleSeconds(absl::Now() - start);
  if (!run.ok()) {
    std::fprintf(stderr, "retention_sweep_bench: %s\n", std::string(run.status().message()).c_str());
    return 1;
  }
  std::printf("removed=%lld batches=%d seconds=%.1f rows_per_s=%.0f\n",
              static_cast<long long>(run->total), run->batches, s,
              s > 0 ? static_cast<double>(run->total) / s : 0.0);
  return 0;
}
