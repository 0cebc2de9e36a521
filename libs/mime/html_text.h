#pragma once

// Readable text from an HTML body, for rules and previews when a message has no text/plain
// part. Written here rather than taken from a library: Debian's HTML parsers (libxml2's HTML
// parser, gumbo) build a whole tree for what is a single pass that drops tags, skips
// script/style/head, turns block elements into line breaks and decodes entities. Not a
// renderer: layout, tables and CSS are ignored. Thread-safe, linear in the input, never fails.
#include <string>
#include <string_view>

#include "libs/mime/message.h"

namespace postroom::mime {

// `html` is UTF-8; the result is UTF-8 with "\n" line ends, runs of blanks collapsed and at
// most two line breaks in a row.
std::string HtmlToText(std::string_view html);

// The text body, else the HTML body as text: what MessageFacts::body_text wants.
std::string BodyText(const ParsedMessage& message);

}  // namespace postroom::mime
