#include "libs/mail/oauth_token_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/mail/json_value.h"
#include "libs/mail/mail_error.h"

namespace postroom::mail {
namespace {

std::string Snippet(const std::string& body) {
  std::string s = body.substr(0, 200);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

OAuthConfig WithMicrosoftDefaults(OAuthConfig c) {
  if (c.token_endpoint.empty() && !c.tenant_id.empty()) {
    c.token_endpoint =
        absl::StrCat("https://login.microsoftonline.com/", c.tenant_id, "/oauth2/v2.0/token");
  }
  if (c.scope.empty() && c.refresh_token.empty()) c.scope = "https://graph.microsoft.com/.default";
  return c;
}

absl::StatusOr<TokenResponse> ParseTokenResponse(int http_status, const std::string& body) {
  absl::StatusOr<google::protobuf::Value> json = ParseJson(body);
  if (http_status == 200) {
    if (!json.ok()) {
      return MailError(MailErrorClass::kProtocol,
                       absl::StrCat("token endpoint answered 200 with ", json.status().message()));
    }
    TokenResponse t;
    t.access_token = JsonString(*json, "access_token");
    if (t.access_token.empty()) {
      return MailError(MailErrorClass::kProtocol,
                       "token endpoint answered 200 without an access_token");
    }
    // Microsoft sends expires_in as a number; some servers send a string. Absent: RFC 6749
    // leaves it to documentation; one hour is what Microsoft documents.
    double expires = JsonNumber(*json, "expires_in", 3600);
    t.expires_in = absl::Seconds(std::max(0.0, expires));
    t.refresh_token = JsonString(*json, "refresh_token");
    return t;
  }
  std::string error = json.ok() ? JsonString(*json, "error") : "";
  std::string description = json.ok() ? JsonString(*json, "error_description") : "";
  if (error.empty()) {
    MailErrorClass c = http_status == 429   ? MailErrorClass::kThrottled
                       : http_status >= 500 ? MailErrorClass::kServer
                                            : MailErrorClass::kProtocol;
    return MailError(
        c, absl::StrCat("token endpoint answered HTTP ", http_status, ": ", Snippet(body)));
  }
  std::string words = absl::StrCat("token endpoint refused (HTTP ", http_status, "): ", error,
                                   description.empty() ? "" : ": ", description);
  if (error == "temporarily_unavailable") return MailError(MailErrorClass::kNetwork, words);
  if (error == "slow_down" || http_status == 429)
    return MailError(MailErrorClass::kThrottled, words);
  if (http_status >= 500 && error == "server_error")
    return MailError(MailErrorClass::kServer, words);
  // invalid_grant (refresh token revoked or expired), invalid_client, unauthorized_client,
  // invalid_scope, invalid_request: a person has to fix the credentials or the app registration.
  return MailError(MailErrorClass::kAuthentication, words);
}

OAuthTokenClient::OAuthTokenClient(OAuthConfig config, HttpClient* http, Clock* clock,
                                   RefreshTokenSink persist)
    : config_(WithMicrosoftDefaults(std::move(config))),
      http_(http),
      clock_(clock),
      persist_(std::move(persist)) {}

absl::Time OAuthTokenClient::expires_at() {
  absl::MutexLock l(&mu_);
  return access_token_.empty() ? absl::InfinitePast() : expires_at_;
}

std::string OAuthTokenClient::refresh_token() {
  absl::MutexLock l(&mu_);
  return config_.refresh_token;
}

absl::StatusOr<std::string> OAuthTokenClient::AccessToken(bool force_refresh) {
  absl::MutexLock l(&mu_);
  const absl::Time now = clock_->Now();
  if (!force_refresh && !access_token_.empty() && now < refresh_at_) return access_token_;
  if (config_.token_endpoint.empty()) {
    return MailError(MailErrorClass::kAuthentication,
                     "no OAuth token endpoint: set auth.token_endpoint or auth.tenant_id");
  }
  std::vector<std::pair<std::string, std::string>> form{{"client_id", config_.client_id}};
  if (!config_.client_secret.empty()) form.push_back({"client_secret", config_.client_secret});
  const bool refresh = !config_.refresh_token.empty();
  if (refresh) {
    form.push_back({"grant_type", "refresh_token"});
    form.push_back({"refresh_token", config_.refresh_token});
  } else {
    form.push_back({"grant_type", "client_credentials"});
  }
  if (!config_.scope.empty()) form.push_back({"scope", config_.scope});
  HttpRequest req;
  req.method = "POST";
  req.url = config_.token_endpoint;
  req.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
  req.body = FormEncode(form);
  // A token answer is a few KiB of JSON (Entra's access tokens run to 2-4 KiB).
  req.max_body_bytes = 1 << 20;
  req.body_limit_why = "limit for an OAuth token response";
  absl::StatusOr<HttpResponse> resp = http_->Send(req);
  if (!resp.ok()) return AnnotateMailError(resp.status(), "oauth token");
  absl::StatusOr<TokenResponse> t = ParseTokenResponse(resp->status, resp->body);
  if (!t.ok()) {
    access_token_.clear();
    return AnnotateMailError(
        t.status(), absl::StrCat("oauth ", refresh ? "refresh_token" : "client_credentials",
                                 " grant for client ", config_.client_id));
  }
  if (refresh && !t->refresh_token.empty() && t->refresh_token != config_.refresh_token) {
    // Rotated: the old one may already be void at the server, so the new one must be durable
    // before anything relies on this answer. If it cannot be kept, the access token is not used.
    if (persist_) {
      absl::Status st = persist_(t->refresh_token);
      if (!st.ok()) {
        access_token_.clear();
        return absl::Status(st.code(), absl::StrCat("oauth: the rotated refresh token could not "
                                                    "be stored, so it is not used: ",
                                                    st.message()));
      }
    }
    config_.refresh_token = t->refresh_token;
  }
  access_token_ = t->access_token;
  expires_at_ = now + t->expires_in;
  // A short-lived token is renewed at half its life rather than never being cacheable.
  absl::Duration margin = std::min(config_.expiry_margin, t->expires_in / 2);
  refresh_at_ = expires_at_ - margin;
  return access_token_;
}

}  // namespace postroom::mail
