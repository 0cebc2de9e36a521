#include "libs/rules/text_util.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace postroom::rules::internal {

namespace {

// Length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one.
size_t Utf8SequenceLength(absl::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char b = byte(0);
  if (b < 0x80) return 1;
  size_t n = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0;
  if (n == 0 || n > s.size()) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
  }
  // Overlong forms, surrogates and code points past U+10FFFF.
  if (n == 3 && b == 0xE0 && byte(1) < 0xA0) return 0;
  if (n == 3 && b == 0xED && byte(1) >= 0xA0) return 0;
  if (n == 4 && b == 0xF0 && byte(1) < 0x90) return 0;
  if (n == 4 && b == 0xF4 && byte(1) >= 0x90) return 0;
  return n;
}

}  // namespace

// The result is always valid UTF-8 (bad bytes become \xNN): traces travel in proto3 string
// fields, which refuse anything else.
std::string Quote(absl::string_view text, size_t max_chars) {
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size()) {
    if (i >= max_chars) {
      out += "...";
      break;
    }
    char c = text[i];
    size_t n = Utf8SequenceLength(text.substr(i));
    if (n > 1) {
      out.append(text.data() + i, n);
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (n == 0 || static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          absl::StrAppend(&out, absl::StrFormat("\\x%02x", static_cast<unsigned char>(c)));
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

std::string QuoteList(const std::vector<std::string>& items, size_t max_items, size_t max_chars) {
  std::string out = "[";
  for (size_t i = 0; i < items.size() && i < max_items; ++i) {
    if (i > 0) out += ", ";
    out += Quote(items[i], max_chars);
  }
  if (items.size() > max_items)
    absl::StrAppend(&out, ", ... (", items.size() - max_items, " more)");
  out += "]";
  return out;
}

namespace {

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string ClosestMatch(absl::string_view word, const std::vector<std::string>& candidates) {
  size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    size_t d = EditDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string DidYouMean(absl::string_view word, const std::vector<std::string>& candidates) {
  std::string best = ClosestMatch(word, candidates);
  if (best.empty()) return "";
  return absl::StrCat("; did you mean ", Quote(best), "?");
}

}  // namespace postroom::rules::internal
