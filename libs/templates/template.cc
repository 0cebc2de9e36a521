#include "libs/templates/template.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/rules/text_util.h"

namespace postroom::templates {
namespace {

using rules::internal::DidYouMean;
using rules::internal::Quote;

const std::vector<std::string>& PlaceholderNames() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>;
    for (const PlaceholderInfo& p : KnownPlaceholders()) v->push_back(p.name);
    return v;
  }();
  return *names;
}

// "line 2, column 7" for a byte offset; columns count characters (UTF-8 sequences).
std::string Position(absl::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return absl::StrCat("line ", line, ", column ", column);
}

bool IsNameChar(char c) {
  return absl::ascii_islower(static_cast<unsigned char>(c)) ||
         absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

// Splits `text` into segments, appending problems under `path`. The segments are complete
// only when no problem was found.
std::vector<CompiledTemplate::Segment> Parse(absl::string_view text, const std::string& path,
                                             std::vector<FieldError>* errors) {
  std::vector<CompiledTemplate::Segment> segments;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) segments.push_back({std::move(literal), ""});
    literal.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\\' && (text.substr(i + 1, 2) == "{{" || text.substr(i + 1, 2) == "}}")) {
      literal.append(text.data() + i + 1, 2);
      i += 3;
      continue;
    }
    if (text.substr(i, 2) == "}}") {
      errors->push_back({path, absl::StrCat("\"}}\" at ", Position(text, i),
                                            " closes nothing; write \\}} for literal braces")});
      literal.append("}}");
      i += 2;
      continue;
    }
    if (text.substr(i, 2) != "{{") {
      literal.push_back(text[i]);
      ++i;
      continue;
    }
    size_t close = text.find("}}", i + 2);
    size_t next_open = text.find("{{", i + 2);
    if (close == absl::string_view::npos || next_open < close) {
      errors->push_back({path, absl::StrCat("\"{{\" at ", Position(text, i),
                                            " is not closed with \"}}\"; write \\{{ for "
                                            "literal braces")});
      literal.append("{{");
      i += 2;
      continue;
    }
    absl::string_view inside = text.substr(i + 2, close - i - 2);
    absl::string_view name = inside;
    absl::string_view fallback;
    if (size_t bar = inside.find('|'); bar != absl::string_view::npos) {
      name = inside.substr(0, bar);
      fallback = absl::StripAsciiWhitespace(inside.substr(bar + 1));
    }
    name = absl::StripAsciiWhitespace(name);
    if (name.empty()) {
      errors->push_back({path, absl::StrCat("empty placeholder at ", Position(text, i),
                                            "; write {{name}}, e.g. {{work_item.reference}}")});
    } else if (!std::all_of(name.begin(), name.end(), IsNameChar) || !IsKnownPlaceholder(name)) {
      errors->push_back(
          {path, absl::StrCat("unknown placeholder ", Quote(name), " at ", Position(text, i),
                              DidYouMean(absl::AsciiStrToLower(name), PlaceholderNames()),
                              " (docs/templates.md lists the placeholders)")});
    } else {
      flush();
      segments.push_back({std::string(fallback), std::string(name)});
    }
    i = close + 2;
  }
  flush();
  return segments;
}

void Append(const std::vector<CompiledTemplate::Segment>& segments, const Values& values, bool html,
            std::string* out) {
  for (const CompiledTemplate::Segment& s : segments) {
    if (s.placeholder.empty()) {
      out->append(s.text);
      continue;
    }
    absl::string_view value = s.text;
    if (auto it = values.find(s.placeholder); it != values.end() && !it->second.empty()) {
      value = it->second;
    }
    if (html) {
      out->append(EscapeHtml(value));
    } else {
      out->append(value.data(), value.size());
    }
  }
}

}  // namespace

const std::vector<PlaceholderInfo>& KnownPlaceholders() {
  static const auto* list = new std::vector<PlaceholderInfo>{
      {placeholder::kWorkItemId, "the work item's id in the service desk, e.g. 1042"},
      {placeholder::kWorkItemReference, "the work item's reference, e.g. SUP-1042"},
      {placeholder::kWorkItemSubject, "the work item's title (the email subject when created)"},
      {placeholder::kWorkItemQueue, "the queue the work item was routed to"},
      {placeholder::kWorkItemType, "the work item type, e.g. request"},
      {placeholder::kWorkItemPriority, "low, normal, high or urgent"},
      {placeholder::kWorkItemUrl, "a link to the work item, when the service desk has one"},
      {placeholder::kSenderName, "the sender's display name; may be empty"},
      {placeholder::kSenderAddress, "the sender's email address"},
      {placeholder::kConnectorName, "the incoming connector's name, e.g. support"},
      {placeholder::kConnectorAddress, "the connector's primary address, e.g. support@example.com"},
      {placeholder::kMessageSubject, "the subject of the email being acknowledged"},
      {placeholder::kMessageDate, "its Date header as sent"},
      {placeholder::kMessageId, "its Message-ID"},
      {placeholder::kReplyToken,
       "the subject token that ties replies to the work item, e.g. [#SUP-1042]"},
  };
  return *list;
}

bool IsKnownPlaceholder(absl::string_view name) {
  const auto& names = PlaceholderNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string EscapeHtml(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string HeaderSafe(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_break = false;
  for (char c : text) {
    if (c == '\r' || c == '\n') {
      if (!in_break) out += ' ';
      in_break = true;
      continue;
    }
    in_break = false;
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? ' ' : c;
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

std::vector<FieldError> ValidateTemplate(const TemplateSource& source) {
  std::vector<FieldError> errors;
  if (absl::StripAsciiWhitespace(source.subject).empty()) {
    errors.push_back({"subject",
                      "required: the subject of the email, e.g. "
                      "\"Received: {{work_item.subject}} {{reply_token}}\""});
  } else if (source.subject.find_first_of("\r\n") != std::string::npos) {
    errors.push_back({"subject", "must be one line"});
  }
  Parse(source.subject, "subject", &errors);
  if (absl::StripAsciiWhitespace(source.body_text).empty() &&
      absl::StripAsciiWhitespace(source.body_html).empty()) {
    errors.push_back({"body_text", "a template needs body_text or body_html, or both"});
  }
  Parse(source.body_text, "body_text", &errors);
  Parse(source.body_html, "body_html", &errors);
  return errors;
}

absl::StatusOr<CompiledTemplate> CompiledTemplate::Compile(const TemplateSource& source,
                                                           absl::string_view name) {
  std::vector<FieldError> errors = ValidateTemplate(source);
  if (!errors.empty()) {
    return rules::FieldErrorsToStatus(absl::StrCat("template ", Quote(name)), errors);
  }
  CompiledTemplate t;
  t.subject_ = Parse(source.subject, "subject", &errors);
  t.body_text_ = Parse(source.body_text, "body_text", &errors);
  t.body_html_ = Parse(source.body_html, "body_html", &errors);
  return t;
}

RenderedMessage CompiledTemplate::Render(const Values& values) const {
  RenderedMessage out;
  std::string subject;
  Append(subject_, values, false, &subject);
  out.subject = HeaderSafe(subject);
  Append(body_text_, values, false, &out.body_text);
  Append(body_html_, values, true, &out.body_html);
  return out;
}

std::vector<std::string> CompiledTemplate::UsedPlaceholders() const {
  std::set<std::string> names;
  for (const auto* part : {&subject_, &body_text_, &body_html_}) {
    for (const Segment& s : *part) {
      if (!s.placeholder.empty()) names.insert(s.placeholder);
    }
  }
  return {names.begin(), names.end()};
}

absl::StatusOr<RenderedMessage> Render(const TemplateSource& source, const Values& values) {
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile(source);
  if (!t.ok()) return t.status();
  return t->Render(values);
}

}  // namespace postroom::templates
