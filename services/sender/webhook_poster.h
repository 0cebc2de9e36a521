#pragma once

// WebhookPoster over libs/mail's libcurl HttpClient: HTTPS with certificates verified (plain
// http only reaches loopback: config and the core check every URL with net::CheckSecretUrl),
// no redirects, a time limit on the whole request, the receiver's answer bounded while it is
// read. Clients are pooled, so a worker reuses its connection to a receiver. Thread-safe.
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "libs/mail/http_client.h"
#include "services/sender/core/webhook_sender.h"

namespace postroom::sender {

struct WebhookPosterOptions {
  absl::Duration timeout = absl::Seconds(10);
  std::string ca_file;  // Non-empty: trust only these CAs (a private receiver's, tests).
  // The most of an answer read; more is a protocol failure (retried).
  size_t max_answer_bytes = 64 << 10;
};

class CurlWebhookPoster : public WebhookPoster {
 public:
  explicit CurlWebhookPoster(WebhookPosterOptions options) : options_(std::move(options)) {}
  absl::StatusOr<mail::HttpResponse> Post(
      const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body) override;

 private:
  WebhookPosterOptions options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<mail::HttpClient>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace postroom::sender
