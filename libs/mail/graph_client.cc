#include "libs/mail/graph_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/status_macros.h"
#include "libs/mail/json_value.h"
#include "libs/mail/mail_error.h"

namespace postroom::mail {
namespace {

constexpr char kGraphStatusPayload[] = "type.postroom.dev/postroom.mail.GraphHttpStatus";

// "https://host:port" of a URL.
std::string Origin(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  size_t slash = url.find('/', scheme + 3);
  return url.substr(0, slash);
}

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

Value Text(const std::string& s) {
  Value v;
  v.set_string_value(s);
  return v;
}

Value Flag(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}

Value Object(Struct s) {
  Value v;
  *v.mutable_struct_value() = std::move(s);
  return v;
}

// {"emailAddress": {"address": ..., "name": ...}}, from "Name <address>" or a bare address.
Value Recipient(const std::string& address, const std::string& name) {
  std::string a = address, n = name;
  const size_t lt = address.rfind('<');
  if (n.empty() && lt != std::string::npos && absl::EndsWith(address, ">")) {
    a = address.substr(lt + 1, address.size() - lt - 2);
    n = std::string(absl::StripAsciiWhitespace(address.substr(0, lt)));
    if (n.size() >= 2 && n.front() == '"' && n.back() == '"') n = n.substr(1, n.size() - 2);
  }
  Struct email;
  (*email.mutable_fields())["address"] = Text(a);
  if (!n.empty()) (*email.mutable_fields())["name"] = Text(n);
  Struct r;
  (*r.mutable_fields())["emailAddress"] = Object(std::move(email));
  return Object(std::move(r));
}

Value ListOf(std::vector<Value> items) {
  Value v;
  for (Value& item : items) *v.mutable_list_value()->add_values() = std::move(item);
  return v;
}

bool IsXHeader(const std::string& name) {
  return name.size() > 2 && (name[0] == 'X' || name[0] == 'x') && name[1] == '-';
}

// fileAttachment as POST .../attachments and the message's attachments take it.
Struct FileAttachment(const GraphAttachment& a) {
  Struct f;
  auto& fields = *f.mutable_fields();
  fields["@odata.type"] = Text("#microsoft.graph.fileAttachment");
  fields["name"] = Text(a.name);
  fields["contentType"] = Text(a.content_type);
  fields["contentBytes"] = Text(absl::Base64Escape(a.bytes));
  fields["isInline"] = Flag(!a.content_id.empty());
  if (!a.content_id.empty()) fields["contentId"] = Text(a.content_id);
  return f;
}

std::string ToJsonText(const Struct& s) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(s, &out);
  return out;
}

uint64_t Base64Size(uint64_t n) { return (n + 2) / 3 * 4; }

// The first byte of an upload session's nextExpectedRanges ("12345-" or "12345-67890").
std::optional<uint64_t> NextExpectedByte(const std::string& body) {
  absl::StatusOr<Value> json = ParseJson(body);
  const Value* ranges = json.ok() ? JsonField(*json, "nextExpectedRanges") : nullptr;
  if (ranges == nullptr || !ranges->has_list_value() || ranges->list_value().values_size() == 0) {
    return std::nullopt;
  }
  const std::string& first = ranges->list_value().values(0).string_value();
  uint64_t byte = 0;
  if (!absl::SimpleAtoi(first.substr(0, first.find('-')), &byte)) return std::nullopt;
  return byte;
}

}  // namespace

std::vector<std::string> DroppedHeaders(const GraphMessage& m) {
  std::vector<std::string> out;
  for (const auto& [name, value] : m.headers) {
    if (!IsXHeader(name)) out.push_back(name);
  }
  return out;
}

namespace {

Struct MessageResource(const GraphMessage& m, uint64_t inline_limit) {
  Struct msg;
  auto& f = *msg.mutable_fields();
  f["subject"] = Text(m.subject);
  Struct body;
  (*body.mutable_fields())["contentType"] = Text(m.body_html.empty() ? "text" : "html");
  (*body.mutable_fields())["content"] = Text(m.body_html.empty() ? m.body_text : m.body_html);
  f["body"] = Object(std::move(body));
  f["toRecipients"] = ListOf({Recipient(m.to, "")});
  if (!m.cc.empty()) {
    std::vector<Value> cc;
    for (const std::string& a : m.cc) cc.push_back(Recipient(a, ""));
    f["ccRecipients"] = ListOf(std::move(cc));
  }
  if (!m.from.empty()) f["from"] = Recipient(m.from, m.from_name);
  if (!m.reply_to.empty()) f["replyTo"] = ListOf({Recipient(m.reply_to, "")});
  std::vector<Value> headers;
  for (const auto& [name, value] : m.headers) {
    if (!IsXHeader(name)) continue;  // Graph refuses any other name there (DroppedHeaders).
    Struct h;
    (*h.mutable_fields())["name"] = Text(name);
    (*h.mutable_fields())["value"] = Text(value);
    headers.push_back(Object(std::move(h)));
  }
  if (!headers.empty()) f["internetMessageHeaders"] = ListOf(std::move(headers));
  std::vector<Value> attachments;
  for (const GraphAttachment& a : m.attachments) {
    if (inline_limit > 0 && a.bytes.size() <= inline_limit) {
      attachments.push_back(Object(FileAttachment(a)));
    }
  }
  if (!attachments.empty()) f["attachments"] = ListOf(std::move(attachments));
  return msg;
}

}  // namespace

std::string GraphMessageJson(const GraphMessage& m, uint64_t inline_limit) {
  return ToJsonText(MessageResource(m, inline_limit));
}

RetryDecision DecideRetry(int http_status, const std::string& retry_after, int attempt,
                          const GraphOptions& o, absl::Time now) {
  RetryDecision d;
  if (http_status != 429 && http_status != 503) {
    d.reason = "not a throttling answer";
    return d;
  }
  if (attempt >= o.max_throttle_retries) {
    d.reason = absl::StrCat("still throttled after ", attempt, " retries");
    return d;
  }
  absl::Duration wait = absl::Seconds(int64_t{1} << std::min(attempt, 6));
  std::string v(absl::StripAsciiWhitespace(retry_after));
  int64_t seconds = 0;
  absl::Time when;
  std::string err;
  if (!v.empty() && absl::SimpleAtoi(v, &seconds)) {
    wait = absl::Seconds(std::max<int64_t>(0, seconds));
  } else if (!v.empty() && absl::ParseTime(absl::RFC1123_full, v, &when, &err)) {
    wait = std::max(absl::ZeroDuration(), when - now);
  }
  if (wait > o.max_retry_after) {
    d.reason = absl::StrCat("Retry-After ", absl::FormatDuration(wait), " is over the limit of ",
                            absl::FormatDuration(o.max_retry_after));
    return d;
  }
  d.retry = true;
  d.wait = wait;
  return d;
}

absl::Status GraphHttpError(const std::string& what, int status, const std::string& body) {
  std::string code, message;
  absl::StatusOr<google::protobuf::Value> json = ParseJson(body);
  if (json.ok()) {
    if (const google::protobuf::Value* e = JsonField(*json, "error"); e != nullptr) {
      code = JsonString(*e, "code");
      message = JsonString(*e, "message");
    }
  }
  if (code.empty() && message.empty()) message = body.substr(0, 200);
  std::string words = absl::StrCat(what, ": HTTP ", status, code.empty() ? "" : " ", code,
                                   message.empty() ? "" : ": ", message);
  MailErrorClass c;
  if (status == 401 || status == 403) {
    // 403 ErrorAccessDenied: the app registration lacks Mail.ReadWrite or the mailbox is outside
    // its application access policy; a person has to fix it, like a wrong password.
    c = MailErrorClass::kAuthentication;
  } else if (status == 429 || status == 503) {
    c = MailErrorClass::kThrottled;
  } else if (status == 502 || status == 504) {
    c = MailErrorClass::kNetwork;  // a gateway between us and the mailbox: try again
  } else {
    c = MailErrorClass::kServer;  // 400 bad request, 404 folder or message not found, 500 ...
  }
  absl::Status st = MailError(c, words);
  st.SetPayload(kGraphStatusPayload, absl::Cord(std::to_string(status)));
  return st;
}

namespace {

constexpr char kGraphTooLargePayload[] = "type.postroom.dev/postroom.mail.GraphTooLarge";

absl::Status TooLarge(const std::string& message) {
  absl::Status st = MailError(MailErrorClass::kOther, message);
  st.SetPayload(kGraphTooLargePayload, absl::Cord("1"));
  return st;
}

}  // namespace

bool GraphMessageTooLarge(const absl::Status& status) {
  return status.GetPayload(kGraphTooLargePayload).has_value();
}

int GraphHttpStatus(const absl::Status& status) {
  absl::optional<absl::Cord> p = status.GetPayload(kGraphStatusPayload);
  int code = 0;
  if (!p.has_value() || !absl::SimpleAtoi(std::string(*p), &code)) return 0;
  return code;
}

absl::StatusOr<GraphDeltaPage> ParseDeltaPage(const std::string& body) {
  absl::StatusOr<google::protobuf::Value> json = ParseJson(body);
  if (!json.ok()) {
    return MailError(MailErrorClass::kProtocol,
                     absl::StrCat("graph delta page is ", json.status().message()));
  }
  GraphDeltaPage page;
  page.next_link = JsonString(*json, "@odata.nextLink");
  page.delta_link = JsonString(*json, "@odata.deltaLink");
  const google::protobuf::Value* value = JsonField(*json, "value");
  if (value == nullptr || !value->has_list_value()) {
    return MailError(MailErrorClass::kProtocol, "graph delta page has no \"value\" array");
  }
  if (page.next_link.empty() == page.delta_link.empty()) {
    return MailError(MailErrorClass::kProtocol,
                     "graph delta page must carry exactly one of @odata.nextLink and "
                     "@odata.deltaLink");
  }
  for (const google::protobuf::Value& item : value->list_value().values()) {
    GraphMessageRef m;
    m.id = JsonString(item, "id");
    if (m.id.empty()) return MailError(MailErrorClass::kProtocol, "graph delta item without id");
    m.removed = JsonField(item, "@removed") != nullptr;
    const google::protobuf::Value* read = JsonField(item, "isRead");
    m.is_read = read != nullptr && read->bool_value();
    page.messages.push_back(std::move(m));
  }
  return page;
}

GraphClient::GraphClient(GraphOptions options, HttpClient* http, AccessTokenSource* tokens)
    : options_(std::move(options)), http_(http), tokens_(tokens) {
  while (absl::EndsWith(options_.base_url, "/")) options_.base_url.pop_back();
  if (options_.clock == nullptr) options_.clock = &RealClock();
  if (!options_.sleep) options_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
}

std::string GraphClient::MailboxUrl() const {
  return absl::StrCat(options_.base_url, "/users/", UrlEncode(options_.mailbox));
}

absl::StatusOr<HttpResponse> GraphClient::Call(const std::string& what, HttpRequest req,
                                               bool authorize) {
  bool refreshed = !authorize;
  int throttled = 0;
  const size_t base_headers = req.headers.size();
  while (true) {
    req.headers.resize(base_headers);
    if (authorize) {
      absl::StatusOr<std::string> token = tokens_->AccessToken(refreshed);
      if (!token.ok()) return AnnotateMailError(token.status(), what);
      req.headers.push_back(absl::StrCat("Authorization: Bearer ", *token));
    }
    if (req.max_body_bytes == 0) {
      req.max_body_bytes = kGraphMaxJsonBytes;
      req.body_limit_why = "limit for a Graph JSON answer";
    }
    ++requests_;
    absl::StatusOr<HttpResponse> resp = http_->Send(req);
    if (!resp.ok()) return AnnotateMailError(resp.status(), what);
    if (resp->status >= 200 && resp->status < 300) return resp;
    if (resp->status == 401 && !refreshed) {  // never without `authorize` (refreshed is true)
      refreshed = true;  // expired or revoked token: one fresh token, one more try
      continue;
    }
    if (resp->status == 429 || resp->status == 503) {
      RetryDecision d = DecideRetry(resp->status, resp->Header("retry-after"), throttled, options_,
                                    options_.clock->Now());
      if (d.retry) {
        ++throttled;
        options_.sleep(d.wait);
        continue;
      }
      return GraphHttpError(absl::StrCat(what, " (", d.reason, ")"), resp->status, resp->body);
    }
    return GraphHttpError(what, resp->status, resp->body);
  }
}

absl::StatusOr<GraphDeltaPage> GraphClient::DeltaPage(const std::string& folder,
                                                      const std::string& link,
                                                      std::optional<absl::Time> since) {
  HttpRequest req;
  if (link.empty()) {
    req.url = absl::StrCat(MailboxUrl(), "/mailFolders/", UrlEncode(folder),
                           "/messages/delta?$select=id,isRead");
    if (since.has_value()) {
      absl::StrAppend(&req.url, "&$filter=",
                      UrlEncode(absl::StrCat(
                          "receivedDateTime ge ",
                          absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *since, absl::UTCTimeZone()))));
    }
  } else {
    // Links come from the server; the token goes only to the origin we were configured for.
    if (Origin(link) != Origin(options_.base_url)) {
      return MailError(MailErrorClass::kProtocol,
                       absl::StrCat("graph delta link points to ", Origin(link), ", not to ",
                                    Origin(options_.base_url), "; reset the folder's cursor"));
    }
    req.url = link;
  }
  req.headers = {"Accept: application/json",
                 absl::StrCat("Prefer: odata.maxpagesize=", options_.page_size),
                 "Prefer: IdType=\"ImmutableId\""};
  POSTROOM_ASSIGN_OR_RETURN(
      HttpResponse resp,
      Call(absl::StrCat("graph delta of ", options_.mailbox, " folder ", folder), std::move(req)));
  absl::StatusOr<GraphDeltaPage> page = ParseDeltaPage(resp.body);
  if (!page.ok()) return AnnotateMailError(page.status(), absl::StrCat("folder ", folder));
  return page;
}

absl::StatusOr<std::string> GraphClient::GetMime(const std::string& id) {
  HttpRequest req;
  req.url = absl::StrCat(MailboxUrl(), "/messages/", UrlEncode(id), "/$value");
  req.headers = {"Prefer: IdType=\"ImmutableId\""};
  req.max_body_bytes = MessageResponseLimit(options_.max_message_bytes);
  req.body_limit_why = kMessageResponseWhy;
  POSTROOM_ASSIGN_OR_RETURN(HttpResponse resp,
                            Call(absl::StrCat("graph MIME of message ", id), std::move(req)));
  return std::move(resp.body);
}

absl::Status GraphClient::MarkRead(const std::string& id) {
  HttpRequest req;
  req.method = "PATCH";
  req.url = absl::StrCat(MailboxUrl(), "/messages/", UrlEncode(id));
  req.headers = {"Content-Type: application/json", "Prefer: IdType=\"ImmutableId\""};
  req.body = R"({"isRead":true})";
  return Call(absl::StrCat("graph mark read of message ", id), std::move(req)).status();
}

absl::Status GraphClient::Move(const std::string& id, const std::string& destination) {
  HttpRequest req;
  req.method = "POST";
  req.url = absl::StrCat(MailboxUrl(), "/messages/", UrlEncode(id), "/move");
  req.headers = {"Content-Type: application/json", "Prefer: IdType=\"ImmutableId\""};
  std::string escaped;
  for (char c : destination) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  req.body = absl::StrCat(R"({"destinationId":")", escaped, "\"}");
  return Call(absl::StrCat("graph move of message ", id, " to ", destination), std::move(req))
      .status();
}

absl::Status GraphClient::Delete(const std::string& id) {
  HttpRequest req;
  req.method = "DELETE";
  req.url = absl::StrCat(MailboxUrl(), "/messages/", UrlEncode(id));
  req.headers = {"Prefer: IdType=\"ImmutableId\""};
  return Call(absl::StrCat("graph delete of message ", id), std::move(req)).status();
}

absl::Status GraphClient::SendMime(const std::string& mime) {
  if (mime.size() > kGraphMaxSendMimeBytes) {
    return TooLarge(absl::StrCat("graph sendMail: the message is ", mime.size(),
                                 " bytes, over the ", kGraphMaxSendMimeBytes >> 20,
                                 " MiB one MIME request can carry (SendJson takes larger "
                                 "attachments through an upload session)"));
  }
  HttpRequest req;
  req.method = "POST";
  req.url = absl::StrCat(MailboxUrl(), "/sendMail");
  req.headers = {"Content-Type: text/plain"};
  req.body = absl::Base64Escape(mime);
  return Call("graph sendMail", std::move(req)).status();
}

absl::Status GraphClient::SendJson(const GraphMessage& m, bool save_to_sent_items) {
  const uint64_t body = m.body_html.empty() ? m.body_text.size() : m.body_html.size();
  if (body > kGraphMaxJsonMessageBytes) {
    return TooLarge(absl::StrCat("graph send: the body is ", body, " bytes, over the ",
                                  kGraphMaxJsonMessageBytes >> 20,
                                  " MiB one request can carry (only attachments can go through "
                                  "an upload session)"));
  }
  uint64_t total = body;
  for (const GraphAttachment& a : m.attachments) {
    if (a.bytes.size() > kGraphMaxAttachmentBytes) {
      return TooLarge(absl::StrCat("graph send: attachment \"", a.name, "\" is ", a.bytes.size(),
                                    " bytes, over the ", kGraphMaxAttachmentBytes >> 20,
                                    " MiB an upload session takes"));
    }
    total += Base64Size(a.bytes.size());
  }
  if (total <= kGraphMaxJsonMessageBytes) {
    Struct send;
    (*send.mutable_fields())["message"] = Object(MessageResource(m, kGraphMaxJsonMessageBytes));
    (*send.mutable_fields())["saveToSentItems"] = Flag(save_to_sent_items);
    HttpRequest req;
    req.method = "POST";
    req.url = absl::StrCat(MailboxUrl(), "/sendMail");
    req.headers = {"Content-Type: application/json"};
    req.body = ToJsonText(send);
    return Call("graph sendMail", std::move(req)).status();
  }
  // Too large for one request: a draft, its attachments one by one, then send.
  HttpRequest create;
  create.method = "POST";
  create.url = absl::StrCat(MailboxUrl(), "/messages");
  create.headers = {"Content-Type: application/json", "Prefer: IdType=\"ImmutableId\""};
  create.body = GraphMessageJson(m, 0);
  POSTROOM_ASSIGN_OR_RETURN(HttpResponse created,
                            Call("graph create draft", std::move(create)));
  absl::StatusOr<google::protobuf::Value> json = ParseJson(created.body);
  const std::string id = json.ok() ? JsonString(*json, "id") : "";
  if (id.empty()) {
    return MailError(MailErrorClass::kProtocol,
                     "graph create draft: the answer carries no message id");
  }
  absl::Status st = [&]() -> absl::Status {
    for (const GraphAttachment& a : m.attachments) {
      if (Base64Size(a.bytes.size()) + body <= kGraphMaxJsonMessageBytes) {
        HttpRequest add;
        add.method = "POST";
        add.url = absl::StrCat(MailboxUrl(), "/messages/", UrlEncode(id), "/attachments");
        add.headers = {"Content-Type: application/json"};
        add.body = ToJsonText(FileAttachment(a));
        POSTROOM_RETURN_IF_ERROR(
            Call(absl::StrCat("graph attachment \"", a.name, "\""), std::move(add)).status());
      } else {
        POSTROOM_RETURN_IF_ERROR(Upload(id, a));
      }
    }
    HttpRequest send;
    send.method = "POST";
    send.url = absl::StrCat(MailboxUrl(), "/messages/", UrlEncode(id), "/send");
    return Call("graph send draft", std::move(send)).status();
  }();
  if (!st.ok()) (void)Delete(id);  // A retry makes a new draft: leave none behind.
  return st;
}

absl::Status GraphClient::Upload(const std::string& message_id, const GraphAttachment& a) {
  const std::string what = absl::StrCat("graph upload of \"", a.name, "\"");
  Struct item;
  auto& f = *item.mutable_fields();
  f["attachmentType"] = Text("file");
  f["name"] = Text(a.name);
  Value size;
  size.set_number_value(static_cast<double>(a.bytes.size()));
  f["size"] = size;
  f["contentType"] = Text(a.content_type);
  f["isInline"] = Flag(!a.content_id.empty());
  if (!a.content_id.empty()) f["contentId"] = Text(a.content_id);
  Struct session;
  (*session.mutable_fields())["AttachmentItem"] = Object(std::move(item));
  HttpRequest create;
  create.method = "POST";
  create.url = absl::StrCat(MailboxUrl(), "/messages/", UrlEncode(message_id),
                            "/attachments/createUploadSession");
  create.headers = {"Content-Type: application/json"};
  create.body = ToJsonText(session);
  POSTROOM_ASSIGN_OR_RETURN(HttpResponse created, Call(what, std::move(create)));
  absl::StatusOr<google::protobuf::Value> json = ParseJson(created.body);
  const std::string upload_url = json.ok() ? JsonString(*json, "uploadUrl") : "";
  // The uploadUrl is the server's; it is pre-authenticated, so no token goes there. It must not
  // downgrade to plain http, and in plain-http tests it must stay on the configured server.
  const bool https = absl::StartsWith(upload_url, "https://");
  if (upload_url.empty() ||
      (!https && Origin(upload_url) != Origin(options_.base_url)) ||
      (absl::StartsWith(options_.base_url, "https://") && !https)) {
    return MailError(MailErrorClass::kProtocol,
                     absl::StrCat(what, ": the upload session has no usable uploadUrl"));
  }
  const uint64_t n = a.bytes.size();
  const uint64_t range =
      std::clamp<uint64_t>(options_.upload_range_bytes, 1, kGraphMaxUploadRangeBytes);
  for (uint64_t offset = 0; offset < n;) {
    const uint64_t end = std::min(n, offset + range);  // exclusive
    HttpRequest put;
    put.method = "PUT";
    put.url = upload_url;
    put.headers = {"Content-Type: application/octet-stream",
                   absl::StrCat("Content-Range: bytes ", offset, "-", end - 1, "/", n)};
    put.body = a.bytes.substr(offset, end - offset);
    POSTROOM_ASSIGN_OR_RETURN(HttpResponse answered,
                              Call(absl::StrCat(what, " bytes ", offset, "-", end), std::move(put),
                                   /*authorize=*/false));
    if (end >= n) {
      if (answered.status != 201 && answered.status != 200) {
        return MailError(MailErrorClass::kProtocol,
                         absl::StrCat(what, ": the last range got HTTP ", answered.status));
      }
      return absl::OkStatus();
    }
    // The service names the next byte it expects: it must be the one after this range.
    if (std::optional<uint64_t> expected = NextExpectedByte(answered.body); expected != end) {
      return MailError(MailErrorClass::kProtocol,
                       absl::StrCat(what, ": the service expects another range than bytes ", end,
                                    "- (", answered.body.substr(0, 200), ")"));
    }
    offset = end;
  }
  return absl::OkStatus();
}

absl::StatusOr<GraphFolder> GraphClient::GetFolder(const std::string& folder) {
  HttpRequest req;
  req.url = absl::StrCat(MailboxUrl(), "/mailFolders/", UrlEncode(folder));
  req.headers = {"Accept: application/json"};
  POSTROOM_ASSIGN_OR_RETURN(
      HttpResponse resp,
      Call(absl::StrCat("graph folder ", folder, " of ", options_.mailbox), std::move(req)));
  absl::StatusOr<google::protobuf::Value> json = ParseJson(resp.body);
  if (!json.ok()) {
    return MailError(MailErrorClass::kProtocol,
                     absl::StrCat("graph folder ", folder, ": ", json.status().message()));
  }
  GraphFolder f;
  f.id = JsonString(*json, "id");
  f.display_name = JsonString(*json, "displayName");
  f.total_items = static_cast<int64_t>(JsonNumber(*json, "totalItemCount", 0));
  f.unread_items = static_cast<int64_t>(JsonNumber(*json, "unreadItemCount", 0));
  return f;
}

}  // namespace postroom::mail
