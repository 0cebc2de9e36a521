#pragma once

// The core's RouteSink over the router's RouteEmail (stored_message_id form): a bounded queue
// drained by a few threads, so ingestion never waits for the router. When the router is away a
// job is retried a few times with backoff and then dropped: the message stays pending
// (decision NULL) and the router's own sweep routes it when it is back.
// A job carries the stored bytes to the router while the jobs queued and in flight hold less
// than max_queued_raw_bytes of them (reading 48 KB back from PostgreSQL cost the router ~0.4 ms
// of database time per message); past that the bytes are dropped and the router reads them
// back, so neither a slow router nor large mail grows the fetcher's memory by more than that.
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "postroom/v1/router.grpc.pb.h"
#include "services/fetcher/core/ports.h"

namespace postroom::fetcher {

struct RouterClientOptions {
  std::string address;  // host:port; empty: Submit drops everything (no router configured)
  std::string token;    // bearer token (POSTROOM_TOKEN)
  int threads = 4;      // concurrent RouteEmail calls
  size_t max_queue = 20000;
  size_t max_queued_raw_bytes = 32 << 20;
  int max_attempts = 3;
  absl::Duration call_timeout = absl::Seconds(10);
};

class GrpcRouteSink : public RouteSink {
 public:
  explicit GrpcRouteSink(RouterClientOptions options);
  ~GrpcRouteSink() override;  // stops the threads; queued jobs are dropped (they stay pending)
  void Submit(RouteJob job) override;

  struct Stats {
    int64_t routed = 0;
    int64_t dropped = 0;
    int64_t queued = 0;
  };
  Stats GetStats();

 private:
  void Run();

  RouterClientOptions options_;
  std::unique_ptr<v1::RouterService::Stub> stub_;
  absl::Mutex mu_;
  std::deque<RouteJob> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  size_t held_raw_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // in queued and in-flight jobs
  std::vector<std::thread> threads_;
};

}  // namespace postroom::fetcher
