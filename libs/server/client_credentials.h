#pragma once

// Channel credentials for postroom's own gRPC clients: the fetcher calling the router, the
// health probe, postroomctl. One place decides what "TLS with a CA file" means, so a cluster
// that serves every gRPC port over TLS (docs/kubernetes.md) is reached the same way by all.
#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace postroom::server {

struct ClientTls {
  bool enabled = false;  // TLS with the system's roots; a non-empty ca_file turns it on too.
  std::string ca_file;   // PEM roots to verify the server with.
  // The name the server's certificate must carry, when it differs from the address's host
  // (a probe dialling 127.0.0.1 inside a pod whose certificate names the Service).
  std::string server_name;
};

// Plaintext when !tls.enabled and tls.ca_file is empty, else TLS verified against the roots.
// Errors, naming the file: NOT_FOUND / PERMISSION_DENIED (cannot read it), INVALID_ARGUMENT
// (larger than 1 MiB, or no PEM certificate in it).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(const ClientTls& tls);

// A channel to `address` with ClientCredentials(tls) and, when tls.server_name is set, that
// name checked against the server's certificate.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenClientChannel(const std::string& address,
                                                                  const ClientTls& tls);

}  // namespace postroom::server
