#include "services/sender/smtp_transport.h"

#include "libs/mail/smtp_connector.h"

namespace postroom::sender {

mail::SmtpResult SmtpTransport::Send(const v1::Connector& c, const mail::OutgoingEmail& email,
                                     const std::string& raw) {
  absl::StatusOr<mail::SmtpCredentials> cr = mail::SmtpCredentialsFor(c);
  if (!cr.ok()) {
    mail::SmtpResult r;
    r.error_class = mail::MailErrorClass::kOther;  // The core counts it as configuration.
    r.message = std::string(cr.status().message());
    return r;
  }
  return mail::SendSmtp(mail::SmtpServerFor(c), *cr,
                        {.mail_from = email.from, .rcpt_to = {email.to}}, raw);
}

}  // namespace postroom::sender
