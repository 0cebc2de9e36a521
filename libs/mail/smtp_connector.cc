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

absl::StatusOr<SmtpCredentials> SmtpCredentialsFor(const v1::Connector& c) {
  SmtpCredentials cr;
  if (c.auth().method() == v1::AUTH_METHOD_OAUTH2) {
    // The seam: an OAuth2 token client will put an access token here with kXOAuth2.
    return absl::FailedPreconditionError(absl::StrCat(
        "connector \"", c.name(),
        "\": OAuth2 (XOAUTH2) sign-in is not implemented in this build yet; use a password"));
  }
  if (!c.auth().username().empty()) {
    cr.method = SmtpAuth::kPassword;
    cr.user = c.auth().username();
    cr.secret = c.auth().password();
  }
  return cr;
}

}  // namespace postroom::mail
