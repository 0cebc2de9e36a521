#pragma once

// A small HTTP client for the Microsoft Graph and OAuth2 token endpoint clients, over libcurl
// (HTTP/1.1, TLS with certificate verification, proxies from the environment, connection reuse
// between requests of one client). HttpClient is the seam: GraphClient and OAuthTokenClient take
// one, tests hand them a scripted fake.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace postroom::mail {

struct HttpRequest {
  std::string method = "GET";  // GET, POST, PATCH, DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"; CR, LF or NUL in one is refused
  std::string body;
  // The most the response body may hold; 0: CurlOptions::max_body_bytes. Enforced while
  // reading: a larger body (a huge Content-Length, endless chunks) stops the transfer with
  // ResponseTooLarge(limit, body_limit_why), class protocol.
  uint64_t max_body_bytes = 0;
  std::string body_limit_why = "max_body_bytes";
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value wins
  std::string body;
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

// Sends one request and returns whatever status the server answered (a 4xx/5xx is a response,
// not an error). Errors are transport failures, carrying a MailErrorClass: network (DNS,
// connect, reset, time-out: UNAVAILABLE / DEADLINE_EXCEEDED), tls (handshake, certificate) or
// protocol (a body or headers over their limit).
// Not thread-safe: one per session.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;
};

struct CurlOptions {
  absl::Duration timeout = absl::Seconds(30);  // the whole request, connect included
  std::string ca_file;                         // non-empty: trust only these CAs
  size_t max_body_bytes = 512u << 20;  // per request unless HttpRequest says less
  // Response headers, all lines together (libcurl bounds one line, not their number).
  size_t max_header_bytes = 256u << 10;
};

// libcurl behind HttpClient. Never throws; never prints.
std::unique_ptr<HttpClient> NewCurlHttpClient(const CurlOptions& options);

// "a=b&c=d" with RFC 3986 percent-encoding of names and values (form bodies, query strings).
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);
// Percent-encodes one path segment or value.
std::string UrlEncode(const std::string& s);

}  // namespace postroom::mail
