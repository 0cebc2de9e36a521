// The work item a created decision makes: its fields and attachments as the route resolves them.
#include "absl/strings/str_cat.h"
#include "libs/mime/attachments.h"
#include "libs/mime/new_text.h"
#include "services/router/core/addresses.h"
#include "services/router/core/internal.h"
#include "services/router/core/json.h"

namespace postroom::router {
namespace {

// The body is cut here: a work item is read by people, the message keeps every byte.
constexpr size_t kMaxWorkItemBody = 256 << 10;

// At most `max` bytes of UTF-8 text, never ending inside a character: PostgreSQL refuses a
// text value with half of one.
std::string CutUtf8(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return std::string(text.substr(0, n));
}

std::string FieldsJson(const std::vector<rules::ResolvedField>& fields) {
  JsonObject o;
  for (const rules::ResolvedField& f : fields) o.Str(f.name, f.value);
  return o.Done();
}

// The message's attachments with their SHA-256: hashed by Analyze when the connector's routes
// list files (ConnectorConfig::lists_attachments), else decoded once more here. Without the
// bytes (or should that fail), as parsed, without it.
std::vector<mime::Attachment> HashedAttachments(const Router::ConnectorConfig& cfg,
                                                const Router::Analysis& a) {
  bool hashed = true;
  for (const mime::Attachment& at : a.parsed.attachments) hashed = hashed && !at.sha256.empty();
  if (hashed) return a.parsed.attachments;
  if (a.have_raw && !a.raw.empty()) {
    absl::StatusOr<std::vector<mime::Attachment>> listed = mime::ListAttachments(a.raw,
                                                                                 cfg.parse_limits);
    if (listed.ok() && listed->size() == a.parsed.attachments.size()) return *std::move(listed);
  }
  return a.parsed.attachments;
}

std::string AttachmentsJson(const Router::ConnectorConfig& cfg, const Router::Analysis& a,
                            const std::vector<rules::ResolvedField>& fields) {
  bool eml = false, files = false;
  std::string eml_name;
  for (const rules::ResolvedField& f : fields) {
    if (f.attach_original_eml) {
      eml = true;
      eml_name = f.name;
    }
    files = files || f.attach_attachments;
  }
  std::string out = "[";
  auto add = [&](std::string json) {
    if (out.size() > 1) out += ',';
    out += json;
  };
  if (files) {
    std::vector<mime::Attachment> listed = HashedAttachments(cfg, a);
    for (size_t i = 0; i < listed.size(); ++i) {
      const mime::Attachment& at = listed[i];
      if (at.is_inline) continue;
      // The index is GetAttachment's, so the desk can fetch the file.
      add(JsonObject()
              .Num("index", static_cast<int64_t>(i))
              .Str("filename", at.filename)
              .Str("content_type", at.content_type)
              .Num("size", static_cast<int64_t>(at.size))
              .Str("content_id", at.content_id)
              .Str("disposition", at.disposition)
              .Str("sha256", at.sha256)
              .Done());
    }
  }
  if (eml) {
    add(JsonObject()
            .Str("filename", absl::StrCat(eml_name, ".eml"))
            .Str("content_type", "message/rfc822")
            .Num("size", static_cast<int64_t>(a.raw_size))
            .Bool("original_eml", true)
            .Done());
  }
  return out + "]";
}

}  // namespace

store::WorkItemRecord NewWorkItem(const Router::ConnectorConfig& cfg, const Router::Analysis& a,
                                  const rules::Actions& act, bool test_mode) {
  std::vector<rules::ResolvedField> fields = rules::ResolveFields(act, a.facts, a.have_raw);
  store::WorkItemRecord wi;
  wi.queue = act.queue;
  wi.type = act.work_item_type;
  wi.priority = rules::PriorityName(act.priority);
  // Mail from one of our own addresses or aliases (a colleague writing from the shared
  // mailbox, a forward) names no customer: it never becomes the requester.
  if (!IsOwnAddress(cfg.auto_response.own_addresses, a.sender)) {
    wi.requester_address = a.sender;
    wi.requester_name = a.sender_name;
  }
  wi.subject = a.parsed.subject;
  wi.body = CutUtf8(a.facts.body_text, kMaxWorkItemBody);
  wi.template_name = act.work_item_template;
  wi.fields_json = FieldsJson(fields);
  wi.attachments_json = AttachmentsJson(cfg, a, fields);
  wi.test_mode = test_mode;
  return wi;
}

std::string MessageNewText(const Router::Analysis& a) {
  return CutUtf8(mime::NewText(a.parsed), store::kMaxNewTextBytes);
}

}  // namespace postroom::router
