#include "libs/server/stream_registry.h"

#include <grpc/grpc.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/base/log.h"

namespace postroom::server {

StreamRegistry::StreamRegistry(const auth::TokenAuthenticator& authenticator, int max_per_token)
    : authenticator_(authenticator), max_per_token_(std::max(1, max_per_token)) {}

StreamRegistry::Lease::~Lease() {
  if (registry_ == nullptr) return;
  absl::MutexLock l(&registry_->mu_);
  registry_->entries_.erase(entry_);
}

absl::StatusOr<StreamRegistry::Lease> StreamRegistry::Open(grpc::ServerContext& ctx,
                                                           const auth::Principal& principal,
                                                           std::string_view method) {
  std::string_view authorization;
  const auto& metadata = ctx.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  absl::MutexLock l(&mu_);
  const int open = static_cast<int>(std::count_if(
      entries_.begin(), entries_.end(), [&](const Entry& e) { return e.name == principal.name; }));
  if (open >= max_per_token_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("token \"", principal.name, "\" already has ", open,
                     " streams open (WatchWorkItems, RouteStream), the most one token may hold "
                     "(--max-streams-per-token); close one before opening another ",
                     absl::string_view(method.data(), method.size()), " stream"));
  }
  entries_.push_back(Entry{&ctx, principal.name, authorization});
  return Lease(this, std::prev(entries_.end()));
}

int StreamRegistry::EndRevoked() {
  int ended = 0;
  absl::MutexLock l(&mu_);
  for (Entry& e : entries_) {
    if (e.ended) continue;
    absl::StatusOr<auth::Principal> now = authenticator_.Authenticate(e.authorization);
    if (now.ok() && now->name == e.name) continue;
    // TryCancel would end it as CANCELLED; the caller should learn that its token is no
    // longer good. The handler's next read or write fails and it returns.
    const std::string why = absl::StrCat("token \"", e.name,
                                         "\" was revoked (no longer in the tokens file); the "
                                         "stream is closed");
    grpc_call_cancel_with_status(e.ctx->c_call(), GRPC_STATUS_UNAUTHENTICATED, why.c_str(),
                                 nullptr);
    e.ended = true;
    ++ended;
    LogWarning("stream_ended_token_revoked", {{"token", e.name}});
  }
  return ended;
}

int StreamRegistry::open_streams(const std::string& name) const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(std::count_if(entries_.begin(), entries_.end(),
                                        [&](const Entry& e) { return e.name == name; }));
}

}  // namespace postroom::server
