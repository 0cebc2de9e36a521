#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace postroom::mail {

// How to check the server's certificate.
struct TlsOptions {
  // PEM file of trusted CAs (tests pass the private Dovecot's DIR/ca.pem). Empty: the system
  // trust store.
  std::string ca_file;
  // Name checked against the certificate and sent as SNI; empty: the host connected to. An IP
  // literal is checked against the certificate's IP addresses.
  std::string server_name;
  // Off only where an operator chose so explicitly; a failed check is a kTls error otherwise.
  bool verify_peer = true;
};

// A byte stream to a mail server: plain TCP, TLS, or a test script. The protocol clients own
// one and never touch sockets themselves, so unit tests feed scripted server bytes.
// Not thread-safe: one caller at a time.
//
// Errors carry a MailErrorClass payload (mail_error.h): DEADLINE_EXCEEDED/kNetwork when the
// deadline passes, UNAVAILABLE/kNetwork on resets, UNAVAILABLE/kTls for TLS failures.
class Transport {
 public:
  virtual ~Transport() = default;
  // Reads what is available, at most `n` bytes, waiting until `deadline` for the first byte.
  // Returns 0 at the end of the stream (the peer closed).
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n, absl::Time deadline) = 0;
  // Writes all of `data` or fails.
  virtual absl::Status Write(absl::string_view data, absl::Time deadline) = 0;
  // Turns the stream into TLS (implicit TLS right after connect, or after STARTTLS/STLS; the
  // caller must have read every plaintext byte first) and verifies the certificate.
  virtual absl::Status StartTls(const TlsOptions& tls, absl::Time deadline) = 0;
  virtual bool IsTls() const = 0;
  // A short description of the TLS session ("TLSv1.3 TLS_AES_256_GCM_SHA384, certificate
  // CN=localhost verified") for the connection test; empty before StartTls.
  virtual std::string TlsDescription() const { return ""; }
  // Closes the stream; later calls fail. Idempotent.
  virtual void Close() = 0;
};

// One address the host name resolved to.
struct ResolvedAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // "127.0.0.1:993", "[::1]:993"
};

// DNS lookup (getaddrinfo, which takes no deadline: the resolver's own time-outs apply).
// NOT_FOUND/kNetwork when the name does not resolve.
absl::StatusOr<std::vector<ResolvedAddress>> ResolveHost(const std::string& host, int port);

// TCP connect to the first address that answers before `deadline`. The returned transport is
// plain until StartTls. `host` is kept as the default TLS server name.
absl::StatusOr<std::unique_ptr<Transport>> ConnectTcp(const std::vector<ResolvedAddress>& addrs,
                                                      const std::string& host, absl::Time deadline);

// ResolveHost + ConnectTcp.
absl::StatusOr<std::unique_ptr<Transport>> DialTcp(const std::string& host, int port,
                                                   absl::Time deadline);

}  // namespace postroom::mail
