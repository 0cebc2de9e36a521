#include "libs/mime/charset.h"

#include <errno.h>
#include <gmime/gmime.h>
#include <iconv.h>

#include <cstdint>
#include <cstring>

namespace postroom::mime {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence at text[i], or 0 if ill-formed (RFC 3629 table).
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || (s[2] & 0xC0) != 0x80) return 0;
    unsigned char c1 = s[1];
    if (c == 0xE0) return (c1 >= 0xA0 && c1 <= 0xBF) ? 3 : 0;
    if (c == 0xED) return (c1 >= 0x80 && c1 <= 0x9F) ? 3 : 0;
    return (c1 & 0xC0) == 0x80 ? 3 : 0;
  }
  if (c < 0xF5) {
    if (n < 4 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
    unsigned char c1 = s[1];
    if (c == 0xF0) return (c1 >= 0x90 && c1 <= 0xBF) ? 4 : 0;
    if (c == 0xF4) return (c1 >= 0x80 && c1 <= 0x8F) ? 4 : 0;
    return (c1 & 0xC0) == 0x80 ? 4 : 0;
  }
  return 0;
}

// Index of the first byte >= 0x80, scanning 8 bytes at a time: most mail text is ASCII.
size_t AsciiPrefix(const unsigned char* s, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    if (w & 0x8080808080808080ULL) break;
  }
  while (i < n && s[i] < 0x80) ++i;
  return i;
}

// windows-1252 0x80..0x9F; 0 marks the five undefined bytes (they become U+FFFD).
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

void AppendCodePoint(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsUtf8Name(std::string_view cs) {
  std::string lower = AsciiLower(cs);
  return lower == "utf-8" || lower == "utf8" || lower == "us-ascii" || lower == "ascii" ||
         lower == "us_ascii" || lower == "ansi_x3.4-1968" || lower == "x-unknown" ||
         lower == "unknown-8bit" || lower == "unknown";
}

// Converts with iconv; an invalid or truncated input sequence becomes U+FFFD and the
// conversion goes on one byte later. Returns false if iconv cannot convert from `charset`.
bool IconvToUtf8(std::string_view bytes, const std::string& charset, std::string& out,
                 bool& had_invalid) {
  iconv_t cd = g_mime_iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  char buf[8192];
  char* in = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  while (in_left > 0) {
    char* o = buf;
    size_t o_left = sizeof buf;
    size_t rc = iconv(cd, &in, &in_left, &o, &o_left);
    out.append(buf, o - buf);
    if (rc != static_cast<size_t>(-1)) break;
    if (errno == E2BIG) continue;
    // EILSEQ or EINVAL: skip one byte, reset the shift state.
    had_invalid = true;
    out.append(kReplacement);
    ++in;
    --in_left;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
  char* o = buf;
  size_t o_left = sizeof buf;
  iconv(cd, nullptr, nullptr, &o, &o_left);  // Flush a pending shift sequence.
  out.append(buf, o - buf);
  g_mime_iconv_close(cd);
  return true;
}

}  // namespace

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool IsValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    i += AsciiPrefix(s + i, n - i);
    if (i >= n) break;
    size_t len = Utf8SequenceLength(s + i, n - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void AppendSanitizedUtf8(std::string_view text, std::string& out) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    size_t ascii = AsciiPrefix(s + i, n - i);
    out.append(text.data() + i, ascii);
    i += ascii;
    if (i >= n) break;
    size_t len = Utf8SequenceLength(s + i, n - i);
    if (len == 0) {
      out.append(kReplacement);
      ++i;
    } else {
      out.append(text.data() + i, len);
      i += len;
    }
  }
}

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendSanitizedUtf8(text, out);
  return out;
}

void AppendWindows1252AsUtf8(std::string_view text, std::string& out) {
  out.reserve(out.size() + text.size() + text.size() / 4);
  for (unsigned char c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0xA0) {
      uint16_t cp = kCp1252High[c - 0x80];
      if (cp == 0) {
        out.append(kReplacement);
      } else {
        AppendCodePoint(cp, out);
      }
    } else {
      AppendCodePoint(c, out);
    }
  }
}

CharsetResult ConvertToUtf8(std::string_view bytes, std::string_view charset) {
  CharsetResult result;
  if (charset.empty() || IsUtf8Name(charset)) {
    if (IsValidUtf8(bytes)) {
      result.text.assign(bytes);
    } else {
      // Declared ASCII or UTF-8 but holding other 8-bit text: the usual culprit is a
      // Windows client, so read it as windows-1252 rather than replacing every byte.
      result.bad_charset = !charset.empty();
      AppendWindows1252AsUtf8(bytes, result.text);
    }
    return result;
  }
  std::string name(charset);
  std::string lower = AsciiLower(name);
  if (lower == "iso-8859-1" || lower == "latin1" || lower == "iso8859-1" ||
      lower == "windows-1252" || lower == "cp1252" || lower == "iso_8859-1") {
    // ISO-8859-1 mail is in practice windows-1252 (what browsers do, WHATWG encoding spec).
    AppendWindows1252AsUtf8(bytes, result.text);
    return result;
  }
  bool had_invalid = false;
  if (!IconvToUtf8(bytes, name, result.text, had_invalid)) {
    result.bad_charset = true;
    result.text.clear();
    if (IsValidUtf8(bytes)) {
      result.text.assign(bytes);
    } else {
      AppendWindows1252AsUtf8(bytes, result.text);
    }
    return result;
  }
  result.bad_charset = had_invalid;
  if (had_invalid && IsValidUtf8(bytes)) {
    // Labelled as a multibyte or 7-bit charset (ISO-2022-JP, say) but the bytes are UTF-8:
    // mislabelled mail, and valid UTF-8 hardly ever happens by chance.
    result.text.assign(bytes);
  }
  return result;
}

}  // namespace postroom::mime
