#pragma once

// Renders an outgoing email as RFC 5322 text with GMime (encoded words for non-ASCII subjects
// and names, a fitting transfer encoding per part, multipart/alternative when there is HTML,
// multipart/mixed when there are attachments):
// MIME composition is the library's job, not ours.
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace postroom::mail {

// A file sent with the email: a base64 part of a multipart/mixed message, after the body.
struct OutgoingAttachment {
  std::string filename;      // Non-empty; no line breaks (encoded per RFC 2231 as needed).
  std::string content_type;  // "type/subtype"; anything else is sent as application/octet-stream.
  std::string content;
};

struct OutgoingEmail {
  std::string from;       // Address.
  std::string from_name;  // Display name; may be empty.
  std::string to;
  std::vector<std::string> cc;  // Addresses; may be empty.
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
  // Non-empty: multipart/mixed with the body (text or alternative) first, then these in order.
  std::vector<OutgoingAttachment> attachments;
  // Sent with the null envelope sender, MAIL FROM:<> (automatic mail, RFC 3834): the
  // transport's, RenderEmail does not read it.
  bool null_envelope_sender = false;
};

// CRLF line ends, ready for SMTP DATA. INVALID_ARGUMENT for a missing from, to or message id,
// a header name or value, Cc address or attachment name or type with a line break (header
// injection), or an attachment without a file name.
absl::StatusOr<std::string> RenderEmail(const OutgoingEmail& email);

}  // namespace postroom::mail
