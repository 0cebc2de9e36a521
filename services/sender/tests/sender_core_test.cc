// The sender core with fakes and a FakeClock: which rows are due, backoff, classification of
// SMTP results, max attempts, connector error counters and auto-disable, claims and crashes.
#include "services/sender/core/sender_core.h"
#include "services/sender/core/webhook_sender.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mail/mail_error.h"
#include "services/sender/tests/fakes.h"
#include "tests/support/status_matchers.h"

namespace postroom::sender {
namespace {

using mail::MailErrorClass;
using mail::SmtpStage;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kSpec[] =
    R"({"name":"gateway","protocol":"PROTOCOL_SMTP","primary_address":"desk@example.com",)"
    R"("reply_to":"help@example.com","server":{"host":"127.0.0.1","port":2525},)"
    R"("settings":{"error_threshold":3}})";

class Harness {
 public:
  explicit Harness(RetryPolicy retry = {}) {
    gateway_ = store_.AddConnector("gateway", kSpec, /*system_default=*/true);
    SenderOptions o;
    o.replica = "r1";
    o.retry = retry;
    core_ = std::make_unique<SenderCore>(o, Deps());
  }
  SenderDeps Deps() {
    return {.store = &store_,
            .transport = &transport_,
            .secrets = &secrets_,
            .observer = &observer_,
            .clock = &clock_};
  }
  int64_t Queue(const std::string& to = "alice@example.org", int64_t connector = 0) {
    store::OutboxItem o;
    o.connector_id = connector;
    o.reason = "ack";
    o.to_address = to;
    o.subject = "We received your request [#SUP-1]";
    o.body_text = "Hello\n";
    o.headers_json = R"({"Auto-Submitted":"auto-replied"})";
    o.due_at = clock_.Now();
    o.created_at = clock_.Now();
    return store_.Queue(o);
  }
  InMemoryOutboxStore& store() { return store_; }
  FakeTransport& transport() { return transport_; }
  CountingObserver& observer() { return observer_; }
  FakeClock& clock() { return clock_; }
  SenderCore& core() { return *core_; }
  int64_t gateway() const { return gateway_; }

 private:
  FakeClock clock_;
  InMemoryOutboxStore store_;
  FakeTransport transport_;
  FakeSecrets secrets_;
  CountingObserver observer_;
  int64_t gateway_ = 0;
  std::unique_ptr<SenderCore> core_;
};

mail::SmtpResult ConnectRefused() {
  return SmtpFail(SmtpStage::kConnect, 0, MailErrorClass::kNetwork,
                  "smtp 127.0.0.1:2525: connect: Connection refused");
}

TEST(RetryPolicy, BackoffGrowsIsCappedAndJittered) {
  RetryPolicy p{.initial = absl::Seconds(30),
                .multiplier = 2,
                .max = absl::Minutes(10),
                .jitter = 0.2,
                .max_attempts = 10};
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  absl::Duration prev;
  for (int n = 1; n <= 5; ++n) {
    absl::Duration d = NextAttemptAt(p, 7, n, now) - now;
    absl::Duration full = absl::Seconds(30) * (1 << (n - 1));
    EXPECT_LE(d, full) << n;
    EXPECT_GE(d, full * 0.8) << n;
    EXPECT_GT(d, prev) << n;
    prev = d;
  }
  EXPECT_LE(NextAttemptAt(p, 7, 40, now) - now, absl::Minutes(10));
  EXPECT_GE(NextAttemptAt(p, 7, 40, now) - now, absl::Minutes(8));
  // Same row and attempt: same wait on every replica; another row: another wait.
  EXPECT_EQ(NextAttemptAt(p, 7, 3, now), NextAttemptAt(p, 7, 3, now));
  EXPECT_NE(NextAttemptAt(p, 7, 3, now), NextAttemptAt(p, 8, 3, now));
}

TEST(Classify, PermanentRecipientRefusalFailsRowWithoutCountingConnector) {
  Verdict v = Classify(SmtpFail(SmtpStage::kRcptTo, 550, MailErrorClass::kServer, "550 no"));
  EXPECT_EQ(v.row, RowVerdict::kFailed);
  EXPECT_EQ(v.connector, ConnectorVerdict::kNone);
}

TEST(Classify, RefusedSenderAddressFailsRowAndCountsConnector) {
  Verdict v = Classify(SmtpFail(SmtpStage::kMailFrom, 553, MailErrorClass::kServer, "553 no"));
  EXPECT_EQ(v.row, RowVerdict::kFailed);
  EXPECT_EQ(v.connector, ConnectorVerdict::kFailure);
}

TEST(Classify, TransientFailuresRetry) {
  EXPECT_EQ(Classify(ConnectRefused()).row, RowVerdict::kRetry);
  EXPECT_EQ(Classify(ConnectRefused()).connector, ConnectorVerdict::kFailure);
  EXPECT_EQ(Classify(SmtpFail(SmtpStage::kTls, 0, MailErrorClass::kTls, "x")).error_class, "tls");
  Verdict auth = Classify(SmtpFail(SmtpStage::kAuth, 535, MailErrorClass::kAuthentication, "x"));
  EXPECT_EQ(auth.row, RowVerdict::kRetry);  // The credentials get fixed; the mail is fine.
  EXPECT_EQ(auth.connector, ConnectorVerdict::kFailure);
  Verdict grey = Classify(SmtpFail(SmtpStage::kRcptTo, 450, MailErrorClass::kThrottled, "x"));
  EXPECT_EQ(grey.row, RowVerdict::kRetry);
  EXPECT_EQ(grey.connector, ConnectorVerdict::kNone);
  Verdict greeting = Classify(SmtpFail(SmtpStage::kGreeting, 554, MailErrorClass::kServer, "x"));
  EXPECT_EQ(greeting.row, RowVerdict::kRetry);
}

TEST(SenderCore, SendsDueRowWithStableMessageIdReplyToAndHeaders) {
  Harness h;
  int64_t id = h.Queue();
  DrainReport r = h.core().DrainOnce();
  EXPECT_EQ(r.sent, 1);
  ASSERT_THAT(h.transport().sent(), SizeIs(1));
  const mail::OutgoingEmail e = h.transport().sent()[0];
  EXPECT_EQ(e.from, "desk@example.com");
  EXPECT_EQ(e.to, "alice@example.org");
  EXPECT_EQ(e.reply_to, "help@example.com");  // The connector's, the row has none.
  EXPECT_EQ(e.message_id, absl::StrCat("postroom.outbox.", id, ".",
                                       absl::ToUnixMillis(h.clock().Now()), "@example.com"));
  EXPECT_THAT(h.transport().raws()[0], HasSubstr("Auto-Submitted: auto-replied\r\n"));
  EXPECT_EQ(h.transport().passwords()[0], "secret-gateway");
  store::OutboxItem row = h.store().Row(id);
  EXPECT_EQ(row.status, "sent");
  EXPECT_EQ(row.sent_at, h.clock().Now());
  EXPECT_EQ(row.smtp_message_id, e.message_id);
  EXPECT_EQ(row.connector_id, h.gateway());  // Bound to the system default.
  EXPECT_EQ(h.observer().Count("gateway", "sent"), 1);
  EXPECT_TRUE(h.store().State(h.gateway()).last_success.has_value());
}

TEST(SenderCore, AutomaticMailGoesWithNullSenderAndLoopHeaders) {
  Harness h;
  auto queue = [&](const std::string& reason, const std::string& headers) {
    store::OutboxItem o;
    o.reason = reason;
    o.to_address = "ops@example.org";
    o.subject = reason;
    o.headers_json = headers;
    o.due_at = o.created_at = h.clock().Now();
    h.store().Queue(o);
  };
  queue("notification", "{}");  // An admin notice: no headers of its own.
  queue("ack", R"({"Auto-Submitted":"auto-replied","X-Loop":"support@example.com"})");
  queue("reply", "{}");  // The desk's own words.
  h.core().DrainOnce();
  ASSERT_THAT(h.transport().sent(), SizeIs(3));
  std::map<std::string, mail::OutgoingEmail> by_reason;
  std::map<std::string, std::string> raw_by_reason;
  for (size_t i = 0; i < 3; ++i) {
    by_reason[h.transport().sent()[i].subject] = h.transport().sent()[i];
    raw_by_reason[h.transport().sent()[i].subject] = h.transport().raws()[i];
  }
  EXPECT_TRUE(by_reason["notification"].null_envelope_sender);
  const std::string& notice = raw_by_reason["notification"];
  EXPECT_THAT(notice, HasSubstr("\r\nAuto-Submitted: auto-replied\r\n"));
  EXPECT_THAT(notice, HasSubstr("\r\nX-Auto-Response-Suppress: All\r\n"));
  EXPECT_THAT(notice, HasSubstr("\r\nX-Loop: desk@example.com\r\n"));
  // The router's X-Loop (the incoming connector's address) is kept, not doubled.
  EXPECT_TRUE(by_reason["ack"].null_envelope_sender);
  const std::string& ack = raw_by_reason["ack"];
  EXPECT_THAT(ack, HasSubstr("\r\nX-Loop: support@example.com\r\n"));
  EXPECT_EQ(ack.find("X-Loop: desk@example.com"), std::string::npos);
  EXPECT_EQ(ack.find("Auto-Submitted"), ack.rfind("Auto-Submitted"));
  EXPECT_FALSE(by_reason["reply"].null_envelope_sender);
  EXPECT_EQ(raw_by_reason["reply"].find("Auto-Submitted"), std::string::npos);
}

TEST(SenderCore, NeverSendsToWhatIsNotAnAddressWithADomain) {
  Harness h;
  int64_t bad = h.Queue("moderator-address");
  int64_t good = h.Queue("alice@example.org");
  h.core().DrainOnce();
  ASSERT_THAT(h.transport().sent(), SizeIs(1));
  EXPECT_EQ(h.transport().sent()[0].to, "alice@example.org");
  EXPECT_EQ(h.store().Row(bad).status, "failed");
  EXPECT_THAT(h.store().Row(bad).last_error, HasSubstr("invalid_address"));
  EXPECT_EQ(h.store().Row(good).status, "sent");
  EXPECT_EQ(h.store().State(h.gateway()).consecutive_errors, 0);  // Not the connector's fault.
}

TEST(SenderCore, RowsReplyToHeaderWinsOverConnectors) {
  Harness h;
  store::OutboxItem o;
  o.to_address = "bob@example.org";
  o.headers_json = R"({"Reply-To":"support+abc@example.com"})";
  o.due_at = h.clock().Now();
  h.store().Queue(o);
  h.core().DrainOnce();
  ASSERT_THAT(h.transport().sent(), SizeIs(1));
  EXPECT_EQ(h.transport().sent()[0].reply_to, "support+abc@example.com");
}

// The connector's display_name is the name in From; GMime encodes it (RFC 2047) when it is
// not ASCII.
TEST(SenderCore, FromCarriesTheConnectorsDisplayNameEncodedWhenNotAscii) {
  Harness h;
  int64_t named = h.store().AddConnector(
      "named",
      R"({"name":"named","protocol":"PROTOCOL_SMTP","primary_address":"desk@example.com",)"
      R"("display_name":"Servicedesk Müller","server":{"host":"127.0.0.1","port":2525}})");
  h.Queue("alice@example.org", named);
  h.core().DrainOnce();
  ASSERT_THAT(h.transport().sent(), SizeIs(1));
  EXPECT_EQ(h.transport().sent()[0].from_name, "Servicedesk Müller");
  const std::string raw = h.transport().raws()[0];
  EXPECT_THAT(raw, ::testing::ContainsRegex("From: [^<]*=\\?[A-Za-z0-9-]+\\?[qQbB]\\?"));
  EXPECT_THAT(raw, HasSubstr("<desk@example.com>\r\n"));
  EXPECT_THAT(raw, ::testing::Not(HasSubstr("Müller")));  // Encoded, not raw 8-bit.
}

TEST(SenderCore, RowNotYetDueIsLeftAlone) {
  Harness h;
  store::OutboxItem o;
  o.to_address = "bob@example.org";
  o.due_at = h.clock().Now() + absl::Minutes(5);  // A scheduled send.
  h.store().Queue(o);
  EXPECT_EQ(h.core().DrainOnce().claimed, 0);
  EXPECT_EQ(h.core().NextWake(absl::Hours(1)), h.clock().Now() + absl::Minutes(5));
  h.clock().Advance(absl::Minutes(5));
  EXPECT_EQ(h.core().DrainOnce().sent, 1);
}

TEST(SenderCore, TransientFailureRetriesAfterBackoffThenSends) {
  Harness h;
  int64_t id = h.Queue();
  h.transport().Script(ConnectRefused());
  DrainReport r = h.core().DrainOnce();
  EXPECT_EQ(r.retried, 1);
  store::OutboxItem row = h.store().Row(id);
  EXPECT_EQ(row.status, "queued");
  EXPECT_THAT(row.last_error, HasSubstr("Connection refused"));
  EXPECT_EQ(row.last_error_class, "network");
  EXPECT_GT(row.due_at, h.clock().Now());
  EXPECT_EQ(h.store().State(h.gateway()).consecutive_errors, 1);
  EXPECT_EQ(h.observer().Count("gateway", "retry"), 1);

  EXPECT_EQ(h.core().DrainOnce().claimed, 0);  // Not due yet.
  h.clock().Set(row.due_at);
  EXPECT_EQ(h.core().DrainOnce().sent, 1);
  EXPECT_EQ(h.store().State(h.gateway()).consecutive_errors, 0);
  // The retry carries the first attempt's Message-ID.
  ASSERT_THAT(h.transport().sent(), SizeIs(2));
  EXPECT_EQ(h.transport().sent()[0].message_id, h.transport().sent()[1].message_id);
}

TEST(SenderCore, PermanentRefusalFailsAtOnceWithTheServersWords) {
  Harness h;
  int64_t id = h.Queue("nobody@example.net");
  h.transport().Script(SmtpFail(SmtpStage::kRcptTo, 550, MailErrorClass::kServer,
                                "smtp 127.0.0.1:2525: RCPT TO refused: 550 5.1.1 User unknown"));
  DrainReport r = h.core().DrainOnce();
  EXPECT_EQ(r.failed, 1);
  store::OutboxItem row = h.store().Row(id);
  EXPECT_EQ(row.status, "failed");
  EXPECT_THAT(row.last_error, HasSubstr("550 5.1.1 User unknown"));
  EXPECT_EQ(row.last_error_class, "rejected");
  EXPECT_EQ(h.store().State(h.gateway()).consecutive_errors, 0);
  EXPECT_EQ(h.observer().Count("gateway", "failed"), 1);
}

TEST(SenderCore, GivesUpAfterMaxAttempts) {
  RetryPolicy p;
  p.max_attempts = 3;
  Harness h(p);
  h.store().AddConnector("other", kSpec);  // So the gateway's auto-disable does not matter ...
  int64_t id = h.Queue();
  for (int i = 0; i < 3; ++i) {
    h.transport().Script(SmtpFail(SmtpStage::kRcptTo, 451, MailErrorClass::kThrottled,
                                  "451 4.3.0 try later"));  // ... nor count: RCPT 4xx.
    h.clock().Set(h.store().Row(id).due_at);
    h.core().DrainOnce();
  }
  store::OutboxItem row = h.store().Row(id);
  EXPECT_EQ(row.status, "failed");
  EXPECT_EQ(row.attempts, 3);
  EXPECT_THAT(row.last_error, HasSubstr("gave up after 3 attempts; last: 451 4.3.0 try later"));
  EXPECT_EQ(h.observer().Count("gateway", "retry"), 2);
  EXPECT_EQ(h.observer().Count("gateway", "failed"), 1);
}

// One outage with a backlog is one error per pause, not one per row: the rows behind the failed
// one are not sent into the outage and keep their attempts; the connector is tried again when
// the pause (the retry policy's backoff for its error count) ends, and auto-disabled at its
// threshold only after that many spaced failures.
TEST(SenderCore, ConnectorAutoDisabledAtItsThresholdAfterSpacedFailuresWithNotice) {
  Harness h;  // threshold 3 in kSpec; pauses 30 s, 1 min
  for (int i = 0; i < 3; ++i) h.Queue();
  for (int i = 0; i < 3; ++i) h.transport().Script(ConnectRefused());
  DrainReport first = h.core().DrainOnce();  // batch 4: all three rows claimed, one tried.
  EXPECT_EQ(first.claimed, 3);
  EXPECT_THAT(h.transport().sent(), SizeIs(1));
  EXPECT_EQ(h.store().State(h.gateway()).consecutive_errors, 1);
  EXPECT_EQ(h.store().State(h.gateway()).status, "active");
  EXPECT_EQ(h.store().Row(2).attempts, 0);  // Not tried: its attempt given back ...
  EXPECT_EQ(h.observer().Count("gateway", "retry"), 1);  // ... and not counted as a send.
  EXPECT_EQ(h.store().Row(2).last_error_class, "paused");
  EXPECT_THAT(h.store().Row(2).last_error, HasSubstr("Connection refused"));
  EXPECT_EQ(h.store().Row(2).due_at, h.clock().Now() + absl::Seconds(30));
  // Paused: nothing is claimed, and the sender sleeps until the pause ends.
  h.clock().Advance(absl::Seconds(29));
  EXPECT_EQ(h.core().DrainOnce().claimed, 0);
  EXPECT_EQ(h.core().NextWake(absl::Hours(1)), h.clock().Now() + absl::Seconds(1));

  h.clock().Advance(absl::Seconds(1));
  h.core().DrainOnce();  // second error: pause 1 min
  EXPECT_EQ(h.store().State(h.gateway()).consecutive_errors, 2);
  h.clock().Advance(absl::Seconds(59));
  EXPECT_EQ(h.core().DrainOnce().claimed, 0);
  h.clock().Advance(absl::Seconds(1));
  h.core().DrainOnce();  // third: auto-disabled
  EXPECT_THAT(h.transport().sent(), SizeIs(3));
  FakeConnectorState s = h.store().State(h.gateway());
  EXPECT_EQ(s.status, "disabled_by_system");
  EXPECT_EQ(s.consecutive_errors, 3);
  EXPECT_THAT(s.auto_disabled_reason, HasSubstr("3 consecutive outgoing network errors"));
  ASSERT_THAT(h.store().Notices(), SizeIs(1));
  EXPECT_THAT(h.store().Notices()[0].subject, HasSubstr("\"gateway\" was disabled"));
  EXPECT_THAT(h.store().Notices()[0].body, HasSubstr("Connection refused"));
  // The rows wait for the connector; nothing more is claimed or counted.
  h.clock().Advance(absl::Hours(2));
  EXPECT_EQ(h.core().DrainOnce().claimed, 0);
  EXPECT_EQ(h.store().Row(1).status, "queued");
}

TEST(SenderCore, SuccessAfterAPauseSendsTheBacklogAndResetsTheCounter) {
  Harness h;
  for (int i = 0; i < 4; ++i) h.Queue();
  h.transport().Script(ConnectRefused());
  h.core().DrainOnce();
  EXPECT_EQ(h.store().State(h.gateway()).consecutive_errors, 1);
  h.clock().Advance(absl::Seconds(30));
  DrainReport r = h.core().DrainOnce();  // the server is back: all four go
  EXPECT_EQ(r.sent, 4);
  EXPECT_EQ(h.store().State(h.gateway()).consecutive_errors, 0);
  EXPECT_FALSE(h.store().State(h.gateway()).paused_until.has_value());
  EXPECT_EQ(h.store().Row(1).attempts, 2);
  EXPECT_EQ(h.store().Row(4).attempts, 1);
}

// A recipient the server refuses is the message's problem: it neither counts nor pauses.
TEST(SenderCore, RefusedRecipientDoesNotPauseTheConnector) {
  Harness h;
  h.Queue("nobody@example.org");
  h.Queue("alice@example.org");
  h.transport().Script(SmtpFail(SmtpStage::kRcptTo, 550, MailErrorClass::kServer,
                                "550 5.1.1 no such mailbox"));
  DrainReport r = h.core().DrainOnce();
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.sent, 1);
  EXPECT_FALSE(h.store().State(h.gateway()).paused_until.has_value());
}

TEST(SenderCore, SecretThatCannotBeOpenedCountsAsConnectorError) {
  Harness h;
  int64_t bad = h.store().AddConnector("bad", kSpec);
  h.store().SetStatus(bad, "active");
  // Replace the secret with one FakeSecrets refuses.
  int64_t id = h.Queue("a@example.org", bad);
  // The fake's AddConnector seals "sealed:secret-bad" which opens; force a failure instead by a
  // spec without a primary address.
  int64_t nofrom = h.store().AddConnector("nofrom", R"({"server":{"host":"h"}})");
  int64_t id2 = h.Queue("a@example.org", nofrom);
  h.core().DrainOnce();
  EXPECT_EQ(h.store().Row(id).status, "sent");
  store::OutboxItem row = h.store().Row(id2);
  EXPECT_EQ(row.status, "queued");
  EXPECT_EQ(row.last_error_class, "configuration");
  EXPECT_THAT(row.last_error, HasSubstr("no primary_address"));
  EXPECT_EQ(h.store().State(nofrom).consecutive_errors, 1);
}

TEST(SenderCore, UnusableConnectorAutoDisablesAtItsOwnThreshold) {
  Harness h;
  int64_t nofrom = h.store().AddConnector("nofrom", R"({"settings":{"error_threshold":2}})");
  h.Queue("a@example.org", nofrom);
  h.Queue("b@example.org", nofrom);
  h.core().DrainOnce();
  EXPECT_EQ(h.store().State(nofrom).consecutive_errors, 1);
  h.clock().Advance(absl::Seconds(30));
  h.core().DrainOnce();
  EXPECT_EQ(h.store().State(nofrom).status, "disabled_by_system");
  EXPECT_THAT(h.store().State(nofrom).auto_disabled_reason,
              HasSubstr("2 consecutive outgoing configuration errors"));
}

// The same words as in config, fetcher and router for a stored spec that does not read.
TEST(SenderCore, UnreadableStoredSpecIsOneConfigurationError) {
  Harness h;
  int64_t broken = h.store().AddConnector("broken", R"({"settings":{"error_threshold":"x"}})");
  int64_t id = h.Queue("a@example.org", broken);
  h.core().DrainOnce();
  store::OutboxItem row = h.store().Row(id);
  EXPECT_EQ(row.status, "queued");
  EXPECT_EQ(row.last_error_class, "configuration");
  EXPECT_THAT(row.last_error, HasSubstr("connector \"broken\": stored spec unreadable: "));
}

TEST(SenderCore, CrashedClaimIsRetriedByAnotherReplicaAfterTheLease) {
  Harness h;
  int64_t id = h.Queue();
  // Replica r0 claims and dies before recording anything.
  ASSERT_THAT(h.store().ClaimDue("r0", h.clock().Now(), absl::Minutes(10), 10),
              postroom::testing::IsOkAndHolds(SizeIs(1)));
  EXPECT_EQ(h.core().DrainOnce().claimed, 0);  // Still r0's.
  h.clock().Advance(absl::Minutes(10));
  DrainReport r = h.core().DrainOnce();
  EXPECT_EQ(r.sent, 1);
  EXPECT_EQ(h.store().Row(id).attempts, 2);
  // r0 wakes up and tries to record its result: refused, the row stays sent.
  store::AttemptOutcome late;
  late.id = id;
  late.owner = "r0";
  late.claim_token = 1;
  late.kind = store::AttemptKind::kFailed;
  auto res = h.store().FinishAttempt(late);
  ASSERT_TRUE(res.ok());
  EXPECT_FALSE(res->applied);
  EXPECT_EQ(h.store().Row(id).status, "sent");
}

TEST(SenderCore, RowClaimedTooOftenWithoutResultIsAbandoned) {
  RetryPolicy p;
  p.max_attempts = 2;
  Harness h(p);
  int64_t id = h.Queue();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(h.store().ClaimDue("crashy", h.clock().Now(), absl::Minutes(1), 1).ok());
    h.clock().Advance(absl::Minutes(1));
  }
  h.core().DrainOnce();
  EXPECT_THAT(h.transport().sent(), SizeIs(0));
  EXPECT_EQ(h.store().Row(id).status, "failed");
  EXPECT_THAT(h.store().Row(id).last_error, HasSubstr("without a recorded result"));
}

TEST(SenderCore, HeaderInjectionFailsTheRowWithoutSending) {
  Harness h;
  store::OutboxItem o;
  o.to_address = "a@example.org";
  o.subject = "x\r\nBcc: victim@example.net";
  o.due_at = h.clock().Now();
  int64_t id = h.store().Queue(o);
  h.core().DrainOnce();
  EXPECT_THAT(h.transport().sent(), SizeIs(0));
  EXPECT_EQ(h.store().Row(id).status, "failed");
  EXPECT_EQ(h.store().Row(id).last_error_class, "invalid");
}

TEST(SenderCore, AnnouncesEveryOutgoingConnector) {
  Harness h;
  h.store().SetStatus(h.gateway(), "draft");
  ASSERT_THAT(h.core().AnnounceConnectors(), postroom::testing::IsOk());
  EXPECT_THAT(h.observer().known(), ::testing::ElementsAre("gateway"));
}

TEST(SenderCore, RetryNowMakesFailedRowDueAgainIdempotently) {
  Harness h;
  int64_t id = h.Queue("nobody@example.net");
  h.transport().Script(SmtpFail(SmtpStage::kRcptTo, 550, MailErrorClass::kServer, "550 no"));
  h.core().DrainOnce();
  ASSERT_EQ(h.store().Row(id).status, "failed");
  ASSERT_TRUE(h.store().RetryNow(id, h.clock().Now()).ok());
  ASSERT_TRUE(h.store().RetryNow(id, h.clock().Now()).ok());
  EXPECT_EQ(h.store().Row(id).attempts, 0);
  EXPECT_EQ(h.core().DrainOnce().sent, 1);
  EXPECT_THAT(h.store().RetryNow(id, h.clock().Now()),
              postroom::testing::StatusIs(absl::StatusCode::kFailedPrecondition));
}

// Webhooks (docs/webhooks.md): the signature and what each answer means. Delivery itself is
// PostgreSQL's and the network's: webhook_store_pg_test, webhooks_e2e.

TEST(WebhookSignature, IsHexHmacSha256OfTimeDotBody) {
  // python3: hmac.new(b"whsec-test-key-0001", b'1700000000.{"id":"evt_1"}', sha256).hexdigest()
  EXPECT_EQ(WebhookSignature("whsec-test-key-0001", 1700000000, R"({"id":"evt_1"})"),
            "t=1700000000,v1=2265a74a7fa6b64a42581bb6de979e464e58dd508bc4f7e23de9f60081193ec9");
  EXPECT_NE(WebhookSignature("whsec-test-key-0001", 1700000001, R"({"id":"evt_1"})"),
            WebhookSignature("whsec-test-key-0001", 1700000000, R"({"id":"evt_1"})"));
}

mail::HttpResponse Answer(int status, std::string body = "") {
  mail::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(ClassifyWebhookAnswer, TwoHundredsAreSent) {
  for (int code : {200, 201, 202, 204, 299}) {
    EXPECT_EQ(ClassifyWebhookAnswer(Answer(code)).row, RowVerdict::kSent) << code;
  }
}

TEST(ClassifyWebhookAnswer, ServerErrorsThrottlingAndNoAnswerAreRetried) {
  for (int code : {500, 502, 503, 504, 408, 429}) {
    WebhookVerdict v = ClassifyWebhookAnswer(Answer(code, "busy"));
    EXPECT_EQ(v.row, RowVerdict::kRetry) << code;
    EXPECT_EQ(v.error, absl::StrCat("HTTP ", code, ": busy"));
  }
  WebhookVerdict v = ClassifyWebhookAnswer(
      mail::MailTimeoutError("POST https://desk.example.com/h: Operation timed out"));
  EXPECT_EQ(v.row, RowVerdict::kRetry);
  EXPECT_EQ(v.error_class, "network");
  EXPECT_EQ(ClassifyWebhookAnswer(mail::MailError(mail::MailErrorClass::kTls, "bad cert")).row,
            RowVerdict::kRetry);
}

TEST(ClassifyWebhookAnswer, OtherAnswersFailAtOnceWithTheAnswerKeptAndBounded) {
  WebhookVerdict v = ClassifyWebhookAnswer(Answer(422, "unknown field: reference"));
  EXPECT_EQ(v.row, RowVerdict::kFailed);
  EXPECT_EQ(v.error, "HTTP 422: unknown field: reference");
  EXPECT_EQ(ClassifyWebhookAnswer(Answer(404)).error, "HTTP 404");
  v = ClassifyWebhookAnswer(Answer(400, std::string(64 << 10, 'x')));
  EXPECT_EQ(v.error.size(), std::string("HTTP 400: ").size() + kKeptAnswerBytes);
  v = ClassifyWebhookAnswer(Answer(301));
  EXPECT_EQ(v.row, RowVerdict::kFailed);
  EXPECT_THAT(v.error, HasSubstr("redirects are not followed"));
}

}  // namespace
}  // namespace postroom::sender
