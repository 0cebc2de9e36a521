#pragma once

// Sends one message over SMTP with libcurl.
//
// Why libcurl here when IMAP and POP3 are hand-written (imap_client.h): sending is one fixed
// conversation (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA) with no state to keep across commands,
// which is exactly what libcurl's smtp:// and smtps:// do, with certificate and host-name
// verification, STARTTLS that refuses to continue in plaintext (CURLUSESSL_ALL), SASL PLAIN,
// LOGIN and XOAUTH2 (CURLOPT_XOAUTH2_BEARER), and dot-stuffing of the body. What libcurl does
// not give is the server's reply text on failure (only "RCPT failed: 550"); the debug callback
// captures the last command and reply, so errors carry the server's own words and the stage.
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "libs/mail/connection_check.h"
#include "libs/mail/mail_error.h"

namespace postroom::mail {

enum class SmtpSecurity {
  kNone,         // Plain SMTP (loopback tests, trusted networks only).
  kStartTls,     // Plain connect, then STARTTLS; refused when the server does not offer it.
  kImplicitTls,  // TLS from the first byte (port 465).
};

enum class SmtpAuth {
  kNone,  // No AUTH, even if the server offers it.
  // SASL with user and password: libcurl picks the strongest mechanism both sides know
  // (CRAM-MD5, DIGEST-MD5, NTLM, then LOGIN or PLAIN; a server offering PLAIN LOGIN gets PLAIN).
  // No AUTH is sent when the server offers none.
  kPassword,
  kXOAuth2,  // SASL XOAUTH2 with `secret` as the bearer token (token source: later).
};

struct SmtpServer {
  std::string host;
  int port = 0;  // 0: 25 (none), 587 (STARTTLS), 465 (implicit TLS).
  SmtpSecurity security = SmtpSecurity::kStartTls;
  std::string ca_file;  // Extra CA bundle; else the system's. Certificates are always verified.
  absl::Duration timeout = absl::Seconds(30);  // Connect, and the whole conversation x4.
  std::string helo_name;                       // EHLO name; empty: libcurl's default.
};

struct SmtpCredentials {
  SmtpAuth method = SmtpAuth::kNone;
  std::string user;
  std::string secret;  // Password or access token; never logged.
};

struct SmtpEnvelope {
  std::string mail_from;             // Bare address, no angle brackets.
  std::vector<std::string> rcpt_to;  // Bare addresses; at least one.
  // MAIL FROM:<> (RFC 5321 4.5.5, RFC 3834 section 3.3): automatic mail that nothing may
  // bounce back to or answer. mail_from is then not sent.
  bool null_reverse_path = false;
};

// The conversation step a failure happened at, so a caller can tell a refused recipient (the
// message's problem) from a refused login (the connector's).
enum class SmtpStage { kConnect, kTls, kGreeting, kAuth, kMailFrom, kRcptTo, kData, kDone };
const char* SmtpStageName(SmtpStage s);

struct SmtpResult {
  bool ok = false;
  SmtpStage stage = SmtpStage::kConnect;  // Where it failed; kDone when ok.
  int code = 0;                           // The server's last reply code; 0 when none.
  MailErrorClass error_class = MailErrorClass::kNone;
  // What failed, naming host:port and the stage, with the server's reply text where it gave
  // one, e.g. "smtp 127.0.0.1:2525: RCPT TO refused: 550 5.1.1 <x@y>: Recipient address
  // rejected: User unknown". The last reply line on success (e.g. "250 2.0.0 Ok: queued as X").
  std::string message;
};

// One connection per call: connect, (STARTTLS), EHLO, (AUTH), MAIL, RCPT, DATA, QUIT. `message`
// is the RFC 5322 text with CRLF line ends. Never throws; thread-safe (no shared state).
SmtpResult SendSmtp(const SmtpServer& server, const SmtpCredentials& credentials,
                    const SmtpEnvelope& envelope, const std::string& message);

// "Test connection" for an outgoing SMTP connector, step by step as a send goes but without
// DATA: "dns", "tcp", "greeting", "tls" (after the greeting with STARTTLS, before it with
// implicit TLS), "ehlo", "authentication", then "mail_from" and "rcpt_to" with `address` (the
// connector's own) on both sides of the envelope, then RSET and QUIT: nothing is sent. Each
// step carries the server's words (connection_check.h); never fails as a call. Each reply read
// after the log-in is bounded by kSmtpMaxTestReplyBytes and server.timeout.
ConnectionReport TestSmtpConnection(const SmtpServer& server, const SmtpCredentials& credentials,
                                    const std::string& address);
inline constexpr size_t kSmtpMaxTestReplyBytes = 64 << 10;

// Classifies a finished conversation: the stage from the last command sent, the reply code from
// the last server line, and libcurl's error code. Pure; exposed for tests.
SmtpResult ClassifySmtp(int curl_code, const std::string& curl_error,
                        const std::string& last_command, const std::string& last_reply,
                        bool tls_started, const std::string& where);

}  // namespace postroom::mail
