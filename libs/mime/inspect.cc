#include "libs/mime/inspect.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "libs/mime/charset.h"
#include "libs/mime/new_text.h"
#include "libs/mime/parser.h"

namespace postroom::mime {
namespace {

// JSON output is a handful of fields written once per message; the escaping is the part that
// matters and is below. (Debian's protobuf JSON printer would need a schema for this shape.)

void Key(std::string_view key, std::string& out) {
  out.push_back(',');
  AppendJsonString(key, out);
  out.push_back(':');
}

void StringArray(const std::vector<std::string>& values, std::string& out) {
  out.push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(values[i], out);
  }
  out.push_back(']');
}

void AddressArray(const std::vector<Address>& values, std::string& out) {
  out.push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(values[i].address, out);
  }
  out.push_back(']');
}

}  // namespace

void AppendJsonString(std::string_view text, std::string& out) {
  std::string clean;
  if (!IsValidUtf8(text)) {
    clean = SanitizeUtf8(text);
    text = clean;
  }
  out.push_back('"');
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out.append(buf);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

std::string InspectJsonLine(std::string_view file, std::string_view raw,
                            const InspectOptions& options) {
  std::string out = "{";
  AppendJsonString("file", out);
  out.push_back(':');
  AppendJsonString(file, out);
  Key("bytes", out);
  absl::StrAppend(&out, raw.size());

  absl::StatusOr<ParsedMessage> parsed = ParseMessage(raw, options.limits);
  ParsedMessage empty;
  const ParsedMessage& m = parsed.ok() ? *parsed : empty;
  Classification c;
  std::vector<std::string> suppressed;
  if (parsed.ok()) {
    c = Classify(m, options.classify);
    suppressed = AutoResponseSuppressedReasons(m, options.auto_response);
  }

  Key("message_id", out);
  AppendJsonString(m.message_id, out);
  Key("subject", out);
  AppendJsonString(m.subject, out);
  Key("from", out);
  AppendJsonString(m.from.empty() ? "" : m.from.front().address, out);
  Key("from_name", out);
  AppendJsonString(m.from.empty() ? "" : m.from.front().name, out);
  Key("to", out);
  AddressArray(m.to, out);
  Key("cc", out);
  AddressArray(m.cc, out);
  Key("date", out);
  if (m.date.has_value()) {
    AppendJsonString(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *m.date, absl::UTCTimeZone()), out);
  } else {
    out.append("null");
  }
  Key("in_reply_to", out);
  AppendJsonString(m.in_reply_to, out);
  Key("references", out);
  StringArray(m.references, out);
  Key("classification", out);
  AppendJsonString(MessageKindName(c.kind), out);
  Key("auto_response_suppressed", out);
  out.append(suppressed.empty() ? "false" : "true");
  Key("reasons", out);
  c.reasons.insert(c.reasons.end(), suppressed.begin(), suppressed.end());
  StringArray(c.reasons, out);
  Key("bounce", out);
  if (c.has_bounce) {
    out.push_back('{');
    AppendJsonString("type", out);
    out.push_back(':');
    AppendJsonString(BounceTypeName(c.bounce.type), out);
    Key("original_message_id", out);
    AppendJsonString(c.bounce.original_message_id, out);
    Key("recipients", out);
    StringArray(c.bounce.recipients, out);
    Key("status", out);
    AppendJsonString(c.bounce.status, out);
    Key("diagnostic", out);
    AppendJsonString(c.bounce.diagnostic, out);
    Key("reporting_mta", out);
    AppendJsonString(c.bounce.reporting_mta, out);
    Key("feedback_type", out);
    AppendJsonString(c.bounce.feedback_type, out);
    out.push_back('}');
  } else {
    out.append("null");
  }
  Key("importance", out);
  AppendJsonString(ImportanceName(m.importance), out);
  Key("text_bytes", out);
  absl::StrAppend(&out, m.text_body.size());
  Key("html_bytes", out);
  absl::StrAppend(&out, m.html_body.size());
  Key("new_text", out);
  AppendJsonString(NewText(m), out);
  Key("attachments", out);
  out.push_back('[');
  for (size_t i = 0; i < m.attachments.size(); ++i) {
    const Attachment& a = m.attachments[i];
    if (i > 0) out.push_back(',');
    out.push_back('{');
    AppendJsonString("filename", out);
    out.push_back(':');
    AppendJsonString(a.filename, out);
    Key("content_type", out);
    AppendJsonString(a.content_type, out);
    Key("size", out);
    absl::StrAppend(&out, a.size);
    Key("inline", out);
    out.append(a.is_inline ? "true" : "false");
    out.push_back('}');
  }
  out.push_back(']');
  Key("defects", out);
  StringArray(m.defects, out);
  if (!parsed.ok()) {
    Key("error", out);
    AppendJsonString(std::string(parsed.status().message()), out);
  }
  out.push_back('}');
  return out;
}

}  // namespace postroom::mime
