#pragma once

// The core's MailTransport over libs/mail's SMTP client.
#include "services/sender/core/ports.h"

namespace postroom::sender {

class SmtpTransport : public MailTransport {
 public:
  mail::SmtpResult Send(const v1::Connector& connector, const mail::OutgoingEmail& email,
                        const std::string& raw) override;
};

}  // namespace postroom::sender
