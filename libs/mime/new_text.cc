#include "libs/mime/new_text.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <array>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "libs/mime/html_text.h"
#include "re2/re2.h"

namespace postroom::mime {
namespace {

re2::StringPiece Piece(absl::string_view s) { return re2::StringPiece(s.data(), s.size()); }

// Longer lines are never an attribution or a header: bounds the regular expressions' input.
constexpr size_t kMaxMarkerLine = 400;
// A signature is the last few lines; a "--" line followed by more is a divider, not one.
constexpr size_t kMaxSignatureLines = 12;
// Lines an Outlook header block spans from "From:" to its last field.
constexpr size_t kHeaderBlockSpan = 6;

RE2::Options Caseless() {
  RE2::Options o;
  o.set_case_sensitive(false);
  return o;
}

// The patterns are constants: one that does not compile is a bug that must not pass silently
// (RE2 would then match nothing).
const RE2* Compiled(const char* pattern) {
  auto* re = new RE2(pattern, Caseless());
  if (!re->ok()) {
    std::fprintf(stderr, "new_text: bad pattern %s: %s\n", pattern, re->error().c_str());
    std::abort();
  }
  return re;
}

// "On Mon, Apr 2, 2012 at 6:26 PM, Megan One <xxx@gmail.com> wrote:" and its translations: a
// line ending with the verb, as each client writes it (Gmail, Apple Mail, Outlook on the web,
// Thunderbird; German, French, Dutch, Spanish, Italian, Portuguese, Polish).
const RE2& AttributionEnd() {
  static const RE2* re = Compiled(R"((\bwrote|\bschrieb[^:]{0,120}|\ba [ée]crit|\bschreef[^:]{0,120}|\bescribi[óo]|)"
      R"(\bha scritto|\bescreveu|\bnapisa[łl]\(a\)|\bnapisa[łl]a?|\bpisze)\s*:\s*$)");
  return *re;
}

// "-----Original Message-----", forwarded-message banners and their translations.
const RE2& OriginalMessage() {
  static const RE2* re = Compiled(R"(^\s*[-_=]{2,}\s*(original message|ursprüngliche nachricht|message d'origine|)"
      R"(oorspronkelijk bericht|mensaje original|messaggio originale|mensagem original|)"
      R"(wiadomość oryginalna|forwarded message|weitergeleitete nachricht|message transféré|)"
      R"(doorgestuurd bericht|mensaje reenviado|messaggio inoltrato|mensagem encaminhada|)"
      R"(wiadomość przekazana)\s*[-_=]{2,}\s*$|^\s*begin forwarded message:\s*$)");
  return *re;
}

// The fields of an Outlook (desktop and web) header block, in the client's language.
const RE2& HeaderFrom() {
  static const RE2* re = Compiled(R"(^\s*\*?(from|von|de|van|od|da)\s*:\*?\s*\S)");
  return *re;
}
const RE2& HeaderDate() {
  static const RE2* re = Compiled(R"(^\s*\*?(sent|date|gesendet|datum|envoy[ée]|verzonden|enviado|enviada|inviato|data|)"
      R"(wysłano)\s*:)");
  return *re;
}
const RE2& HeaderToOrSubject() {
  static const RE2* re = Compiled(R"(^\s*\*?(to|an|[àa]|aan|para|do|a|subject|betreff|objet|onderwerp|asunto|oggetto|)"
      R"(assunto|temat)\s*:)");
  return *re;
}

// Sign-offs mobile and webmail clients append, in the languages above.
const RE2& MobileSignOff() {
  static const RE2* re = Compiled(R"(^\s*(sent from my \S.*|sent from (mail|outlook|yahoo mail|samsung|windows mail)\b.*|)"
      R"(get outlook for \S.*|sent with \S.*|sent via \S.*|)"
      R"(von meinem \S.* gesendet|gesendet von meinem \S.*|gesendet mit \S.*|)"
      R"(envoy[ée] de mon \S.*|envoy[ée] depuis \S.*|(verzonden|verstuurd) (vanaf|met) \S.*|)"
      R"(enviado desde mi \S.*|enviado (do|pelo) meu \S.*|enviado do \S.*|)"
      R"(inviato da \S.*|wysłane z( mojego)? \S.*)\s*$)");
  return *re;
}

absl::string_view TrimRight(absl::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Blank also when it holds only no-break spaces (U+00A0): what Outlook and Gmail leave on the
// empty lines of a text part they made from HTML.
bool IsBlank(absl::string_view line) {
  line = absl::StripAsciiWhitespace(line);
  while (absl::ConsumePrefix(&line, "\xC2\xA0")) line = absl::StripLeadingAsciiWhitespace(line);
  return line.empty();
}

bool IsQuoted(absl::string_view line) {
  size_t i = line.find_first_not_of(" \t");
  return i != absl::string_view::npos && line[i] == '>';
}

bool HasDigitOrAt(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c) || c == '@'; });
}

enum class Mark {
  kText,
  kBlank,
  kQuoted,
  kAttribution,  // "On ... wrote:" (may span this line and the next)
  kHeaders,      // an Outlook header block or an "Original Message" banner: history below
};

class Lines {
 public:
  explicit Lines(absl::string_view text) {
    for (absl::string_view l : absl::StrSplit(text, '\n')) lines_.push_back(TrimRight(l));
    marks_.assign(lines_.size(), Mark::kText);
    for (size_t i = 0; i < lines_.size(); ++i) marks_[i] = Classify(i);
  }

  std::string NewText() const {
    const size_t n = lines_.size();
    size_t end = n;
    // History starts at the first header block, or at the first attribution unless the sender
    // writes below the quote (inline and bottom posting).
    for (size_t i = 0; i < n; ++i) {
      if (marks_[i] == Mark::kHeaders) {
        end = Divider(i);
        break;
      }
      if (marks_[i] == Mark::kAttribution && !TextFollowsQuote(i)) {
        end = i;
        break;
      }
    }
    // Top posting over ">" quoting without an attribution: the quote that runs to the end.
    size_t tail = end;
    while (tail > 0 && (marks_[tail - 1] == Mark::kQuoted || marks_[tail - 1] == Mark::kBlank)) {
      --tail;
    }
    if (tail < end && HasQuoted(tail, end)) end = tail;

    std::vector<absl::string_view> kept;
    for (size_t i = 0; i < end; ++i) {
      if (marks_[i] == Mark::kQuoted || marks_[i] == Mark::kAttribution) continue;
      if (i > 0 && marks_[i - 1] == Mark::kAttribution && joined_[i - 1]) continue;
      kept.push_back(lines_[i]);
    }
    DropSignature(kept);
    return Join(kept);
  }

 private:
  Mark Classify(size_t i) {
    absl::string_view l = lines_[i];
    if (IsBlank(l)) return Mark::kBlank;
    if (IsQuoted(l)) return Mark::kQuoted;
    if (l.size() > kMaxMarkerLine) return Mark::kText;
    // Cheap tests first: most lines are text, and a regular expression per line would cost
    // more than the rest of parsing a message.
    const absl::string_view head = absl::StripLeadingAsciiWhitespace(l);
    if ((head[0] == '-' || head[0] == '_' || head[0] == '=' || head[0] == 'b' ||
         head[0] == 'B') &&
        RE2::PartialMatch(Piece(l), OriginalMessage())) {
      return Mark::kHeaders;
    }
    const size_t colon = head.find(':');
    if (colon != absl::string_view::npos && colon <= 6 && RE2::PartialMatch(Piece(l), HeaderFrom()) &&
        IsHeaderBlock(i)) {
      return Mark::kHeaders;
    }
    if (IsAttribution(l, i + 1 < lines_.size() ? lines_[i + 1] : absl::string_view(), i)) {
      return Mark::kAttribution;
    }
    return Mark::kText;
  }

  // "From:" followed within a few lines by a date field and a To/Subject field.
  bool IsHeaderBlock(size_t from) const {
    bool date = false, to = false;
    for (size_t j = from + 1; j < lines_.size() && j <= from + kHeaderBlockSpan; ++j) {
      if (lines_[j].size() > kMaxMarkerLine) break;
      date = date || RE2::PartialMatch(Piece(lines_[j]), HeaderDate());
      to = to || RE2::PartialMatch(Piece(lines_[j]), HeaderToOrSubject());
    }
    return date && to;
  }

  // An attribution ends with the verb and names a date or an address, or is followed by ">"
  // lines. Gmail wraps a long one over two lines ("... Megan One <" / "xxx@gmail.com> wrote:").
  bool IsAttribution(absl::string_view line, absl::string_view next, size_t i) {
    joined_.resize(lines_.size(), false);
    // Any language: a line ending with ':' that names a date or an address and is followed by
    // ">" lines ("02.04.2012 14:20 пользователь ... написал:"). The known verbs need only one.
    auto looks_like = [&](absl::string_view text, size_t last) {
      if (text.empty() || text.back() != ':') return false;
      bool quote_follows = false;
      for (size_t j = last + 1; j < lines_.size(); ++j) {
        if (IsBlank(lines_[j])) continue;
        quote_follows = IsQuoted(lines_[j]);
        break;
      }
      const bool dated = HasDigitOrAt(text);
      if (dated && quote_follows) return true;
      return (dated || quote_follows) && RE2::PartialMatch(Piece(text), AttributionEnd());
    };
    if (looks_like(line, i)) return true;
    if (!next.empty() && next.back() == ':' && !IsQuoted(next) &&
        next.size() <= kMaxMarkerLine && line.back() != ':') {
      std::string both = std::string(line) + " " + std::string(next);
      if (looks_like(both, i + 1)) {
        joined_[i] = true;
        return true;
      }
    }
    return false;
  }

  // The attribution at `i` opens a quote after which the sender writes more (inline or bottom
  // posting): unquoted text after a quoted block, before any further history marker.
  bool TextFollowsQuote(size_t i) const {
    size_t j = i + (joined_[i] ? 2 : 1);
    bool quoted = false;
    for (; j < lines_.size(); ++j) {
      switch (marks_[j]) {
        case Mark::kQuoted:
          quoted = true;
          break;
        case Mark::kBlank:
          break;
        case Mark::kText:
          if (!quoted) return false;  // unquoted history (Yahoo, Outlook plain)
          if (!IsSignatureStart(j)) return true;
          return false;
        default:
          return false;
      }
    }
    return false;
  }

  bool HasQuoted(size_t from, size_t to) const {
    for (size_t i = from; i < to; ++i) {
      if (marks_[i] == Mark::kQuoted) return true;
    }
    return false;
  }

  // A "____" rule or blank line right above a header block belongs to it.
  size_t Divider(size_t i) const {
    size_t start = i;
    while (start > 0) {
      absl::string_view prev = absl::StripAsciiWhitespace(lines_[start - 1]);
      if (IsBlank(prev) || (prev.size() >= 8 && prev.find_first_not_of("_-=") == prev.npos)) {
        --start;
      } else {
        break;
      }
    }
    return start;
  }

  bool IsSignatureStart(size_t i) const {
    absl::string_view l = lines_[i];
    return l == "--" || l == "-- " || RE2::FullMatch(Piece(l), MobileSignOff());
  }

  static void DropSignature(std::vector<absl::string_view>& kept) {
    size_t last = kept.size();
    while (last > 0 && IsBlank(kept[last - 1])) --last;
    // "-- " (RFC 3676 4.3; many clients drop the space) within the last lines.
    for (size_t i = last; i > 0 && last - (i - 1) <= kMaxSignatureLines; --i) {
      absl::string_view l = kept[i - 1];
      if (l == "--" || l == "-- ") {
        kept.resize(i - 1);
        return;
      }
    }
    // A mobile sign-off among the last three non-blank lines.
    int seen = 0;
    for (size_t i = last; i > 0 && seen < 3; --i) {
      if (IsBlank(kept[i - 1])) continue;
      ++seen;
      if (kept[i - 1].size() <= kMaxMarkerLine && RE2::FullMatch(Piece(kept[i - 1]), MobileSignOff())) {
        kept.resize(i - 1);
        return;
      }
    }
  }

  static std::string Join(const std::vector<absl::string_view>& kept) {
    size_t b = 0, e = kept.size();
    while (b < e && IsBlank(kept[b])) ++b;
    while (e > b && IsBlank(kept[e - 1])) --e;
    std::string out;
    int blanks = 0;
    for (size_t i = b; i < e; ++i) {
      if (IsBlank(kept[i])) {
        if (++blanks > 1) continue;  // runs of blank lines left by removed quotes: one
      } else {
        blanks = 0;
      }
      if (!out.empty()) out.push_back('\n');
      if (!IsBlank(kept[i])) out.append(kept[i].data(), kept[i].size());
    }
    return out;
  }

  std::vector<absl::string_view> lines_;
  std::vector<Mark> marks_;
  std::vector<bool> joined_;  // attribution continues on the next line
};

// Where the quoted history of an HTML body starts, as each client marks it; npos for none.
size_t HtmlQuoteStart(absl::string_view html) {
  static constexpr std::array<absl::string_view, 12> kMarkers = {
      "<div class=\"gmail_quote",      "<blockquote class=\"gmail_quote",
      "<div id=\"divrplyfwdmsg\"",     "<div id=divrplyfwdmsg",
      "<div id=\"appendonsend\"",      "<blockquote type=\"cite\"",
      "<blockquote type=cite",         "<div class=\"moz-cite-prefix\"",
      "<div class=\"yahoo_quoted\"",   "<hr id=\"stopspelling\"",
      "border-top:solid #e1e1e1",      "border-top:solid #b5c4df",
  };
  const std::string lower = absl::AsciiStrToLower(html);
  size_t best = absl::string_view::npos;
  for (absl::string_view m : kMarkers) {
    size_t at = lower.find(m.data(), 0, m.size());
    if (at == std::string::npos) continue;
    // A style marker sits inside its tag: cut at the tag's start.
    if (m.front() != '<') {
      size_t open = lower.rfind('<', at);
      if (open == std::string::npos) continue;
      at = open;
    }
    best = std::min(best, at);
  }
  return best;
}

// `html` with each element that `open` starts (a tag named `tag`; nested ones of that name
// counted) replaced by `replacement`; an element never closed runs to the end. `lower` is
// `html` lowercased. One pass: every search starts where the last one ended.
std::string ReplaceElements(absl::string_view html, absl::string_view lower,
                            absl::string_view open, absl::string_view tag,
                            absl::string_view replacement) {
  const std::string tag_open = absl::StrCat("<", tag), tag_close = absl::StrCat("</", tag);
  // A name ends the tag's name: "<pre>" and "<pre class" but not "<prefix".
  auto find_tag = [&](const std::string& needle, size_t from) {
    for (size_t at = lower.find(needle, from); at != absl::string_view::npos;
         at = lower.find(needle, at + 1)) {
      size_t end = at + needle.size();
      if (end == lower.size() || lower[end] == '>' || lower[end] == '/' ||
          absl::ascii_isspace(static_cast<unsigned char>(lower[end]))) {
        return at;
      }
    }
    return absl::string_view::npos;
  };
  std::string out;
  size_t pos = 0;
  for (size_t at = lower.find(open); at != absl::string_view::npos; at = lower.find(open, pos)) {
    absl::StrAppend(&out, html.substr(pos, at - pos), replacement);
    size_t scan = at + open.size(), depth = 1;
    size_t next_open = find_tag(tag_open, scan), next_close = find_tag(tag_close, scan);
    pos = html.size();
    while (next_close != absl::string_view::npos) {
      if (next_open < next_close) {
        ++depth;
        next_open = find_tag(tag_open, next_open + 1);
        continue;
      }
      if (--depth == 0) {
        size_t gt = lower.find('>', next_close);
        pos = gt == absl::string_view::npos ? html.size() : gt + 1;
        break;
      }
      next_close = find_tag(tag_close, next_close + 1);
    }
    if (pos >= html.size()) return out;
  }
  absl::StrAppend(&out, html.substr(pos));
  return out;
}

// Signatures the clients mark as such: Thunderbird's moz-signature, Outlook's Signature div.
std::string WithoutSignatures(absl::string_view html) {
  std::string lower = absl::AsciiStrToLower(html);
  std::string out = ReplaceElements(html, lower, "<pre class=\"moz-signature\"", "pre", "");
  lower = absl::AsciiStrToLower(out);
  out = ReplaceElements(out, lower, "<div class=\"moz-signature\"", "div", "");
  lower = absl::AsciiStrToLower(out);
  return ReplaceElements(out, lower, "<div id=\"signature\"", "div", "");
}

}  // namespace

std::string NewTextFromPlain(std::string_view text_in) {
  const absl::string_view text(text_in.data(), text_in.size());
  std::string out = Lines(text).NewText();
  if (out.empty()) {
    // Only a quote, or only a signature: better the whole text than nothing.
    return std::string(absl::StripAsciiWhitespace(text));
  }
  return out;
}

std::string NewTextFromHtml(std::string_view html_in) {
  const absl::string_view html(html_in.data(), html_in.size());
  const std::string clean = WithoutSignatures(html);
  const size_t cut = HtmlQuoteStart(clean);
  std::string out = Lines(HtmlToText(std::string_view(clean).substr(0, cut))).NewText();
  if (!out.empty()) return out;
  // Nothing above the quote: the sender wrote below it or between its parts (bottom and inline
  // posting). Each quoted block becomes one ">" line, so the plain cut keeps what surrounds it.
  const std::string marked =
      ReplaceElements(clean, absl::AsciiStrToLower(clean), "<blockquote", "blockquote",
                      "<div>&gt;</div>");
  out = Lines(HtmlToText(marked)).NewText();
  if (!out.empty()) return out;
  return NewTextFromPlain(HtmlToText(html_in));
}

std::string NewText(const ParsedMessage& message) {
  if (!IsBlank(message.text_body)) return NewTextFromPlain(message.text_body);
  if (!message.html_body.empty()) return NewTextFromHtml(message.html_body);
  return std::string();
}

}  // namespace postroom::mime
