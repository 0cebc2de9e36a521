#pragma once

// Text conversions to UTF-8 used by the parser and by the inspect JSON. Conversions between
// named charsets go through GMime's iconv wrappers (thread-safe, cached); the two that run on
// every message (UTF-8 validation and the windows-1252 fallback) are written here because they
// are a table and a loop, and calling iconv for them would cost a descriptor per call.
// All functions are thread-safe and never fail: bad bytes become U+FFFD.
#include <string>
#include <string_view>

namespace postroom::mime {

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool IsValidUtf8(std::string_view text);

// Appends `text` to `out`, each ill-formed UTF-8 sequence replaced by U+FFFD.
void AppendSanitizedUtf8(std::string_view text, std::string& out);
std::string SanitizeUtf8(std::string_view text);

// windows-1252 (a superset of ISO-8859-1's printable range) to UTF-8; never fails.
void AppendWindows1252AsUtf8(std::string_view text, std::string& out);

// Result of converting a body from its declared charset.
struct CharsetResult {
  std::string text;          // UTF-8.
  bool bad_charset = false;  // The charset was unknown, or the bytes were not valid in it.
};

// Converts `bytes` in `charset` (a MIME charset name, any case; empty = unspecified) to UTF-8.
// us-ascii and utf-8 (and unspecified) bytes that are not valid UTF-8 are read as
// windows-1252, as are bytes in a charset iconv does not know; sequences invalid in a known
// charset become U+FFFD. bad_charset is set in both fallback cases, except for unspecified.
CharsetResult ConvertToUtf8(std::string_view bytes, std::string_view charset);

// Lowercases ASCII letters only.
std::string AsciiLower(std::string_view text);
// ASCII letters compared without case (header and parameter names).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace postroom::mime
