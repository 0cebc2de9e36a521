// WebhookSender's decisions with fakes: what is posted (headers, signature over the body), what
// is never posted (a URL no longer sendable), and how each outcome is recorded (retry with
// backoff, give-up after max attempts, a secret that does not open). The claim's order and the
// SQL are webhook_store_pg_test's; the wire is webhooks_e2e's.
#include "services/sender/core/webhook_sender.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mail/mail_error.h"
#include "services/sender/tests/fakes.h"

namespace postroom::sender {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Hands out the deliveries a test gives it, once, and keeps every recorded outcome.
class ScriptedWebhookStore : public InMemoryOutboxStore {
 public:
  std::vector<store::WebhookDelivery> due;
  std::vector<store::AttemptOutcome> finished;
  absl::StatusOr<std::vector<store::WebhookDelivery>> ClaimDueWebhooks(const std::string&,
                                                                       absl::Time, absl::Duration,
                                                                       int) override {
    return std::exchange(due, {});
  }
  absl::StatusOr<store::AttemptResult> FinishAttempt(const store::AttemptOutcome& o) override {
    finished.push_back(o);
    return store::AttemptResult{.applied = true};
  }
};

struct Posted {
  std::string url;
  std::map<std::string, std::string> headers;
  std::string body;
};

class FakePoster : public WebhookPoster {
 public:
  absl::StatusOr<mail::HttpResponse> answer = mail::HttpResponse{.status = 200};
  std::vector<Posted> posted;
  absl::StatusOr<mail::HttpResponse> Post(
      const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body) override {
    posted.push_back({url, {headers.begin(), headers.end()}, body});
    return answer;
  }
};

store::WebhookDelivery Delivery(int attempts = 1, std::string url = "https://desk.example.com/h") {
  store::WebhookDelivery d;
  d.item.id = 7;
  d.item.kind = "webhook";
  d.item.webhook = "desk";
  d.item.event = "work_item.created";
  d.item.body_text = R"({"id":"evt_7","event":"work_item.created"})";
  d.item.attempts = attempts;
  d.item.claim_token = 3;
  d.url = std::move(url);
  d.sealed_secret = "sealed:whsec-0123456789abcdef";
  return d;
}

class WebhookSenderTest : public ::testing::Test {
 protected:
  WebhookSenderTest() {
    options_.replica = "r1";
    options_.retry.max_attempts = 3;
  }
  DrainReport Drain(store::WebhookDelivery d) {
    store_.due = {std::move(d)};
    WebhookSender sender(options_, {.store = &store_, .poster = &poster_, .secrets = &secrets_,
                                    .observer = nullptr, .clock = &clock_});
    return sender.DrainOnce();
  }

  SenderOptions options_;
  ScriptedWebhookStore store_;
  FakePoster poster_;
  FakeSecrets secrets_;
  FakeClock clock_;
};

TEST_F(WebhookSenderTest, PostsTheBodySignedWithTheWebhooksSecret) {
  DrainReport r = Drain(Delivery());
  EXPECT_EQ(r.sent, 1);
  ASSERT_THAT(poster_.posted, SizeIs(1));
  const Posted& p = poster_.posted[0];
  EXPECT_EQ(p.url, "https://desk.example.com/h");
  EXPECT_EQ(p.body, Delivery().item.body_text);
  EXPECT_EQ(p.headers.at("Content-Type"), "application/json");
  EXPECT_EQ(p.headers.at("Postroom-Event"), "work_item.created");
  EXPECT_EQ(p.headers.at("Postroom-Delivery"), "evt_7");
  EXPECT_EQ(p.headers.at("Postroom-Signature"),
            WebhookSignature("whsec-0123456789abcdef", absl::ToUnixSeconds(clock_.Now()), p.body));
  ASSERT_THAT(store_.finished, SizeIs(1));
  EXPECT_EQ(store_.finished[0].kind, store::AttemptKind::kSent);
  EXPECT_EQ(store_.finished[0].claim_token, 3);
  EXPECT_EQ(store_.finished[0].connector_effect,
            store::AttemptOutcome::ConnectorEffect::kNone);
}

TEST_F(WebhookSenderTest, ServerErrorIsRetriedAfterBackoff) {
  poster_.answer = mail::HttpResponse{.status = 503, .body = "busy"};
  Drain(Delivery());
  ASSERT_THAT(store_.finished, SizeIs(1));
  EXPECT_EQ(store_.finished[0].kind, store::AttemptKind::kRetry);
  EXPECT_EQ(store_.finished[0].error, "HTTP 503: busy");
  EXPECT_EQ(store_.finished[0].next_due, NextAttemptAt(options_.retry, 7, 1, clock_.Now()));
}

TEST_F(WebhookSenderTest, GivesUpAfterMaxAttempts) {
  poster_.answer = mail::MailError(mail::MailErrorClass::kNetwork, "connect: refused");
  Drain(Delivery(/*attempts=*/3));
  ASSERT_THAT(store_.finished, SizeIs(1));
  EXPECT_EQ(store_.finished[0].kind, store::AttemptKind::kFailed);
  EXPECT_THAT(store_.finished[0].error, HasSubstr("gave up after 3 attempts; last: connect"));
}

TEST_F(WebhookSenderTest, UrlNoLongerSendableIsNeverPosted) {
  Drain(Delivery(1, "http://desk.example.com/h"));
  EXPECT_THAT(poster_.posted, IsEmpty());
  ASSERT_THAT(store_.finished, SizeIs(1));
  EXPECT_EQ(store_.finished[0].kind, store::AttemptKind::kFailed);
  EXPECT_EQ(store_.finished[0].error_class, "configuration");
  EXPECT_THAT(store_.finished[0].error, HasSubstr("http only on loopback"));
}

TEST_F(WebhookSenderTest, SecretThatDoesNotOpenIsRetriedWithoutPosting) {
  store::WebhookDelivery d = Delivery();
  d.sealed_secret = "garbage";
  Drain(d);
  EXPECT_THAT(poster_.posted, IsEmpty());
  ASSERT_THAT(store_.finished, SizeIs(1));
  EXPECT_EQ(store_.finished[0].kind, store::AttemptKind::kRetry);
  EXPECT_EQ(store_.finished[0].error_class, "configuration");
}

}  // namespace
}  // namespace postroom::sender
