#include "libs/server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/base/log.h"
#include "libs/metrics/metrics.h"
#include "libs/server/call_auth.h"
#include "libs/server/stream_registry.h"
#include "libs/server/token_watcher.h"
#include "libs/store/database.h"

namespace postroom::server {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

// Counts calls by method and status code and times them:
// postroom_grpc_requests_total{service,method,code}, postroom_grpc_request_duration_seconds.
class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(grpc::experimental::ServerRpcInfo* info, const std::string& service)
      : method_(ShortMethod(info->method())), service_(service), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      Requests()
          .Add({{"service", service_}, {"method", method_},
                {"code", CodeName(status.error_code())}})
          .Increment();
      Duration()
          .Add({{"service", service_}, {"method", method_}}, metrics::LatencyBuckets())
          .Observe(absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  static std::string ShortMethod(const char* full) {
    std::string m = full ? full : "";
    size_t slash = m.rfind('/');
    return slash == std::string::npos ? m : m.substr(slash + 1);
  }
  static std::string CodeName(grpc::StatusCode code) {
    static const char* kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
                                   "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                                   "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                   "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                                   "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                                   "UNAUTHENTICATED"};
    int i = static_cast<int>(code);
    return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
  }
  static prometheus::Family<prometheus::Counter>& Requests() {
    static auto& f = prometheus::BuildCounter()
                         .Name("postroom_grpc_requests_total")
                         .Help("gRPC calls served, by method and status code.")
                         .Register(metrics::Registry());
    return f;
  }
  static prometheus::Family<prometheus::Histogram>& Duration() {
    static auto& f = prometheus::BuildHistogram()
                         .Name("postroom_grpc_request_duration_seconds")
                         .Help("Time to serve a gRPC call.")
                         .Register(metrics::Registry());
    return f;
  }

  std::string method_;
  std::string service_;
  absl::Time start_;
};

class MetricsInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(std::string service) : service_(std::move(service)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info, service_);
  }

 private:
  std::string service_;
};

}  // namespace

void RequestShutdown() { g_stop = true; }

absl::Status ConfigureServer(const ServerOptions& options, grpc::ServerBuilder& builder,
                             int* port) {
  std::shared_ptr<grpc::AuthMetadataProcessor> processor;
  if (options.authenticator != nullptr) {
    processor = std::make_shared<TokenAuthProcessor>(*options.authenticator);
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
      MakeServerCredentials(options.tls_cert_file, options.tls_key_file, processor);
  if (!creds.ok()) return creds.status();
  builder.AddListeningPort(options.listen, *creds, port);
  builder.SetMaxReceiveMessageSize(options.max_receive_bytes);
  grpc::ResourceQuota quota(absl::StrCat("postroom-", options.service_name));
  quota.Resize(options.memory_quota_bytes);
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  auto ms = [](absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); };
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  // Without BDP probing a call's window stays 64 KiB until the method reads the message, so a
  // call refused at the metadata stage has sent at most that; with it the window had grown to
  // ~2 MiB per call (server_test measures both through a counting proxy).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(options.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(options.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             ms(options.min_client_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ms(options.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, ms(options.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             ms(options.max_connection_age_grace));
  // The sync server starts a thread whenever a call takes its last idle poller and ends threads
  // once more than MAX_POLLERS (default 2) are idle: under a steady 16 concurrent RouteEmail
  // calls it made and ended threads all the time (clone/munmap were ~1 % of the box in
  // bench/fetcher). Idle threads cost only their stacks.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 32);
  return absl::OkStatus();
}

absl::Status Serve(const ServerOptions& options, const std::vector<grpc::Service*>& services,
                   const std::function<void(int port)>& on_started) {
  // Debian's Abseil is built with deadlock detection on: every lock of every absl::Mutex
  // (gRPC's included) updated a global lock graph, a measured few percent of the router's CPU.
  // Lock order is a review and test matter here, not a runtime one.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  g_stop = false;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);

  metrics::SetBuildInfo(options.service_name);
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<int> port = metrics::StartExposer(options.metrics_listen);
    if (!port.ok()) return port.status();
    LogInfo("metrics_serving", {{"service", options.service_name},
                                {"address", options.metrics_listen}});
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  if (absl::Status st = ConfigureServer(options, builder, &port); !st.ok()) return st;
  for (grpc::Service* s : services) builder.RegisterService(s);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<MetricsInterceptorFactory>(options.service_name));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  std::optional<TokenFileWatcher> token_watcher;
  if (server && options.authenticator != nullptr && !options.authenticator->path().empty()) {
    InstallSighupReload();
    StreamRegistry* streams = options.streams;
    token_watcher.emplace(*options.authenticator, [streams] {
      if (streams != nullptr) streams->EndRevoked();
    });
  }
  if (!server || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen, " (is the port taken? set another with --listen)"));
  }
  LogInfo("grpc_serving", {{"service", options.service_name},
                           {"address", options.listen}, {"port", std::to_string(port)},
                           {"tls", options.tls_cert_file.empty() ? "off" : "on"}});
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  auto check_readiness = [&, last = std::optional<bool>()]() mutable {
    absl::Status ready = options.readiness ? options.readiness() : absl::OkStatus();
    if (!last || *last != ready.ok()) {
      if (ready.ok()) {
        LogInfo("ready", {{"service", options.service_name}});
      } else {
        LogWarning("not_ready",
                   {{"service", options.service_name}, {"reason", std::string(ready.message())}});
      }
    }
    last = ready.ok();
    health->SetServingStatus("readiness", ready.ok());
    if (options.database != nullptr) {
      static auto& pool = prometheus::BuildGauge()
                              .Name("postroom_db_pool_connections")
                              .Help("PostgreSQL connections of this process, by state.")
                              .Register(metrics::Registry());
      store::Database::PoolStats stats = options.database->Stats();
      pool.Add({{"service", options.service_name}, {"state", "in_use"}}).Set(stats.in_use);
      pool.Add({{"service", options.service_name}, {"state", "idle"}}).Set(stats.idle);
    }
  };
  check_readiness();
  if (on_started) on_started(port);

  absl::Time next_check = absl::Now() + options.readiness_interval;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (absl::Now() >= next_check) {
      check_readiness();
      next_check = absl::Now() + options.readiness_interval;
    }
  }
  LogInfo("shutting_down", {{"service", options.service_name}});
  health->SetServingStatus("readiness", false);
  server->Shutdown(std::chrono::system_clock::now() +
                   absl::ToChronoSeconds(options.shutdown_grace));
  return absl::OkStatus();
}

}  // namespace postroom::server
