#include "libs/server/client_credentials.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace postroom::server {
namespace {

// A CA bundle is a few KiB; a bound keeps a wrong path (a log, a device) from being read whole.
constexpr std::streamsize kMaxCaFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadCaFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string what = absl::StrCat("ca file ", path, ": ", std::strerror(err));
    return err == EACCES ? absl::PermissionDeniedError(what) : absl::NotFoundError(what);
  }
  std::string pem(static_cast<size_t>(kMaxCaFileBytes) + 1, '\0');
  in.read(pem.data(), kMaxCaFileBytes + 1);
  pem.resize(static_cast<size_t>(in.gcount()));
  if (pem.size() > static_cast<size_t>(kMaxCaFileBytes)) {
    return absl::InvalidArgumentError(absl::StrCat("ca file ", path, ": larger than 1 MiB"));
  }
  if (!absl::StrContains(pem, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat("ca file ", path, ": no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  return pem;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(const ClientTls& tls) {
  if (!tls.enabled && tls.ca_file.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!tls.ca_file.empty()) {
    absl::StatusOr<std::string> pem = ReadCaFile(tls.ca_file);
    if (!pem.ok()) return pem.status();
    ssl.pem_root_certs = *std::move(pem);
  }
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenClientChannel(const std::string& address,
                                                                  const ClientTls& tls) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = ClientCredentials(tls);
  if (!creds.ok()) return creds.status();
  grpc::ChannelArguments args;
  if (!tls.server_name.empty()) args.SetSslTargetNameOverride(tls.server_name);
  return grpc::CreateCustomChannel(address, *creds, args);
}

}  // namespace postroom::server
