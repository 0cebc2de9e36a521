#include "services/sender/smtp_transport.h"

#include <memory>

#include "libs/mail/mail_error.h"
#include "libs/mail/smtp_connector.h"

namespace postroom::sender {
namespace {

mail::SmtpResult NotSent(const absl::Status& st) {
  mail::SmtpResult r;
  // No token (the endpoint refused or is away) is the token's class; anything else is the
  // connector's configuration (the core counts kOther so).
  mail::MailErrorClass c = mail::ClassifyMailError(st);
  r.error_class = c == mail::MailErrorClass::kNone ? mail::MailErrorClass::kOther : c;
  r.message = std::string(st.message());
  return r;
}

}  // namespace

mail::SmtpResult SmtpTransport::Send(const v1::Connector& c, const mail::OutgoingEmail& email,
                                     const std::string& raw) {
  std::shared_ptr<mail::AccessTokenSource> tokens;
  if (c.auth().method() == v1::AUTH_METHOD_OAUTH2 && oauth_ != nullptr) tokens = oauth_->For(c);
  const mail::SmtpEnvelope envelope{.mail_from = email.from, .rcpt_to = {email.to}};
  absl::StatusOr<mail::SmtpCredentials> cr = mail::SmtpCredentialsFor(c, tokens.get());
  if (!cr.ok()) return NotSent(cr.status());
  mail::SmtpResult r = mail::SendSmtp(mail::SmtpServerFor(c), *cr, envelope, raw);
  if (!r.ok && r.error_class == mail::MailErrorClass::kAuthentication &&
      cr->method == mail::SmtpAuth::kXOAuth2) {
    // The cached token was revoked or expired early: one new token, one more try.
    cr = mail::SmtpCredentialsFor(c, tokens.get(), /*force_refresh=*/true);
    if (!cr.ok()) return NotSent(cr.status());
    r = mail::SendSmtp(mail::SmtpServerFor(c), *cr, envelope, raw);
  }
  return r;
}

}  // namespace postroom::sender
