#pragma once

// OAuth2 access tokens, one token client per connector, kept across uses: the fetcher's Graph
// sessions and IMAP/POP3 XOAUTH2 logins across polls, the sender's Graph sends and SMTP XOAUTH2
// logins across deliveries (a token lives an hour; a poll or a delivery a few seconds). A rotated refresh token is handed to `persist` (sealed and written to `secrets` by
// main.cc) before the access token that came with it is used. Thread-safe.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "libs/base/clock.h"
#include "libs/mail/oauth_token_client.h"
#include "postroom/v1/config.pb.h"

namespace postroom::mail {

struct OAuthTokenHooks {
  // Persists connector's rotated refresh token. An error keeps the new access token unused.
  std::function<absl::Status(const std::string& connector, const std::string& refresh_token)>
      persist;
  // A token was handed out (fresh or cached): when it expires (the
  // postroom_oauth_token_expiry_timestamp_seconds gauge).
  std::function<void(const std::string& connector, absl::Time expires_at)> issued;
  // The token endpoint refused or could not be reached
  // (postroom_oauth_token_refresh_failures_total).
  std::function<void(const std::string& connector, const absl::Status& error)> failed;
};

class OAuthTokens {
 public:
  explicit OAuthTokens(OAuthTokenHooks hooks, Clock* clock = &RealClock())
      : hooks_(std::move(hooks)), clock_(clock) {}

  // The token source of connector `c` (secrets filled in): the cached one while its OAuth
  // settings are those it was made with, a new one otherwise (an administrator wrote another
  // secret). Valid as long as the caller holds it.
  std::shared_ptr<mail::AccessTokenSource> For(const v1::Connector& c);

 private:
  class Source;
  struct Entry {
    std::string settings;         // endpoint, client, secret, scope: a change makes a new client
    std::string initial_refresh;  // the refresh token the client started with
    std::shared_ptr<Source> source;
  };
  OAuthTokenHooks hooks_;
  Clock* clock_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace postroom::mail
