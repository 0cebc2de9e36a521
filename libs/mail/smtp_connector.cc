#include "libs/mail/smtp_connector.h"

#include "absl/strings/str_cat.h"

namespace postroom::mail {

SmtpServer SmtpServerFor(const v1::Connector& c) {
  SmtpServer s;
  s.host = c.server().host();
  s.port = static_cast<int>(c.server().port());
  switch (c.server().tls()) {
    case v1::TLS_MODE_NONE:
      s.security = SmtpSecurity::kNone;
      break;
    case v1::TLS_MODE_IMPLICIT:
      s.security = SmtpSecurity::kImplicitTls;
      break;
    default:
      s.security = SmtpSecurity::kStartTls;
      break;
  }
  s.ca_file = c.server().ca_file();
  if (c.settings().timeout_ms() > 0) s.timeout = absl::Milliseconds(c.settings().timeout_ms());
  return s;
}

absl::StatusOr<SmtpCredentials> SmtpCredentialsFor(const v1::Connector& c,
                                                   AccessTokenSource* tokens, bool force_refresh) {
  SmtpCredentials cr;
  if (c.auth().method() == v1::AUTH_METHOD_OAUTH2) {
    if (tokens == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "connector \"", c.name(), "\": OAuth2 (XOAUTH2) sign-in needs an access token source"));
    }
    absl::StatusOr<std::string> token = tokens->AccessToken(force_refresh);
    if (!token.ok()) return token.status();
    cr.method = SmtpAuth::kXOAuth2;
    cr.user = c.auth().username().empty() ? c.primary_address() : c.auth().username();
    cr.secret = *std::move(token);
    return cr;
  }
  if (!c.auth().username().empty()) {
    cr.method = SmtpAuth::kPassword;
    cr.user = c.auth().username();
    cr.secret = c.auth().password();
  }
  return cr;
}

}  // namespace postroom::mail
