#include "libs/mail/smtp_message.h"

#include <gmime/gmime.h>

#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace postroom::mail {
namespace {

void InitGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

bool HasLineBreak(const std::string& s) {
  return s.find('\r') != std::string::npos || s.find('\n') != std::string::npos;
}

bool OwnHeader(const std::string& name) {
  std::string n = absl::AsciiStrToLower(name);
  return n == "from" || n == "to" || n == "cc" || n == "bcc" || n == "reply-to" || n == "subject" ||
         n == "date" || n == "message-id" || n == "mime-version" || absl::StartsWith(n, "content-");
}

GMimeTextPart* TextPart(const char* subtype, const std::string& text) {
  GMimeTextPart* part = g_mime_text_part_new_with_subtype(subtype);
  g_mime_text_part_set_text(part, text.c_str());  // Sets the charset it finds fitting.
  GMimePart* p = GMIME_PART(part);
  g_mime_part_set_content_encoding(
      p, g_mime_part_get_best_content_encoding(p, GMIME_ENCODING_CONSTRAINT_7BIT));
  return part;
}

// The body: text/plain, or multipart/alternative with the text part first.
GMimeObject* BodyPart(const OutgoingEmail& e) {
  if (e.body_html.empty()) return GMIME_OBJECT(TextPart("plain", e.body_text));
  GMimeMultipart* alt = g_mime_multipart_new_with_subtype("alternative");
  GMimeTextPart* text = TextPart("plain", e.body_text);
  GMimeTextPart* html = TextPart("html", e.body_html);
  g_mime_multipart_add(alt, GMIME_OBJECT(text));
  g_mime_multipart_add(alt, GMIME_OBJECT(html));
  g_object_unref(text);
  g_object_unref(html);
  return GMIME_OBJECT(alt);
}

GMimeObject* AttachmentPart(const OutgoingAttachment& a) {
  std::string type = "application", subtype = "octet-stream";
  size_t slash = a.content_type.find('/');
  auto token = [](const std::string& s) {
    return !s.empty() && s.find_first_of(" ;\"\t/()<>@,:[]?=") == std::string::npos;
  };
  if (slash != std::string::npos && token(a.content_type.substr(0, slash)) &&
      token(a.content_type.substr(slash + 1))) {
    type = absl::AsciiStrToLower(a.content_type.substr(0, slash));
    subtype = absl::AsciiStrToLower(a.content_type.substr(slash + 1));
  }
  GMimePart* part = g_mime_part_new_with_type(type.c_str(), subtype.c_str());
  g_mime_part_set_filename(part, a.filename.c_str());  // Also sets Content-Disposition.
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(a.content.data(), a.content.size());
  GMimeDataWrapper* wrapper =
      g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
  g_mime_part_set_content(part, wrapper);
  g_object_unref(wrapper);
  g_object_unref(stream);
  g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
  return GMIME_OBJECT(part);
}

}  // namespace

absl::StatusOr<std::string> RenderEmail(const OutgoingEmail& e) {
  if (e.from.empty() || e.to.empty() || e.message_id.empty()) {
    return absl::InvalidArgumentError("email: from, to and message_id are required");
  }
  for (const std::string* s :
       {&e.from, &e.from_name, &e.to, &e.reply_to, &e.subject, &e.message_id}) {
    if (HasLineBreak(*s)) {
      return absl::InvalidArgumentError(
          absl::StrCat("email: a header value holds a line break: \"", *s, "\""));
    }
  }
  for (const std::string& cc : e.cc) {
    if (cc.empty() || HasLineBreak(cc)) {
      return absl::InvalidArgumentError("email: a Cc address is empty or holds a line break");
    }
  }
  for (const OutgoingAttachment& a : e.attachments) {
    if (a.filename.empty() || HasLineBreak(a.filename) || HasLineBreak(a.content_type)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "email: attachment \"", a.filename, "\" has no name or a line break in its name or type"));
    }
  }
  for (const auto& [name, value] : e.headers) {
    if (HasLineBreak(name) || HasLineBreak(value) || name.empty() ||
        name.find(':') != std::string::npos || name.find(' ') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("email: header \"", name, "\" has a bad name or a line break"));
    }
  }
  InitGMime();
  GMimeMessage* msg = g_mime_message_new(TRUE);
  g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM,
                             e.from_name.empty() ? nullptr : e.from_name.c_str(), e.from.c_str());
  g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, nullptr, e.to.c_str());
  for (const std::string& cc : e.cc) {
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_CC, nullptr, cc.c_str());
  }
  if (!e.reply_to.empty()) {
    // The value may be a list or carry a display name: parse it as an address list.
    InternetAddressList* list = internet_address_list_parse(nullptr, e.reply_to.c_str());
    if (list != nullptr) {
      internet_address_list_append(g_mime_message_get_reply_to(msg), list);
      g_object_unref(list);
    }
  }
  g_mime_message_set_subject(msg, e.subject.c_str(), "utf-8");
  g_mime_message_set_message_id(msg, e.message_id.c_str());
  GDateTime* date = g_date_time_new_from_unix_utc(absl::ToUnixSeconds(e.date));
  g_mime_message_set_date(msg, date);
  g_date_time_unref(date);
  for (const auto& [name, value] : e.headers) {
    if (OwnHeader(name)) continue;
    g_mime_object_set_header(GMIME_OBJECT(msg), name.c_str(), value.c_str(), "utf-8");
  }
  GMimeObject* body = BodyPart(e);
  if (!e.attachments.empty()) {
    GMimeMultipart* mixed = g_mime_multipart_new_with_subtype("mixed");
    g_mime_multipart_add(mixed, body);
    g_object_unref(body);
    for (const OutgoingAttachment& a : e.attachments) {
      GMimeObject* part = AttachmentPart(a);
      g_mime_multipart_add(mixed, part);
      g_object_unref(part);
    }
    body = GMIME_OBJECT(mixed);
  }
  g_mime_message_set_mime_part(msg, body);
  g_object_unref(body);
  GMimeFormatOptions* opts = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(opts, GMIME_NEWLINE_FORMAT_DOS);
  char* raw = g_mime_object_to_string(GMIME_OBJECT(msg), opts);
  std::string out = raw != nullptr ? raw : "";
  g_free(raw);
  g_mime_format_options_free(opts);
  g_object_unref(msg);
  if (out.empty()) return absl::InternalError("email: GMime produced no text");
  return out;
}

}  // namespace postroom::mail
