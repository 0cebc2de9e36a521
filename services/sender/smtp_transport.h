#pragma once

// The core's MailTransport over libs/mail's SMTP client.
#include "libs/mail/smtp_client.h"
#include "services/sender/core/ports.h"

namespace postroom::sender {

// Host, port (the protocol default when 0), TLS mode (unspecified: STARTTLS, as the config
// service fills it for SMTP), CA file and timeout of an outgoing connector.
mail::SmtpServer SmtpServerFor(const v1::Connector& c);
// Password AUTH when the connector has a username; XOAUTH2 is refused in this build (there is
// no token client yet): the result carries a configuration error.
absl::StatusOr<mail::SmtpCredentials> SmtpCredentialsFor(const v1::Connector& c);

class SmtpTransport : public MailTransport {
 public:
  mail::SmtpResult Send(const v1::Connector& connector, const mail::OutgoingEmail& email,
                        const std::string& raw) override;
};

}  // namespace postroom::sender
