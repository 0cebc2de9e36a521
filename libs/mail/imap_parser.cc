#include "libs/mail/imap_parser.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/mail/mail_error.h"

namespace postroom::mail {
namespace {

constexpr int kMaxDepth = 64;

// A printable excerpt of server bytes for error messages (never a whole message body).
std::string Excerpt(absl::string_view s, size_t at) {
  size_t from = at > 40 ? at - 40 : 0;
  absl::string_view part = s.substr(from, 80);
  std::string out;
  for (char c : part) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    }
  }
  return out;
}

absl::Status ParseError(absl::string_view what, absl::string_view s, size_t at) {
  return MailError(MailErrorClass::kProtocol,
                   absl::StrCat("malformed IMAP response: ", what, " at byte ", at, " near \"",
                                Excerpt(s, at), "\""));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses digits into a number; nullopt when empty, not all digits, or too long.
std::optional<uint64_t> Digits(absl::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Recognises "{123}" / "{123+}" / "~{123}" at the end of a line (before CRLF or LF) and
// returns the literal size.
std::optional<uint64_t> TrailingLiteral(absl::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty() || line.back() != '}') return std::nullopt;
  line.remove_suffix(1);
  if (!line.empty() && line.back() == '+') line.remove_suffix(1);
  size_t open = line.rfind('{');
  if (open == absl::string_view::npos) return std::nullopt;
  return Digits(line.substr(open + 1));
}

class Parser {
 public:
  explicit Parser(absl::string_view s) : s_(s) {}

  absl::StatusOr<ImapResponse> Parse() {
    ImapResponse r;
    if (Peek() == '+') {
      r.kind = ImapResponse::Kind::kContinuation;
      ++pos_;
      if (Peek() == ' ') ++pos_;
      if (absl::Status st = ParseRespText(r); !st.ok()) return st;
      return r;
    }
    if (Peek() == '*') {
      r.kind = ImapResponse::Kind::kUntagged;
      ++pos_;
    } else {
      r.kind = ImapResponse::Kind::kTagged;
      size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] != ' ' && s_[pos_] != '\r' && s_[pos_] != '\n' &&
             s_[pos_] != '(' && s_[pos_] != ')' && s_[pos_] != '{' && s_[pos_] != '"') {
        ++pos_;
      }
      if (pos_ == start) return ParseError("expected a tag, '*' or '+'", s_, pos_);
      r.tag = std::string(s_.substr(start, pos_ - start));
    }
    if (absl::Status st = ExpectSpace(); !st.ok()) return st;
    absl::string_view word = Word();
    if (word.empty()) return ParseError("expected a response name", s_, pos_);
    if (r.kind == ImapResponse::Kind::kUntagged && IsDigit(word[0])) {
      std::optional<uint64_t> n = Digits(word);
      if (!n || *n > UINT32_MAX) return ParseError("bad message number", s_, pos_);
      r.number = static_cast<uint32_t>(*n);
      if (absl::Status st = ExpectSpace(); !st.ok()) return st;
      word = Word();
      if (word.empty()) return ParseError("expected a response name", s_, pos_);
    }
    r.name = absl::AsciiStrToUpper(word);
    if (r.IsStatus()) {
      if (Peek() == ' ') ++pos_;
      if (absl::Status st = ParseRespText(r); !st.ok()) return st;
      return r;
    }
    if (r.kind == ImapResponse::Kind::kTagged) {
      return ParseError(absl::StrCat("tagged response \"", r.name, "\" is not OK, NO or BAD"), s_,
                        pos_);
    }
    for (;;) {
      while (Peek() == ' ') ++pos_;
      if (AtEnd()) break;
      ImapValue v;
      if (absl::Status st = ParseValue(v, 0); !st.ok()) return st;
      r.data.push_back(std::move(v));
    }
    return r;
  }

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  // The line ends here: CRLF, LF, or the end of the bytes.
  bool AtEnd() const {
    if (pos_ >= s_.size()) return true;
    absl::string_view rest = s_.substr(pos_);
    return rest == "\r\n" || rest == "\n";
  }

  absl::Status ExpectSpace() {
    if (Peek() != ' ') return ParseError("expected a space", s_, pos_);
    ++pos_;
    return absl::OkStatus();
  }

  absl::string_view Word() {
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != ' ' && s_[pos_] != '\r' && s_[pos_] != '\n' &&
           s_[pos_] != '(' && s_[pos_] != ')' && s_[pos_] != '[') {
      ++pos_;
    }
    return s_.substr(start, pos_ - start);
  }

  // Rest of the line: [CODE args] text. Free text, never tokenised: servers put anything there.
  absl::Status ParseRespText(ImapResponse& r) {
    absl::string_view rest = s_.substr(pos_);
    while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r')) rest.remove_suffix(1);
    if (absl::StrContains(rest, '\n')) return ParseError("line break inside text", s_, pos_);
    if (!rest.empty() && rest.front() == '[') {
      size_t close = rest.find(']');
      if (close == absl::string_view::npos) {
        return ParseError("response code without ']'", s_, pos_);
      }
      absl::string_view inside = rest.substr(1, close - 1);
      size_t sp = inside.find(' ');
      r.code = absl::AsciiStrToUpper(inside.substr(0, sp));
      if (sp != absl::string_view::npos) r.code_args = std::string(inside.substr(sp + 1));
      rest.remove_prefix(close + 1);
      if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    }
    r.text = std::string(rest);
    pos_ = s_.size();
    return absl::OkStatus();
  }

  absl::Status ParseValue(ImapValue& v, int depth) {
    if (depth > kMaxDepth) return ParseError("lists nested too deep", s_, pos_);
    char c = Peek();
    if (c == '(') {
      ++pos_;
      v.kind = ImapValue::Kind::kList;
      for (;;) {
        while (Peek() == ' ') ++pos_;
        if (Peek() == ')') {
          ++pos_;
          return absl::OkStatus();
        }
        if (AtEnd()) return ParseError("list without ')'", s_, pos_);
        ImapValue item;
        if (absl::Status st = ParseValue(item, depth + 1); !st.ok()) return st;
        v.list.push_back(std::move(item));
      }
    }
    if (c == '"') return ParseQuoted(v);
    if (c == '{' || (c == '~' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '{')) {
      return ParseLiteral(v);
    }
    if (c == ')') return ParseError("unexpected ')'", s_, pos_);
    return ParseAtom(v);
  }

  absl::Status ParseQuoted(ImapValue& v) {
    size_t start = pos_++;
    v.kind = ImapValue::Kind::kString;
    for (;;) {
      if (pos_ >= s_.size()) return ParseError("quoted string without closing '\"'", s_, start);
      char c = s_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (c == '\r' || c == '\n') return ParseError("line break in quoted string", s_, pos_ - 1);
      if (c == '\\') {
        if (pos_ >= s_.size()) return ParseError("'\\' at end of quoted string", s_, pos_);
        c = s_[pos_++];
      }
      v.text.push_back(c);
    }
  }

  absl::Status ParseLiteral(ImapValue& v) {
    size_t start = pos_;
    if (Peek() == '~') ++pos_;
    ++pos_;  // '{'
    size_t digits = pos_;
    while (IsDigit(Peek())) ++pos_;
    std::optional<uint64_t> n = Digits(s_.substr(digits, pos_ - digits));
    if (Peek() == '+') ++pos_;
    if (!n || Peek() != '}') return ParseError("bad literal size", s_, start);
    ++pos_;
    if (Peek() == '\r') ++pos_;
    if (Peek() != '\n') return ParseError("literal size not followed by a line break", s_, pos_);
    ++pos_;
    if (*n > s_.size() - pos_) return ParseError("literal longer than the response", s_, start);
    v.kind = ImapValue::Kind::kString;
    v.is_literal = true;
    v.literal = s_.substr(pos_, *n);
    pos_ += *n;
    return absl::OkStatus();
  }

  absl::Status ParseAtom(ImapValue& v) {
    size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '[') {
        // Section spec: BODY[HEADER.FIELDS (FROM TO)]<0.100> holds spaces and lists.
        size_t close = s_.find(']', pos_);
        if (close == absl::string_view::npos) return ParseError("'[' without ']'", s_, pos_);
        if (s_.substr(pos_, close - pos_).find('\n') != absl::string_view::npos) {
          return ParseError("line break in section", s_, pos_);
        }
        pos_ = close + 1;
        continue;
      }
      if (c == ' ' || c == '(' || c == ')' || c == '\r' || c == '\n' || c == '"' || c == '{' ||
          static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        break;
      }
      ++pos_;
    }
    if (pos_ == start) return ParseError("unexpected byte", s_, pos_);
    absl::string_view atom = s_.substr(start, pos_ - start);
    if (absl::EqualsIgnoreCase(atom, "NIL")) {
      v.kind = ImapValue::Kind::kNil;
    } else {
      v.kind = ImapValue::Kind::kAtom;
      v.text = std::string(atom);
    }
    return absl::OkStatus();
  }

  absl::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<uint64_t> ImapValue::AsNumber() const {
  if (kind != Kind::kAtom) return std::nullopt;
  return Digits(text);
}

bool ImapValue::IsAtom(absl::string_view name) const {
  return kind == Kind::kAtom && absl::EqualsIgnoreCase(text, name);
}

bool ImapResponse::IsStatus() const {
  return name == "OK" || name == "NO" || name == "BAD" || name == "BYE" || name == "PREAUTH";
}

std::string ImapResponse::StatusText() const {
  std::string out = name;
  if (!code.empty()) {
    absl::StrAppend(&out, " [", code, code_args.empty() ? "" : " ", code_args, "]");
  }
  if (!text.empty()) absl::StrAppend(&out, " ", text);
  return out;
}

absl::StatusOr<ImapResponse> ParseImapResponse(absl::string_view bytes) {
  if (bytes.empty()) return ParseError("empty response", bytes, 0);
  return Parser(bytes).Parse();
}

absl::StatusOr<size_t> ImapResponseFramer::Next(absl::string_view buf) {
  for (;;) {
    if (literal_end_ != 0) {
      if (buf.size() < literal_end_) return 0;
      scan_ = line_start_ = literal_end_;
      literal_end_ = 0;
    }
    size_t nl = buf.find('\n', scan_);
    if ((nl == absl::string_view::npos ? buf.size() : nl + 1) > max_response_) {
      return ResponseTooLarge(max_response_, response_why_);
    }
    if (nl == absl::string_view::npos) {
      scan_ = buf.size();
      if (buf.size() - line_start_ > max_line_) {
        return MailError(MailErrorClass::kProtocol,
                         absl::StrCat("IMAP response line longer than ", max_line_, " bytes"));
      }
      return 0;
    }
    if (nl - line_start_ > max_line_) {
      return MailError(MailErrorClass::kProtocol,
                       absl::StrCat("IMAP response line longer than ", max_line_, " bytes"));
    }
    std::optional<uint64_t> lit = TrailingLiteral(buf.substr(line_start_, nl - line_start_));
    if (!lit) return nl + 1;
    if (*lit > max_response_ - (nl + 1)) return ResponseTooLarge(max_response_, response_why_);
    if (*lit > max_literal_) {
      return MailError(MailErrorClass::kProtocol,
                       absl::StrCat("IMAP literal of ", *lit, " bytes exceeds the limit of ",
                                    max_literal_, " bytes"));
    }
    literal_end_ = nl + 1 + static_cast<size_t>(*lit);
    scan_ = nl + 1;
  }
}

void ImapResponseFramer::Reset() { scan_ = line_start_ = literal_end_ = 0; }

absl::StatusOr<ImapFetchData> ParseFetch(const ImapResponse& r) {
  if (r.kind != ImapResponse::Kind::kUntagged || r.name != "FETCH" || !r.number ||
      r.data.size() != 1 || r.data[0].kind != ImapValue::Kind::kList) {
    return MailError(MailErrorClass::kProtocol, "malformed FETCH response");
  }
  ImapFetchData f;
  f.sequence = *r.number;
  const std::vector<ImapValue>& items = r.data[0].list;
  if (items.size() % 2 != 0) {
    return MailError(
        MailErrorClass::kProtocol,
        absl::StrCat("FETCH response for message ", f.sequence, " has an item without a value"));
  }
  for (size_t i = 0; i < items.size(); i += 2) {
    const ImapValue& key = items[i];
    const ImapValue& val = items[i + 1];
    if (key.kind != ImapValue::Kind::kAtom) {
      return MailError(MailErrorClass::kProtocol, "FETCH item name is not an atom");
    }
    if (key.IsAtom("UID")) {
      std::optional<uint64_t> n = val.AsNumber();
      if (!n || *n == 0 || *n > UINT32_MAX) {
        return MailError(MailErrorClass::kProtocol, "FETCH UID is not a valid number");
      }
      f.uid = static_cast<uint32_t>(*n);
    } else if (key.IsAtom("RFC822.SIZE")) {
      std::optional<uint64_t> n = val.AsNumber();
      if (!n) return MailError(MailErrorClass::kProtocol, "FETCH RFC822.SIZE is not a number");
      f.rfc822_size = *n;
    } else if (key.IsAtom("BODY[]") || key.IsAtom("BODY[]<0>") || key.IsAtom("RFC822") ||
               key.IsAtom("BINARY[]")) {  // <0>: the partial fetch of FetchOptions::max_bytes
      if (val.kind == ImapValue::Kind::kNil) {
        f.body = absl::string_view();
      } else if (val.kind == ImapValue::Kind::kString) {
        f.body = val.Text();
      } else {
        return MailError(MailErrorClass::kProtocol, "FETCH BODY[] is not a string");
      }
    } else if (key.IsAtom("FLAGS")) {
      if (val.kind != ImapValue::Kind::kList) {
        return MailError(MailErrorClass::kProtocol, "FETCH FLAGS is not a list");
      }
      std::vector<std::string> flags;
      for (const ImapValue& fl : val.list) flags.emplace_back(fl.Text());
      f.flags = std::move(flags);
    } else if (key.IsAtom("INTERNALDATE")) {
      f.internal_date = std::string(val.Text());
    }
  }
  return f;
}

absl::StatusOr<std::vector<uint32_t>> ParseSearch(const ImapResponse& r) {
  std::vector<uint32_t> out;
  for (const ImapValue& v : r.data) {
    if (v.kind == ImapValue::Kind::kList) continue;  // (MODSEQ n) from CONDSTORE
    std::optional<uint64_t> n = v.AsNumber();
    if (!n || *n > UINT32_MAX) {
      return MailError(MailErrorClass::kProtocol,
                       absl::StrCat("SEARCH result \"", v.Text(), "\" is not a number"));
    }
    out.push_back(static_cast<uint32_t>(*n));
  }
  return out;
}

std::vector<std::string> ParseCapabilities(const ImapResponse& r) {
  std::vector<std::string> out;
  if (r.name == "CAPABILITY") {
    for (const ImapValue& v : r.data) {
      if (v.kind == ImapValue::Kind::kAtom) out.push_back(absl::AsciiStrToUpper(v.text));
    }
  } else if (r.code == "CAPABILITY") {
    for (absl::string_view s : absl::StrSplit(r.code_args, ' ', absl::SkipEmpty())) {
      out.push_back(absl::AsciiStrToUpper(s));
    }
  }
  return out;
}

std::string FormatSequenceSet(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::string out;
  for (size_t i = 0; i < uids.size();) {
    size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out.push_back(',');
    absl::StrAppend(&out, uids[i]);
    if (j > i) absl::StrAppend(&out, ":", uids[j]);
    i = j + 1;
  }
  return out;
}

std::optional<std::string> QuoteImapString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || u >= 0x80) return std::nullopt;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

absl::StatusOr<std::string> EncodeMailboxName(absl::string_view utf8) {
  // Decode UTF-8 to code points, then emit printable ASCII as is ('&' as "&-") and runs of
  // other characters as '&' + modified base64 of UTF-16BE + '-'.
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
  // Encoding would hide a line break from the server, but no real folder has one: a name with
  // one came from a mistake or an attack, so it is refused rather than sent.
  if (absl::Status st = CheckSendable("mailbox name", utf8); !st.ok()) return st;
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < utf8.size();) {
    unsigned char c = static_cast<unsigned char>(utf8[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > utf8.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("mailbox name \"", utf8, "\" is not valid UTF-8"));
    }
    uint32_t cp = len == 1 ? c : (c & (0xff >> (len + 1)));
    for (int k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(utf8[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return absl::InvalidArgumentError(
            absl::StrCat("mailbox name \"", utf8, "\" is not valid UTF-8"));
      }
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return absl::InvalidArgumentError(
          absl::StrCat("mailbox name \"", utf8, "\" is not valid UTF-8"));
    }
    cps.push_back(cp);
    i += static_cast<size_t>(len);
  }
  std::string out;
  for (size_t i = 0; i < cps.size();) {
    if (cps[i] >= 0x20 && cps[i] <= 0x7e) {
      out.push_back(static_cast<char>(cps[i]));
      if (cps[i] == '&') out.push_back('-');
      ++i;
      continue;
    }
    std::vector<unsigned char> utf16;
    while (i < cps.size() && !(cps[i] >= 0x20 && cps[i] <= 0x7e)) {
      uint32_t cp = cps[i++];
      auto put = [&utf16](uint32_t u) {
        utf16.push_back(static_cast<unsigned char>(u >> 8));
        utf16.push_back(static_cast<unsigned char>(u & 0xff));
      };
      if (cp >= 0x10000) {
        cp -= 0x10000;
        put(0xd800 + (cp >> 10));
        put(0xdc00 + (cp & 0x3ff));
      } else {
        put(cp);
      }
    }
    out.push_back('&');
    uint32_t bits = 0;
    int nbits = 0;
    for (unsigned char b : utf16) {
      bits = (bits << 8) | b;
      nbits += 8;
      while (nbits >= 6) {
        out.push_back(kB64[(bits >> (nbits - 6)) & 0x3f]);
        nbits -= 6;
      }
    }
    if (nbits > 0) out.push_back(kB64[(bits << (6 - nbits)) & 0x3f]);
    out.push_back('-');
  }
  return out;
}

std::string FormatImapDate(absl::CivilDay day) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return absl::StrCat(day.day(), "-", kMonths[day.month() - 1], "-", day.year());
}

}  // namespace postroom::mail
