#pragma once

// What ParseMessage (parser.h) extracts from one raw email: plain value types, no GMime in
// sight, so the router, rules and tests use them without linking a MIME parser. Every string
// is valid UTF-8 (invalid bytes are replaced by U+FFFD), except Header::raw_value, which keeps
// the bytes of the message as they were.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace postroom::mime {

// Limits that keep a hostile or broken message from costing unbounded time or memory. What a
// limit cuts off is reported as a defect, never as an error. They hold while parsing: a
// pre-scan of the raw bytes (bounds.h) cuts the input before GMime builds anything beyond
// them, so any message up to 25 MiB parses in well under 256 MiB and 1 s of CPU (docs/mime.md).
// Where a limit cuts, the defects name it twice: a token ("part_limit") and a sentence
// ("parts limit 1000 reached: rest kept as one opaque part").
struct ParseLimits {
  // Nesting of multiparts and attached messages below the top level. The rest of the message
  // from the first deeper part on is kept as one opaque part ("depth_limit"). Also bounds the
  // boundaries open at once (max_depth + 1), which every line starting with "--" is matched
  // against.
  int max_depth = 32;
  // MIME parts GMime builds, the message itself and the parts inside attached messages
  // included. The rest from the next part on is kept as one opaque part ("part_limit").
  int max_parts = 1000;
  // Bytes of each header block (the top-level one: names + raw values kept in
  // ParsedMessage::headers); later fields of the block are dropped ("header_limit").
  size_t max_header_bytes = 1 << 20;
  // Bytes of all header blocks of the message together (at least max_header_bytes); later
  // fields are dropped ("header_limit").
  size_t max_total_header_bytes = 4 << 20;
  // Header fields (lines that start a field, valid or not) of all header blocks together;
  // later fields are dropped ("header_limit").
  int64_t max_header_fields = 10000;
  // Bytes of one header field's raw value, folding included, which also bounds the length of
  // a header line; the rest of the field is dropped ("header_too_long").
  size_t max_header_field_bytes = 64 << 10;
  // RFC 2047 encoded words ("=?") in all header fields together; a field is cut before the
  // first word past the limit ("encoded_word_limit").
  int64_t max_encoded_words = 10000;
  // Decoded bytes kept of the text body and of the HTML body each ("body_truncated").
  size_t max_body_bytes = 16 << 20;
  // Messages larger than this are refused with INVALID_ARGUMENT; 0 = no limit.
  size_t max_message_bytes = 0;
};

struct Header {
  std::string name;       // As written, e.g. "Subject".
  std::string raw_value;  // As written, folding kept, leading blank and line end removed.
  std::string value;      // Unfolded, RFC 2047 words decoded, UTF-8.
};

struct Address {
  std::string name;     // Display name, decoded (RFC 2047), UTF-8; may be empty.
  std::string address;  // "local@domain", lowercased; may lack a domain in broken mail.
};

enum class Importance { kNormal, kLow, kHigh };
// "low", "normal", "high".
const char* ImportanceName(Importance importance);

struct Attachment {
  std::string filename;      // Decoded (RFC 2231 and RFC 2047), UTF-8; may be empty.
  std::string content_type;  // "type/subtype", lowercased, without parameters.
  uint64_t size = 0;         // Decoded bytes (an attached message: as GMime writes it, ~ as sent).
  std::string content_id;    // Without angle brackets; may be empty.
  // Shown in the body rather than attached: not "Content-Disposition: attachment", and either
  // referenced by a Content-ID or inside multipart/related (a logo in the HTML body). A PDF
  // sent as "inline; filename=x.pdf" without a Content-ID is an attachment.
  bool is_inline = false;
  // Content-Disposition's value, lowercased ("attachment", "inline", ...); "" when absent.
  std::string disposition;
  // SHA-256 of the decoded bytes, lowercase hex: set by ListAttachments (attachments.h), which
  // decodes every part; ParseMessage leaves it empty.
  std::string sha256;
};

// The machine-readable parts of a report or a returned message, kept for the classifier.
struct ReportData {
  // multipart/report's report-type, lowercased ("delivery-status", "feedback-report",
  // "disposition-notification"); empty when the message has no multipart/report.
  std::string report_type;
  // Decoded text of message/delivery-status (or message/global-delivery-status) parts.
  std::string delivery_status;
  // Decoded text of a message/feedback-report part (ARF, RFC 5965).
  std::string feedback_report;
  // Decoded text of a message/disposition-notification part (RFC 8098).
  std::string disposition_notification;
  // Message-ID (no angle brackets) of the first attached message (message/rfc822) or
  // returned header block (text/rfc822-headers); empty if none.
  std::string original_message_id;
  bool has_original_message = false;  // A message/rfc822 or text/rfc822-headers part exists.
};

struct ParsedMessage {
  // Every top-level header field, in message order, repeats kept (up to the limits).
  std::vector<Header> headers;

  std::string subject;  // Decoded, unfolded.
  std::vector<Address> from;
  std::vector<Address> sender;
  std::vector<Address> reply_to;
  std::vector<Address> to;
  std::vector<Address> cc;
  std::vector<Address> bcc;
  std::vector<Address> delivered_to;
  std::vector<Address> x_original_to;
  std::string return_path;            // Address inside Return-Path, lowercased; "" also for "<>".
  bool has_null_return_path = false;  // "Return-Path: <>".

  std::string message_id;               // Without angle brackets; may be empty.
  std::string in_reply_to;              // First id of In-Reply-To, without angle brackets.
  std::vector<std::string> references;  // Ids of References, in order, without brackets.
  std::optional<absl::Time> date;       // Absent when missing or unparsable ("bad_date").

  // Decoded to UTF-8 (transfer encoding, then charset, with a fallback when the charset is
  // wrong or unknown), line ends turned into "\n". The first text/plain and text/html parts
  // that are not attachments; further inline text/plain parts of a multipart/mixed are
  // appended to text_body.
  std::string text_body;
  std::string html_body;

  std::vector<Attachment> attachments;
  Importance importance = Importance::kNormal;
  ReportData report;

  // Content types ("type/subtype", lowercased) of every part visited, depth first, the top
  // level first. parts.size() is the number of MIME parts visited.
  std::vector<std::string> parts;

  // Problems found, deduplicated, in the order found: "missing_boundary",
  // "bad_charset:xyz", "header_too_long", "depth_limit", ... (see docs/mime.md).
  std::vector<std::string> defects;

  // First header named `name` (ASCII case-insensitive), or nullptr.
  const Header* FindHeader(std::string_view name) const;
  // Decoded values of every header named `name`, in order.
  std::vector<std::string_view> HeaderValues(std::string_view name) const;
  bool HasDefect(std::string_view defect) const;
};

}  // namespace postroom::mime
