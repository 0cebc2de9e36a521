#include "services/sender/smtp_transport.h"

#include "absl/strings/str_cat.h"

namespace postroom::sender {

mail::SmtpServer SmtpServerFor(const v1::Connector& c) {
  mail::SmtpServer s;
  s.host = c.server().host();
  s.port = static_cast<int>(c.server().port());
  switch (c.server().tls()) {
    case v1::TLS_MODE_NONE:
      s.security = mail::SmtpSecurity::kNone;
      break;
    case v1::TLS_MODE_IMPLICIT:
      s.security = mail::SmtpSecurity::kImplicitTls;
      break;
    default:
      s.security = mail::SmtpSecurity::kStartTls;
      break;
  }
  s.ca_file = c.server().ca_file();
  if (c.settings().timeout_ms() > 0) s.timeout = absl::Milliseconds(c.settings().timeout_ms());
  return s;
}

absl::StatusOr<mail::SmtpCredentials> SmtpCredentialsFor(const v1::Connector& c) {
  mail::SmtpCredentials cr;
  if (c.auth().method() == v1::AUTH_METHOD_OAUTH2) {
    // The seam: an OAuth2 token client will put an access token here with kXOAuth2.
    return absl::FailedPreconditionError(absl::StrCat(
        "connector \"", c.name(),
        "\": OAuth2 (XOAUTH2) sign-in is not implemented in this sender build yet; use a "
        "password"));
  }
  if (!c.auth().username().empty()) {
    cr.method = mail::SmtpAuth::kPassword;
    cr.user = c.auth().username();
    cr.secret = c.auth().password();
  }
  return cr;
}

mail::SmtpResult SmtpTransport::Send(const v1::Connector& c, const mail::OutgoingEmail& email,
                                     const std::string& raw) {
  absl::StatusOr<mail::SmtpCredentials> cr = SmtpCredentialsFor(c);
  if (!cr.ok()) {
    mail::SmtpResult r;
    r.error_class = mail::MailErrorClass::kOther;
    r.message = std::string(cr.status().message());
    return r;
  }
  return mail::SendSmtp(SmtpServerFor(c), *cr, {.mail_from = email.from, .rcpt_to = {email.to}},
                        raw);
}

}  // namespace postroom::sender
