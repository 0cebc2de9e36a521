#pragma once

// A bounded pre-scan of a raw message that decides what GMime may see (used by parser.cc).
//
// GMime 3.2 has no limits of its own that hold while it parses: GMimeParserOptions offers
// compliance modes, fallback charsets and a warning callback, and g_mime_parser_set_header_regex
// only reports headers; nothing stops it from building a GObject for every one of a million
// parts, header fields or nested boundaries, and the walker in parser.cc can only trim what
// has already been built (the table in docs/mime.md: up to 19 s and 1.9 GiB for one email).
// So this scanner is written by hand: one pass over the lines, no allocation that grows with
// the input (a stack of at most max_depth + 1 boundaries, one Content-Type value of at most
// max_header_field_bytes), that models GMime's view of the message closely enough to count
// what GMime would build (header blocks, fields, boundaries, nested messages) and cuts the
// input where a limit is reached, before GMime ever reads it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "libs/mime/message.h"

typedef struct _GMimeParserOptions GMimeParserOptions;

namespace postroom::mime {

struct BoundedInput {
  // The bytes to give GMime: `raw` itself unless `rewritten` is set (a limit dropped header
  // lines or cut the message; multiparts left open by a cut are closed there).
  bool rewritten = false;
  std::string text;
  // Bytes from the cut to the end that GMime did not see: reported as one opaque part.
  uint64_t opaque_bytes = 0;
  // Defects in the order found: a short token ("part_limit") and a sentence saying which
  // limit and what happened ("parts limit 1000 reached: rest kept as one opaque part").
  std::vector<std::string> defects;
};

// Linear in raw.size(); `options` are used to read Content-Type values exactly as GMime does.
BoundedInput BoundInput(std::string_view raw, const ParseLimits& limits,
                        GMimeParserOptions* options);

}  // namespace postroom::mime
