#pragma once

// Renders an outgoing email as RFC 5322 text with GMime (encoded words for non-ASCII subjects
// and names, a fitting transfer encoding per part, multipart/alternative when there is HTML):
// MIME composition is the library's job, not ours.
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace postroom::mail {

struct OutgoingEmail {
  std::string from;       // Address.
  std::string from_name;  // Display name; may be empty.
  std::string to;
  std::string reply_to;  // Empty: no Reply-To header.
  std::string subject;
  std::string body_text;
  std::string body_html;   // Non-empty: multipart/alternative with the text part first.
  std::string message_id;  // Without angle brackets; required (the caller keeps it stable).
  absl::Time date;
  // Further headers in order (Auto-Submitted, In-Reply-To, References ...). Headers this
  // function writes itself (From, To, Reply-To, Subject, Date, Message-ID, MIME-Version,
  // Content-*) are ignored here.
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent with the null envelope sender, MAIL FROM:<> (automatic mail, RFC 3834): the
  // transport's, RenderEmail does not read it.
  bool null_envelope_sender = false;
};

// CRLF line ends, ready for SMTP DATA. INVALID_ARGUMENT for a missing from, to or message id,
// or a header name or value with a line break (header injection).
absl::StatusOr<std::string> RenderEmail(const OutgoingEmail& email);

}  // namespace postroom::mail
