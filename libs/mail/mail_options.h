#pragma once

#include <string>

#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/mail/transport.h"

namespace postroom::mail {

// How the connection is protected.
enum class Security {
  kPlain,        // no TLS at all (loopback tests, trusted networks only)
  kStartTls,     // plain connect, then STARTTLS (IMAP) / STLS (POP3); refused if not offered
  kImplicitTls,  // TLS from the first byte (IMAPS 993, POP3S 995)
};

// Where and how to reach a mail server. Plain data; copy freely.
struct ServerOptions {
  std::string host;
  int port = 0;
  Security security = Security::kImplicitTls;
  TlsOptions tls;
  // Bounds each step: connect, TLS handshake, and every single read and write (an idle server
  // cannot hang the caller for longer than this between two bytes).
  absl::Duration timeout = absl::Seconds(30);
  // Largest literal / message the client accepts before giving up with a protocol error.
  uint64_t max_message_bytes = 512ull << 20;
  // Deadlines are computed from this clock; RealClock() when null. Not owned.
  Clock* clock = nullptr;
};

enum class AuthMechanism {
  kLogin,    // IMAP LOGIN; POP3 USER/PASS
  kPlain,    // SASL PLAIN (RFC 4616)
  kXOAuth2,  // SASL XOAUTH2 with an OAuth2 access token as the secret
};

struct Credentials {
  std::string user;
  std::string secret;  // password or access token; never logged
  AuthMechanism mechanism = AuthMechanism::kLogin;
};

}  // namespace postroom::mail
