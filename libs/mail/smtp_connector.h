#pragma once

// An outgoing connector's SMTP settings as libs/mail's types; shared by the sender (sending) and
// the config service (test connection), so both reach the server the same way.
#include "absl/status/statusor.h"
#include "libs/mail/smtp_client.h"
#include "postroom/v1/config.pb.h"

namespace postroom::mail {

// Host, port (the protocol default when 0), TLS mode (unspecified: STARTTLS, as the config
// service fills it for SMTP), CA file and timeout.
SmtpServer SmtpServerFor(const v1::Connector& c);

// Password AUTH when the connector has a username, else none. FAILED_PRECONDITION for OAuth2
// (XOAUTH2 needs an access token; there is no token client in this build yet).
absl::StatusOr<SmtpCredentials> SmtpCredentialsFor(const v1::Connector& c);

}  // namespace postroom::mail
