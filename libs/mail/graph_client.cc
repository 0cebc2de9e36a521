#include "libs/mail/graph_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
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

}  // namespace

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

absl::StatusOr<HttpResponse> GraphClient::Call(const std::string& what, HttpRequest req) {
  bool refreshed = false;
  int throttled = 0;
  const size_t base_headers = req.headers.size();
  while (true) {
    absl::StatusOr<std::string> token = tokens_->AccessToken(refreshed);
    if (!token.ok()) return AnnotateMailError(token.status(), what);
    req.headers.resize(base_headers);
    req.headers.push_back(absl::StrCat("Authorization: Bearer ", *token));
    if (req.max_body_bytes == 0) {
      req.max_body_bytes = kGraphMaxJsonBytes;
      req.body_limit_why = "limit for a Graph JSON answer";
    }
    ++requests_;
    absl::StatusOr<HttpResponse> resp = http_->Send(req);
    if (!resp.ok()) return AnnotateMailError(resp.status(), what);
    if (resp->status >= 200 && resp->status < 300) return resp;
    if (resp->status == 401 && !refreshed) {
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
    return MailError(MailErrorClass::kOther,
                     absl::StrCat("graph sendMail: the message is ", mime.size(),
                                  " bytes, over the ", kGraphMaxSendMimeBytes >> 20,
                                  " MiB one request can carry (larger attachments need an "
                                  "upload session, which this build does not implement)"));
  }
  HttpRequest req;
  req.method = "POST";
  req.url = absl::StrCat(MailboxUrl(), "/sendMail");
  req.headers = {"Content-Type: text/plain"};
  req.body = absl::Base64Escape(mime);
  return Call("graph sendMail", std::move(req)).status();
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
