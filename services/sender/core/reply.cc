#include "services/sender/core/reply.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/connector/decode.h"
#include "libs/connector/defaults.h"
#include "libs/secrets/reply_token.h"
#include "re2/re2.h"

namespace postroom::sender {
namespace {

bool HasControl(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A bare addr-spec with a dotted domain: no display name, quotes, commas or spaces (the row
// keeps Cc comma-separated, and the Postfix habit of completing "whomever" to its own domain
// must not apply to a copy).
bool PlainAddress(const std::string& s) {
  static const LazyRE2 kAddress = {R"([^\s@,;:<>()\[\]"\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)"};
  return s.size() <= 254 && RE2::FullMatch(s, *kAddress);
}

bool ContentType(const std::string& s) {
  static const LazyRE2 kType = {R"([A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+)"};
  return s.size() <= 127 && RE2::FullMatch(s, *kType);
}

std::string Lower(const std::string& s) { return absl::AsciiStrToLower(s); }

// The address the requester wrote to: the first of the work item's first message's recipients
// (the router's stored sent_to first, then To and Cc for older rows) that is the connector's
// primary address or one of its aliases; else the primary address.
std::string FromAddress(const v1::Connector& spec, const std::vector<std::string>& recipients) {
  std::vector<std::string> own = {Lower(spec.primary_address())};
  for (const std::string& a : spec.aliases()) own.push_back(Lower(a));
  for (const std::string& r : recipients) {
    std::string lower = Lower(r);
    if (!lower.empty() && std::find(own.begin(), own.end(), lower) != own.end()) return lower;
  }
  return own.front();
}

// A Message-ID as stored (no angle brackets) that is safe to write back into a header.
bool UsableMessageId(const std::string& id) {
  return !id.empty() && id.size() <= 998 && id.find_first_of(" \t\r\n<>") == std::string::npos;
}

}  // namespace

absl::Status ValidateReply(const ReplyRequest& r, const ReplyLimits& limits) {
  if (r.work_item_id <= 0) {
    return absl::InvalidArgumentError("work_item_id: required, a positive work item id");
  }
  if (absl::StripAsciiWhitespace(r.text).empty() && absl::StripAsciiWhitespace(r.html).empty()) {
    return absl::InvalidArgumentError("text: a reply needs a body: text, html or both");
  }
  if (r.cc.size() > static_cast<size_t>(limits.max_cc)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cc: ", r.cc.size(), " addresses; at most ", limits.max_cc));
  }
  for (size_t i = 0; i < r.cc.size(); ++i) {
    if (!PlainAddress(r.cc[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cc[", i, "]: \"", absl::CHexEscape(r.cc[i].substr(0, 100)),
          "\" is not an email address (local@domain.tld, without a name)"));
    }
  }
  if (r.idempotency_key.size() > limits.max_idempotency_key_bytes ||
      HasControl(r.idempotency_key)) {
    return absl::InvalidArgumentError(absl::StrCat("idempotency_key: at most ",
                                                   limits.max_idempotency_key_bytes,
                                                   " bytes without control characters"));
  }
  if (r.attachments.size() > static_cast<size_t>(limits.max_attachments)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attachments: ", r.attachments.size(), " files; at most ", limits.max_attachments));
  }
  for (size_t i = 0; i < r.attachments.size(); ++i) {
    const store::OutboxAttachment& a = r.attachments[i];
    const std::string path = absl::StrCat("attachments[", i, "]");
    if (a.filename.empty() || a.filename.size() > limits.max_filename_bytes ||
        HasControl(a.filename)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".filename: required, at most ", limits.max_filename_bytes,
                       " bytes without control characters"));
    }
    if (!a.content_type.empty() && !ContentType(a.content_type)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ".content_type: \"", absl::CHexEscape(a.content_type.substr(0, 100)),
          "\" is not type/subtype (e.g. application/pdf); leave it empty for "
          "application/octet-stream"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<store::OutboxItem> ComposeReply(const ReplyRequest& r,
                                               const store::ReplyContext& ctx,
                                               const std::string& reply_token_key,
                                               absl::Time now) {
  uint64_t max_bytes = connector::kDefaults.max_message_bytes;
  if (!ctx.outgoing_spec.empty()) {
    absl::StatusOr<v1::Connector> out =
        connector::DecodeSpec(ctx.outgoing_connector, ctx.outgoing_spec);
    if (!out.ok()) return out.status();
    if (out->settings().max_message_bytes() > 0) max_bytes = out->settings().max_message_bytes();
  }
  uint64_t total = r.text.size() + r.html.size();
  for (const store::OutboxAttachment& a : r.attachments) total += a.content.size();
  if (total > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attachments: the reply holds ", total, " bytes of bodies and attachments, over the ",
        "outgoing connector \"", ctx.outgoing_connector.empty() ? "(default)" : ctx.outgoing_connector,
        "\"'s max_message_bytes ", max_bytes, "; send fewer or smaller files"));
  }
  if (ctx.requester_address.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "work item ", ctx.reference, " has no requester address to reply to"));
  }
  store::OutboxItem o;
  o.connector_id = ctx.outgoing_connector_id;
  o.reason = "reply";
  o.to_address = ctx.requester_address;
  o.cc = r.cc;
  o.body_text = r.text;
  o.body_html = r.html;
  o.work_item_id = ctx.work_item_id;
  o.message_id = ctx.last_message_id;
  if (!r.idempotency_key.empty()) {
    o.dedupe_key = absl::StrCat("reply:", ctx.work_item_id, ":", r.idempotency_key);
  }
  std::string primary;
  if (!ctx.connector_spec.empty()) {
    absl::StatusOr<v1::Connector> in = connector::DecodeSpec(ctx.connector, ctx.connector_spec);
    if (!in.ok()) return in.status();
    primary = Lower(in->primary_address());
    if (!primary.empty()) o.from_address = FromAddress(*in, ctx.first_recipients);
  }
  const std::string token = absl::StrCat("[#", ctx.reference, "]");
  std::string subject = ctx.subject;
  if (!absl::StartsWithIgnoreCase(subject, "re:")) subject = absl::StrCat("Re: ", subject);
  if (!absl::StrContains(subject, token)) subject = absl::StrCat(subject, " ", token);
  o.subject = subject;

  // Extra headers as the router writes them for acknowledgements: one JSON object of strings.
  std::vector<std::string> refs;
  for (const std::string& id : ctx.message_ids) {
    if (UsableMessageId(id)) refs.push_back(absl::StrCat("<", id, ">"));
  }
  std::vector<std::pair<std::string, std::string>> headers;  // Sent in name order.
  if (!refs.empty()) {
    headers.emplace_back("In-Reply-To", refs.back());
    headers.emplace_back("References", absl::StrJoin(refs, " "));
  }
  if (!reply_token_key.empty() && !primary.empty()) {
    headers.emplace_back("Reply-To", secrets::ReplyTokenAddress(
                                         primary, secrets::MakeReplyToken(reply_token_key,
                                                                          ctx.work_item_id, now)));
  }
  headers.emplace_back("X-Postroom-Work-Item", ctx.reference);
  google::protobuf::Struct json;
  for (const auto& [name, value] : headers) {
    (*json.mutable_fields())[name].set_string_value(value);
  }
  o.headers_json.clear();  // MessageToJsonString appends.
  if (!google::protobuf::util::MessageToJsonString(json, &o.headers_json).ok()) {
    return absl::InternalError("reply headers: cannot be written as JSON");
  }
  return o;
}

}  // namespace postroom::sender
