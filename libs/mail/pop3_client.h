#pragma once

// A POP3 client (RFC 1939, CAPA/STLS RFC 2449/2595, SASL RFC 5034, response codes RFC 3206)
// on the same Transport, buffers, time-outs and error classes as the IMAP client.
//
// Why not libcurl: libcurl can do POP3 (RETR with dot-unstuffing, LIST, STLS, and UIDL/DELE
// as custom requests), so this is a choice, not a gap. Its failures come back as CURLcodes
// (CURLE_LOGIN_DENIED) without the server's "-ERR [AUTH] ..." words, which the connection test
// and the operators need; UIDL arrives as raw text we would parse anyway; each command is a
// separate transfer on a reused connection with its own timeout model; and it cannot be driven
// by the scripted Transport the unit tests use. The protocol is small enough that one code path
// for IMAP and POP3 (transport, TLS checks, deadlines, classification) costs less than two.
//
// Errors carry a MailErrorClass; authentication failures say what the server said. After a
// network, TLS or protocol error the client is unusable (every later call fails). Not
// thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/mail/mail_options.h"
#include "libs/mail/stream_buffer.h"
#include "libs/mail/transport.h"

namespace postroom::mail {

struct Pop3Stat {
  uint32_t count = 0;
  uint64_t size = 0;
};
struct Pop3UidlEntry {
  uint32_t number = 0;  // message number in this session
  std::string uid;      // stable across sessions: the fetch key
};
struct Pop3ListEntry {
  uint32_t number = 0;
  uint64_t size = 0;
};

// Receives a message's bytes in order, dot-unstuffed, with CRLF line ends, in chunks of about
// 64 KiB. Returning an error stops the retrieval (the client then reads and drops the rest, so
// the session stays usable) and RETR returns that error.
using Pop3ChunkSink = std::function<absl::Status(absl::string_view chunk)>;

class Pop3Client {
 public:
  // Connects, does TLS per options.security (STLS for kStartTls), reads the greeting and CAPA.
  static absl::StatusOr<std::unique_ptr<Pop3Client>> Connect(const ServerOptions& options);
  static absl::StatusOr<std::unique_ptr<Pop3Client>> Start(std::unique_ptr<Transport> transport,
                                                           const ServerOptions& options);
  ~Pop3Client();
  Pop3Client(const Pop3Client&) = delete;
  Pop3Client& operator=(const Pop3Client&) = delete;

  const std::string& greeting() const { return greeting_; }
  const std::vector<std::string>& capabilities() const { return capabilities_; }
  bool HasCapability(absl::string_view cap) const;  // first word, case-insensitive
  Transport* transport() const { return transport_.get(); }

  // STLS and the TLS handshake (Connect does it for kStartTls). kTls when not offered.
  absl::Status StartTls();
  // CAPA; an empty list when the server does not know CAPA (-ERR).
  absl::StatusOr<std::vector<std::string>> Capa();
  // kLogin: USER/PASS; kPlain: AUTH PLAIN; kXOAuth2: AUTH XOAUTH2.
  absl::Status Authenticate(const Credentials& credentials);
  absl::Status Login(absl::string_view user, absl::string_view password);

  absl::StatusOr<Pop3Stat> Stat();
  absl::StatusOr<std::vector<Pop3UidlEntry>> Uidl();
  absl::StatusOr<std::vector<Pop3ListEntry>> List();
  absl::Status Retr(uint32_t number, const Pop3ChunkSink& sink);
  // RETR into one string (the message once, plus one chunk).
  absl::StatusOr<std::string> RetrMessage(uint32_t number);
  // TOP number lines: the header block and the first `lines` lines of the body (RFC 1939), e.g.
  // the headers of a message over the size limit, which RETR could not bring in.
  absl::StatusOr<std::string> Top(uint32_t number, uint32_t lines);
  // Marks for deletion; the server deletes at QUIT only.
  absl::Status Dele(uint32_t number);
  absl::Status Rset();
  absl::Status Noop();
  // QUIT commits deletions and closes. The client is unusable afterwards.
  absl::Status Quit();

 private:
  Pop3Client(std::unique_ptr<Transport> transport, const ServerOptions& options);
  // Sends `line` (CRLF added) and reads the status line. `what` names the command in errors
  // (never the password).
  absl::StatusOr<std::string> Command(absl::string_view line, absl::string_view what,
                                      bool auth = false);
  absl::StatusOr<std::string> ReadStatus(absl::string_view what, bool auth);
  // Reads a multi-line body after +OK up to the "." line, unstuffed, per line. The limits hold
  // while reading: no line over `max_line`, no more than `max_lines` lines, and no more than
  // `max_bytes` in all (else ResponseTooLarge(max_bytes, why), kProtocol).
  struct ReplyLimits {
    uint64_t max_bytes;
    const char* why;
    size_t max_line;
    uint64_t max_lines = UINT64_MAX;
  };
  absl::Status ReadMultiLine(absl::string_view what, const ReplyLimits& limits,
                             const std::function<absl::Status(absl::string_view)>& on_line);
  absl::Status Sasl(absl::string_view mechanism, const std::string& initial_response,
                    absl::string_view user);
  // Sends RETR or TOP and streams the message to `sink` as Retr describes.
  absl::Status ReadMessage(const std::string& command, const Pop3ChunkSink& sink);
  absl::Status Fail(absl::Status st);
  absl::Status CheckUsable() const;
  absl::Time Deadline() const { return clock_->Now() + options_.timeout; }

  std::unique_ptr<Transport> transport_;
  ServerOptions options_;
  Clock* clock_;
  StreamBuffer in_;
  std::string greeting_;
  std::vector<std::string> capabilities_;
  std::string context_;
  absl::Status broken_;
};

}  // namespace postroom::mail
