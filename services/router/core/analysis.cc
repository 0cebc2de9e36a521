// Parsing and classifying one message into what the pipeline's steps compare (internal.h).
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/strip.h"
#include "libs/base/sha256.h"
#include "libs/base/status_macros.h"
#include "libs/mime/attachments.h"
#include "libs/mime/html_text.h"
#include "libs/mime/inspect.h"
#include "libs/mime/parser.h"
#include "services/router/core/addresses.h"
#include "services/router/core/internal.h"
#include "services/router/core/json.h"

namespace postroom::router {
namespace {

// Outlook's Thread-Index: base64 of a 22-byte header (the conversation) and 5 bytes per reply.
std::string ThreadRoot(const mime::ParsedMessage& m) {
  const mime::Header* h = m.FindHeader("Thread-Index");
  if (h == nullptr) return "";
  std::string decoded;
  std::string value(absl::StripAsciiWhitespace(h->value));
  value.erase(std::remove_if(value.begin(), value.end(), [](char c) { return c == ' '; }),
              value.end());
  if (!absl::Base64Unescape(value, &decoded) || decoded.size() < 22) return "";
  return absl::BytesToHexString(decoded.substr(0, 22));
}

rules::Importance ImportanceOf(mime::Importance i) {
  switch (i) {
    case mime::Importance::kLow: return rules::Importance::kLow;
    case mime::Importance::kHigh: return rules::Importance::kHigh;
    default: return rules::Importance::kNormal;
  }
}

}  // namespace

absl::StatusOr<Router::Analysis> Analyze(const Router::ConnectorConfig& cfg,
                                         const std::string& raw, const std::string& folder,
                                         const std::string& queue_hint,
                                         const std::string& known_sha256) {
  Router::Analysis a;
  POSTROOM_ASSIGN_OR_RETURN(a.parsed, cfg.lists_attachments
                                          ? mime::ParseMessageWithHashes(raw, cfg.parse_limits)
                                          : mime::ParseMessage(raw, cfg.parse_limits));
  a.raw_size = raw.size();
  a.have_raw = true;
  a.raw = raw;
  a.cls = mime::Classify(a.parsed, cfg.classify);
  a.auto_response = mime::AutoResponseSuppressedReasons(a.parsed, cfg.auto_response);
  const mime::ParsedMessage& p = a.parsed;
  // The requester: From, else Sender, else Reply-To, else the envelope sender (Return-Path),
  // so mail from broken or minimal clients still names whom the work item is for.
  const mime::Address* from = !p.from.empty()     ? &p.from[0]
                              : !p.sender.empty()   ? &p.sender[0]
                              : !p.reply_to.empty() ? &p.reply_to[0]
                                                    : nullptr;
  if (from != nullptr && !from->address.empty()) {
    a.sender = from->address;
    a.sender_name = from->name;
  } else if (!p.return_path.empty()) {
    a.sender = p.return_path;
  }
  rules::MessageFacts& f = a.facts;
  f.subject = p.subject;
  f.body_text = mime::BodyText(p);
  f.from_address = a.sender;
  f.from_name = a.sender_name;
  AppendAddresses(p.to, f.to);
  AppendAddresses(p.cc, f.cc);
  AppendAddresses(p.delivered_to, f.delivered_to);
  AppendAddresses(p.x_original_to, f.x_original_to);
  f.sent_to = SentTo(cfg.own, f);
  f.headers.reserve(p.headers.size());
  for (const mime::Header& h : p.headers) f.headers.emplace_back(h.name, h.value);
  for (const mime::Attachment& at : p.attachments) {
    f.attachments.push_back({at.filename, at.content_type, at.size, at.is_inline});
  }
  f.importance = ImportanceOf(p.importance);
  f.folder = folder;
  f.queue_hint = queue_hint;
  a.sha256 = known_sha256.empty() ? Sha256(raw) : known_sha256;
  a.thread_root = ThreadRoot(p);
  return a;
}

std::string SummaryJson(const Router::Analysis& a, const store::BounceWrite* bounce) {
  std::vector<std::string> to, cc;
  AppendAddresses(a.parsed.to, to);
  AppendAddresses(a.parsed.cc, cc);
  JsonObject o;
  if (a.cls.has_bounce) o.Raw("bounce", BounceSummaryJson(a.cls.bounce, bounce));
  return o
      .Str("subject", a.parsed.subject)
      .Str("from", a.sender)
      .Str("from_name", a.sender_name)
      .StrList("to", to)
      .StrList("cc", cc)
      .Str("sent_to", a.facts.sent_to)
      .Str("classification", mime::MessageKindName(a.cls.kind))
      .StrList("reasons", a.cls.reasons)
      .Num("attachments", static_cast<int64_t>(a.parsed.attachments.size()))
      .StrList("defects", a.parsed.defects)
      .Done();
}

}  // namespace postroom::router
