#pragma once

#include <grpcpp/impl/service_type.h>
#include <grpcpp/server_builder.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace postroom::store {
class Database;
}  // namespace postroom::store

namespace postroom::auth {
class TokenAuthenticator;
}  // namespace postroom::auth

namespace postroom::server {

class StreamRegistry;

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

  // When set, every call but the health service's must carry one of its tokens, checked on the
  // call's headers before its message is read (call_auth.h); its file is re-read on change and
  // on SIGHUP (token_watcher.h). Each method still checks the role it needs.
  auth::TokenAuthenticator* authenticator = nullptr;
  // When set, its streams of revoked tokens end after each tokens reload.
  StreamRegistry* streams = nullptr;
  // The largest request message accepted; bigger ones end RESOURCE_EXHAUSTED.
  int max_receive_bytes = 4 << 20;
  // gRPC's memory (buffers of all connections and calls) and thread bounds for this server.
  size_t memory_quota_bytes = size_t{512} << 20;
  int max_threads = 256;
  // The most concurrent calls on one connection.
  int max_concurrent_streams = 128;
  // Keepalive: the server pings a connection idle for keepalive_time and drops it when no
  // answer comes within keepalive_timeout (a peer gone without a FIN). Clients may ping no more
  // often than min_client_ping_interval. A connection without calls for max_connection_idle is
  // closed; any connection is asked to go after max_connection_age (so clients spread over new
  // replicas), its calls given max_connection_age_grace to finish.
  absl::Duration keepalive_time = absl::Minutes(1);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  absl::Duration min_client_ping_interval = absl::Seconds(10);
  absl::Duration max_connection_idle = absl::Minutes(15);
  absl::Duration max_connection_age = absl::Hours(1);
  absl::Duration max_connection_age_grace = absl::Minutes(1);
};

// Serves the given services with the gRPC health protocol, reflection, request metrics and
// the Prometheus endpoint until SIGINT or SIGTERM, then drains calls for shutdown_grace.
// `on_started` (may be empty) runs once the port is bound, with the bound port.
// UNAVAILABLE when the address cannot be bound; FAILED_PRECONDITION for unreadable TLS files.
// The gRPC settings of `options` are applied by ConfigureServer, which tests use alone.
absl::Status Serve(const ServerOptions& options, const std::vector<grpc::Service*>& services,
                   const std::function<void(int port)>& on_started = {});

// Adds the listening port (its credentials from call_auth.h) and every limit of `options` to
// `builder`; `*port` receives the bound port once the server starts. Errors of
// MakeServerCredentials.
absl::Status ConfigureServer(const ServerOptions& options, grpc::ServerBuilder& builder, int* port);

// Asks a running Serve() to stop, as a signal would (for tests and in-process use).
void RequestShutdown();

}  // namespace postroom::server
