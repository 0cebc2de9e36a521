#pragma once

// The thin gRPC layer: channels with the right credentials, one call with deadline and bearer
// token, grpc::Status to absl::Status, and the exit code and message for a failed call.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tools/postroomctl/connection.h"

namespace postroom::ctl {

// Process exit codes; scripts rely on them (docs/postroomctl.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitRefused = 1,      // The server refused (any error but UNAVAILABLE/DEADLINE_EXCEEDED),
                         // or a check failed (e.g. `test connector`).
  kExitUsage = 2,        // Bad flags, bad YAML, unknown kind: nothing was sent.
  kExitUnreachable = 3,  // UNAVAILABLE or DEADLINE_EXCEEDED: the server could not answer.
};

// kExitOk for OK, kExitUnreachable for UNAVAILABLE/DEADLINE_EXCEEDED, else kExitRefused.
int ExitCodeFor(const absl::Status& status);

// "error (INVALID_ARGUMENT): <the server's message as is>"; for unreachable servers a second
// line: "hint: is the stack running? scripts/run-local (<service> service at <addr>)".
std::string FormatError(const absl::Status& status, const std::string& service,
                        const std::string& addr);

// The codes are the same numbers in gRPC and Abseil.
inline absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// A channel to `addr`: TLS with ca_file (or the system roots) when options.tls, else
// plaintext. INVALID_ARGUMENT when the CA file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ChannelInterface>> OpenChannel(
    const std::string& addr, const ConnectionOptions& options, const FileReader& read_file);

// Per-call settings.
struct CallOptions {
  std::string token;
  absl::Duration timeout = absl::Seconds(10);
};

// Calls one unary method of a generated StubInterface, e.g.
//   Call(stub, &v1::ConfigService::StubInterface::GetConnector, request, options)
// with the deadline and "authorization: Bearer <token>". Works for every service's stub.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Call(Stub& stub,
                              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                           Response*),
                              const Request& request, const CallOptions& options) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  if (!options.token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options.token));
  }
  Response response;
  absl::Status status = FromGrpc((stub.*method)(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

}  // namespace postroom::ctl
