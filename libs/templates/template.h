#pragma once

// Acknowledgement and notification templates: text with {{placeholders}} (docs/templates.md).
//
// The config service validates a template when it is saved (ValidateTemplate); the router and
// the sender compile a stored template and render it with the values of one work item.
// Syntax: `{{name}}` inserts a value, `{{name|default text}}` inserts the default when the
// value is empty, `\{{` and `\}}` write literal braces; single braces are plain text.
//
// Hand-written rather than a template engine: Debian ships no C++ Mustache/Jinja library,
// and the language is one substitution with a default, plus the escaping rules below.
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/rules/field_error.h"

namespace postroom::templates {

using rules::FieldError;

// The placeholder names, for the code that fills Values.
namespace placeholder {
inline constexpr char kWorkItemId[] = "work_item.id";
inline constexpr char kWorkItemReference[] = "work_item.reference";
inline constexpr char kWorkItemSubject[] = "work_item.subject";
inline constexpr char kWorkItemQueue[] = "work_item.queue";
inline constexpr char kWorkItemType[] = "work_item.type";
inline constexpr char kWorkItemPriority[] = "work_item.priority";
inline constexpr char kWorkItemUrl[] = "work_item.url";
inline constexpr char kSenderName[] = "sender.name";
inline constexpr char kSenderAddress[] = "sender.address";
inline constexpr char kConnectorName[] = "connector.name";
inline constexpr char kConnectorAddress[] = "connector.address";
inline constexpr char kMessageSubject[] = "message.subject";
inline constexpr char kMessageDate[] = "message.date";
inline constexpr char kMessageId[] = "message.id";
inline constexpr char kReplyToken[] = "reply_token";
}  // namespace placeholder

struct PlaceholderInfo {
  std::string name;
  std::string description;
};

// Every placeholder a template may use, in documentation order.
const std::vector<PlaceholderInfo>& KnownPlaceholders();
bool IsKnownPlaceholder(absl::string_view name);

// A template as stored (postroom.v1.Template without its bookkeeping).
struct TemplateSource {
  std::string subject;    // One line; required.
  std::string body_text;  // Plain text part; values are inserted as they are.
  std::string body_html;  // HTML part; values are HTML-escaped. Empty: no HTML part.
};

struct RenderedMessage {
  std::string subject;  // Header-safe: no CR, LF or other control characters.
  std::string body_text;
  std::string body_html;  // Empty when the template has none.

  bool operator==(const RenderedMessage&) const = default;
};

// Placeholder values by name; names not used by the template are ignored, missing ones
// render as their default or "".
using Values = absl::flat_hash_map<std::string, std::string>;

// Every problem of the template, with path "subject", "body_text" or "body_html" and the line
// and column in the message: unknown placeholders, unclosed `{{`, stray `}}`, empty `{{}}`,
// a multi-line subject, a missing subject or body. Empty when valid.
std::vector<FieldError> ValidateTemplate(const TemplateSource& source);

// A parsed template. Immutable; Render is const and thread-safe.
class CompiledTemplate {
 public:
  // INVALID_ARGUMENT listing every ValidateTemplate problem, naming the template `name`.
  static absl::StatusOr<CompiledTemplate> Compile(const TemplateSource& source,
                                                  absl::string_view name = "template");

  RenderedMessage Render(const Values& values) const;

  // The distinct placeholder names the template uses, sorted.
  std::vector<std::string> UsedPlaceholders() const;

  struct Segment {
    std::string text;         // Literal text, or the default for a placeholder.
    std::string placeholder;  // Empty: a literal segment.
  };

 private:
  std::vector<Segment> subject_;
  std::vector<Segment> body_text_;
  std::vector<Segment> body_html_;
};

// Compile + Render in one call.
absl::StatusOr<RenderedMessage> Render(const TemplateSource& source, const Values& values);

// `&`, `<`, `>`, `"` and `'` as HTML entities.
std::string EscapeHtml(absl::string_view text);

// One header line: each run of CR/LF becomes one space, other control characters (tab
// included) become spaces, and outer whitespace is trimmed. Guards against header injection
// through a subject or a value.
std::string HeaderSafe(absl::string_view text);

}  // namespace postroom::templates
