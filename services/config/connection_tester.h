#pragma once

// The config core's ConnectionTester over libs/mail's step-by-step test (DNS, TCP, TLS and
// certificate, greeting, authentication, folder, message count), for IMAP and POP3 connectors.
// Each step comes back with the server's own words. Graph and OAuth2 connectors get
// FAILED_PRECONDITION until the Graph/OAuth2 client exists.
#include "services/config/core/ports.h"

namespace postroom::config {

class MailConnectionTester : public ConnectionTester {
 public:
  absl::StatusOr<v1::TestConnectorResponse> Test(const v1::Connector& connector) override;
};

}  // namespace postroom::config
