#pragma once

// What the sender core reaches the world through. Implementations are thread-safe.
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/mail/smtp_client.h"
#include "libs/mail/smtp_message.h"
#include "libs/secrets/secret_opener.h"
#include "postroom/v1/config.pb.h"

namespace postroom::sender {

// Delivers one rendered email through an outgoing connector. The SMTP implementation speaks
// libcurl; a Microsoft Graph sendMail implementation can take the same place later (its
// failures mapped onto SmtpResult's stage, code and class). `connector` carries its opened
// secrets.
class MailTransport {
 public:
  virtual ~MailTransport() = default;
  // `raw` is `email` rendered (RFC 5322, CRLF), for transports that send MIME as is.
  virtual mail::SmtpResult Send(const v1::Connector& connector, const mail::OutgoingEmail& email,
                                const std::string& raw) = 0;
};

using secrets::SecretOpener;

// Metrics; see docs/metrics.md. outcome is "sent", "retry" or "failed".
class SenderObserver {
 public:
  virtual ~SenderObserver() = default;
  virtual void Attempted(const std::string& connector, const std::string& outcome,
                         absl::Duration duration) = 0;
  // The connector exists (its series start at 0).
  virtual void Known(const std::string& connector) = 0;
};

}  // namespace postroom::sender
