#include "libs/server/authorize.h"

namespace postroom::server {

absl::StatusOr<auth::Principal> Authorize(const grpc::ServerContext& context,
                                          const auth::TokenAuthenticator& authenticator,
                                          auth::Role required, std::string_view action) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  std::string_view value;
  if (it != metadata.end()) value = std::string_view(it->second.data(), it->second.size());
  absl::StatusOr<auth::Principal> principal = authenticator.Authenticate(value);
  if (!principal.ok()) return principal.status();
  if (absl::Status st = auth::Authorize(*principal, required, action); !st.ok()) return st;
  return principal;
}

}  // namespace postroom::server
