#pragma once

// The core's MailTransport over libs/mail's SMTP client. OAuth2 connectors (the Office 365
// preset) sign in with XOAUTH2 and an access token from `oauth`, the token cache the fetcher
// uses too; a token the server refuses is renewed once and the delivery tried again at once.
#include "libs/mail/oauth_tokens.h"
#include "services/sender/core/ports.h"

namespace postroom::sender {

class SmtpTransport : public MailTransport {
 public:
  // `oauth` is not owned; null: OAuth2 connectors fail as configuration.
  explicit SmtpTransport(mail::OAuthTokens* oauth = nullptr) : oauth_(oauth) {}
  mail::SmtpResult Send(const v1::Connector& connector, const mail::OutgoingEmail& email,
                        const std::string& raw) override;

 private:
  mail::OAuthTokens* oauth_;
};

}  // namespace postroom::sender
