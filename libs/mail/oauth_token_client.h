#pragma once

// OAuth2 access tokens for Microsoft Graph and IMAP/POP3 XOAUTH2: the client-credentials grant
// and the refresh-token grant (RFC 6749 §4.4 and §6) against a connector's token endpoint, as
// Microsoft's identity platform documents them ("OAuth 2.0 client credentials flow", "Refresh
// the access token"). Hand-written over HttpClient (libcurl): the protocol is one form POST and
// a small JSON answer; no Debian package offers an OAuth2 client library for C++.
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/mail/http_client.h"

namespace postroom::mail {

struct OAuthConfig {
  // Default: https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token.
  std::string token_endpoint;
  std::string tenant_id;
  std::string client_id;
  std::string client_secret;  // may be empty for a public client with a refresh token
  // Default for client credentials: https://graph.microsoft.com/.default.
  std::string scope;
  // Non-empty: the refresh-token grant; else client credentials.
  std::string refresh_token;
  // A cached token is renewed this long before it expires (the alert
  // PostroomOAuthTokenExpiring fires within 5 minutes of expiry).
  absl::Duration expiry_margin = absl::Minutes(10);
};

struct TokenResponse {
  std::string access_token;
  absl::Duration expires_in;
  std::string refresh_token;  // non-empty when the server rotated it
};

// Parses a token endpoint answer. OK only for 200 with an access_token. An OAuth error
// ({"error": "invalid_grant", "error_description": ...}, RFC 6749 §5.2) is UNAUTHENTICATED with
// class authentication and the server's words, except temporarily_unavailable (class network)
// and slow_down / HTTP 429 (class throttled); an answer that is not such JSON is class protocol
// (2xx/4xx) or server (5xx).
absl::StatusOr<TokenResponse> ParseTokenResponse(int http_status, const std::string& body);

// Persists a rotated refresh token (sealed, through the keyring) before the access token that
// came with it is used. An error keeps the new access token from being used and is returned.
using RefreshTokenSink = std::function<absl::Status(const std::string& new_refresh_token)>;

// What the Graph client needs: a valid access token, a fresh one on demand (after a 401).
class AccessTokenSource {
 public:
  virtual ~AccessTokenSource() = default;
  // `force_refresh`: the cached token was refused; get a new one from the endpoint.
  virtual absl::StatusOr<std::string> AccessToken(bool force_refresh) = 0;
};

// Caches one connector's access token until expiry minus the margin. Thread-safe: calls are
// serialised, so two polls never spend one refresh token twice.
class OAuthTokenClient : public AccessTokenSource {
 public:
  // `http` is used under the client's lock; `clock` tells when a token expires. Not owned.
  OAuthTokenClient(OAuthConfig config, HttpClient* http, Clock* clock,
                   RefreshTokenSink persist = nullptr);

  absl::StatusOr<std::string> AccessToken(bool force_refresh) override;

  // When the cached token expires (InfinitePast when none is cached).
  absl::Time expires_at();
  // The refresh token in use (the rotated one after a rotation).
  std::string refresh_token();
  // The endpoint after defaults.
  const std::string& token_endpoint() const { return config_.token_endpoint; }

 private:
  OAuthConfig config_;
  HttpClient* http_;
  Clock* clock_;
  RefreshTokenSink persist_;
  absl::Mutex mu_;
  std::string access_token_ ABSL_GUARDED_BY(mu_);
  absl::Time expires_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time refresh_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Fills the Microsoft defaults (endpoint from the tenant, Graph scope for client credentials).
OAuthConfig WithMicrosoftDefaults(OAuthConfig config);

}  // namespace postroom::mail
