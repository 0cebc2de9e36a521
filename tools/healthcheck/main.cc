// postroom-healthcheck ADDR [SERVICE] [--timeout-ms N]: asks a server's gRPC health service
// and exits 0 when it answers SERVING. Debian ships no grpc_cli or grpcurl, and the scripts
// need to wait for readiness ("readiness") and liveness ("").
#include <grpcpp/create_channel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"

int main(int argc, char** argv) {
  std::string address, service;
  int timeout_ms = 2000;
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--timeout-ms" && i + 1 < argc) {
      timeout_ms = std::atoi(argv[++i]);
    } else if (positional == 0) {
      address = arg;
      ++positional;
    } else if (positional == 1) {
      service = arg;
      ++positional;
    } else {
      std::fprintf(stderr, "usage: postroom-healthcheck ADDR [SERVICE] [--timeout-ms N]\n");
      return 2;
    }
  }
  if (address.empty()) {
    std::fprintf(stderr, "usage: postroom-healthcheck ADDR [SERVICE] [--timeout-ms N]\n");
    return 2;
  }
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
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
