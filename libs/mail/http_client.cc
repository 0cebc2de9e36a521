#include "libs/mail/http_client.h"

#include <curl/curl.h>

#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/base/status_macros.h"
#include "libs/mail/mail_error.h"

namespace postroom::mail {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  std::string* body;
  uint64_t limit;
  bool over = false;
};

struct HeaderSink {
  HttpResponse* response;
  size_t limit;
  size_t seen = 0;
  bool over = false;
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * n;
  if (s->body->size() + len > s->limit) {
    s->over = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  s->body->append(data, len);
  return len;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
  auto* h = static_cast<HeaderSink*>(user);
  HttpResponse* r = h->response;
  size_t len = size * n;
  h->seen += len;
  if (h->seen > h->limit) {
    h->over = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  absl::string_view line(data, len);
  line = absl::StripTrailingAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    r->headers.clear();  // a new response (after 100 Continue or a redirect)
    return len;
  }
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    r->headers[absl::AsciiStrToLower(line.substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return len;
}

MailErrorClass ClassOf(CURLcode c) {
  switch (c) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
      return MailErrorClass::kTls;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_WRITE_ERROR:
    case CURLE_BAD_CONTENT_ENCODING:
      return MailErrorClass::kProtocol;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return MailErrorClass::kOther;
    default:
      return MailErrorClass::kNetwork;
  }
}

// libcurl behind HttpClient: one easy handle, so its connection cache keeps the TLS session to
// the same host between requests (a delta sync is hundreds of small requests).
class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions o) : options_(std::move(o)) {
    GlobalInit();
    curl_ = curl_easy_init();
  }
  ~CurlHttpClient() override {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
  }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& req) override {
    if (curl_ == nullptr) return MailError(MailErrorClass::kOther, "libcurl did not initialise");
    for (const std::string& h : req.headers) {
      POSTROOM_RETURN_IF_ERROR(CheckSendable("HTTP request header", h));
    }
    curl_easy_reset(curl_);  // keeps the connection cache
    HttpResponse resp;
    const bool own_limit = req.max_body_bytes > 0 && req.max_body_bytes < options_.max_body_bytes;
    Sink sink{&resp.body, own_limit ? req.max_body_bytes : options_.max_body_bytes};
    HeaderSink header_sink{&resp, options_.max_header_bytes};
    char err[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = nullptr;
    for (const std::string& h : req.headers) headers = curl_slist_append(headers, h.c_str());
    curl_easy_setopt(curl_, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method == "GET") {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else if (req.method != "DELETE" || !req.body.empty()) {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(req.body.size()));
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &WriteBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &WriteHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &header_sink);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    // Graph's @odata links point at the same host; a redirect elsewhere is not followed, so a
    // bearer token never leaves for another origin.
    curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);
    if (!options_.ca_file.empty())
      curl_easy_setopt(curl_, CURLOPT_CAINFO, options_.ca_file.c_str());
    CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (sink.over || header_sink.over) {
      absl::Status st =
          sink.over ? ResponseTooLarge(sink.limit, own_limit ? req.body_limit_why
                                                             : "max_body_bytes")
                    : ResponseTooLarge(header_sink.limit, "limit for the response headers");
      return AnnotateMailError(st, absl::StrCat(req.method, " ", Redact(req.url)));
    }
    if (rc != CURLE_OK) {
      std::string what = err[0] != 0 ? std::string(err) : curl_easy_strerror(rc);
      std::string msg = absl::StrCat(req.method, " ", Redact(req.url), ": ", what);
      if (rc == CURLE_OPERATION_TIMEDOUT) return MailTimeoutError(msg);
      return MailError(ClassOf(rc), msg);
    }
    long code = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &code);
    resp.status = static_cast<int>(code);
    return resp;
  }

 private:
  // The URL without its query (delta tokens are credentials of a sort and long).
  static std::string Redact(const std::string& url) { return url.substr(0, url.find('?')); }

  CurlOptions options_;
  CURL* curl_ = nullptr;
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(const CurlOptions& options) {
  return std::make_unique<CurlHttpClient>(options);
}

std::string UrlEncode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, UrlEncode(k), "=", UrlEncode(v));
  }
  return out;
}

}  // namespace postroom::mail
