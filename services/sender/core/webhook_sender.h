#pragma once

// Delivers the outbox's webhook rows (docs/webhooks.md): claims due rows of enabled webhooks
// (never one while an earlier row of the same webhook and work item is queued), signs each
// JSON body with the webhook's secret, posts it, and records the result: sent on 2xx; retried
// with the sender's backoff on 5xx, 408, 429 and transport failures (network, TLS, time-out);
// failed at once on any other answer, with the receiver's status and the start of its body
// kept in last_error. No connector is involved, so no error counter moves. Pure and
// thread-safe like SenderCore.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/mail/http_client.h"
#include "libs/store/outbox_store.h"
#include "services/sender/core/policy.h"
#include "services/sender/core/ports.h"
#include "services/sender/core/sender_core.h"

namespace postroom::sender {

// Posts one webhook body. Thread-safe. An error status is a transport failure carrying a
// mail::MailErrorClass (network, tls, protocol); any HTTP answer is a response.
class WebhookPoster {
 public:
  virtual ~WebhookPoster() = default;
  virtual absl::StatusOr<mail::HttpResponse> Post(
      const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body) = 0;
};

// Metrics: postroom_sender_webhook_deliveries_total{webhook,outcome}. Thread-safe.
class WebhookObserver {
 public:
  virtual ~WebhookObserver() = default;
  // outcome: "sent", "retry" or "failed".
  virtual void Delivered(const std::string& webhook, const std::string& outcome,
                         absl::Duration duration) = 0;
};

// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under secret>": the
// Postroom-Signature header.
std::string WebhookSignature(const std::string& secret, int64_t unix_seconds,
                             const std::string& body);

// How much of a receiver's answer last_error keeps.
inline constexpr size_t kKeptAnswerBytes = 1024;

struct WebhookVerdict {
  RowVerdict row = RowVerdict::kRetry;
  std::string error_class;  // "" when sent; "http", "network", "tls", "protocol", ...
  std::string error;        // "HTTP 404: <the answer's first kKeptAnswerBytes>" or the failure
};
WebhookVerdict ClassifyWebhookAnswer(const absl::StatusOr<mail::HttpResponse>& answer);

struct WebhookDeps {
  store::OutboxStore* store = nullptr;
  WebhookPoster* poster = nullptr;
  SecretOpener* secrets = nullptr;
  WebhookObserver* observer = nullptr;  // May be null.
  Clock* clock = nullptr;
};

class WebhookSender {
 public:
  // Uses options.replica, claim_lease, batch and retry, as SenderCore does.
  WebhookSender(SenderOptions options, WebhookDeps deps);

  // One round: claim up to `batch` due webhook rows, post them one by one, record each result.
  DrainReport DrainOnce();

 private:
  SenderOptions options_;
  WebhookDeps deps_;
};

}  // namespace postroom::sender
