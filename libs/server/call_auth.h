#pragma once

// Authentication at the metadata stage. A call's headers pass through the credentials'
// AuthMetadataProcessor before gRPC reads its request message, so a caller without a valid
// token is refused UNAUTHENTICATED there and cannot make a service buffer a request of up to
// its receive limit. Role checks stay with each method (authorize.h), which re-reads the token.
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/auth/token_authenticator.h"

namespace postroom::server {

// OK for a call with a token the authenticator knows, or for a method anyone may call
// (the gRPC health service: probes carry no token); else the authenticator's UNAUTHENTICATED.
class TokenAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenAuthProcessor(const auth::TokenAuthenticator& authenticator)
      : authenticator_(authenticator) {}

  // Hashing one token and comparing it with the table is microseconds of CPU, no I/O: it runs
  // on the transport's thread rather than a hand-off to a thread pool.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed, OutputMetadata* response) override;

 private:
  const auth::TokenAuthenticator& authenticator_;
};

// True for the methods callable without a token: /grpc.health.v1.Health/*.
bool IsOpenMethod(std::string_view path);

// The gRPC port's credentials, carrying `processor` (may be null: none): TLS from the PEM
// files when both are set, else plaintext. The one place server credentials are made, so TLS
// options plug in here. FAILED_PRECONDITION: a TLS file cannot be read, or only one is set.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const std::string& tls_cert_file, const std::string& tls_key_file,
    std::shared_ptr<grpc::AuthMetadataProcessor> processor);

}  // namespace postroom::server
