#pragma once

// Microsoft Graph mail, the calls the fetcher and "test connection" need, as Microsoft's v1.0
// REST reference documents them: message delta per folder
// (GET /users/{mailbox}/mailFolders/{folder}/messages/delta, paged by @odata.nextLink until
// @odata.deltaLink), the MIME content (GET .../messages/{id}/$value), mark read (PATCH isRead),
// move (POST .../move), delete, and the folder's counts. Hand-written over HttpClient (libcurl):
// Debian ships no Graph SDK for C++.
//
// Every call: bearer token from the AccessTokenSource; a 401 gets one fresh token and one retry;
// 429 and 503 wait for Retry-After (bounded, see GraphOptions) and try again; every error
// carries a MailErrorClass (network, tls, authentication, protocol, server, throttled) and the
// server's own error code and message.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/mail/http_client.h"
#include "libs/mail/oauth_token_client.h"

namespace postroom::mail {

inline constexpr char kGraphBaseUrl[] = "https://graph.microsoft.com/v1.0";
// A delta page of 100 ids is some 30 KiB; a folder or an error a few hundred bytes.
inline constexpr uint64_t kGraphMaxJsonBytes = 4 << 20;
// The largest message sendMail takes in one request: Graph refuses request bodies over 4 MB,
// and MIME travels base64-encoded (4/3 of its size).
inline constexpr uint64_t kGraphMaxSendMimeBytes = 3 << 20;
// The JSON send paths: a message whose body and attachments (base64) fit in this travels in one
// request (sendMail, or the draft); a larger attachment goes through an upload session in
// byte ranges of at most kGraphMaxUploadRangeBytes ("Attach large files to Outlook messages").
inline constexpr uint64_t kGraphMaxJsonMessageBytes = 3 << 20;
inline constexpr uint64_t kGraphMaxUploadRangeBytes = 4 << 20;
// Upload sessions take attachments up to 150 MB.
inline constexpr uint64_t kGraphMaxAttachmentBytes = 150ull << 20;

struct GraphOptions {
  std::string base_url = kGraphBaseUrl;  // no trailing '/'
  std::string mailbox;                   // user id or address: shared mailbox or the user's own
  int page_size = 100;                   // Prefer: odata.maxpagesize
  // The connector's limit: a MIME download ($value) may hold this plus 1 MiB
  // (MessageResponseLimit) before it fails as protocol. Every other answer is JSON and may hold
  // kGraphMaxJsonBytes.
  uint64_t max_message_bytes = 25 << 20;
  // 429/503: tries after the first, each waiting Retry-After (or 1 s, 2 s, 4 s ... without one).
  int max_throttle_retries = 3;
  // A single wait longer than this is not waited for: the call fails as throttled and the
  // fetcher's cool-off takes over.
  absl::Duration max_retry_after = absl::Seconds(60);
  // Bytes per PUT of an upload session: at most kGraphMaxUploadRangeBytes; a multiple of
  // 320 KiB as Microsoft advises for upload sessions.
  uint64_t upload_range_bytes = 12 * 320 * 1024;
  Clock* clock = nullptr;                     // RealClock() when null (HTTP-date Retry-After)
  std::function<void(absl::Duration)> sleep;  // absl::SleepFor when empty; tests advance a clock
};

struct GraphMessageRef {
  std::string id;
  bool removed = false;  // "@removed": deleted or moved out of the folder since the last round
  bool is_read = false;
};

struct GraphDeltaPage {
  std::vector<GraphMessageRef> messages;
  std::string next_link;   // more pages follow: GET this next
  std::string delta_link;  // the last page: the cursor for the next round
};

struct GraphFolder {
  std::string id;
  std::string display_name;
  int64_t total_items = 0;
  int64_t unread_items = 0;
};

struct GraphAttachment {
  std::string name;
  std::string content_type;  // "application/pdf"
  std::string bytes;         // Decoded content.
  std::string content_id;    // Non-empty: inline (referenced as cid: from the HTML body).
};

// A message for Graph's JSON resource ("message"): what RenderEmail renders as MIME. Graph takes
// only headers whose name begins with "X-" in internetMessageHeaders; the others (In-Reply-To,
// References, Auto-Submitted ...) cannot travel on the JSON paths and are dropped (DroppedHeaders).
struct GraphMessage {
  std::string from;  // Address; the mailbox or one it may send as.
  std::string from_name;
  std::string to;
  std::vector<std::string> cc;  // Addresses (a reply's copies); may be empty.
  std::string reply_to;  // One address, or "Name <address>".
  std::string subject;
  std::string body_text;
  std::string body_html;  // Non-empty: the body is HTML (Graph keeps one body).
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<GraphAttachment> attachments;
};

// The header names of `m` that the JSON paths cannot carry (not "X-"), in order.
std::vector<std::string> DroppedHeaders(const GraphMessage& m);
// The message resource as JSON, with attachments up to `inline_limit` bytes each as
// fileAttachment contentBytes (0: none), for sendMail and for creating a draft.
std::string GraphMessageJson(const GraphMessage& m, uint64_t inline_limit);

// What to do with an answer of 429/503. Pure, for tests.
struct RetryDecision {
  bool retry = false;
  absl::Duration wait;
  std::string reason;  // why not, when retry is false
};
RetryDecision DecideRetry(int http_status, const std::string& retry_after_header, int attempt,
                          const GraphOptions& options, absl::Time now);

// The error for a Graph answer that is not 2xx, with the class its status calls for and the
// code and message of Graph's {"error": {"code", "message"}} body. The HTTP status travels as a
// payload (GraphHttpStatus).
absl::Status GraphHttpError(const std::string& what, int http_status, const std::string& body);
// The HTTP status of an error made by GraphHttpError, else 0.
int GraphHttpStatus(const absl::Status& status);
// True for a message Graph cannot take at any retry (a body or attachment over its limits),
// refused before any request: the message's fault, not the connector's.
bool GraphMessageTooLarge(const absl::Status& status);
// True for 410 Gone: a delta link the service no longer knows (SyncStateNotFound); the folder
// must be synced again from an empty link.
inline bool GraphResyncRequired(const absl::Status& status) {
  return GraphHttpStatus(status) == 410;
}

// Parses one page of a message delta. Class protocol when the body is not such a page.
absl::StatusOr<GraphDeltaPage> ParseDeltaPage(const std::string& body);

// Not thread-safe (one per session). `http` and `tokens` are not owned and must outlive it.
class GraphClient {
 public:
  GraphClient(GraphOptions options, HttpClient* http, AccessTokenSource* tokens);

  // `link` empty: the first page of a full sync of `folder` (a well-known name such as "inbox"
  // or a folder id), only messages received at or after `since` when it is set (the delta's
  // documented $filter on receivedDateTime); else a next or delta link from an earlier page (same
  // origin only; the filter travels inside it).
  absl::StatusOr<GraphDeltaPage> DeltaPage(const std::string& folder, const std::string& link,
                                           std::optional<absl::Time> since = std::nullopt);
  absl::StatusOr<std::string> GetMime(const std::string& id);
  absl::Status MarkRead(const std::string& id);
  // `destination`: a folder id or well-known name ("archive", "deleteditems").
  absl::Status Move(const std::string& id, const std::string& destination);
  absl::Status Delete(const std::string& id);
  absl::StatusOr<GraphFolder> GetFolder(const std::string& folder);
  // Sends `mime` (RFC 5322, as rendered) from the mailbox: POST /users/{mailbox}/sendMail with
  // the MIME base64-encoded as text/plain ("Send Outlook messages in MIME format"); Graph saves
  // a copy to Sent Items, its default for MIME. Over kGraphMaxSendMimeBytes: class other, not
  // sent (an upload session for large attachments is not implemented).
  absl::Status SendMime(const std::string& mime);
  // Sends `m` through Graph's JSON resource ("Send mail", "Attach large files"): when the body and
  // the attachments fit in one request of kGraphMaxJsonMessageBytes, POST /sendMail with
  // `saveToSentItems`; else a draft (POST /messages) with the small attachments, an upload
  // session per large one (POST .../attachments/createUploadSession, then PUT byte ranges to its
  // pre-authenticated uploadUrl, without the token), then POST .../messages/{id}/send. A draft
  // is sent as Graph does every draft: a copy stays in Sent Items whatever `save_to_sent_items`
  // says. A draft left by a failure is deleted (best effort). A body over
  // kGraphMaxJsonMessageBytes or an attachment over kGraphMaxAttachmentBytes: class other, not
  // sent.
  absl::Status SendJson(const GraphMessage& m, bool save_to_sent_items);

  // Requests sent, retries included (tests and the idle-poll figures).
  int requests() const { return requests_; }

 private:
  // `authorize` false: no bearer token (an upload session's uploadUrl is pre-authenticated and
  // refuses one); 401 is then an error at once.
  absl::StatusOr<HttpResponse> Call(const std::string& what, HttpRequest req,
                                    bool authorize = true);
  absl::Status Upload(const std::string& message_id, const GraphAttachment& a);
  std::string MailboxUrl() const;

  GraphOptions options_;
  HttpClient* http_;
  AccessTokenSource* tokens_;
  int requests_ = 0;
};

}  // namespace postroom::mail
