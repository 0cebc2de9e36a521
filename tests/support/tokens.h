#pragma once

// Tokens files for tests, written as the readable `name role token` lines and stored as the
// file holds them, `name role sha256:<hex>` (libs/auth/token_authenticator.h).
#include <grpcpp/client_context.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"
#include "libs/auth/token_authenticator.h"

namespace postroom::testing {

inline std::string HashedTokens(std::string_view plaintext_lines) {
  std::string out;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(plaintext_lines.data(), plaintext_lines.size()), '\n',
                      absl::SkipWhitespace())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() != 3 || !auth::ParseRole(f[1])) std::abort();
    absl::StatusOr<std::string> hashed = auth::TokenFileLine(f[0], *auth::ParseRole(f[1]), f[2]);
    if (!hashed.ok()) std::abort();
    out += *hashed;
  }
  return out;
}

// A call context carrying `Bearer <token>`; none when `token` is empty.
inline std::unique_ptr<grpc::ClientContext> ContextAs(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

}  // namespace postroom::testing
