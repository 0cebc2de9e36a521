#include "libs/server/server.h"

#include <csignal>
#include <fstream>
#include <sstream>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <optional>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/base/log.h"
#include "libs/metrics/metrics.h"
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

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read the TLS ", what, " file ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void RequestShutdown() { g_stop = true; }

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
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFile(options.tls_cert_file, "certificate");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(options.tls_key_file, "key");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    creds = grpc::SslServerCredentials(ssl);
  }
  int port = 0;
  builder.AddListeningPort(options.listen, creds, &port);
  builder.SetMaxReceiveMessageSize(160 << 20);  // Up to the largest allowed email and more.
  // The sync server starts a thread whenever a call takes its last idle poller and ends threads
  // once more than MAX_POLLERS (default 2) are idle: under a steady 16 concurrent RouteEmail
  // calls it made and ended threads all the time (clone/munmap were ~1 % of the box in
  // bench/fetcher). Idle threads cost only their stacks.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 32);
  for (grpc::Service* s : services) builder.RegisterService(s);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<MetricsInterceptorFactory>(options.service_name));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
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
        LogWarning("not_ready", {{"service", options.service_name},
                                 {"reason", std::string(ready.message())}});
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
