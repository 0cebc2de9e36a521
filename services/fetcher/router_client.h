#pragma once

// The core's RouteSink over the router's RouteStream (RouteEmail in stored_message_id form, one
// long-lived stream per calling thread: a unary call per message cost the router and the
// fetcher more than the message itself needed of gRPC): a bounded queue drained by a few
// threads, each keeping up to stream_window requests in flight on its stream. When the router is away a job is retried a few times with backoff and then dropped:
// the message stays pending (decision NULL) and the router's own sweep routes it when it is
// back.
// A job carries the stored bytes to the router while the jobs queued and in flight hold less
// than max_queued_raw_bytes of them (reading 48 KB back from PostgreSQL cost ~0.4 ms of database
// time and ~0.1 ms of router time per message), so neither a slow router nor large mail grows
// the fetcher's memory by more than that. When the cap is reached and the router is answering,
// Submit waits up to raw_room_wait for finished calls to make room: in a backfill the fetcher
// then stores at the router's pace instead of racing ahead and making the router read every
// later message back (measured: 41 % of a 10,000-message backfill was read back without it).
// A router that finishes no call within raw_room_wait counts as stalled: until its next
// answer, jobs go without their bytes at once and ingestion does not wait for it.
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "libs/server/client_credentials.h"
#include "postroom/v1/router.grpc.pb.h"
#include "services/fetcher/core/ports.h"

namespace postroom::fetcher {

class RouteStreamCall;

struct RouterClientOptions {
  std::string address;  // host:port; empty: Submit drops everything (no router configured)
  std::string token;    // bearer token (POSTROOM_TOKEN)
  // How the channel is secured: plaintext unless TLS is on (a router serving TLS, as in the
  // Kubernetes manifests, with POSTROOM_CA_FILE). The caller checks it opens (ClientCredentials)
  // before constructing the sink, which cannot report errors.
  server::ClientTls tls;
  int threads = 4;      // concurrent RouteEmail calls
  size_t max_queue = 20000;
  size_t max_queued_raw_bytes = 32 << 20;
  // A message larger than this always goes by id alone: the router reads it from PostgreSQL.
  // The router's receive limit (the largest connector's max_message_bytes + 1 MiB, or its
  // --max-receive-mib) then never refuses a stored message, whatever a connector's
  // max_message_bytes was raised to after the router started, and a few large messages do not
  // fill the queued-bytes budget that many small ones share.
  size_t max_inline_raw_bytes = 4 << 20;
  absl::Duration raw_room_wait = absl::Seconds(1);  // zero: never wait, drop the bytes
  int max_attempts = 3;
  // Requests in flight on one thread's stream: the router reads the next while it answers one.
  int stream_window = 2;
  // Each message gets at least this long before its stream's deadline; a stream is reopened
  // once less is left (streams live 2 x call_timeout).
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
    int64_t sent_without_bytes = 0;  // the router reads these back from PostgreSQL
    int64_t retried = 0;             // attempts that failed with a transient status
  };
  Stats GetStats();

 private:
  struct Attempt;
  void Run();
  // Takes the next queued job (waiting for one if `block`; closing `stream` when idle). False:
  // none (or stopping).
  bool Take(bool block, RouteStreamCall& stream, Attempt* out);
  // Counts a job's outcome, or queues it on `retry` for another attempt after a backoff.
  void Finished(Attempt& a, const grpc::Status& st, std::deque<Attempt>& retry);

  RouterClientOptions options_;
  std::unique_ptr<v1::RouterService::Stub> stub_;
  absl::Mutex mu_;
  std::deque<RouteJob> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  size_t held_raw_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // in queued and in-flight jobs
  bool router_answering_ ABSL_GUARDED_BY(mu_) = true;  // false from a stall to the next answer
  std::vector<std::thread> threads_;
};

}  // namespace postroom::fetcher
