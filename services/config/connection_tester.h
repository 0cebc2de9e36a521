#pragma once

// The config core's ConnectionTester over libs/mail's step-by-step tests: IMAP and POP3 (DNS,
// TCP, TLS and certificate, greeting, authentication with a password or an OAuth2 token over
// XOAUTH2, folder, message count) and Microsoft Graph (token, folder, message count). Each step
// comes back with the server's own words.
#include <functional>
#include <string>

#include "libs/mail/connection_check.h"
#include "libs/mail/oauth_token_client.h"
#include "services/config/core/ports.h"

namespace postroom::config {

// Keeps a refresh token the token endpoint rotated during a test (sealed into `secrets`).
using RotatedTokenSink =
    std::function<absl::Status(const std::string& connector, const std::string& refresh_token)>;

class MailConnectionTester : public ConnectionTester {
 public:
  explicit MailConnectionTester(RotatedTokenSink persist = nullptr)
      : persist_(std::move(persist)) {}
  absl::StatusOr<v1::TestConnectorResponse> Test(const v1::Connector& connector) override;

 private:
  mail::RefreshTokenSink Persist(const v1::Connector& c);
  static v1::TestConnectorResponse ToResponse(const mail::ConnectionReport& report);
  RotatedTokenSink persist_;
};

}  // namespace postroom::config
