#pragma once

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "libs/auth/token_authenticator.h"

namespace postroom::server {

// Reads the `authorization` metadata of a call and checks the token's role. UNAUTHENTICATED
// for a missing or unknown token, PERMISSION_DENIED for a role below `required`, naming the
// action. The principal's name is the audit actor.
absl::StatusOr<auth::Principal> Authorize(const grpc::ServerContext& context,
                                          const auth::TokenAuthenticator& authenticator,
                                          auth::Role required, std::string_view action);

}  // namespace postroom::server
