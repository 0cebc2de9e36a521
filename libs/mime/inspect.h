#pragma once

// The offline `postroomctl inspect` view of one message: parse, classify, and print one JSON
// line. No I/O: the caller reads the file and writes the line.
#include <string>
#include <string_view>

#include "libs/mime/auto_response.h"
#include "libs/mime/classify.h"
#include "libs/mime/message.h"

namespace postroom::mime {

struct InspectOptions {
  ParseLimits limits;
  ClassifyOptions classify;
  AutoResponseOptions auto_response;
};

// One line of JSON (no trailing newline) with: file, bytes, message_id, subject, from,
// from_name, to, cc, date (RFC 3339 UTC or null), in_reply_to, references, classification
// (normal|spam|auto_reply|bounce|list), auto_response_suppressed (true when an automatic
// answer would be unsafe, see auto_response.h), reasons (the classification's, then the
// "auto_response_suppressed:..." ones), bounce (object or null), importance,
// text_bytes, html_bytes, attachments [{filename, content_type, size, inline}], defects; and
// error (a string) when the message could not be parsed at all (then the other fields are
// empty). Any bytes, also in `file`, give valid JSON: invalid UTF-8 becomes U+FFFD.
// Thread-safe.
std::string InspectJsonLine(std::string_view file, std::string_view raw,
                            const InspectOptions& options = {});

// Appends `text` as a JSON string literal (quotes included), invalid UTF-8 replaced.
void AppendJsonString(std::string_view text, std::string& out);

}  // namespace postroom::mime
