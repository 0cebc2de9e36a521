#pragma once

// An outgoing connector's SMTP settings as libs/mail's types; shared by the sender (sending) and
// the config service (test connection), so both reach the server the same way.
#include "absl/status/statusor.h"
#include "libs/mail/oauth_token_client.h"
#include "libs/mail/smtp_client.h"
#include "postroom/v1/config.pb.h"

namespace postroom::mail {

// Host, port (the protocol default when 0), TLS mode (unspecified: STARTTLS, as the config
// service fills it for SMTP), CA file and timeout.
SmtpServer SmtpServerFor(const v1::Connector& c);

// Password AUTH when the connector has a username, else none. OAuth2 connectors sign in with
// XOAUTH2 (the Office 365 preset): the user is the auth username, else the primary address, and
// the secret an access token from `tokens` (`force_refresh`: the last one was refused).
// FAILED_PRECONDITION for OAuth2 without a token source; the token source's error when it
// cannot get one (the token endpoint refused or is unreachable).
absl::StatusOr<SmtpCredentials> SmtpCredentialsFor(const v1::Connector& c,
                                                   AccessTokenSource* tokens = nullptr,
                                                   bool force_refresh = false);

}  // namespace postroom::mail
