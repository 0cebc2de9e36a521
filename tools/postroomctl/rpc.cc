#include "tools/postroomctl/rpc.h"

namespace postroom::ctl {

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) return kExitUnreachable;
  return kExitRefused;
}

std::string FormatError(const absl::Status& status, const std::string& service,
                        const std::string& addr) {
  std::string out =
      absl::StrCat("error (", absl::StatusCodeToString(status.code()), "): ", status.message());
  if (ExitCodeFor(status) == kExitUnreachable) {
    absl::StrAppend(&out, "\nhint: is the stack running? scripts/run-local (", service,
                    " service at ", addr, ")");
  }
  return out;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelInterface>> OpenChannel(
    const std::string& addr, const ConnectionOptions& options, const FileReader& read_file) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  // A CA file means TLS: nobody gives roots to talk plaintext.
  if (options.tls || !options.ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      absl::StatusOr<std::string> pem = read_file(options.ca_file);
      if (!pem.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("ca_file ", options.ca_file, ": ", pem.status().message()));
      }
      ssl.pem_root_certs = *pem;
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  return std::shared_ptr<grpc::ChannelInterface>(grpc::CreateChannel(addr, creds));
}

}  // namespace postroom::ctl
