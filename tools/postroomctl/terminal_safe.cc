#include "tools/postroomctl/terminal_safe.h"

#include "absl/strings/str_format.h"

namespace postroom::ctl {
namespace {

// Longest line held before it is written anyway (cut where no character is split).
constexpr size_t kMaxPendingBytes = 64 * 1024;

bool IsContinuation(unsigned char b) { return (b & 0xC0) == 0x80; }

bool IsHiddenCodePoint(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// The length of the well-formed UTF-8 sequence at `s[i]` (2-4) and its code point, or 0.
size_t DecodeMultiByte(absl::string_view s, size_t i, uint32_t* cp) {
  const unsigned char lead = s[i];
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // Bounds of the second byte (no overlongs/surrogates).
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
    *cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    *cp = lead & 0x0F;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    *cp = lead & 0x07;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char b = s[i + k];
    if (!IsContinuation(b) || (k == 1 && (b < lo || b > hi))) return 0;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  return n;
}

}  // namespace

std::string TerminalSafe(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char b = text[i];
    if (b < 0x80) {
      if ((b < 0x20 && b != '\n' && b != '\t') || b == 0x7F) {
        absl::StrAppendFormat(&out, "\\x%02x", b);
      } else {
        out.push_back(static_cast<char>(b));
      }
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t n = DecodeMultiByte(text, i, &cp);
    if (n == 0) {
      absl::StrAppendFormat(&out, "\\x%02x", b);
      ++i;
    } else if (IsHiddenCodePoint(cp)) {
      absl::StrAppendFormat(&out, "\\u%04x", cp);
      i += n;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  return out;
}

class TerminalSafeStream::Buf : public std::streambuf {
 public:
  explicit Buf(std::ostream& dest) : dest_(dest) {}
  ~Buf() override { Flush(pending_.size()); }

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    Append(static_cast<char>(c));
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize k = 0; k < n; ++k) Append(s[k]);
    return n;
  }
  int sync() override {
    Flush(pending_.size());
    dest_.flush();
    return dest_ ? 0 : -1;
  }

 private:
  void Append(char c) {
    pending_.push_back(c);
    if (c == '\n') {
      Flush(pending_.size());
    } else if (pending_.size() >= kMaxPendingBytes) {
      // Keep back a character that may still be incomplete.
      size_t cut = pending_.size();
      for (int k = 0; k < 3 && cut > 0 && IsContinuation(pending_[cut - 1]); ++k) --cut;
      if (cut > 0 && static_cast<unsigned char>(pending_[cut - 1]) >= 0xC0) --cut;
      Flush(cut == 0 ? pending_.size() : cut);
    }
  }
  void Flush(size_t n) {
    if (n == 0) return;
    dest_ << TerminalSafe(absl::string_view(pending_.data(), n));
    pending_.erase(0, n);
  }

  std::ostream& dest_;
  std::string pending_;
};

TerminalSafeStream::TerminalSafeStream(std::ostream& dest)
    : std::ostream(nullptr), buf_(std::make_unique<Buf>(dest)) {
  rdbuf(buf_.get());
}

TerminalSafeStream::~TerminalSafeStream() { buf_->pubsync(); }

}  // namespace postroom::ctl
