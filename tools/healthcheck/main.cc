// postroom-healthcheck ADDR [SERVICE] [--timeout-ms N] [--tls] [--ca-file F] [--server-name N]:
// asks a server's gRPC health service and exits 0 when it answers SERVING. Debian ships no
// grpc_cli or grpcurl, the scripts need to wait for readiness ("readiness") and liveness (""),
// and Kubernetes' own gRPC probes cannot speak TLS: the manifests run this as an exec probe
// against the TLS port (--ca-file, --server-name naming the certificate's Service name).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "libs/base/version.h"
#include "libs/server/client_credentials.h"

namespace {

constexpr char kUsage[] =
    "usage: postroom-healthcheck ADDR [SERVICE] [--timeout-ms N] [--tls] [--ca-file PEM] "
    "[--server-name NAME] | --version\n"
    "  --tls               TLS with the system's roots (--ca-file implies TLS)\n"
    "  --ca-file PEM       verify the server against these roots (default $POSTROOM_CA_FILE)\n"
    "  --server-name NAME  the name the server's certificate must carry, when the address's\n"
    "                      host is not it (an exec probe dialling 127.0.0.1)\n";

int Usage() {
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address, service;
  int timeout_ms = 2000;
  int positional = 0;
  postroom::server::ClientTls tls;
  if (const char* ca = std::getenv("POSTROOM_CA_FILE")) tls.ca_file = ca;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::printf("postroom-healthcheck %s (commit %s)\n", postroom::kVersion, postroom::kCommit);
      return 0;
    } else if (arg == "--timeout-ms" && has_value) {
      timeout_ms = std::atoi(argv[++i]);
    } else if (arg == "--tls") {
      tls.enabled = true;
    } else if (arg == "--ca-file" && has_value) {
      tls.ca_file = argv[++i];
    } else if (arg == "--server-name" && has_value) {
      tls.server_name = argv[++i];
    } else if (arg.rfind("--", 0) == 0) {
      return Usage();
    } else if (positional == 0) {
      address = arg;
      ++positional;
    } else if (positional == 1) {
      service = arg;
      ++positional;
    } else {
      return Usage();
    }
  }
  if (address.empty() || timeout_ms <= 0) return Usage();
  auto channel = postroom::server::OpenClientChannel(address, tls);
  if (!channel.ok()) {
    std::fprintf(stderr, "%s: %s\n", address.c_str(), std::string(channel.status().message()).c_str());
    return 2;
  }
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status st = stub->Check(&ctx, req, &resp);
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", address.c_str(), st.error_message().c_str());
    return 1;
  }
  bool serving = resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  std::printf("%s %s: %s\n", address.c_str(), service.empty() ? "(liveness)" : service.c_str(),
              serving ? "SERVING" : "NOT_SERVING");
  return serving ? 0 : 1;
}
