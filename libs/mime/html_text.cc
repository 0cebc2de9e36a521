#include "libs/mime/html_text.h"

#include <cstdint>
#include <cstdlib>

#include "libs/mime/charset.h"

namespace postroom::mime {
namespace {

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

struct Entity {
  const char* name;
  uint32_t cp;
};
// The entities that occur in mail in practice; others are kept as written.
constexpr Entity kEntities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},      {"apos", '\''},
    {"nbsp", 0xA0},    {"shy", 0xAD},     {"copy", 0xA9},    {"reg", 0xAE},      {"trade", 0x2122},
    {"euro", 0x20AC},  {"pound", 0xA3},   {"yen", 0xA5},     {"cent", 0xA2},     {"sect", 0xA7},
    {"deg", 0xB0},     {"middot", 0xB7},  {"bull", 0x2022},  {"hellip", 0x2026}, {"ndash", 0x2013},
    {"mdash", 0x2014}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C},  {"rdquo", 0x201D},
    {"laquo", 0xAB},   {"raquo", 0xBB},   {"auml", 0xE4},    {"ouml", 0xF6},     {"uuml", 0xFC},
    {"Auml", 0xC4},    {"Ouml", 0xD6},    {"Uuml", 0xDC},    {"szlig", 0xDF},    {"eacute", 0xE9},
    {"egrave", 0xE8},  {"agrave", 0xE0},  {"aacute", 0xE1},  {"ccedil", 0xE7},   {"ntilde", 0xF1},
    {"oacute", 0xF3},  {"iacute", 0xED},  {"uacute", 0xFA},  {"ecirc", 0xEA},    {"zwnj", 0x200C},
    {"zwj", 0x200D},   {"ensp", 0x2002},  {"emsp", 0x2003},  {"thinsp", 0x2009}, {"times", 0xD7},
    {"divide", 0xF7},
};

// Decodes the entity at html[i] ('&'); returns the bytes consumed, 0 if it is not one.
size_t DecodeEntity(std::string_view html, size_t i, std::string& out) {
  // Look a few bytes ahead only: a text full of '&' must stay linear.
  size_t semi = html.substr(0, i + 14).find(';', i + 1);
  if (semi == std::string_view::npos || semi == i + 1) return 0;
  std::string_view body = html.substr(i + 1, semi - i - 1);
  if (body[0] == '#') {
    bool hex = body.size() > 1 && (body[1] == 'x' || body[1] == 'X');
    std::string digits(body.substr(hex ? 2 : 1));
    if (digits.empty()) return 0;
    char* end = nullptr;
    unsigned long cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
    if (end == nullptr || *end != '\0') return 0;
    AppendUtf8(static_cast<uint32_t>(cp), out);
    return semi - i + 1;
  }
  for (const Entity& e : kEntities) {
    if (body == e.name) {
      AppendUtf8(e.cp, out);
      return semi - i + 1;
    }
  }
  return 0;
}

bool IsBlock(std::string_view tag) {
  for (std::string_view b :
       {"p",  "div",     "br",      "li",     "tr",     "h1", "h2",         "h3",
        "h4", "h5",      "h6",      "table",  "ul",     "ol", "blockquote", "pre",
        "hr", "section", "article", "header", "footer", "dd", "dt",         "title"}) {
    if (tag == b) return true;
  }
  return false;
}

}  // namespace

std::string HtmlToText(std::string_view html) {
  std::string raw;
  raw.reserve(html.size() / 2);
  size_t i = 0;
  const size_t n = html.size();
  auto newline = [&raw] { raw.push_back('\n'); };
  while (i < n) {
    char c = html[i];
    if (c == '<') {
      if (html.compare(i, 4, "<!--") == 0) {
        size_t end = html.find("-->", i + 4);
        i = end == std::string_view::npos ? n : end + 3;
        continue;
      }
      size_t end = html.find('>', i + 1);
      if (end == std::string_view::npos) break;
      std::string_view inside = html.substr(i + 1, end - i - 1);
      bool closing = !inside.empty() && inside[0] == '/';
      if (closing) inside.remove_prefix(1);
      size_t name_end = 0;
      while (name_end < inside.size() && ((inside[name_end] >= 'a' && inside[name_end] <= 'z') ||
                                          (inside[name_end] >= 'A' && inside[name_end] <= 'Z') ||
                                          (inside[name_end] >= '0' && inside[name_end] <= '9'))) {
        ++name_end;
      }
      std::string tag = AsciiLower(inside.substr(0, name_end));
      i = end + 1;
      if (!closing && (tag == "script" || tag == "style" || tag == "head")) {
        // Skip to the matching end tag; its content is not text.
        std::string lower_close = "</" + tag;
        size_t pos = i;
        size_t found = std::string_view::npos;
        while (pos < n) {
          size_t lt = html.find("</", pos);
          if (lt == std::string_view::npos) break;
          if (AsciiLower(html.substr(lt, lower_close.size())) == lower_close) {
            found = lt;
            break;
          }
          pos = lt + 2;
        }
        if (found == std::string_view::npos) {
          i = n;
        } else {
          size_t close = html.find('>', found);
          i = close == std::string_view::npos ? n : close + 1;
        }
        continue;
      }
      if (IsBlock(tag)) newline();
      if (tag == "td" || tag == "th") raw.push_back(' ');
      continue;
    }
    if (c == '&') {
      size_t used = DecodeEntity(html, i, raw);
      if (used > 0) {
        i += used;
        continue;
      }
    }
    raw.push_back(c == '\r' || c == '\t' ? ' ' : c == '\n' ? ' ' : c);
    ++i;
  }

  // Collapse blanks (ASCII and no-break spaces) and limit empty lines.
  std::string out;
  out.reserve(raw.size());
  int newlines = 2;  // Drop leading line breaks.
  bool space = false;
  for (size_t k = 0; k < raw.size(); ++k) {
    char c = raw[k];
    if (c == '\n') {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      if (newlines < 2) out.push_back('\n');
      ++newlines;
      space = false;
      continue;
    }
    bool nbsp = c == '\xC2' && k + 1 < raw.size() && raw[k + 1] == '\xA0';
    if (c == ' ' || nbsp) {
      if (nbsp) ++k;
      space = true;
      continue;
    }
    if (space && newlines == 0) out.push_back(' ');
    space = false;
    newlines = 0;
    out.push_back(c);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return SanitizeUtf8(out);
}

std::string BodyText(const ParsedMessage& message) {
  if (!message.text_body.empty() || message.html_body.empty()) return message.text_body;
  return HtmlToText(message.html_body);
}

}  // namespace postroom::mime
