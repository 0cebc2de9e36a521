#pragma once

// Parses one raw RFC 5322 / MIME message with GMime 3 into a ParsedMessage (message.h).
//
// Malformed mail is parsed as far as it goes: what is wrong becomes a defect string, never an
// error or a crash, and the limits in ParseLimits bound the work for hostile input. The parse
// reads `raw` in place (no copy of the message or of attachment bodies, except when the
// message uses bare CR line ends, which GMime does not understand: then it parses a copy with
// LF line ends and records "bare_cr_line_ends").
//
// Threading: thread-safe. GMime is initialised once per process (std::call_once); each call
// creates and releases its own GMime objects (parser, options, streams), which is what GMime
// requires: its charset, iconv and utility functions are thread-safe, its GObjects are not
// shared across threads here. GMime is never shut down (g_mime_shutdown would race with other
// threads still parsing).
#include <string_view>

#include "absl/status/statusor.h"
#include "libs/mime/message.h"

namespace postroom::mime {

// INVALID_ARGUMENT: `raw` is empty, or larger than limits.max_message_bytes (when set).
// INTERNAL: memory ran out while parsing (or another C++ exception, a bug). Any other input
// yields a ParsedMessage.
absl::StatusOr<ParsedMessage> ParseMessage(std::string_view raw, const ParseLimits& limits = {});

// Parses a header block ("Name: value" lines, folded lines allowed, up to the first empty
// line) as the headers of a message, e.g. a text/rfc822-headers part. Same guarantees.
std::vector<Header> ParseHeaderBlock(std::string_view block, const ParseLimits& limits = {});

// The addresses of a header value (RFC 5322 address list, groups flattened), decoded and
// lowercased like ParsedMessage's address fields.
std::vector<Address> ParseAddressList(std::string_view value);

// Ids of a Message-ID / In-Reply-To / References value, without angle brackets, in order.
std::vector<std::string> ParseMessageIds(std::string_view value);

}  // namespace postroom::mime
