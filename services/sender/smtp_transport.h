#pragma once

// The core's MailTransport: SMTP over libs/mail's client (libcurl), or Microsoft Graph sendMail
// for `protocol: graph` connectors. OAuth2 connectors take their access tokens from `oauth`,
// the token cache the fetcher uses too: SMTP signs in with XOAUTH2 (the Office 365 preset), and
// a token the server refuses is renewed once and the delivery tried again at once; Graph does
// the same inside its client, and backs off on 429/503 as Retry-After says. Graph sends the
// rendered MIME, unless `settings.save_to_sent_items` is false or the MIME is over what one
// request carries: then the JSON message resource (mail::GraphClient::SendJson), which carries
// only X- headers of the row (docs/sender.md says which are lost).
#include "libs/mail/oauth_tokens.h"
#include "services/sender/core/ports.h"

namespace postroom::sender {

class ConnectorTransport : public MailTransport {
 public:
  // `oauth` is not owned; null: OAuth2 connectors fail as configuration.
  explicit ConnectorTransport(mail::OAuthTokens* oauth = nullptr) : oauth_(oauth) {}
  mail::SmtpResult Send(const v1::Connector& connector, const mail::OutgoingEmail& email,
                        const std::string& raw) override;

 private:
  mail::SmtpResult SendSmtp(const v1::Connector& connector, const mail::OutgoingEmail& email,
                            const std::string& raw);
  mail::SmtpResult SendGraph(const v1::Connector& connector, const mail::OutgoingEmail& email,
                             const std::string& raw);

  mail::OAuthTokens* oauth_;
};

}  // namespace postroom::sender
