#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/impl/service_type.h>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace postroom::store {
class Database;
}  // namespace postroom::store

namespace postroom::server {

struct ServerOptions {
  std::string service_name;    // "config", "router" ...: the metrics' service label.
  std::string listen;          // gRPC address, e.g. "127.0.0.1:50051".
  std::string metrics_listen;  // e.g. "127.0.0.1:9101"; empty: no metrics endpoint.
  std::string tls_cert_file;   // Both set: serve TLS; else plaintext.
  std::string tls_key_file;
  // Polled every readiness_interval; its result sets the health status of the service named
  // "readiness" (SERVING / NOT_SERVING). The "" service answers liveness: SERVING while up.
  std::function<absl::Status()> readiness;
  absl::Duration readiness_interval = absl::Seconds(5);
  // When set, its pool use is exported as postroom_db_pool_connections{service,state} at each
  // readiness check.
  store::Database* database = nullptr;
  absl::Duration shutdown_grace = absl::Seconds(10);
};

// Serves the given services with the gRPC health protocol, reflection, request metrics and
// the Prometheus endpoint until SIGINT or SIGTERM, then drains calls for shutdown_grace.
// `on_started` (may be empty) runs once the port is bound, with the bound port.
// UNAVAILABLE when the address cannot be bound; FAILED_PRECONDITION for unreadable TLS files.
absl::Status Serve(const ServerOptions& options, const std::vector<grpc::Service*>& services,
                   const std::function<void(int port)>& on_started = {});

// Asks a running Serve() to stop, as a signal would (for tests and in-process use).
void RequestShutdown();

}  // namespace postroom::server
