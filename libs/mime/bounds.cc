#include "libs/mime/bounds.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/mime/charset.h"

namespace postroom::mime {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// What GMime builds for a part, read from its last Content-Type field (GMime uses the last).
enum class PartKind { kLeaf, kMultipart, kMessage };

PartKind KindOf(GMimeParserOptions* options, const std::string& content_type,
                std::string& boundary) {
  if (content_type.empty()) return PartKind::kLeaf;
  GMimeContentType* ct = g_mime_content_type_parse(options, content_type.c_str());
  if (ct == nullptr) return PartKind::kLeaf;
  PartKind kind = PartKind::kLeaf;
  if (g_mime_content_type_is_type(ct, "multipart", "*")) {
    // Without a boundary GMime keeps the content as the prologue: no parts to count.
    const char* b = g_mime_content_type_get_parameter(ct, "boundary");
    if (b != nullptr && *b != '\0') {
      boundary = b;
      kind = PartKind::kMultipart;
    }
  } else if (g_mime_content_type_is_type(ct, "message", "rfc822") ||
             g_mime_content_type_is_type(ct, "message", "news") ||
             g_mime_content_type_is_type(ct, "message", "global")) {
    kind = PartKind::kMessage;
  }
  g_object_unref(ct);
  return kind;
}

// Moves a cut at `keep` back to the start of an encoded word it would split (one is at most
// 75 bytes, RFC 2047), so the kept value decodes instead of ending in "=?ut".
size_t BeforeCutEncodedWord(std::string_view value, size_t keep) {
  size_t from = keep > 75 ? keep - 75 : 0;
  size_t open = value.substr(0, keep).rfind("=?");
  if (open == std::string_view::npos || open < from) return keep;
  std::string_view word = value.substr(open, keep - open);
  if (word.find_first_of(" \t") != std::string_view::npos) return keep;
  // A complete word ends in "?=" after its charset and encoding: "=?cs?q?text?=".
  if (word.size() >= 4 && word.substr(word.size() - 2) == "?=" &&
      std::count(word.begin(), word.end(), '?') >= 4) {
    return keep;
  }
  return open;
}

class Bounder {
 public:
  Bounder(std::string_view raw, const ParseLimits& limits, GMimeParserOptions* options)
      : raw_(raw), limits_(limits), options_(options) {}

  BoundedInput Run();

 private:
  struct Level {
    std::string boundary;
    int depth;  // Of the multipart that declared it.
  };

  // A line of raw_: [start, end) is its content, [end, next) its line end.
  struct Line {
    size_t start, end, next;
    std::string_view text;
  };
  Line LineAt(size_t pos) const;

  // Index in stack_ of the boundary `line` delimits, or -1; `close` for "--b--".
  int MatchBoundary(std::string_view line, bool& close) const;
  // Moves pos_ to the next line that starts with "--" (a possible boundary) or to the end.
  void SkipBody();
  // A new part (header block) at `depth` starting at `start`; false if a limit cut there.
  bool StartPart(size_t start, int depth);
  void HeaderLine(const Line& line);
  void EndHeaderBlock(size_t body_start);
  void Cut(size_t at, std::string token, std::string sentence);
  void Limit(std::string token, std::string sentence);
  // Leaves [from, to) of raw_ out of what GMime sees.
  void Drop(size_t from, size_t to);

  std::string_view raw_;
  const ParseLimits& limits_;
  GMimeParserOptions* options_;
  BoundedInput out_;
  size_t copied_ = 0;  // raw_ up to here is in out_.text (when rewritten) or dropped.
  size_t pos_ = 0;
  bool cut_ = false;
  size_t cut_at_ = 0;
  std::vector<Level> stack_;

  // The current part.
  bool in_headers_ = true;
  int depth_ = 0;
  int parts_ = 0;
  size_t block_bytes_ = 0;
  bool block_dropping_ = false;
  std::string content_type_;
  bool in_content_type_ = false;
  // The current header field.
  bool field_dropping_ = false;
  size_t field_value_bytes_ = 0;
  size_t prev_line_end_bytes_ = 0;

  // The whole message.
  size_t header_bytes_ = 0;
  int64_t header_fields_ = 0;
  int64_t encoded_words_ = 0;
};

BoundedInput Bounder::Run() {
  if (!StartPart(0, 0)) return std::move(out_);
  while (pos_ < raw_.size() && !cut_) {
    if (!in_headers_) {
      SkipBody();
      if (pos_ >= raw_.size()) break;
    }
    Line line = LineAt(pos_);
    bool close = false;
    int level = stack_.empty() ? -1 : MatchBoundary(line.text, close);
    if (level >= 0) {
      // As in GMime, a boundary of any open multipart ends the part it is in, headers or not.
      if (close) {
        stack_.resize(static_cast<size_t>(level));
        in_headers_ = false;
      } else {
        stack_.resize(static_cast<size_t>(level) + 1);
        if (!StartPart(line.next, stack_.back().depth + 1)) {
          // The cut goes before the delimiter line, so the closers below end the multipart.
          cut_at_ = line.start;
          break;
        }
      }
    } else if (in_headers_) {
      if (line.text.empty()) {
        EndHeaderBlock(line.next);
      } else {
        HeaderLine(line);
      }
    }
    if (!cut_) pos_ = line.next;
  }
  if (!out_.rewritten) return std::move(out_);
  size_t end = cut_ ? cut_at_ : raw_.size();
  if (end > copied_) out_.text.append(raw_.substr(copied_, end - copied_));
  if (cut_) {
    out_.opaque_bytes = raw_.size() - end;
    for (auto it = stack_.rbegin(); it != stack_.rend(); ++it) {
      absl::StrAppend(&out_.text, "--", it->boundary, "--\n");
    }
  }
  return std::move(out_);
}

Bounder::Line Bounder::LineAt(size_t pos) const {
  const void* nl = std::memchr(raw_.data() + pos, '\n', raw_.size() - pos);
  size_t next = nl == nullptr ? raw_.size()
                              : static_cast<size_t>(static_cast<const char*>(nl) - raw_.data()) + 1;
  size_t end = next;
  if (end > pos && raw_[end - 1] == '\n') --end;
  if (end > pos && raw_[end - 1] == '\r') --end;
  return Line{pos, end, next, raw_.substr(pos, end - pos)};
}

int Bounder::MatchBoundary(std::string_view line, bool& close) const {
  if (line.size() < 3 || line[0] != '-' || line[1] != '-') return -1;
  std::string_view rest = line.substr(2);
  auto only_blanks = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return IsBlank(c) || c == '\r'; });
  };
  // Innermost first, as GMime does: a nested multipart may reuse its parent's boundary. The
  // boundary is matched exactly (it may itself end in a blank), then only blanks may follow.
  for (int i = static_cast<int>(stack_.size()) - 1; i >= 0; --i) {
    const std::string& b = stack_[static_cast<size_t>(i)].boundary;
    if (rest.size() < b.size() || rest.compare(0, b.size(), b) != 0) continue;
    std::string_view tail = rest.substr(b.size());
    if (only_blanks(tail)) {
      close = false;
      return i;
    }
    if (tail.size() >= 2 && tail[0] == '-' && tail[1] == '-' && only_blanks(tail.substr(2))) {
      close = true;
      return i;
    }
  }
  return -1;
}

void Bounder::SkipBody() {
  // Only a line starting with "--" can end a body, and only inside a multipart; base64 has no
  // '-', so memchr skips most attachments in one call.
  if (stack_.empty()) {
    pos_ = raw_.size();
    return;
  }
  size_t p = pos_;
  while (p < raw_.size()) {
    const void* hit = std::memchr(raw_.data() + p, '-', raw_.size() - p);
    if (hit == nullptr) break;
    size_t dash = static_cast<size_t>(static_cast<const char*>(hit) - raw_.data());
    if ((dash == 0 || raw_[dash - 1] == '\n') && dash + 1 < raw_.size() && raw_[dash + 1] == '-') {
      pos_ = dash;
      return;
    }
    p = dash + 1;
  }
  pos_ = raw_.size();
}

bool Bounder::StartPart(size_t start, int depth) {
  if (parts_ >= limits_.max_parts) {
    Cut(start, "part_limit",
        absl::StrCat("parts limit ", limits_.max_parts, " reached: rest kept as one opaque part"));
    return false;
  }
  if (depth > limits_.max_depth) {
    Cut(start, "depth_limit",
        absl::StrCat("depth limit ", limits_.max_depth, " reached: rest kept as one opaque part"));
    return false;
  }
  ++parts_;
  depth_ = depth;
  in_headers_ = true;
  block_bytes_ = 0;
  block_dropping_ = false;
  content_type_.clear();
  in_content_type_ = false;
  field_dropping_ = false;
  return true;
}

void Bounder::HeaderLine(const Line& line) {
  bool continuation = IsBlank(line.text.front());
  size_t value_start = 0;  // Offset of the field value in this line.
  if (!continuation) {
    field_dropping_ = false;
    field_value_bytes_ = 0;
    prev_line_end_bytes_ = 0;
    in_content_type_ = false;
    if (!block_dropping_) {
      if (++header_fields_ > limits_.max_header_fields) {
        Limit("header_limit", absl::StrCat("header fields limit ", limits_.max_header_fields,
                                           " reached: later fields dropped"));
        block_dropping_ = true;
      }
    }
    size_t colon = line.text.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = line.text.substr(0, colon);
      while (!name.empty() && IsBlank(name.back())) name.remove_suffix(1);
      in_content_type_ = EqualsIgnoreCase(name, "Content-Type");
      if (in_content_type_ && !block_dropping_) content_type_.clear();
      value_start = colon + 1;
      while (value_start < line.text.size() && IsBlank(line.text[value_start])) ++value_start;
    }
  }
  if (block_dropping_ || field_dropping_) {
    Drop(line.start, line.next);
    return;
  }

  // How much of this line the field length and the encoded-word count allow.
  std::string_view value = line.text.substr(value_start);
  size_t before = field_value_bytes_ + (continuation ? prev_line_end_bytes_ : 0);
  size_t keep = value.size();
  bool too_long = before + keep > limits_.max_header_field_bytes;
  if (too_long) {
    keep = limits_.max_header_field_bytes > before ? limits_.max_header_field_bytes - before : 0;
    keep = BeforeCutEncodedWord(value, keep);
  }
  int64_t words = 0;
  bool too_many_words = false;
  for (size_t p = value.find("=?"); p != std::string_view::npos && p < keep;
       p = value.find("=?", p + 2)) {
    if (encoded_words_ + words + 1 > limits_.max_encoded_words) {
      keep = p;
      too_many_words = true;
      break;
    }
    ++words;
  }
  size_t line_end_bytes = line.next - line.end;
  size_t kept_bytes = value_start + keep + line_end_bytes;
  size_t total_limit = std::max(limits_.max_total_header_bytes, limits_.max_header_bytes);
  if (block_bytes_ + kept_bytes > limits_.max_header_bytes ||
      header_bytes_ + kept_bytes > total_limit) {
    size_t limit = block_bytes_ + kept_bytes > limits_.max_header_bytes
                       ? limits_.max_header_bytes
                       : total_limit;
    Limit("header_limit", absl::StrCat("header bytes limit ", limit,
                                       " reached: later fields dropped"));
    block_dropping_ = true;
    Drop(line.start, line.next);
    return;
  }
  if (too_long) {
    Limit("header_too_long", absl::StrCat("header field limit ", limits_.max_header_field_bytes,
                                          " bytes reached: rest of the field dropped"));
  }
  if (too_many_words) {
    Limit("encoded_word_limit", absl::StrCat("encoded words limit ", limits_.max_encoded_words,
                                             " reached: rest of the field dropped"));
  }
  field_dropping_ = too_long || too_many_words;
  if (value_start + keep == 0) {
    // An emptied line would end the header block for GMime but not for this scan.
    Drop(line.start, line.next);
    kept_bytes = 0;
  } else if (keep < value.size()) {
    // Keep the line end, so the field still ends where GMime expects it.
    Drop(line.start + value_start + keep, line.end);
  }
  encoded_words_ += words;
  field_value_bytes_ = before + keep;
  prev_line_end_bytes_ = line_end_bytes;
  block_bytes_ += kept_bytes;
  header_bytes_ += kept_bytes;
  if (in_content_type_) {
    // Unfolded, as GMime unfolds it before parsing.
    content_type_.append(value.substr(0, keep));
  }
}

void Bounder::EndHeaderBlock(size_t body_start) {
  in_headers_ = false;
  std::string boundary;
  switch (KindOf(options_, content_type_, boundary)) {
    case PartKind::kMultipart:
      // depth_ <= max_depth, so the stack holds at most max_depth + 1 boundaries.
      stack_.push_back(Level{std::move(boundary), depth_});
      break;
    case PartKind::kMessage:
      // The attached message's own header block follows at once, one level deeper.
      if (!StartPart(body_start, depth_ + 1)) cut_at_ = body_start;
      break;
    case PartKind::kLeaf:
      break;
  }
}

void Bounder::Cut(size_t at, std::string token, std::string sentence) {
  Limit(std::move(token), std::move(sentence));
  cut_ = true;
  cut_at_ = at;
  if (!out_.rewritten) {
    out_.rewritten = true;
    out_.text.reserve(at + 256);
  }
}

void Bounder::Limit(std::string token, std::string sentence) {
  for (std::string* d : {&token, &sentence}) {
    if (std::find(out_.defects.begin(), out_.defects.end(), *d) == out_.defects.end()) {
      out_.defects.push_back(std::move(*d));
    }
  }
}

void Bounder::Drop(size_t from, size_t to) {
  if (!out_.rewritten) {
    out_.rewritten = true;
    out_.text.reserve(raw_.size());
  }
  if (from > copied_) out_.text.append(raw_.substr(copied_, from - copied_));
  copied_ = std::max(copied_, to);
}

}  // namespace

BoundedInput BoundInput(std::string_view raw, const ParseLimits& limits,
                        GMimeParserOptions* options) {
  return Bounder(raw, limits, options).Run();
}

}  // namespace postroom::mime
