#include "services/sender/core/webhook_sender.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/base/log.h"
#include "libs/base/sha256.h"
#include "libs/connector/fields.h"
#include "libs/mail/mail_error.h"
#include "libs/net/secret_url.h"

namespace postroom::sender {
namespace {

// The body's "id" for the receiver's de-duplication; the same on every attempt of the row.
std::string EventId(const store::OutboxItem& item) { return absl::StrCat("evt_", item.id); }

}  // namespace

std::string WebhookSignature(const std::string& secret, int64_t unix_seconds,
                             const std::string& body) {
  const std::string t = absl::StrCat(unix_seconds);
  return absl::StrCat("t=", t, ",v1=",
                      absl::BytesToHexString(HmacSha256(secret, absl::StrCat(t, ".", body))));
}

WebhookVerdict ClassifyWebhookAnswer(const absl::StatusOr<mail::HttpResponse>& answer) {
  if (!answer.ok()) {
    return {RowVerdict::kRetry,
            std::string(mail::MailErrorClassName(mail::ClassifyMailError(answer.status()))),
            std::string(answer.status().message())};
  }
  const int code = answer->status;
  if (code >= 200 && code < 300) return {RowVerdict::kSent, "", ""};
  std::string kept = answer->body.substr(0, kKeptAnswerBytes);
  std::string error = absl::StrCat("HTTP ", code, kept.empty() ? "" : ": ", kept);
  // 408 and 429 ask us to come back later, as 5xx do; any other answer will not change by
  // asking again (a 3xx too: redirects are not followed, so a secret-signed body never goes
  // where the webhook does not say).
  if (code >= 500 || code == 408 || code == 429) return {RowVerdict::kRetry, "http", error};
  if (code >= 300 && code < 400) {
    absl::StrAppend(&error, " (redirects are not followed: set the webhook's url to the target)");
  }
  return {RowVerdict::kFailed, "http", error};
}

WebhookSender::WebhookSender(SenderOptions options, WebhookDeps deps)
    : options_(std::move(options)), deps_(deps) {}

DrainReport WebhookSender::DrainOnce() {
  DrainReport report;
  absl::StatusOr<std::vector<store::WebhookDelivery>> claimed = deps_.store->ClaimDueWebhooks(
      options_.replica, deps_.clock->Now(), options_.claim_lease, options_.batch);
  if (!claimed.ok()) {
    report.status = claimed.status();
    return report;
  }
  report.claimed = static_cast<int>(claimed->size());
  for (const store::WebhookDelivery& d : *claimed) {
    const store::OutboxItem& item = d.item;
    const absl::Time started = deps_.clock->Now();
    WebhookVerdict verdict;
    absl::Status url_ok = net::CheckSecretUrl(d.url);
    absl::StatusOr<std::string> secret =
        d.sealed_secret.empty()
            ? absl::FailedPreconditionError("the webhook has no secret; apply it with one")
            : deps_.secrets->Open(d.sealed_secret, connector::WebhookSecretOwner(item.webhook));
    if (item.attempts > options_.retry.max_attempts) {
      verdict = {RowVerdict::kFailed, "abandoned",
                 absl::StrCat("claimed ", item.attempts,
                              " times without a recorded result; did the sender crash while "
                              "posting it? See the sender's log")};
    } else if (!url_ok.ok()) {
      // Config checks the URL; a row whose URL is no longer sendable is never posted.
      verdict = {RowVerdict::kFailed, "configuration",
                 absl::StrCat("url: ", url_ok.message())};
    } else if (!secret.ok()) {
      // A key not loaded yet (rotation under way) may come; retry like a failed connection.
      verdict = {RowVerdict::kRetry, "configuration",
                 absl::StrCat("secret: ", secret.status().message())};
    } else {
      const int64_t t = absl::ToUnixSeconds(deps_.clock->Now());
      verdict = ClassifyWebhookAnswer(deps_.poster->Post(
          d.url,
          {{"Content-Type", "application/json"},
           {"User-Agent", "postroom-webhooks/1"},
           {"Postroom-Event", item.event},
           {"Postroom-Delivery", EventId(item)},
           {"Postroom-Signature", WebhookSignature(*secret, t, item.body_text)}},
          item.body_text));
    }

    store::AttemptOutcome out;
    out.id = item.id;
    out.owner = options_.replica;
    out.claim_token = item.claim_token;
    out.at = deps_.clock->Now();
    out.error_class = verdict.error_class;
    out.connector_effect = store::AttemptOutcome::ConnectorEffect::kNone;
    if (verdict.row == RowVerdict::kSent) {
      out.kind = store::AttemptKind::kSent;
    } else if (verdict.row == RowVerdict::kRetry && item.attempts >= options_.retry.max_attempts) {
      out.kind = store::AttemptKind::kFailed;
      out.error = absl::StrCat("gave up after ", item.attempts, " attempts; last: ", verdict.error);
    } else if (verdict.row == RowVerdict::kRetry) {
      out.kind = store::AttemptKind::kRetry;
      out.error = verdict.error;
      out.next_due = NextAttemptAt(options_.retry, item.id, item.attempts, out.at);
    } else {
      out.kind = store::AttemptKind::kFailed;
      out.error = verdict.error;
    }

    absl::StatusOr<store::AttemptResult> done = deps_.store->FinishAttempt(out);
    const char* outcome = OutcomeName(out.kind);
    if (!done.ok()) {
      // The claim expires and the row is posted again: at-least-once; the receiver de-duplicates
      // by the body's id.
      report.status = done.status();
      LogWarning("webhook_record_failed", {{"outbox_id", absl::StrCat(item.id)},
                                           {"webhook", item.webhook},
                                           {"error", std::string(done.status().message())}});
      continue;
    }
    if (!done->applied) {
      ++report.lost;
      continue;
    }
    if (out.kind == store::AttemptKind::kSent) ++report.sent;
    if (out.kind == store::AttemptKind::kRetry) ++report.retried;
    if (out.kind == store::AttemptKind::kFailed) ++report.failed;
    const absl::Duration took = out.at - started;
    if (deps_.observer != nullptr) deps_.observer->Delivered(item.webhook, outcome, took);
    Log(out.kind == store::AttemptKind::kSent ? LogLevel::kInfo : LogLevel::kWarning,
        "webhook_done",
        {{"outbox_id", absl::StrCat(item.id)},
         {"webhook", item.webhook},
         {"event", item.event},
         {"outcome", outcome},
         {"attempt", absl::StrCat(item.attempts)},
         {"ms", absl::StrCat(absl::ToInt64Milliseconds(took))},
         {"error_class", out.error_class}});
  }
  return report;
}

}  // namespace postroom::sender
