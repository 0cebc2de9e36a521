#include "libs/net/secret_url.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <algorithm>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace postroom::net {
namespace {

constexpr size_t kMaxUrlBytes = 2048;

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

// One part of a parsed URL; empty when the URL has none.
std::string Part(CURLU* url, CURLUPart what) {
  char* value = nullptr;
  if (curl_url_get(url, what, &value, 0) != CURLUE_OK || value == nullptr) return "";
  std::string out(value);
  curl_free(value);
  return out;
}

}  // namespace

bool IsLoopbackHost(absl::string_view host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.size() > INET6_ADDRSTRLEN) return false;
  std::string text(host);
  unsigned char v4[4];
  // inet_pton takes only the strict dotted quad: "127.1" or "127.0.0.1.evil" do not parse.
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) return v4[0] == 127;
  unsigned char v6[16];
  if (inet_pton(AF_INET6, text.c_str(), v6) == 1) {
    static const unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                 0, 0, 0, 0, 0, 0, 0, 1};
    return std::equal(v6, v6 + 16, kLoopback6);
  }
  return false;
}

absl::Status CheckSecretUrl(const std::string& url) {
  if (url.size() > kMaxUrlBytes) {
    return absl::InvalidArgumentError(absl::StrCat("longer than ", kMaxUrlBytes, " bytes"));
  }
  UrlHandle parsed(curl_url());
  if (!parsed) return absl::ResourceExhaustedError("cannot allocate a URL parser");
  // No user info: credentials in a URL end up in logs, and "user@127.0.0.1@host" tricks
  // readers into seeing the wrong host.
  CURLUcode rc = curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), CURLU_DISALLOW_USER);
  if (rc != CURLUE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid URL (", curl_url_strerror(rc), ")"));
  }
  const std::string scheme = Part(parsed.get(), CURLUPART_SCHEME);
  if (absl::EqualsIgnoreCase(scheme, "https")) return absl::OkStatus();
  if (absl::EqualsIgnoreCase(scheme, "http") &&
      IsLoopbackHost(Part(parsed.get(), CURLUPART_HOST))) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("must be an https:// URL (http only on loopback)");
}

}  // namespace postroom::net
