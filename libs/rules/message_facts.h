#pragma once

// What the route conditions can see of one email. The router fills it from its parsed message
// (libs/mime); rules stays independent of any MIME parser, so tests and other callers build it
// by hand. A plain value type; evaluation only reads it.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace postroom::rules {

// From Importance / X-Priority / Priority / X-MSMail-Priority; the router decides the mapping.
enum class Importance { kNormal, kLow, kHigh };

// "low", "normal", "high".
const char* ImportanceName(Importance importance);

struct Attachment {
  std::string filename;      // Decoded (RFC 2231 / encoded words), UTF-8; may be empty.
  std::string content_type;  // "type/subtype" without parameters, e.g. "application/pdf".
  uint64_t size = 0;         // Decoded bytes.
  // An inline part (Content-Disposition: inline, e.g. a logo in the HTML body). Attachment
  // conditions and the `attachments` field mapping ignore inline parts.
  bool is_inline = false;
};

struct MessageFacts {
  std::string subject;    // Decoded, UTF-8, unfolded.
  std::string body_text;  // The text body (or the HTML body turned into text), UTF-8.

  std::string from_address;  // Bare address "local@domain" of From (Sender if From is absent).
  std::string from_name;     // Display name, decoded; may be empty.

  // Bare recipient addresses ("local@domain") per header, in header order.
  std::vector<std::string> to;
  std::vector<std::string> cc;
  std::vector<std::string> delivered_to;
  std::vector<std::string> x_original_to;
  // The connector's own address (primary or alias, lowercase, without +tag) the mail was sent
  // to; the router finds it (services/router/core/addresses.h, SentTo). Route condition `to`.
  std::string sent_to;

  // Every header as (name, decoded unfolded value), in message order; repeats kept.
  std::vector<std::pair<std::string, std::string>> headers;

  std::vector<Attachment> attachments;
  Importance importance = Importance::kNormal;

  std::string folder;      // Mailbox folder the message was fetched from, e.g. "INBOX".
  std::string queue_hint;  // The connector's folder mapping queue for that folder; may be empty.
};

}  // namespace postroom::rules
