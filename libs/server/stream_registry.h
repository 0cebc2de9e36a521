#pragma once

// The long-lived streams open on a server (WatchWorkItems, RouteStream), by token. Bounds how
// many streams one token may hold open, each of which holds a server thread, and ends the
// streams of a token that is revoked: a token removed from the tokens file must not keep
// reading work items or routing mail on a stream it opened before.
#include <grpcpp/server_context.h>

#include <list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "libs/auth/token_authenticator.h"

namespace postroom::server {

inline constexpr int kDefaultMaxStreamsPerToken = 64;

class StreamRegistry {
 private:
  struct Entry {
    grpc::ServerContext* ctx;
    std::string name;                // The token's name when the stream opened.
    std::string_view authorization;  // Into ctx's metadata: lives as long as the call.
    bool ended = false;
  };

 public:
  // Keeps the stream registered while it lives. Movable only.
  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : registry_(std::exchange(other.registry_, nullptr)), entry_(other.entry_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();

   private:
    friend class StreamRegistry;
    Lease(StreamRegistry* registry, std::list<Entry>::iterator entry)
        : registry_(registry), entry_(entry) {}
    StreamRegistry* registry_;
    std::list<Entry>::iterator entry_;
  };

  // `max_per_token` (at least 1): the most streams one token may have open at once.
  StreamRegistry(const auth::TokenAuthenticator& authenticator, int max_per_token);
  StreamRegistry(const StreamRegistry&) = delete;
  StreamRegistry& operator=(const StreamRegistry&) = delete;

  // Registers the stream of `ctx`, opened by `principal`, until the lease ends. `method` names
  // it in the message. RESOURCE_EXHAUSTED when the token already holds max_per_token streams.
  absl::StatusOr<Lease> Open(grpc::ServerContext& ctx, const auth::Principal& principal,
                             std::string_view method);

  // Ends with UNAUTHENTICATED every open stream whose token no longer authenticates as the
  // name it opened with (revoked, or given to another name). Runs after each tokens reload;
  // returns how many it ended.
  int EndRevoked();

  int open_streams(const std::string& name) const;
  int max_per_token() const { return max_per_token_; }

 private:
  const auth::TokenAuthenticator& authenticator_;
  const int max_per_token_;
  mutable absl::Mutex mu_;
  std::list<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace postroom::server
