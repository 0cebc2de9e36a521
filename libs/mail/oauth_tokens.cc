#include "libs/mail/oauth_tokens.h"

#include "absl/strings/str_cat.h"
#include "libs/base/log.h"
#include "libs/mail/graph_connector.h"
#include "libs/mail/mail_error.h"

namespace postroom::mail {

// One connector's token client with its own HTTP client (used under the token client's lock),
// reporting to the hooks.
class OAuthTokens::Source : public AccessTokenSource {
 public:
  Source(const v1::Connector& c, const OAuthTokenHooks* hooks, Clock* clock)
      : connector_(c.name()),
        hooks_(hooks),
        http_(NewCurlHttpClient(CurlOptionsFor(c))),
        client_(OAuthConfigFor(c), http_.get(), clock, [this](const std::string& rt) {
          absl::Status st = hooks_->persist ? hooks_->persist(connector_, rt) : absl::OkStatus();
          LogInfo("oauth_refresh_token_rotated",
                  {{"connector", connector_}, {"stored", st.ok() ? "yes" : "no"}});
          return st;
        }) {}

  absl::StatusOr<std::string> AccessToken(bool force_refresh) override {
    absl::StatusOr<std::string> t = client_.AccessToken(force_refresh);
    if (!t.ok()) {
      LogWarning("oauth_token_failed",
                 {{"connector", connector_}, {"error", std::string(t.status().message())}});
      if (hooks_->failed) hooks_->failed(connector_, t.status());
      return t;
    }
    // On every use, not only on renewal: a replica that lost and re-took the lease dropped the
    // gauge and must show the cached token's expiry again.
    if (hooks_->issued) hooks_->issued(connector_, client_.expires_at());
    return t;
  }
  std::string refresh_token() { return client_.refresh_token(); }

 private:
  std::string connector_;
  const OAuthTokenHooks* hooks_;
  std::unique_ptr<HttpClient> http_;
  OAuthTokenClient client_;
};

std::shared_ptr<AccessTokenSource> OAuthTokens::For(const v1::Connector& c) {
  const v1::AuthSettings& a = c.auth();
  std::string settings = absl::StrCat(a.token_endpoint(), "\n", a.tenant_id(), "\n", a.client_id(),
                                      "\n", a.client_secret(), "\n", a.scope(), "\n",
                                      c.server().ca_file(), "\n", c.settings().timeout_ms());
  absl::MutexLock l(&mu_);
  auto it = entries_.find(c.name());
  if (it != entries_.end() && it->second.settings == settings) {
    // The stored refresh token is either the one the client started with (the rotated one is
    // not re-read yet) or the one it rotated to; anything else was written by an administrator.
    const std::string& stored = a.refresh_token();
    if (stored == it->second.initial_refresh || stored == it->second.source->refresh_token()) {
      return it->second.source;
    }
  }
  Entry e{settings, a.refresh_token(), std::make_shared<Source>(c, &hooks_, clock_)};
  entries_[c.name()] = e;
  return e.source;
}

}  // namespace postroom::mail
