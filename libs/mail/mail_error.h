#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace postroom::mail {

// What kind of failure a mail protocol call met, for the fetcher's retry and cool-off policy
// and for operators: a wrong password needs a person, a dropped connection needs a retry.
enum class MailErrorClass {
  kNone,            // OK status.
  kNetwork,         // DNS, TCP connect, reset, timeout: retry later.
  kTls,             // handshake or certificate verification: fix the settings or the CA.
  kAuthentication,  // the server refused the credentials: fix them (message has its words).
  kProtocol,        // the server said something this client cannot parse, or closed early.
  kServer,          // the server refused a command (NO/BAD, -ERR): folder missing, read-only.
  kThrottled,       // the server asked to back off (too many connections, [LIMIT], [IN-USE]).
  kOther,           // not from this library, or a caller's own error (callback, bad argument).
};

absl::string_view MailErrorClassName(MailErrorClass c);

// Builds a status carrying `c` as a payload (type URL kMailErrorClassPayload, value the
// class name). The code follows the class: network UNAVAILABLE (DEADLINE_EXCEEDED for time-outs
// via MailTimeoutError), TLS UNAVAILABLE, authentication UNAUTHENTICATED, protocol INTERNAL,
// server FAILED_PRECONDITION, throttled RESOURCE_EXHAUSTED.
absl::Status MailError(MailErrorClass c, absl::string_view message);
absl::Status MailTimeoutError(absl::string_view message);

// The class of `status`: its payload when it has one, else a guess from the code (UNAUTHENTICATED
// is authentication, RESOURCE_EXHAUSTED throttled, UNAVAILABLE/DEADLINE_EXCEEDED network).
MailErrorClass ClassifyMailError(const absl::Status& status);

// Returns `status` with `context` prefixed to its message ("imap 127.0.0.1:993: ..."), payloads
// kept. OK stays OK.
absl::Status AnnotateMailError(const absl::Status& status, absl::string_view context);

// A server's reply that outgrew its limit while being read (the reader stops there; it never
// buffers first and checks after): kProtocol, "response exceeds 26 MiB (max_message_bytes +
// 1 MiB)". `why` names where the limit comes from.
absl::Status ResponseTooLarge(uint64_t limit, absl::string_view why);

// What a reply carrying one message may hold: the connector's max_message_bytes plus 1 MiB of
// protocol around it (FETCH items, dot-stuffing), so a message just over the size limit still
// arrives whole and is stored as over-size, while a server that never stops is cut off.
inline constexpr uint64_t kMessageResponseSlack = 1 << 20;
inline constexpr char kMessageResponseWhy[] = "max_message_bytes + 1 MiB";
inline uint64_t MessageResponseLimit(uint64_t max_message_bytes) {
  return max_message_bytes + kMessageResponseSlack;
}

// "26 MiB", "64 KiB" or "1000 bytes": the largest unit that divides `n`.
std::string FormatByteSize(uint64_t n);

// Refuses a value a client is about to put on the wire when it holds CR, LF or NUL: inside a
// command line (IMAP quoted string, POP3 USER/PASS, an HTTP header, an SMTP address) a line
// break ends the command and starts one the server did not get from us. INVALID_ARGUMENT, class
// kOther, naming `field` but never the value (it may be a password).
absl::Status CheckSendable(absl::string_view field, absl::string_view value);

inline constexpr char kMailErrorClassPayload[] = "type.postroom.dev/postroom.mail.ErrorClass";

}  // namespace postroom::mail
