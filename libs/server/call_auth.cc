#include "libs/server/call_auth.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/server/status.h"

namespace postroom::server {
namespace {

// grpc::InsecureServerCredentials() aborts in SetAuthMetadataProcessor (gRPC 1.51), while gRPC
// core's insecure credentials carry a processor like the secure ones: this wraps those.
class PlaintextServerCredentials final : public grpc::ServerCredentials {
 public:
  PlaintextServerCredentials() : creds_(grpc_insecure_server_credentials_create()) {}
  ~PlaintextServerCredentials() override { grpc_server_credentials_release(creds_); }

  void SetAuthMetadataProcessor(
      const std::shared_ptr<grpc::AuthMetadataProcessor>& processor) override {
    auto* state = new std::shared_ptr<grpc::AuthMetadataProcessor>(processor);
    grpc_server_credentials_set_auth_metadata_processor(creds_, {&Process, &Destroy, state});
  }

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    return grpc_server_add_http2_port(server, addr.c_str(), creds_);
  }

  static grpc::string_ref Ref(const grpc_slice& s) {
    return grpc::string_ref(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(s)),
                            GRPC_SLICE_LENGTH(s));
  }

  static void Process(void* state, grpc_auth_context*, const grpc_metadata* md, size_t num_md,
                      grpc_process_auth_metadata_done_cb done, void* user_data) {
    auto& processor = *static_cast<std::shared_ptr<grpc::AuthMetadataProcessor>*>(state);
    grpc::AuthMetadataProcessor::InputMetadata input;
    for (size_t i = 0; i < num_md; ++i) input.emplace(Ref(md[i].key), Ref(md[i].value));
    grpc::AuthMetadataProcessor::OutputMetadata consumed, response;
    grpc::Status st = processor->Process(input, nullptr, &consumed, &response);
    // Nothing is consumed: the methods read the token again for the role check.
    done(user_data, nullptr, 0, nullptr, 0, static_cast<grpc_status_code>(st.error_code()),
         st.ok() ? nullptr : st.error_message().c_str());
  }

  static void Destroy(void* state) {
    delete static_cast<std::shared_ptr<grpc::AuthMetadataProcessor>*>(state);
  }

  grpc_server_credentials* const creds_;
};

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the TLS ", what, " file ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool IsOpenMethod(std::string_view path) {
  return absl::StartsWith(absl::string_view(path.data(), path.size()), "/grpc.health.v1.Health/");
}

grpc::Status TokenAuthProcessor::Process(const InputMetadata& metadata, grpc::AuthContext*,
                                         OutputMetadata*, OutputMetadata*) {
  auto path = metadata.find(":path");
  if (path != metadata.end() &&
      IsOpenMethod(std::string_view(path->second.data(), path->second.size()))) {
    return grpc::Status::OK;
  }
  auto it = metadata.find("authorization");
  std::string_view value;
  if (it != metadata.end()) value = std::string_view(it->second.data(), it->second.size());
  absl::StatusOr<auth::Principal> principal = authenticator_.Authenticate(value);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  return grpc::Status::OK;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const std::string& tls_cert_file, const std::string& tls_key_file,
    std::shared_ptr<grpc::AuthMetadataProcessor> processor) {
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (!tls_cert_file.empty() || !tls_key_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFile(tls_cert_file, "certificate");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(tls_key_file, "key");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = std::make_shared<PlaintextServerCredentials>();
  }
  if (processor != nullptr) creds->SetAuthMetadataProcessor(processor);
  return creds;
}

}  // namespace postroom::server
