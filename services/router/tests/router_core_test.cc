// The router core's behaviour, run twice: over InMemoryRouterStore (router_core_test) and over
// PostgreSQL (router_core_pg_test, label pg).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/sha256.h"
#include "libs/mime/charset.h"
#include "libs/mime/classify.h"
#include "libs/mime/parser.h"
#include "services/router/core/internal.h"
#include "services/router/core/router_core.h"
#include "services/router/tests/store_factory.h"
#include "tests/support/status_matchers.h"

namespace postroom::router {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::StatusIs;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kKey[] = "test-reply-key";

std::string Mail(const std::string& from, const std::string& subject,
                 const std::string& extra_headers = "", const std::string& body = "Hello there.",
                 const std::string& message_id = "") {
  static int n = 0;
  std::string mid = message_id.empty() ? absl::StrCat("m", ++n, "@client.example") : message_id;
  return absl::StrCat("From: Jane Doe <", from, ">\r\nTo: support@desk.example\r\nSubject: ",
                      subject, "\r\nMessage-ID: <", mid,
                      ">\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n", extra_headers,
                      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
                      body, "\r\n");
}

// Counts what the core reports; only poison messages and unreadable specs are looked at.
class CountingMetrics : public RouterMetrics {
 public:
  void Decided(const std::string&, const std::string&, absl::Duration) override {}
  void AckQueued(const std::string&) override {}
  void AckSuppressed(const std::string&, const std::string&) override {}
  void Poisoned(const std::string& connector) override {
    absl::MutexLock lock(&mu_);
    ++poisoned_[connector];
  }
  int poisoned(const std::string& connector) {
    absl::MutexLock lock(&mu_);
    return poisoned_[connector];
  }
  void SpecUnreadable(const std::string& connector) override {
    absl::MutexLock lock(&mu_);
    ++spec_unreadable_[connector];
  }
  int spec_unreadable(const std::string& connector) {
    absl::MutexLock lock(&mu_);
    return spec_unreadable_[connector];
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int> poisoned_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> spec_unreadable_ ABSL_GUARDED_BY(mu_);
};

// The test's store, except that every decision but `failed` fails to commit: a message whose
// routing ends in an error of its own each time.
class CommitFailsStore : public store::RouterStore {
 public:
  explicit CommitFailsStore(store::RouterStore& inner) : inner_(inner) {}
  absl::StatusOr<store::DecisionResult> CommitDecision(const store::DecisionWrite& w) override {
    if (w.decision.decision == "failed") return inner_.CommitDecision(w);
    return absl::InternalError("disk on fire");
  }
  absl::StatusOr<int64_t> NextWorkItemId() override { return inner_.NextWorkItemId(); }
  absl::StatusOr<std::optional<std::string>> ConfigFingerprint(const std::string& c) override {
    return inner_.ConfigFingerprint(c);
  }
  absl::StatusOr<std::optional<store::RouterConfigRecord>> LoadConfig(
      const std::string& c) override {
    return inner_.LoadConfig(c);
  }
  absl::StatusOr<store::MessageRecord> GetMessage(int64_t id, bool raw) override {
    return inner_.GetMessage(id, raw);
  }
  absl::StatusOr<std::optional<store::MessageRecord>> FindMessageByFetchKey(
      int64_t c, const std::string& k) override {
    return inner_.FindMessageByFetchKey(c, k);
  }
  absl::StatusOr<std::vector<store::MessageRecord>> ListMessages(
      const store::MessageFilter& f) override {
    return inner_.ListMessages(f);
  }
  absl::StatusOr<store::DuplicateCheck> CheckDuplicate(int64_t c, const std::string& m,
                                                       const std::string& sha,
                                                       int64_t x) override {
    return inner_.CheckDuplicate(c, m, sha, x);
  }
  absl::StatusOr<int64_t> FindWorkItemByMessageIds(int64_t c,
                                                   const std::vector<std::string>& m) override {
    return inner_.FindWorkItemByMessageIds(c, m);
  }
  absl::StatusOr<int64_t> FindWorkItemByThreadRoot(int64_t c, const std::string& t) override {
    return inner_.FindWorkItemByThreadRoot(c, t);
  }
  absl::StatusOr<int64_t> FindWorkItemByReference(const std::string& r) override {
    return inner_.FindWorkItemByReference(r);
  }
  absl::StatusOr<int64_t> FindFollowUpByReference(int64_t c, const std::string& r) override {
    return inner_.FindFollowUpByReference(c, r);
  }
  absl::StatusOr<int> CountAcksSince(const std::string& to, absl::Time since) override {
    return inner_.CountAcksSince(to, since);
  }
  absl::StatusOr<std::optional<store::OutboxRecord>> FindOutboxForBounce(
      int64_t id, const std::string& mid) override {
    return inner_.FindOutboxForBounce(id, mid);
  }
  absl::StatusOr<bool> IsAddressSuppressed(int64_t c, const std::string& a) override {
    return inner_.IsAddressSuppressed(c, a);
  }
  absl::StatusOr<int> CountConnectorAcksSince(int64_t c, absl::Time since) override {
    return inner_.CountConnectorAcksSince(c, since);
  }
  absl::StatusOr<int> CountWorkItemAcksSince(int64_t w, absl::Time since) override {
    return inner_.CountWorkItemAcksSince(w, since);
  }
  absl::StatusOr<store::MessageRecord> SetSpamStatus(int64_t id, const std::string& s) override {
    return inner_.SetSpamStatus(id, s);
  }
  absl::Status RecordAttemptError(int64_t id, const std::string& e) override {
    return inner_.RecordAttemptError(id, e);
  }
  absl::StatusOr<std::vector<int64_t>> ClaimPending(absl::Time stored_before,
                                                    absl::Time claimed_before, absl::Time now,
                                                    int limit) override {
    return inner_.ClaimPending(stored_before, claimed_before, now, limit);
  }
  absl::StatusOr<std::optional<Attempt>> StartAttempt(int64_t id, int64_t c,
                                                      absl::Time now) override {
    return inner_.StartAttempt(id, c, now);
  }
  absl::StatusOr<store::WorkItemRecord> GetWorkItem(int64_t id) override {
    return inner_.GetWorkItem(id);
  }
  absl::StatusOr<int64_t> WorkItemIdByReference(const std::string& r) override {
    return inner_.WorkItemIdByReference(r);
  }
  absl::StatusOr<std::vector<store::WorkItemRecord>> ListWorkItems(
      const store::WorkItemFilter& f) override {
    return inner_.ListWorkItems(f);
  }
  absl::StatusOr<std::vector<store::OutboxRecord>> ListOutboxForWorkItem(int64_t id) override {
    return inner_.ListOutboxForWorkItem(id);
  }
  absl::StatusOr<std::vector<store::MessageRecord>> ListMessagesOfWorkItem(int64_t id) override {
    return inner_.ListMessagesOfWorkItem(id);
  }
  absl::StatusOr<std::vector<store::WorkItemEventRecord>> ListWorkItemEvents(
      int64_t after, const std::string& queue, int limit) override {
    return inner_.ListWorkItemEvents(after, queue, limit);
  }
  absl::StatusOr<int64_t> LatestEventId() override { return inner_.LatestEventId(); }
  absl::StatusOr<store::ForgetResult> ForgetAddress(const store::ForgetBatch& b) override {
    return inner_.ForgetAddress(b);
  }

 private:
  store::RouterStore& inner_;
};

class RouterCoreTest : public ::testing::Test {
 protected:
  RouterCoreTest() : clock_(absl::Now()), holder_(testing::MakeStore([this] { return clock_.Now(); })) {
    connector_.name = "support";
    connector_.protocol = "imap";
    connector_.direction = "incoming";
    connector_.status = "active";
    SetSpec(R"({"name":"support","primary_address":"support@desk.example",
                "subject_token_prefix":"SUP","outgoing_connector":"smtp-out"})");
    store::ConnectorRecord out;
    out.name = "smtp-out";
    out.protocol = "smtp";
    out.direction = "outgoing";
    out.status = "active";
    out.spec_json = R"({"name":"smtp-out"})";
    holder_->PutConnector(out);
    outgoing_id_ = out.id;
    AddRoute("fallback", 100, true, "{}", R"({"queue":"general","ack_template":"ack"})");
    store::DocumentRecord tpl;
    tpl.key = "ack";
    tpl.spec_json = R"({"name":"ack","subject":"We got it: {{message.subject}} {{reply_token}}",
                        "body_text":"Hello {{sender.name}}, your request is {{work_item.reference}}."})";
    holder_->PutDocument(store::DocumentKind::kTemplate, tpl);
    router_ = std::make_unique<Router>(RouterOptions{.store = &holder_->store(),
                                                     .clock = &clock_,
                                                     .metrics = &metrics_,
                                                     .reply_token_key = kKey,
                                                     .config_recheck = absl::ZeroDuration()});
  }

  void SetSpec(const std::string& spec) {
    connector_.spec_json = spec;
    holder_->PutConnector(connector_);
  }
  void AddRoute(const std::string& name, int position, bool fallback, const std::string& when,
                const std::string& then, bool test_mode_only = false) {
    store::RouteRecord r;
    r.connector_id = connector_.id;
    r.name = name;
    r.position = position;
    r.fallback = fallback;
    r.when_json = when;
    r.then_json = then;
    r.test_mode_only = test_mode_only;
    holder_->PutRoute(r);
  }
  void Setting(const std::string& key, const std::string& value) {
    holder_->PutDocument(store::DocumentKind::kSetting,
                         {.key = key, .spec_json = absl::StrCat(R"({"key":")", key,
                                                                R"(","value":")", value, R"("})")});
  }

  v1::RouteEmailResponse Route(const std::string& raw, const std::string& fetch_key = "") {
    return RouteTo("support", raw, fetch_key);
  }
  v1::RouteEmailResponse RouteTo(const std::string& connector, const std::string& raw,
                                 const std::string& fetch_key = "") {
    v1::RouteEmailRequest req;
    req.set_connector(connector);
    req.set_raw_message(raw);
    req.set_fetch_key(fetch_key);
    absl::StatusOr<v1::RouteEmailResponse> r = router_->RouteEmail(req);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : v1::RouteEmailResponse();
  }
  v1::GetWorkItemResponse WorkItem(int64_t id) {
    v1::GetWorkItemRequest req;
    req.set_id(id);
    absl::StatusOr<v1::GetWorkItemResponse> r = router_->GetWorkItem(req);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : v1::GetWorkItemResponse();
  }
  int WorkItemCount() {
    absl::StatusOr<v1::ListWorkItemsResponse> r = router_->ListWorkItems({});
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->work_items_size() : -1;
  }
  static std::string TraceText(const v1::RouteEmailResponse& r) {
    std::string out;
    for (const v1::TraceStep& s : r.trace()) {
      absl::StrAppend(&out, s.step(), s.decided() ? " [decided]" : "", ": ", s.reason(), "\n");
    }
    return out;
  }

  // The trace entry of `step`; an empty one when there is none.
  template <typename Steps>
  static v1::TraceStep StepOf(const Steps& trace, const std::string& step) {
    for (const v1::TraceStep& s : trace) {
      if (s.step() == step) return s;
    }
    return v1::TraceStep();
  }
  // The answer of RouteEmail is the decision as stored: `describe message` says the same.
  void ExpectStoredAsAnswered(const v1::RouteEmailResponse& r) {
    v1::StoredMessage m = Stored(r.message_id());
    EXPECT_EQ(m.decision(), r.decision());
    EXPECT_EQ(m.step(), r.step());
    EXPECT_EQ(m.route(), r.route());
    EXPECT_EQ(m.reason(), r.reason());
    v1::RouteEmailResponse stored_trace;
    *stored_trace.mutable_trace() = m.trace();
    EXPECT_EQ(TraceText(stored_trace), TraceText(r));
  }
  v1::RouteEmailResponse Explain(const std::string& raw) {
    v1::ExplainRouteRequest req;
    req.set_connector("support");
    req.set_raw_message(raw);
    absl::StatusOr<v1::RouteEmailResponse> r = router_->ExplainRoute(req);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : v1::RouteEmailResponse();
  }

  // A pending message as the fetcher stores it, with its Message-ID.
  int64_t StorePending(const std::string& fetch_key, const std::string& subject) {
    store::MessageRecord m;
    m.connector_id = connector_.id;
    m.fetch_key = fetch_key;
    m.raw = Mail("jane@client.example", subject);
    m.content_sha256 = Sha256(m.raw);
    return holder_->StorePending(m);
  }
  // What a sweep does before it routes, without routing: a router killed at that moment.
  std::vector<int64_t> ClaimAndDie() {
    clock_.Advance(absl::Minutes(2));  // Past the previous claim's timeout.
    absl::Time now = clock_.Now();
    absl::StatusOr<std::vector<int64_t>> ids =
        holder_->store().ClaimPending(now, now - absl::Minutes(1), now, 10);
    EXPECT_THAT(ids, IsOk());
    return ids.ok() ? *ids : std::vector<int64_t>{};
  }
  v1::StoredMessage Stored(int64_t id) {
    absl::StatusOr<v1::StoredMessage> m = router_->GetMessage(id, false);
    EXPECT_THAT(m, IsOk());
    return m.ok() ? *m : v1::StoredMessage();
  }

  FakeClock clock_;
  CountingMetrics metrics_;
  std::unique_ptr<testing::StoreHolder> holder_;
  store::ConnectorRecord connector_;
  int64_t outgoing_id_ = 0;
  std::unique_ptr<Router> router_;
};

TEST_F(RouterCoreTest, FallbackCreatesWorkItemWithReferenceAndTrace) {
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Printer broken"));
  EXPECT_EQ(r.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(r.step(), "fallback");
  EXPECT_EQ(r.route(), "fallback");
  EXPECT_EQ(r.work_item_reference(), absl::StrCat("SUP-", r.work_item_id()));
  EXPECT_THAT(TraceText(r), HasSubstr("blocked_sender: sender jane@client.example not blocked"));
  EXPECT_THAT(TraceText(r), HasSubstr("follow_up: "));
  v1::GetWorkItemResponse wi = WorkItem(r.work_item_id());
  EXPECT_EQ(wi.work_item().queue(), "general");
  EXPECT_EQ(wi.work_item().source(), "email");
  EXPECT_EQ(wi.work_item().requester_address(), "jane@client.example");
  EXPECT_EQ(wi.work_item().requester_name(), "Jane Doe");
  EXPECT_EQ(wi.work_item().subject(), "Printer broken");
  EXPECT_THAT(wi.work_item().body(), HasSubstr("Hello there."));
  EXPECT_THAT(wi.messages(), SizeIs(1));
}

TEST_F(RouterCoreTest, FirstMatchingRouteWinsAndEarlierRoutesExplainWhy) {
  AddRoute("invoices", 1, false, R"({"subject_contains":["invoice"]})",
           R"({"queue":"billing","priority":"high","fields":{"customer":{"from":"sender_address"}}})");
  AddRoute("printers", 2, false, R"({"subject_contains":["printer"]})", R"({"queue":"it"})");
  AddRoute("also-printers", 3, false, R"({"body_contains":["hello"]})", R"({"queue":"other"})");
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Printer broken"));
  EXPECT_EQ(r.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(r.route(), "printers");
  EXPECT_EQ(r.queue(), "it");
  EXPECT_THAT(TraceText(r), HasSubstr("route:invoices: no match: when.subject_contains"));
  EXPECT_THAT(TraceText(r), HasSubstr("route:printers [decided]: matched"));
  EXPECT_THAT(TraceText(r), ::testing::Not(HasSubstr("also-printers")));

  v1::RouteEmailResponse inv = Route(Mail("bob@vendor.example", "Invoice 7"));
  v1::GetWorkItemResponse wi = WorkItem(inv.work_item_id());
  EXPECT_EQ(wi.work_item().priority(), "high");
  EXPECT_EQ(wi.work_item().fields().at("customer"), "bob@vendor.example");
}

TEST_F(RouterCoreTest, StopRouteLeavesMessageUnhandled) {
  AddRoute("drop", 1, false, R"({"from_domain":"spammy.example"})", R"({"stop":true})");
  v1::RouteEmailResponse r = Route(Mail("x@spammy.example", "Buy"));
  EXPECT_EQ(r.decision(), v1::DECISION_UNHANDLED);
  EXPECT_EQ(r.route(), "drop");
  EXPECT_EQ(r.work_item_id(), 0);
}

TEST_F(RouterCoreTest, TestModeRouteIsSkippedOutsideTestMode) {
  AddRoute("trial", 1, false, R"({"subject_contains":["printer"]})", R"({"queue":"trial"})",
           /*test_mode_only=*/true);
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Printer"));
  EXPECT_EQ(r.route(), "fallback");
  EXPECT_THAT(TraceText(r), HasSubstr("route:trial: skipped: test mode only"));
}

TEST_F(RouterCoreTest, BlockedAddressAndDomainAreBlocked) {
  holder_->PutDocument(store::DocumentKind::kBlockedAddress,
                       {.key = "evil@bad.example", .spec_json = R"({"pattern":"evil@bad.example"})"});
  holder_->PutDocument(store::DocumentKind::kBlockedAddress,
                       {.key = "@worse.example", .spec_json = R"({"pattern":"@worse.example"})"});
  v1::RouteEmailResponse a = Route(Mail("evil@bad.example", "hi"));
  EXPECT_EQ(a.decision(), v1::DECISION_BLOCKED);
  EXPECT_EQ(a.step(), "blocked_sender");
  v1::RouteEmailResponse b = Route(Mail("x@eu.worse.example", "hi"));
  EXPECT_EQ(b.decision(), v1::DECISION_BLOCKED);
  v1::RouteEmailResponse c = Route(Mail("ok@bad.example", "hi"));
  EXPECT_EQ(c.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(WorkItemCount(), 1);
}

TEST_F(RouterCoreTest, ReplayOfSameFetchKeyReturnsRecordedDecisionAndNoSecondWorkItem) {
  std::string raw = Mail("jane@client.example", "Help");
  v1::RouteEmailResponse first = Route(raw, "INBOX:1:7");
  v1::RouteEmailResponse again = Route(raw, "INBOX:1:7");
  EXPECT_FALSE(first.replayed());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.message_id(), first.message_id());
  EXPECT_EQ(again.work_item_id(), first.work_item_id());
  EXPECT_EQ(again.work_item_reference(), first.work_item_reference());
  EXPECT_EQ(again.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(TraceText(again), TraceText(first)) << "the replay reads the stored trace back";
  EXPECT_EQ(WorkItemCount(), 1);
}

TEST_F(RouterCoreTest, DefaultFetchKeyIsContentHashSoRetriesReplay) {
  std::string raw = Mail("jane@client.example", "Help");
  Route(raw);
  EXPECT_TRUE(Route(raw).replayed());
  EXPECT_EQ(WorkItemCount(), 1);
}

TEST_F(RouterCoreTest, SameMessageUnderAnotherFetchKeyIsDuplicate) {
  std::string raw = Mail("jane@client.example", "Help", "", "body", "dup-1@client.example");
  v1::RouteEmailResponse first = Route(raw, "INBOX:1:1");
  v1::RouteEmailResponse second = Route(raw, "Archive:1:1");
  EXPECT_EQ(second.decision(), v1::DECISION_DUPLICATE);
  EXPECT_FALSE(second.replayed());
  EXPECT_EQ(second.work_item_id(), 0);
  absl::StatusOr<v1::StoredMessage> m = router_->GetMessage(second.message_id(), false);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->duplicate_of(), first.message_id());
  EXPECT_EQ(WorkItemCount(), 1);
  // Found by the commit's check: the stored trace ends at the duplicate step, as answered.
  const std::string why = absl::StrCat("same Message-ID <dup-1@client.example> and content as message ",
                                       first.message_id(), " (created)");
  EXPECT_EQ(second.step(), "duplicate");
  EXPECT_EQ(second.reason(), why);
  EXPECT_EQ(TraceText(second),
            absl::StrCat("blocked_sender: sender jane@client.example not blocked\n",
                         "duplicate [decided]: ", why, "\n"));
  ExpectStoredAsAnswered(second);
}

TEST_F(RouterCoreTest, ConcurrentCopiesOfOneMessageMakeOneWorkItem) {
  // Two mailboxes (or two router replicas) hand over the same message at once: the duplicate
  // check under the commit's lock lets exactly one create a work item.
  const std::string raw = Mail("jane@client.example", "Race", "", "body", "race@client.example");
  std::atomic<int> created{0}, duplicates{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      v1::RouteEmailRequest req;
      req.set_connector("support");
      req.set_raw_message(raw);
      req.set_fetch_key(absl::StrCat("race:", i));
      absl::StatusOr<v1::RouteEmailResponse> r = router_->RouteEmail(req);
      if (!r.ok()) {
        ++errors;
      } else if (r->decision() == v1::DECISION_CREATED) {
        ++created;
      } else if (r->decision() == v1::DECISION_DUPLICATE) {
        ++duplicates;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(duplicates.load(), 5);
  EXPECT_EQ(WorkItemCount(), 1);
  // Every copy that lost the race is stored as what it was answered: a duplicate, decided at
  // the duplicate step, no route.
  absl::StatusOr<v1::ListMessagesResponse> all = router_->ListMessages({});
  ASSERT_THAT(all, IsOk());
  for (const v1::StoredMessage& listed : all->messages()) {
    v1::StoredMessage m = Stored(listed.id());
    if (m.decision() != v1::DECISION_DUPLICATE) continue;
    EXPECT_EQ(m.step(), "duplicate");
    EXPECT_EQ(m.route(), "");
    ASSERT_GT(m.trace_size(), 0);
    EXPECT_EQ(m.trace(m.trace_size() - 1).step(), "duplicate");
    EXPECT_TRUE(m.trace(m.trace_size() - 1).decided());
    EXPECT_EQ(m.trace(m.trace_size() - 1).reason(), m.reason());
  }
}

// A copy whose line endings changed over IMAP has the Message-ID but other bytes: routed as new
// mail, and the duplicate step says which message it compared and why it does not count. The
// dry run (ExplainRoute, the store's lookup) and the commit's check (under its lock) agree.
TEST_F(RouterCoreTest, SameMessageIdWithOtherContentIsNotDuplicateAndTheTraceSaysWhy) {
  const std::string crlf = Mail("jane@client.example", "Help", "", "one", "same@client.example");
  const std::string lf = absl::StrReplaceAll(crlf, {{"\r\n", "\n"}});
  v1::RouteEmailResponse first = Route(crlf, "k1");
  const std::string why = absl::StrCat("message ", first.message_id(),
                                       " (created) has Message-ID <same@client.example> but other "
                                       "content (line endings or headers changed on the way?): "
                                       "only an identical copy is a duplicate");
  v1::RouteEmailResponse explained = Explain(lf);
  EXPECT_EQ(explained.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(StepOf(explained.trace(), "duplicate").reason(), why);
  v1::RouteEmailResponse r = Route(lf, "k2");
  EXPECT_EQ(r.decision(), v1::DECISION_CREATED);
  EXPECT_FALSE(StepOf(r.trace(), "duplicate").decided());
  EXPECT_EQ(StepOf(r.trace(), "duplicate").reason(), why);
  ExpectStoredAsAnswered(r);
  // No copy at all, and an identical one: the dry run and the commit say the same.
  const std::string fresh = Mail("jane@client.example", "New", "", "x", "fresh@client.example");
  EXPECT_EQ(StepOf(Explain(fresh).trace(), "duplicate").reason(),
            "no earlier copy of <fresh@client.example>");
  v1::RouteEmailResponse original = Route(fresh, "k3");
  EXPECT_EQ(StepOf(original.trace(), "duplicate").reason(),
            "no earlier copy of <fresh@client.example>");
  ExpectStoredAsAnswered(original);
  v1::RouteEmailResponse explained_copy = Explain(fresh);
  v1::RouteEmailResponse copy = Route(fresh, "k4");
  EXPECT_EQ(copy.decision(), v1::DECISION_DUPLICATE);
  EXPECT_EQ(explained_copy.decision(), v1::DECISION_DUPLICATE);
  EXPECT_EQ(TraceText(explained_copy), TraceText(copy));
  EXPECT_EQ(explained_copy.reason(), copy.reason());
}

TEST_F(RouterCoreTest, SpamFlagIsSpamWithoutWorkItemOrAck) {
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Win", "X-Spam-Flag: YES\r\n"));
  EXPECT_EQ(r.decision(), v1::DECISION_SPAM);
  EXPECT_EQ(r.spam_status(), v1::SPAM_STATUS_AUTO_SPAM);
  EXPECT_EQ(r.work_item_id(), 0);
  EXPECT_FALSE(r.acknowledgement_queued());
  EXPECT_THAT(r.reason(), HasSubstr("spam:"));
}

TEST_F(RouterCoreTest, SpamQueueMakesSpamWorkItemWithoutAck) {
  SetSpec(R"({"name":"support","spam_queue":"spam-review","subject_token_prefix":"SUP"})");
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Win", "X-Spam-Flag: YES\r\n"));
  EXPECT_EQ(r.decision(), v1::DECISION_SPAM);
  EXPECT_NE(r.work_item_id(), 0);
  EXPECT_EQ(WorkItem(r.work_item_id()).work_item().queue(), "spam-review");
  EXPECT_FALSE(r.acknowledgement_queued());
}

TEST_F(RouterCoreTest, AutoReplyAndBounceAreDecidedWithoutWorkItem) {
  v1::RouteEmailResponse a =
      Route(Mail("jane@client.example", "Out of office", "Auto-Submitted: auto-replied\r\n"));
  EXPECT_EQ(a.decision(), v1::DECISION_AUTO_REPLY);
  std::string bounce =
      "From: MAILER-DAEMON@mx.example\r\nTo: support@desk.example\r\nSubject: Undelivered\r\n"
      "Message-ID: <b1@mx.example>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"XX\"\r\n\r\n"
      "--XX\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--XX\r\n"
      "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
      "Final-Recipient: rfc822; gone@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
      "--XX--\r\n";
  v1::RouteEmailResponse b = Route(bounce);
  EXPECT_EQ(b.decision(), v1::DECISION_BOUNCE);
  EXPECT_THAT(b.reason(), HasSubstr("5.1.1"));
  EXPECT_EQ(WorkItemCount(), 0);
}

TEST_F(RouterCoreTest, ListMailIsRoutedButNeverAcknowledged) {
  v1::RouteEmailResponse r =
      Route(Mail("news@list.example", "Digest", "List-Id: <news.list.example>\r\n"));
  EXPECT_EQ(r.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(r.classification(), "list");
  EXPECT_FALSE(r.acknowledgement_queued());
  EXPECT_EQ(r.acknowledgement_suppressed(), "list");
}

TEST_F(RouterCoreTest, SenderOutsideAllowedDomainsIsUnhandled) {
  SetSpec(R"({"name":"support","allowed_sender_domains":["client.example"]})");
  EXPECT_EQ(Route(Mail("a@eu.client.example", "x")).decision(), v1::DECISION_CREATED);
  v1::RouteEmailResponse r = Route(Mail("a@other.example", "x"));
  EXPECT_EQ(r.decision(), v1::DECISION_UNHANDLED);
  EXPECT_EQ(r.step(), "allowed_domains");
}

TEST_F(RouterCoreTest, FollowUpBySubjectTokenIsAppended) {
  v1::RouteEmailResponse first = Route(Mail("jane@client.example", "Printer"));
  v1::RouteEmailResponse r = Route(Mail(
      "jane@client.example", absl::StrCat("Re: Printer [#", first.work_item_reference(), "]")));
  EXPECT_EQ(r.decision(), v1::DECISION_APPENDED);
  EXPECT_EQ(r.step(), "follow_up");
  EXPECT_EQ(r.work_item_id(), first.work_item_id());
  EXPECT_THAT(WorkItem(first.work_item_id()).work_item().message_ids(), SizeIs(2));
  // A token naming no work item falls through to the routes.
  EXPECT_EQ(Route(Mail("jane@client.example", "Re: [#SUP-999999]")).decision(),
            v1::DECISION_CREATED);
}

// Issue #20: the work item carries what the sender wrote beside the full body, and the route's
// `template` (the desk's form).
TEST_F(RouterCoreTest, CreatedWorkItemKeepsTheNewTextBesideTheBodyAndTheRoutesTemplate) {
  AddRoute("incidents", 1, false, R"({"subject_contains":"outage"})",
           R"({"queue":"incidents","template":"incident-form"})");
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Mail outage", "",
                                        "Nothing arrives since 9:00.\r\n\r\n-- \r\nJane Doe\r\n"
                                        "ACME Corp, 3rd floor"));
  ASSERT_EQ(r.decision(), v1::DECISION_CREATED);
  const v1::WorkItem w = WorkItem(r.work_item_id()).work_item();
  EXPECT_EQ(w.new_text(), "Nothing arrives since 9:00.");
  EXPECT_THAT(w.body(), HasSubstr("ACME Corp"));  // The full text stays beside it.
  EXPECT_EQ(w.template_(), "incident-form");
  EXPECT_EQ(Stored(r.message_id()).new_text(), "Nothing arrives since 9:00.");
  // Lists and events carry it too, so a desk watching the queue needs no second read.
  absl::StatusOr<v1::ListWorkItemsResponse> listed = router_->ListWorkItems({});
  ASSERT_THAT(listed, IsOk());
  ASSERT_THAT(listed->work_items(), SizeIs(1));
  EXPECT_EQ(listed->work_items(0).new_text(), "Nothing arrives since 9:00.");
  EXPECT_EQ(listed->work_items(0).template_(), "incident-form");
  absl::StatusOr<std::vector<v1::WorkItemEvent>> events = router_->WorkItemEvents(0, "", 10);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_EQ((*events)[0].work_item().new_text(), "Nothing arrives since 9:00.");
  EXPECT_EQ((*events)[0].work_item().template_(), "incident-form");
  // A route without a template leaves it empty.
  EXPECT_EQ(WorkItem(Route(Mail("jane@client.example", "Printer")).work_item_id())
                .work_item()
                .template_(),
            "");
}

TEST_F(RouterCoreTest, FollowUpKeepsItsOwnNewTextWithoutTheQuotedOriginal) {
  v1::RouteEmailResponse first = Route(Mail("jane@client.example", "Printer", "",
                                            "The printer on floor 3 jams on every page."));
  v1::RouteEmailResponse r = Route(Mail(
      "jane@client.example", absl::StrCat("Re: Printer [#", first.work_item_reference(), "]"), "",
      "It works again after the restart, thanks.\r\n\r\n"
      "On Tue, Nov 24, 2026 at 10:00 AM Support Desk <\r\nsupport@desk.example> wrote:\r\n\r\n"
      "> Please restart it.\r\n>\r\n> On Mon, Jane wrote:\r\n>> The printer on floor 3 jams on "
      "every page.\r\n"));
  ASSERT_EQ(r.decision(), v1::DECISION_APPENDED);
  const v1::StoredMessage follow_up = Stored(r.message_id());
  EXPECT_EQ(follow_up.new_text(), "It works again after the restart, thanks.");
  EXPECT_THAT(follow_up.new_text(), Not(HasSubstr("floor 3")));
  EXPECT_THAT(follow_up.new_text(), Not(HasSubstr("restart it")));
  v1::GetWorkItemResponse wi = WorkItem(first.work_item_id());
  // The work item keeps its first message's; each message of it carries its own.
  EXPECT_EQ(wi.work_item().new_text(), "The printer on floor 3 jams on every page.");
  ASSERT_THAT(wi.messages(), SizeIs(2));
  EXPECT_EQ(wi.messages(0).new_text(), "The printer on floor 3 jams on every page.");
  EXPECT_EQ(wi.messages(1).new_text(), "It works again after the restart, thanks.");
}

TEST_F(RouterCoreTest, MailThatReachesNoWorkItemKeepsNoNewText) {
  v1::RouteEmailResponse r =
      Route(Mail("jane@client.example", "Away", "Auto-Submitted: auto-replied\r\n", "I am out."));
  ASSERT_EQ(r.decision(), v1::DECISION_AUTO_REPLY);
  EXPECT_EQ(Stored(r.message_id()).new_text(), "");
}

// Bounded like the body, cut at a character boundary (PostgreSQL refuses half a character);
// lists carry the first 2,048 characters, GetWorkItem all of it.
TEST_F(RouterCoreTest, LongNewTextIsBoundedAtACharacterAndListsCarryAPreview) {
  // One 400 KB line of two-byte characters after one byte: 256 KiB falls inside a character.
  std::string body = "x";
  for (int i = 0; i < 200000; ++i) body += "\xc3\xa9";
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Logs", "", body));
  ASSERT_EQ(r.decision(), v1::DECISION_CREATED);
  const v1::WorkItem w = WorkItem(r.work_item_id()).work_item();
  EXPECT_EQ(w.new_text().size(), store::kMaxNewTextBytes - 1);
  EXPECT_TRUE(mime::IsValidUtf8(w.new_text()));
  EXPECT_EQ(w.body().size(), (256u << 10) - 1);
  EXPECT_TRUE(mime::IsValidUtf8(w.body()));
  absl::StatusOr<v1::ListWorkItemsResponse> listed = router_->ListWorkItems({});
  ASSERT_THAT(listed, IsOk());
  ASSERT_THAT(listed->work_items(), SizeIs(1));
  EXPECT_EQ(listed->work_items(0).new_text(), store::NewTextPreview(w.new_text()));
  EXPECT_TRUE(absl::StartsWith(w.new_text(), listed->work_items(0).new_text()));
  EXPECT_EQ(listed->work_items(0).new_text().size(), 2 * store::kNewTextPreviewChars - 1);
}

// A subject token is looked up among the connector's own work items (or those of connectors
// sharing its explicit prefix), never globally: mail to one mailbox cannot attach itself to
// another mailbox's work item by naming its reference.
TEST_F(RouterCoreTest, SubjectTokenNamesOnlyWorkItemsOfItsConnectorOrItsPrefix) {
  SetSpec(R"({"name":"support","primary_address":"support@desk.example"})");  // Prefix WI.
  store::ConnectorRecord hr;
  hr.name = "hr";
  hr.protocol = "imap";
  hr.direction = "incoming";
  hr.status = "active";
  hr.spec_json = R"({"name":"hr"})";  // Prefix WI too.
  holder_->PutConnector(hr);
  store::RouteRecord fallback{.connector_id = hr.id, .name = "fallback", .position = 100,
                              .fallback = true, .when_json = "{}",
                              .then_json = R"({"queue":"people"})"};
  holder_->PutRoute(fallback);

  v1::RouteEmailResponse payslip = RouteTo("hr", Mail("jane@client.example", "Payslip"));
  ASSERT_EQ(payslip.decision(), v1::DECISION_CREATED);
  ASSERT_EQ(payslip.work_item_reference(), absl::StrCat("WI-", payslip.work_item_id()));
  v1::RouteEmailResponse probe = Route(Mail(
      "mallory@evil.example", absl::StrCat("Re: [#", payslip.work_item_reference(), "]")));
  EXPECT_EQ(probe.decision(), v1::DECISION_CREATED);
  EXPECT_NE(probe.work_item_id(), payslip.work_item_id());
  EXPECT_THAT(TraceText(probe), HasSubstr("names no work item of this connector or its prefix"));
  EXPECT_THAT(WorkItem(payslip.work_item_id()).work_item().message_ids(), SizeIs(1));

  // Connectors that set the same prefix share their work items on purpose.
  SetSpec(R"({"name":"support","primary_address":"support@desk.example",
              "subject_token_prefix":"DESK"})");
  hr.spec_json = R"({"name":"hr", "subject_token_prefix": "DESK"})";
  holder_->PutConnector(hr);
  v1::RouteEmailResponse laptop = RouteTo("hr", Mail("jane@client.example", "Laptop"));
  ASSERT_EQ(laptop.work_item_reference(), absl::StrCat("DESK-", laptop.work_item_id()));
  v1::RouteEmailResponse shared = Route(
      Mail("jane@client.example", absl::StrCat("Re: [#", laptop.work_item_reference(), "]")));
  EXPECT_EQ(shared.decision(), v1::DECISION_APPENDED);
  EXPECT_EQ(shared.work_item_id(), laptop.work_item_id());
}

TEST_F(RouterCoreTest, FollowUpByInReplyToAndReferencesIsAppended) {
  v1::RouteEmailResponse first =
      Route(Mail("jane@client.example", "Printer", "", "x", "orig-1@client.example"));
  v1::RouteEmailResponse r = Route(
      Mail("colleague@client.example", "Re: Printer", "In-Reply-To: <orig-1@client.example>\r\n"));
  EXPECT_EQ(r.decision(), v1::DECISION_APPENDED);
  EXPECT_EQ(r.work_item_id(), first.work_item_id());
  v1::RouteEmailResponse refs = Route(Mail(
      "jane@client.example", "Re: Re: Printer",
      "References: <unknown@x.example> <orig-1@client.example>\r\n"));
  EXPECT_EQ(refs.work_item_id(), first.work_item_id());
}

TEST_F(RouterCoreTest, FollowUpBySignedReplyTokenIsAppendedAndForgedTokenIsNot) {
  v1::RouteEmailResponse first = Route(Mail("jane@client.example", "Printer"));
  std::string token = MakeReplyToken(kKey, first.work_item_id(), clock_.Now());
  std::string reply = absl::StrReplaceAll(
      Mail("jane@client.example", "Re: something"),
      {{"To: support@desk.example", absl::StrCat("To: support+", token, "@desk.example")}});
  v1::RouteEmailResponse r = Route(reply);
  EXPECT_EQ(r.decision(), v1::DECISION_APPENDED);
  EXPECT_THAT(r.reason(), HasSubstr("reply token"));
  std::string forged = absl::StrReplaceAll(
      Mail("jane@client.example", "Re: something"),
      {{"To: support@desk.example",
        absl::StrCat("To: support+w", first.work_item_id(), "-aaaaaaaaaa@desk.example")}});
  EXPECT_EQ(Route(forged).decision(), v1::DECISION_CREATED);
  EXPECT_EQ(VerifyReplyToken(kKey, token), first.work_item_id());
  EXPECT_EQ(VerifyReplyToken("other-key", token), 0);
}

// A reply to mail whose Reply-To carried `token`, with its own Message-ID and `subject`.
std::string ReplyWithToken(const std::string& token, const std::string& subject) {
  return absl::StrReplaceAll(
      Mail("jane@client.example", subject),
      {{"To: support@desk.example", absl::StrCat("To: support+", token, "@desk.example")}});
}

TEST_F(RouterCoreTest, ReplyTokenOlderThanReplyTokenDaysRoutesAsNewMail) {
  Setting("reply_token_days", "90");
  v1::RouteEmailResponse first = Route(Mail("jane@client.example", "Printer"));
  const std::string token = MakeReplyToken(kKey, first.work_item_id(), clock_.Now());
  const std::string issued = absl::FormatTime("%Y-%m-%d", clock_.Now(), absl::UTCTimeZone());
  clock_.Advance(absl::Hours(24 * 89));
  v1::RouteEmailResponse young = Route(ReplyWithToken(token, "Re: something"));
  EXPECT_EQ(young.decision(), v1::DECISION_APPENDED) << TraceText(young);
  EXPECT_EQ(young.work_item_id(), first.work_item_id());
  clock_.Advance(absl::Hours(24 * 2));
  v1::RouteEmailResponse old = Route(ReplyWithToken(token, "Re: something"));
  EXPECT_EQ(old.decision(), v1::DECISION_CREATED) << TraceText(old);
  EXPECT_NE(old.work_item_id(), first.work_item_id());
  EXPECT_THAT(StepOf(old.trace(), "follow_up").reason(),
              HasSubstr(absl::StrCat("reply token for ", first.work_item_reference(),
                                     " expired: issued ", issued,
                                     ", older than reply_token_days 90")));
  ExpectStoredAsAnswered(old);
  // The subject token still threads it: only the reply token expired.
  v1::RouteEmailResponse by_subject = Route(ReplyWithToken(
      token, absl::StrCat("Re: Printer [#", first.work_item_reference(), "]")));
  EXPECT_EQ(by_subject.decision(), v1::DECISION_APPENDED);
  EXPECT_EQ(by_subject.work_item_id(), first.work_item_id());
  EXPECT_THAT(by_subject.reason(),
              HasSubstr(absl::StrCat("subject token [#", first.work_item_reference(),
                                     "] (reply token for ", first.work_item_reference(),
                                     " expired: issued ", issued)));
  ExpectStoredAsAnswered(by_subject);
}

TEST_F(RouterCoreTest, ReplyTokensNeverExpireWithoutTheSettingAndUndatedOnesCountFromCreation) {
  v1::RouteEmailResponse first = Route(Mail("jane@client.example", "Printer"));
  const std::string dated = MakeReplyToken(kKey, first.work_item_id(), clock_.Now());
  const std::string undated = secrets::MakeUndatedReplyToken(kKey, first.work_item_id());
  clock_.Advance(absl::Hours(24 * 4000));
  EXPECT_EQ(Route(ReplyWithToken(dated, "Re: a")).decision(), v1::DECISION_APPENDED);
  EXPECT_EQ(Route(ReplyWithToken(undated, "Re: b")).decision(), v1::DECISION_APPENDED);
  Setting("reply_token_days", "3650");
  v1::RouteEmailResponse old = Route(ReplyWithToken(undated, "Re: c"));
  EXPECT_EQ(old.decision(), v1::DECISION_CREATED) << TraceText(old);
  EXPECT_THAT(TraceText(old),
              HasSubstr(absl::StrCat("reply token for ", first.work_item_reference(),
                                     " expired: undated, counted from the work item's creation")));
  EXPECT_EQ(Route(ReplyWithToken(dated, "Re: d")).decision(), v1::DECISION_CREATED);
}

TEST_F(RouterCoreTest, FollowUpByOutlookThreadIndexIsAppended) {
  // 22-byte conversation header, base64; a reply adds 5 bytes.
  v1::RouteEmailResponse first =
      Route(Mail("jane@client.example", "Printer", "Thread-Index: AQIDBAUGBwgJCgsMDQ4PEBESExQVFg==\r\n"));
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "AW: Printer",
                                        "Thread-Index: AQIDBAUGBwgJCgsMDQ4PEBESExQVFgkIBwYF\r\n"));
  EXPECT_EQ(r.decision(), v1::DECISION_APPENDED);
  EXPECT_EQ(r.work_item_id(), first.work_item_id());
  EXPECT_THAT(r.reason(), HasSubstr("Thread-Index"));
}

TEST_F(RouterCoreTest, AckIsQueuedOnceWithTemplateReplyTokenAndOutgoingConnector) {
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Printer"), "k-ack");
  EXPECT_TRUE(r.acknowledgement_queued());
  v1::GetWorkItemResponse wi = WorkItem(r.work_item_id());
  ASSERT_THAT(wi.outbox(), SizeIs(1));
  const v1::OutboxEmail& ack = wi.outbox(0);
  EXPECT_EQ(ack.to_address(), "jane@client.example");
  EXPECT_EQ(ack.reason(), "ack");
  EXPECT_EQ(ack.status(), "queued");
  EXPECT_EQ(ack.dedupe_key(), absl::StrCat("ack:", r.message_id()));
  EXPECT_EQ(ack.outgoing_connector(), "smtp-out");
  // {{reply_token}} is the subject token, written once (the signed token goes into Reply-To).
  EXPECT_EQ(ack.subject(), absl::StrCat("We got it: Printer [#", r.work_item_reference(), "]"));
  EXPECT_THAT(ack.body_text(), HasSubstr(absl::StrCat("Hello Jane Doe, your request is ",
                                                      r.work_item_reference())));
  // A replay queues nothing more.
  Route(Mail("jane@client.example", "Printer"), "k-ack");
  EXPECT_THAT(WorkItem(r.work_item_id()).outbox(), SizeIs(1));
}

TEST_F(RouterCoreTest, AckSuppressedForNoReplySenderAndWhenAutomatedEmailsOff) {
  v1::RouteEmailResponse a = Route(Mail("no-reply@shop.example", "Order"));
  EXPECT_EQ(a.decision(), v1::DECISION_CREATED);
  EXPECT_FALSE(a.acknowledgement_queued());
  EXPECT_EQ(a.acknowledgement_suppressed(), "no_reply_address");
  SetSpec(R"({"name":"support","send_automated_emails":false})");
  v1::RouteEmailResponse b = Route(Mail("jane@client.example", "Order"));
  EXPECT_EQ(b.acknowledgement_suppressed(), "automated_emails_off");
  EXPECT_THAT(WorkItem(b.work_item_id()).outbox(), SizeIs(0));
}

TEST_F(RouterCoreTest, AckRateLimitPerSenderFromSetting) {
  Setting("ack_rate_limit_per_hour", "2");
  EXPECT_TRUE(Route(Mail("jane@client.example", "1")).acknowledgement_queued());
  EXPECT_TRUE(Route(Mail("jane@client.example", "2")).acknowledgement_queued());
  v1::RouteEmailResponse third = Route(Mail("jane@client.example", "3"));
  EXPECT_EQ(third.decision(), v1::DECISION_CREATED);
  EXPECT_FALSE(third.acknowledgement_queued());
  EXPECT_EQ(third.acknowledgement_suppressed(), "rate_limited");
  // Another sender is not limited.
  EXPECT_TRUE(Route(Mail("bob@client.example", "1")).acknowledgement_queued());
}

// A DSN as Postfix writes it, about the message `original_id` sent to `rcpt`.
std::string Dsn(const std::string& original_id, const std::string& rcpt, const std::string& status,
                const std::string& action = "failed") {
  static int n = 0;
  return absl::StrCat(
      "From: MAILER-DAEMON@mx.desk.example (Mail Delivery System)\r\n"
      "To: support@desk.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
      "Message-ID: <dsn", ++n, "@mx.desk.example>\r\nAuto-Submitted: auto-replied\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"XX\"\r\n\r\n"
      "--XX\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your "
      "message could not be delivered.\r\n--XX\r\n"
      "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.desk.example\r\n\r\n"
      "Final-Recipient: rfc822; ", rcpt, "\r\nAction: ", action, "\r\nStatus: ", status,
      "\r\nDiagnostic-Code: smtp; 550 ", status, " <", rcpt, ">: Recipient address rejected\r\n"
      "\r\n--XX\r\nContent-Type: text/rfc822-headers\r\n\r\n"
      "From: support@desk.example\r\nTo: ", rcpt, "\r\nSubject: We got it\r\n"
      "Message-ID: <", original_id, ">\r\n\r\n--XX--\r\n");
}

class BounceTest : public RouterCoreTest {
 protected:
  struct Sent {
    int64_t outbox_id = 0;
    std::string message_id;  // As the sender made it, without angle brackets.
  };
  // An acknowledgement to `from`, sent by the sender through the outgoing connector.
  Sent AckSentTo(const std::string& from) {
    v1::RouteEmailResponse r = Route(Mail(from, "Printer"));
    EXPECT_TRUE(r.acknowledgement_queued()) << r.acknowledgement_suppressed();
    v1::GetWorkItemResponse wi = WorkItem(r.work_item_id());
    if (wi.outbox_size() != 1) {
      ADD_FAILURE() << "no acknowledgement for " << from;
      return {};
    }
    Sent s{wi.outbox(0).id(), absl::StrCat("postroom.outbox.", wi.outbox(0).id(),
                                           ".1796000000123@desk.example")};
    holder_->MarkOutboxSent(s.outbox_id, outgoing_id_, s.message_id);
    return s;
  }
  store::OutboxRecord Row(int64_t id) {
    for (int64_t wi = 1; wi < 10000; ++wi) {
      absl::StatusOr<std::vector<store::OutboxRecord>> rows =
          holder_->store().ListOutboxForWorkItem(wi);
      if (!rows.ok()) break;
      for (const store::OutboxRecord& o : *rows) {
        if (o.id == id) return o;
      }
    }
    ADD_FAILURE() << "no outbox row " << id;
    return {};
  }
  bool Suppressed(const std::string& address) {
    absl::StatusOr<bool> b = holder_->store().IsAddressSuppressed(outgoing_id_, address);
    EXPECT_THAT(b, IsOk());
    return b.ok() && *b;
  }
};

TEST(OutboxMessageIdTest, OnlyTheSendersShapeNamesARow) {
  EXPECT_EQ(OutboxIdOfMessageId("postroom.outbox.42.1796000000123@desk.example"), 42);
  EXPECT_EQ(OutboxIdOfMessageId("POSTROOM.OUTBOX.7.0@x"), 7);
  EXPECT_EQ(OutboxIdOfMessageId("postroom.outbox.42@desk.example"), 0);
  EXPECT_EQ(OutboxIdOfMessageId("postroom.outbox.x.1@desk.example"), 0);
  EXPECT_EQ(OutboxIdOfMessageId("postroom.outbox.0.1@desk.example"), 0);
  EXPECT_EQ(OutboxIdOfMessageId("postroom.outbox.-3.1@desk.example"), 0);
  EXPECT_EQ(OutboxIdOfMessageId("postroom.outbox.99999999999999999999.1@d"), 0);
  EXPECT_EQ(OutboxIdOfMessageId("postroom.outbox.4.1@"), 0);
  EXPECT_EQ(OutboxIdOfMessageId("m1@client.example"), 0);
  EXPECT_EQ(OutboxIdOfMessageId(""), 0);
}

TEST(BounceKindTest, StatusClassDecides) {
  mime::BounceInfo b;
  b.status = "5.1.1";
  EXPECT_EQ(BounceKind(b), "permanent");
  b.status = "4.2.2";
  EXPECT_EQ(BounceKind(b), "transient");
  b.status = "";
  EXPECT_EQ(BounceKind(b), "unknown");
  b.type = mime::BounceType::kDelay;
  EXPECT_EQ(BounceKind(b), "transient");
  b.type = mime::BounceType::kSuccess;
  b.status = "2.0.0";
  EXPECT_EQ(BounceKind(b), "");
  b.type = mime::BounceType::kFeedbackReport;
  EXPECT_EQ(BounceKind(b), "");
}

TEST_F(BounceTest, PermanentBounceMarksTheRowAndSuppressesTheAddressForAcksOnly) {
  Sent sent = AckSentTo("jane@client.example");
  // ExplainRoute says what would happen and writes nothing.
  EXPECT_THAT(Explain(Dsn(sent.message_id, "jane@client.example", "5.1.1")).reason(),
              HasSubstr("permanent, would be marked bounced, address would be suppressed"));
  EXPECT_EQ(Row(sent.outbox_id).status, "sent");
  EXPECT_FALSE(Suppressed("jane@client.example"));
  v1::RouteEmailResponse b = Route(Dsn(sent.message_id, "jane@client.example", "5.1.1"));
  EXPECT_EQ(b.decision(), v1::DECISION_BOUNCE);
  EXPECT_THAT(b.reason(), HasSubstr(absl::StrCat("answers outbox ", sent.outbox_id,
                                                 " (ack to jane@client.example): permanent, "
                                                 "marked bounced, address suppressed")));
  ExpectStoredAsAnswered(b);
  store::OutboxRecord row = Row(sent.outbox_id);
  EXPECT_EQ(row.status, "bounced");
  EXPECT_EQ(row.bounce_status, "5.1.1");
  EXPECT_THAT(row.bounce_diagnostic, HasSubstr("Recipient address rejected"));
  EXPECT_TRUE(Suppressed("jane@client.example"));
  EXPECT_TRUE(Suppressed(" Jane@Client.Example"));
  EXPECT_FALSE(Suppressed("bob@client.example"));
  EXPECT_EQ(holder_->CountSuppressions("jane@client.example"), 1);
  absl::StatusOr<store::MessageRecord> stored = holder_->store().GetMessage(b.message_id(), false);
  ASSERT_THAT(stored, IsOk());
  EXPECT_THAT(stored->summary_json,
              ::testing::ContainsRegex(absl::StrCat("\"outbox_id\": ?", sent.outbox_id, "[,}]")));

  // Her next mail still makes a work item, without an acknowledgement; others still get one.
  v1::RouteEmailResponse next = Route(Mail("Jane@client.example", "Again"));
  EXPECT_EQ(next.decision(), v1::DECISION_CREATED);
  EXPECT_FALSE(next.acknowledgement_queued());
  EXPECT_EQ(next.acknowledgement_suppressed(), "suppressed_address");
  EXPECT_THAT(WorkItem(next.work_item_id()).outbox(), SizeIs(0));
  EXPECT_EQ(Explain(Mail("jane@client.example", "Explain")).acknowledgement_suppressed(),
            "suppressed_address");
  EXPECT_TRUE(Route(Mail("bob@client.example", "Hi")).acknowledgement_queued());

  // The same bounce again (another copy, or reprocessed) adds nothing.
  Route(Dsn(sent.message_id, "jane@client.example", "5.1.1"));
  EXPECT_EQ(holder_->CountSuppressions("jane@client.example"), 1);
}

TEST_F(BounceTest, TransientBounceMarksTheRowButSuppressesNobody) {
  Sent sent = AckSentTo("jane@client.example");
  v1::RouteEmailResponse b =
      Route(Dsn(sent.message_id, "jane@client.example", "4.2.2", "delayed"));
  EXPECT_EQ(b.decision(), v1::DECISION_BOUNCE);
  EXPECT_THAT(b.reason(), HasSubstr("transient, marked bounced"));
  EXPECT_EQ(Row(sent.outbox_id).status, "bounced");
  EXPECT_EQ(Row(sent.outbox_id).bounce_status, "4.2.2");
  EXPECT_FALSE(Suppressed("jane@client.example"));
  EXPECT_TRUE(Route(Mail("jane@client.example", "Again")).acknowledgement_queued());
  // A permanent bounce afterwards suppresses; a transient one after that keeps the 5.x.x.
  Route(Dsn(sent.message_id, "jane@client.example", "5.2.1"));
  EXPECT_TRUE(Suppressed("jane@client.example"));
  Route(Dsn(sent.message_id, "jane@client.example", "4.4.1", "delayed"));
  EXPECT_EQ(Row(sent.outbox_id).bounce_status, "5.2.1");
}

TEST_F(BounceTest, ABounceNamingNoSentRowOfOursTiesToNothing) {
  Sent sent = AckSentTo("jane@client.example");
  // The right row id with another timestamp (a guess), another row's id, mail not ours.
  std::string guessed = absl::StrCat("postroom.outbox.", sent.outbox_id, ".1@desk.example");
  std::string other = absl::StrCat("postroom.outbox.", sent.outbox_id + 1000,
                                   ".1796000000123@desk.example");
  for (const std::string& id : {guessed, other, std::string("m77@client.example")}) {
    v1::RouteEmailResponse b = Route(Dsn(id, "jane@client.example", "5.1.1"));
    EXPECT_EQ(b.decision(), v1::DECISION_BOUNCE);
    EXPECT_THAT(b.reason(), ::testing::Not(HasSubstr("answers outbox"))) << id;
  }
  // A row not sent yet is not bounced either.
  v1::RouteEmailResponse queued = Route(Mail("ann@client.example", "Printer"));
  int64_t queued_id = WorkItem(queued.work_item_id()).outbox(0).id();
  Route(Dsn(absl::StrCat("postroom.outbox.", queued_id, ".1796000000123@desk.example"),
            "ann@client.example", "5.1.1"));
  EXPECT_EQ(Row(queued_id).status, "queued");
  EXPECT_EQ(Row(sent.outbox_id).status, "sent");
  EXPECT_FALSE(Suppressed("jane@client.example"));
  EXPECT_FALSE(Suppressed("ann@client.example"));
}

TEST_F(BounceTest, PlainTextBounceIsTiedThroughInReplyTo) {
  Sent sent = AckSentTo("jane@client.example");
  std::string bounce = absl::StrCat(
      "From: postmaster@mx.client.example\r\nTo: support@desk.example\r\n"
      "Subject: Delivery Status Notification (Failure)\r\nMessage-ID: <ndr1@mx.client.example>\r\n"
      "In-Reply-To: <", sent.message_id, ">\r\nX-Failed-Recipients: jane@client.example\r\n"
      "Content-Type: text/plain\r\n\r\nDelivery to the following recipient failed "
      "permanently:\r\n\r\n     jane@client.example\r\n\r\n550 5.1.1 The email account that "
      "you tried to reach does not exist.\r\n");
  v1::RouteEmailResponse b = Route(bounce);
  EXPECT_EQ(b.decision(), v1::DECISION_BOUNCE);
  EXPECT_THAT(b.reason(), HasSubstr("permanent, marked bounced, address suppressed"));
  EXPECT_TRUE(Suppressed("jane@client.example"));
}

// A bounce naming many of our ids is looked up for the first four only: the lookups a hostile
// message can cause are bounded, whatever its References hold.
TEST_F(BounceTest, AtMostFourCandidateIdsAreLookedUp) {
  Sent sent = AckSentTo("jane@client.example");
  auto bounce_with_refs = [&](int decoys) {
    std::string refs;
    for (int i = 0; i < decoys; ++i) {
      absl::StrAppend(&refs, " <postroom.outbox.", 900000 + i, ".1@desk.example>");
    }
    return absl::StrCat(
        "From: postmaster@mx.client.example\r\nTo: support@desk.example\r\n"
        "Subject: Delivery Status Notification (Failure)\r\nMessage-ID: <ndr", decoys,
        "@mx.client.example>\r\nReferences:", refs, " <", sent.message_id,
        ">\r\nX-Failed-Recipients: jane@client.example\r\nContent-Type: text/plain\r\n\r\n"
        "550 5.1.1 The email account that you tried to reach does not exist.\r\n");
  };
  v1::RouteEmailResponse past = Route(bounce_with_refs(4));  // Ours is the fifth.
  EXPECT_EQ(past.decision(), v1::DECISION_BOUNCE);
  EXPECT_THAT(past.reason(), ::testing::Not(HasSubstr("answers outbox")));
  EXPECT_EQ(Row(sent.outbox_id).status, "sent");
  v1::RouteEmailResponse within = Route(bounce_with_refs(3));  // Ours is the fourth.
  EXPECT_THAT(within.reason(), HasSubstr(absl::StrCat("answers outbox ", sent.outbox_id)));
  EXPECT_EQ(Row(sent.outbox_id).status, "bounced");
}

// Real bounces of several mail systems (Postfix, Exchange 2007, Outlook.com, Gmail, qmail),
// their returned Message-ID replaced by one of our sent rows'.
TEST_F(BounceTest, CorpusBouncesTieToTheRowTheyAnswer) {
  const char* dir = std::getenv("POSTROOM_CORPUS_DIR");
  const char* src = std::getenv("POSTROOM_SOURCE_DIR");
  std::string corpus = dir != nullptr && *dir != '\0' ? dir
                       : src != nullptr               ? absl::StrCat(src, "/../shared/corpus")
                                                      : "";
  ASSERT_FALSE(corpus.empty()) << "set POSTROOM_CORPUS_DIR (or run through ctest)";
  int n = 0;
  for (const char* name : {"lhost-postfix-03", "lhost-exchange2007-02", "lhost-outlook-02",
                           "lhost-gmail-03", "lhost-qmail-03"}) {
    std::string path =
        absl::StrCat(corpus, "/sisimai-set-of-emails/maildir/bsd/", name, ".eml");
    std::FILE* f = std::fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr) << path;
    std::string raw;
    char buf[8192];
    for (size_t got; (got = std::fread(buf, 1, sizeof buf, f)) > 0;) raw.append(buf, got);
    std::fclose(f);
    absl::StatusOr<mime::ParsedMessage> parsed = mime::ParseMessage(raw);
    ASSERT_THAT(parsed, IsOk());
    mime::Classification cls = mime::Classify(*parsed);
    ASSERT_EQ(cls.kind, mime::MessageKind::kBounce) << name;
    ASSERT_FALSE(cls.bounce.original_message_id.empty()) << name;
    std::string address = absl::StrCat("user", ++n, "@client.example");
    Sent sent = AckSentTo(address);
    absl::StrReplaceAll({{cls.bounce.original_message_id, sent.message_id}}, &raw);
    v1::RouteEmailResponse b = Route(raw);
    EXPECT_EQ(b.decision(), v1::DECISION_BOUNCE) << name;
    EXPECT_THAT(b.reason(), HasSubstr(absl::StrCat("answers outbox ", sent.outbox_id))) << name;
    EXPECT_EQ(Row(sent.outbox_id).status, "bounced") << name;
    EXPECT_EQ(Row(sent.outbox_id).bounce_status, cls.bounce.status) << name;
    EXPECT_EQ(Suppressed(address), absl::StartsWith(cls.bounce.status, "5")) << name;
  }
}

// The acknowledgement's outcome as GetMessage (describe message) shows it.
#define EXPECT_ACK_SUPPRESSED(response, why)                                     \
  do {                                                                           \
    const v1::RouteEmailResponse& r_ = (response);                              \
    EXPECT_EQ(r_.decision(), v1::DECISION_CREATED) << TraceText(r_);            \
    EXPECT_FALSE(r_.acknowledgement_queued());                                   \
    EXPECT_EQ(r_.acknowledgement_suppressed(), why);                             \
    EXPECT_EQ(Stored(r_.message_id()).ack().state(), "suppressed");              \
    EXPECT_EQ(Stored(r_.message_id()).ack().reason(), why);                      \
  } while (0)

TEST_F(RouterCoreTest, NoAckForMailThatAsksForNoAutomaticAnswer) {
  for (const char* header :
       {"Auto-Submitted: auto-generated\r\n", "X-Loop: helpdesk@other.example\r\n",
        "X-Auto-Response-Suppress: OOF\r\n", "Return-Path: <>\r\n", "X-Autoreply: yes\r\n",
        "X-Autorespond: yes\r\n"}) {
    v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Printer", header));
    // Still a work item unless the classification says auto-reply (then no work item at all).
    if (r.decision() == v1::DECISION_AUTO_REPLY) continue;
    EXPECT_ACK_SUPPRESSED(r, "auto_response_suppressed");
    EXPECT_THAT(Stored(r.message_id()).ack().detail(), Not(IsEmpty())) << header;
  }
  v1::RouteEmailResponse loop = Route(Mail("jane@client.example", "P", "X-Loop: a@b.example\r\n"));
  EXPECT_ACK_SUPPRESSED(loop, "auto_response_suppressed");
  EXPECT_EQ(Stored(loop.message_id()).ack().detail(), "x-loop");
  // Receipts-only suppression is a person's Outlook mail: acknowledged.
  v1::RouteEmailResponse outlook =
      Route(Mail("jane@client.example", "P", "X-Auto-Response-Suppress: DR, RN, NRN\r\n"));
  EXPECT_TRUE(outlook.acknowledgement_queued());
  // Headers quoted in the body never count.
  EXPECT_TRUE(Route(Mail("jane@client.example", "P", "",
                         "> Auto-Submitted: auto-replied\r\nX-Loop: a@b.example"))
                  .acknowledgement_queued());
}

TEST_F(RouterCoreTest, NoAckForMailFromOurOwnAddressesOrMessageIds) {
  SetSpec(R"({"name":"support","primary_address":"support@desk.example",
              "aliases":["help@desk.example"],"outgoing_connector":"smtp-out"})");
  store::ConnectorRecord other;
  other.name = "billing";
  other.protocol = "imap";
  other.direction = "incoming";
  other.status = "active";
  other.spec_json = R"({"name":"billing","primary_address":"Billing@Desk.example"})";
  holder_->PutConnector(other);
  for (const char* own : {"support@desk.example", "help@desk.example", "billing@desk.example"}) {
    v1::RouteEmailResponse r = Route(Mail(own, "Loop?"));
    EXPECT_ACK_SUPPRESSED(r, "auto_response_suppressed");
    EXPECT_EQ(Stored(r.message_id()).ack().detail(), "own-address") << own;
  }
  v1::RouteEmailResponse ours = Route(
      Mail("jane@client.example", "Ours", "", "x", "postroom.outbox.7.1733568000123@desk.example"));
  EXPECT_ACK_SUPPRESSED(ours, "auto_response_suppressed");
  EXPECT_EQ(Stored(ours.message_id()).ack().detail(), "own-message-id");
  EXPECT_TRUE(Route(Mail("jane@client.example", "Person")).acknowledgement_queued());
}

// Aliases: the address the mail was sent to (SentTo), found once and used by routes, the
// stored message and the acknowledgement's From.
class AliasTest : public RouterCoreTest {
 protected:
  AliasTest() {
    SetSpec(R"({"name":"support","primary_address":"support@desk.example",
                "aliases":["help@desk.example","Billing@Desk.example"],
                "outgoing_connector":"smtp-out"})");
  }
  // Mail from Jane with `recipients` (header lines) in place of the To header.
  static std::string MailTo(const std::string& recipients, const std::string& subject = "Hi") {
    std::string raw = Mail("jane@client.example", subject);
    absl::StrReplaceAll({{"To: support@desk.example\r\n", recipients}}, &raw);
    return raw;
  }
};

TEST_F(AliasTest, BccdMailIsSentToTheAliasInDeliveredTo) {
  v1::RouteEmailResponse r = Route(MailTo(
      "Delivered-To: Help+urgent@Desk.example\r\nTo: Friends <friends@client.example>\r\n"));
  EXPECT_EQ(r.sent_to(), "help@desk.example");
  EXPECT_EQ(Stored(r.message_id()).sent_to(), "help@desk.example");
  EXPECT_EQ(Route(MailTo("X-Original-To: billing@desk.example\r\nTo: a@client.example\r\n"))
                .sent_to(),
            "billing@desk.example");
}

TEST_F(AliasTest, DeliveredToComesBeforeToAndToBeforeCc) {
  EXPECT_EQ(Route(MailTo("To: billing@desk.example\r\nDelivered-To: help@desk.example\r\n"))
                .sent_to(),
            "help@desk.example");
  EXPECT_EQ(Route(MailTo("To: Jim <jim@client.example>, Billing <BILLING@desk.example>\r\n"
                         "Cc: help@desk.example\r\n"))
                .sent_to(),
            "billing@desk.example");
  EXPECT_EQ(Route(MailTo("To: jim@client.example\r\nCc: help@desk.example\r\n")).sent_to(),
            "help@desk.example");
}

TEST_F(AliasTest, MailToNoneOfOurAddressesIsSentToThePrimaryAddress) {
  v1::RouteEmailResponse r = Route(MailTo("To: list@lists.example\r\n"));
  EXPECT_EQ(r.sent_to(), "support@desk.example");
  EXPECT_EQ(Stored(r.message_id()).sent_to(), "support@desk.example");
  // A look-alike of an alias is none of ours.
  EXPECT_EQ(Route(MailTo("To: help@desk.example.evil\r\n")).sent_to(), "support@desk.example");
}

TEST_F(AliasTest, RoutesMatchTheAddressTheMailWasSentTo) {
  AddRoute("billing", 1, false, R"({"to":"Billing@desk.example"})", R"({"queue":"billing"})");
  v1::RouteEmailResponse billing =
      Route(MailTo("Delivered-To: billing@desk.example\r\nTo: undisclosed-recipients:;\r\n"));
  EXPECT_EQ(billing.route(), "billing");
  EXPECT_EQ(billing.queue(), "billing");
  v1::RouteEmailResponse help = Route(MailTo("To: help@desk.example, billing@desk.example\r\n"));
  EXPECT_EQ(help.route(), "fallback");
  EXPECT_THAT(TraceText(help),
              HasSubstr(R"(sent to "help@desk.example" which is not "billing@desk.example")"));
}

TEST_F(AliasTest, AckGoesOutFromTheAliasTheCustomerWroteTo) {
  v1::RouteEmailResponse alias = Route(MailTo("To: Help <help@desk.example>\r\n"));
  ASSERT_TRUE(alias.acknowledgement_queued());
  int64_t row = Stored(alias.message_id()).ack().outbox_id();
  EXPECT_EQ(holder_->OutboxFromAddress(row), "help@desk.example");
  // Reply-To (the signed token) and X-Loop stay on the primary address.
  std::string headers = holder_->OutboxHeadersJson(row);
  EXPECT_THAT(headers, ContainsRegex(R"("X-Loop": ?"support@desk\.example")"));
  EXPECT_THAT(headers, HasSubstr("support+"));
  // Mail to the primary address keeps the outgoing connector's From.
  v1::RouteEmailResponse primary = Route(MailTo("To: support@desk.example\r\n"));
  ASSERT_TRUE(primary.acknowledgement_queued());
  EXPECT_EQ(holder_->OutboxFromAddress(Stored(primary.message_id()).ack().outbox_id()), "");
}

TEST_F(AliasTest, MailFromOurOwnAliasNamesNoRequester) {
  std::string raw = MailTo("To: support@desk.example\r\n");
  absl::StrReplaceAll({{"Jane Doe <jane@client.example>", "Desk <Help+x@desk.example>"}}, &raw);
  v1::RouteEmailResponse r = Route(raw);
  ASSERT_EQ(r.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(WorkItem(r.work_item_id()).work_item().requester_address(), "");
  EXPECT_EQ(WorkItem(r.work_item_id()).work_item().requester_name(), "");
  EXPECT_FALSE(r.acknowledgement_queued());
}

TEST_F(RouterCoreTest, NoAckToAnAddressWithoutDomain) {
  for (const char* who : {"moderator-address", "whomever"}) {
    std::string raw = Mail("x@y.example", "Hi");
    absl::StrReplaceAll({{"Jane Doe <x@y.example>", who}}, &raw);
    v1::RouteEmailResponse r = Route(raw);
    EXPECT_ACK_SUPPRESSED(r, "invalid_address");
    EXPECT_THAT(Stored(r.message_id()).ack().detail(), HasSubstr(who));
  }
}

TEST_F(RouterCoreTest, NoAckForWorkItemsMadeInTestMode) {
  SetSpec(R"({"name":"support","primary_address":"support@desk.example",
              "test_mode_only":true,"outgoing_connector":"smtp-out"})");
  EXPECT_ACK_SUPPRESSED(Route(Mail("jane@client.example", "Test")), "test_mode");
}

TEST_F(RouterCoreTest, AckOutcomeIsStoredWithTheDecision) {
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Printer"));
  ASSERT_TRUE(r.acknowledgement_queued());
  v1::StoredMessage m = Stored(r.message_id());
  EXPECT_EQ(m.ack().state(), "queued");
  ASSERT_THAT(WorkItem(r.work_item_id()).outbox(), SizeIs(1));
  EXPECT_EQ(m.ack().outbox_id(), WorkItem(r.work_item_id()).outbox(0).id());
  // The acknowledgement names the connector in X-Loop, so a responder that honours it stops.
  std::string headers = holder_->OutboxHeadersJson(m.ack().outbox_id());
  EXPECT_THAT(headers, HasSubstr(R"("X-Loop":)"));
  EXPECT_THAT(headers, HasSubstr("support@desk.example"));
  EXPECT_THAT(headers, HasSubstr("auto-replied"));
  // No ack_template: none was asked for.
  AddRoute("quiet", 1, false, R"({"subject_contains":["quiet"]})", R"({"queue":"q"})");
  v1::RouteEmailResponse quiet = Route(Mail("jane@client.example", "quiet please"));
  EXPECT_EQ(quiet.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(Stored(quiet.message_id()).ack().state(), "");
}

TEST_F(RouterCoreTest, AckLimitCountsTheNormalisedSenderInItsWindow) {
  Setting("ack_rate_limit_per_hour", "2");
  Setting("ack_rate_window_min", "30");
  EXPECT_TRUE(Route(Mail("Jane+one@Client.example", "1")).acknowledgement_queued());
  EXPECT_TRUE(Route(Mail("jane+two@client.example", "2")).acknowledgement_queued());
  v1::RouteEmailResponse third = Route(Mail("jane@client.example", "3"));
  EXPECT_ACK_SUPPRESSED(third, "rate_limited");
  EXPECT_THAT(Stored(third.message_id()).ack().detail(), HasSubstr("jane@client.example"));
  EXPECT_EQ(Explain(Mail("jane+x@client.example", "4")).acknowledgement_suppressed(),
            "rate_limited");
  // After the window the sender may get one again.
  clock_.Advance(absl::Minutes(31));
  EXPECT_TRUE(Route(Mail("jane+three@client.example", "5")).acknowledgement_queued());
}

TEST_F(RouterCoreTest, AckCapPerConnectorPerHour) {
  Setting("ack_connector_limit_per_hour", "2");
  EXPECT_TRUE(Route(Mail("a@client.example", "1")).acknowledgement_queued());
  EXPECT_TRUE(Route(Mail("b@client.example", "2")).acknowledgement_queued());
  EXPECT_ACK_SUPPRESSED(Route(Mail("c@client.example", "3")), "connector_rate_limited");
  EXPECT_EQ(Explain(Mail("f@client.example", "3")).acknowledgement_suppressed(),
            "connector_rate_limited");
  clock_.Advance(absl::Minutes(61));
  EXPECT_TRUE(Route(Mail("d@client.example", "4")).acknowledgement_queued());
  Setting("ack_connector_limit_per_hour", "0");
  EXPECT_ACK_SUPPRESSED(Route(Mail("e@client.example", "5")), "connector_rate_limited");
}

// Appended to the work item `first` made, by its subject token.
std::string FollowUp(const v1::RouteEmailResponse& first, const std::string& n) {
  return Mail("jane@client.example", absl::StrCat("Re: Printer [#", first.work_item_reference(),
                                                  "] ", n));
}

TEST_F(RouterCoreTest, FollowUpsAreNotAcknowledgedByDefault) {
  v1::RouteEmailResponse first = Route(Mail("jane@client.example", "Printer"));
  ASSERT_TRUE(first.acknowledgement_queued());
  v1::RouteEmailResponse r = Route(FollowUp(first, "1"));
  EXPECT_EQ(r.decision(), v1::DECISION_APPENDED);
  EXPECT_FALSE(r.acknowledgement_queued());
  EXPECT_EQ(r.acknowledgement_suppressed(), "");
  EXPECT_EQ(Stored(r.message_id()).ack().state(), "");
  EXPECT_THAT(WorkItem(first.work_item_id()).outbox(), SizeIs(1));
}

TEST_F(RouterCoreTest, AcknowledgeFollowUpsQueuesTheFollowUpTemplateWithTheReference) {
  SetSpec(R"({"name":"support","primary_address":"support@desk.example",
              "subject_token_prefix":"SUP","outgoing_connector":"smtp-out",
              "acknowledge_follow_ups":true,"follow_up_template":"follow-up"})");
  store::DocumentRecord tpl;
  tpl.key = "follow-up";
  tpl.spec_json = R"({"name":"follow-up","subject":"Added to {{work_item.reference}}",
                      "body_text":"We added your message to {{work_item.reference}}."})";
  holder_->PutDocument(store::DocumentKind::kTemplate, tpl);
  v1::RouteEmailResponse first = Route(Mail("jane@client.example", "Printer"));
  v1::RouteEmailResponse r = Route(FollowUp(first, "1"));
  EXPECT_EQ(r.decision(), v1::DECISION_APPENDED);
  EXPECT_TRUE(r.acknowledgement_queued()) << r.acknowledgement_suppressed();
  v1::StoredMessage m = Stored(r.message_id());
  EXPECT_EQ(m.ack().state(), "queued");
  v1::GetWorkItemResponse wi = WorkItem(first.work_item_id());
  ASSERT_THAT(wi.outbox(), SizeIs(2));
  const v1::OutboxEmail& ack = wi.outbox(1);
  EXPECT_EQ(ack.id(), m.ack().outbox_id());
  EXPECT_EQ(ack.reason(), "ack");
  EXPECT_EQ(ack.to_address(), "jane@client.example");
  EXPECT_EQ(ack.subject(), absl::StrCat("Added to ", first.work_item_reference(), " [#",
                                        first.work_item_reference(), "]"));
  EXPECT_THAT(ack.body_text(), HasSubstr(first.work_item_reference()));
  std::string headers = holder_->OutboxHeadersJson(ack.id());
  EXPECT_THAT(headers, HasSubstr("auto-replied"));
  EXPECT_THAT(headers, HasSubstr(absl::StrCat("support+w", first.work_item_id(), "-")));
  // Without follow_up_template: the fallback route's ack_template ("We got it: ...").
  SetSpec(R"({"name":"support","primary_address":"support@desk.example",
              "subject_token_prefix":"SUP","outgoing_connector":"smtp-out",
              "acknowledge_follow_ups":true})");
  v1::RouteEmailResponse second = Route(FollowUp(first, "2"));
  EXPECT_TRUE(second.acknowledgement_queued());
  ASSERT_THAT(WorkItem(first.work_item_id()).outbox(), SizeIs(3));
  EXPECT_THAT(WorkItem(first.work_item_id()).outbox(2).subject(), HasSubstr("We got it"));
}

TEST_F(RouterCoreTest, FollowUpAcksKeepTheLoopGuards) {
  SetSpec(R"({"name":"support","primary_address":"support@desk.example",
              "subject_token_prefix":"SUP","outgoing_connector":"smtp-out",
              "acknowledge_follow_ups":true,"send_automated_emails":false})");
  v1::RouteEmailResponse first = Route(Mail("jane@client.example", "Printer"));
  v1::RouteEmailResponse r = Route(FollowUp(first, "1"));
  EXPECT_EQ(r.decision(), v1::DECISION_APPENDED);
  EXPECT_EQ(r.acknowledgement_suppressed(), "automated_emails_off");
  EXPECT_EQ(Stored(r.message_id()).ack().state(), "suppressed");
  EXPECT_EQ(Stored(r.message_id()).ack().reason(), "automated_emails_off");
  SetSpec(R"({"name":"support","primary_address":"support@desk.example",
              "subject_token_prefix":"SUP","outgoing_connector":"smtp-out",
              "acknowledge_follow_ups":true,"test_mode_only":true})");
  v1::RouteEmailResponse test = Route(Mail("jane@client.example", "Test"));
  EXPECT_EQ(Route(FollowUp(test, "1")).acknowledgement_suppressed(), "test_mode");
  EXPECT_THAT(WorkItem(first.work_item_id()).outbox(), IsEmpty());
}

TEST_F(RouterCoreTest, WorkItemAckLimitHoldsUnderABurstOfFollowUps) {
  SetSpec(R"({"name":"support","primary_address":"support@desk.example",
              "subject_token_prefix":"SUP","outgoing_connector":"smtp-out",
              "acknowledge_follow_ups":true})");
  Setting("ack_rate_limit_per_hour", "1000");  // Only the work item's limit may bite.
  Setting("ack_work_item_limit", "3");
  v1::RouteEmailResponse first = Route(Mail("jane@client.example", "Printer"));
  ASSERT_TRUE(first.acknowledgement_queued());  // The first of the three.
  std::vector<std::string> burst;  // Made first: Mail numbers its Message-IDs unlocked.
  for (int i = 0; i < 8; ++i) burst.push_back(FollowUp(first, absl::StrCat(i)));
  std::atomic<int> queued{0}, limited{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      v1::RouteEmailRequest req;
      req.set_connector("support");
      req.set_raw_message(burst[i]);
      absl::StatusOr<v1::RouteEmailResponse> r = router_->RouteEmail(req);
      if (!r.ok() || r->decision() != v1::DECISION_APPENDED) {
        ++errors;
      } else if (r->acknowledgement_queued()) {
        ++queued;
      } else if (r->acknowledgement_suppressed() == "work_item_rate_limited") {
        ++limited;
        EXPECT_EQ(Stored(r->message_id()).ack().detail(),
                  absl::StrCat("work item ", first.work_item_reference(),
                               " already had 3 automatic replies in 60 minutes"));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(queued.load(), 2);
  EXPECT_EQ(limited.load(), 6);
  EXPECT_THAT(WorkItem(first.work_item_id()).outbox(), SizeIs(3));
  EXPECT_EQ(Explain(FollowUp(first, "explained")).acknowledgement_suppressed(),
            "work_item_rate_limited");
  // Another work item of the same sender is not held back by this one's count.
  EXPECT_TRUE(Route(Mail("jane@client.example", "Scanner")).acknowledgement_queued());
  // The window (ack_rate_window_min, default 60) passes: one more.
  clock_.Advance(absl::Minutes(61));
  EXPECT_TRUE(Route(FollowUp(first, "late")).acknowledgement_queued());
  // 0: no limit.
  Setting("ack_work_item_limit", "0");
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(Route(FollowUp(first, absl::StrCat("free ", i))).acknowledgement_queued());
  }
}

TEST_F(RouterCoreTest, AckRequiresAuthenticationByTheTrustedServer) {
  SetSpec(R"({"name":"support","primary_address":"support@desk.example",
              "outgoing_connector":"smtp-out","ack_requires_authentication":true,
              "authserv_ids":["mx.desk.example"]})");
  v1::RouteEmailResponse none = Route(Mail("jane@client.example", "1"));
  EXPECT_ACK_SUPPRESSED(none, "unauthenticated");
  EXPECT_THAT(Stored(none.message_id()).ack().detail(),
              HasSubstr("no Authentication-Results from a trusted server"));
  // Forged by the sender: another authserv-id.
  EXPECT_ACK_SUPPRESSED(
      Route(Mail("jane@client.example", "2",
                 "Authentication-Results: mx.client.example; dmarc=pass\r\n")),
      "unauthenticated");
  EXPECT_ACK_SUPPRESSED(
      Route(Mail("jane@client.example", "3",
                 "Authentication-Results: mx.desk.example; spf=pass "
                 "smtp.mailfrom=bulk.example; dkim=fail header.d=client.example\r\n")),
      "unauthenticated");
  EXPECT_TRUE(Route(Mail("jane@client.example", "4",
                         "Authentication-Results: mx.desk.example; dkim=pass "
                         "header.d=client.example; dmarc=pass\r\n"))
                  .acknowledgement_queued());
}

TEST_F(RouterCoreTest, ExcludeAutoRepliesMarksMatchingMailAsAutoReplies) {
  SetSpec(R"({"name":"support","primary_address":"support@desk.example",
              "outgoing_connector":"smtp-out","auto_reply_exclusions":
              {"keywords":["Ticket update"],"senders":["@partner.example"]}})");
  v1::RouteEmailResponse by_keyword = Route(Mail("jane@client.example", "Ticket Update #42"));
  EXPECT_EQ(by_keyword.decision(), v1::DECISION_AUTO_REPLY) << TraceText(by_keyword);
  EXPECT_EQ(by_keyword.work_item_id(), 0);
  EXPECT_EQ(Route(Mail("bot@partner.example", "Hello")).decision(), v1::DECISION_AUTO_REPLY);
  EXPECT_EQ(Route(Mail("jane@client.example", "Hello")).decision(), v1::DECISION_CREATED);
}

TEST_F(RouterCoreTest, RequesterFallsBackToReplyToThenReturnPathWithoutFrom) {
  auto requester_of = [&](int64_t id) {
    v1::GetWorkItemRequest req;
    req.set_id(id);
    absl::StatusOr<v1::GetWorkItemResponse> w = router_->GetWorkItem(req);
    EXPECT_THAT(w, IsOk());
    return w.ok() ? w->work_item().requester_address() : std::string();
  };
  std::string reply_to_only =
      Mail("jane@client.example", "no from", "Reply-To: Ann <ann@client.example>\r\n");
  absl::StrReplaceAll({{"From: Jane Doe <jane@client.example>\r\n", ""}}, &reply_to_only);
  v1::RouteEmailResponse r = Route(reply_to_only);
  ASSERT_EQ(r.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(requester_of(r.work_item_id()), "ann@client.example");

  std::string envelope_only =
      Mail("jane@client.example", "envelope only", "Return-Path: <bob@client.example>\r\n");
  absl::StrReplaceAll({{"From: Jane Doe <jane@client.example>\r\n", ""}}, &envelope_only);
  r = Route(envelope_only);
  ASSERT_EQ(r.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(requester_of(r.work_item_id()), "bob@client.example");
}

TEST_F(RouterCoreTest, ParseLimitSettingsApplyAtRunTimeAndShowAsDefects) {
  std::string four_parts = Mail(
      "jane@client.example", "parts", "",
      "--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b\r\n\r\nthree\r\n--b--");
  absl::StrReplaceAll({{"Content-Type: text/plain; charset=utf-8",
                        "Content-Type: multipart/mixed; boundary=b"}},
                      &four_parts);
  auto defects_of = [&](const std::string& raw) {
    v1::RouteEmailResponse r = Route(raw);
    absl::StatusOr<v1::StoredMessage> m = router_->GetMessage(r.message_id(), false);
    EXPECT_THAT(m, IsOk());
    return std::vector<std::string>(m->defects().begin(), m->defects().end());
  };
  EXPECT_THAT(defects_of(four_parts), ::testing::Not(::testing::Contains("part_limit")));
  Setting("mime_max_parts", "2");
  absl::StrReplaceAll({{"Subject: parts", "Subject: parts again"}}, &four_parts);
  absl::StrReplaceAll({{"Message-ID: <", "Message-ID: <again-"}}, &four_parts);
  EXPECT_THAT(defects_of(four_parts), ::testing::Contains("part_limit"));
}

TEST_F(RouterCoreTest, MarkingSpamCleanRoutesItAgainAndManualStatusSticks) {
  v1::RouteEmailResponse spam = Route(Mail("jane@client.example", "Win", "X-Spam-Flag: YES\r\n"));
  ASSERT_EQ(spam.decision(), v1::DECISION_SPAM);
  v1::SetSpamStatusRequest clean;
  clean.set_id(spam.message_id());
  clean.set_spam(false);
  absl::StatusOr<v1::SetSpamStatusResponse> r = router_->SetSpamStatus(clean);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->rerouted().decision(), v1::DECISION_CREATED);
  EXPECT_EQ(r->message().spam_status(), v1::SPAM_STATUS_MANUAL_CLEAN);
  EXPECT_EQ(r->message().decision(), v1::DECISION_CREATED);

  // Manual spam is not overwritten by a reprocess.
  v1::RouteEmailResponse ok = Route(Mail("bob@client.example", "Hi"));
  (void)ok;
  v1::RouteEmailResponse unhandled;
  AddRoute("drop", 1, false, R"({"from_address":"carl@client.example"})", R"({"stop":true})");
  unhandled = Route(Mail("carl@client.example", "Hi"));
  v1::SetSpamStatusRequest mark;
  mark.set_id(unhandled.message_id());
  mark.set_spam(true);
  absl::StatusOr<v1::SetSpamStatusResponse> m = router_->SetSpamStatus(mark);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->message().decision(), v1::DECISION_SPAM);
  EXPECT_EQ(m->message().spam_status(), v1::SPAM_STATUS_MANUAL_SPAM);
  v1::ReprocessRequest again;
  again.add_ids(unhandled.message_id());
  ASSERT_THAT(router_->Reprocess(again), IsOk());
  EXPECT_EQ(router_->GetMessage(unhandled.message_id(), false)->spam_status(),
            v1::SPAM_STATUS_MANUAL_SPAM);
}

TEST_F(RouterCoreTest, ReprocessAfterConfigFixRoutesUnhandledOnceAndIsIdempotent) {
  AddRoute("fallback", 100, true, "{}", R"({"stop":true})");
  v1::RouteEmailResponse r = Route(Mail("jane@client.example", "Help"));
  ASSERT_EQ(r.decision(), v1::DECISION_UNHANDLED);
  AddRoute("fallback", 100, true, "{}", R"({"queue":"general"})");
  v1::ReprocessRequest req;
  req.set_connector("support");
  req.set_decision(v1::DECISION_UNHANDLED);
  absl::StatusOr<v1::ReprocessResponse> first = router_->Reprocess(req);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(first->results(), SizeIs(1));
  EXPECT_EQ(first->results(0).decision(), v1::DECISION_CREATED);
  v1::ReprocessRequest by_id;
  by_id.add_ids(r.message_id());
  absl::StatusOr<v1::ReprocessResponse> second = router_->Reprocess(by_id);
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE(second->results(0).replayed());
  EXPECT_EQ(WorkItemCount(), 1);
}

TEST_F(RouterCoreTest, ConfigChangeIsSeenWithoutRestart) {
  EXPECT_EQ(Route(Mail("jane@client.example", "Invoice")).queue(), "general");
  AddRoute("invoices", 1, false, R"({"subject_contains":["invoice"]})", R"({"queue":"billing"})");
  EXPECT_EQ(Route(Mail("jane@client.example", "Invoice")).queue(), "billing");
}

TEST_F(RouterCoreTest, ExplainRouteWritesNothing) {
  v1::ExplainRouteRequest req;
  req.set_connector("support");
  req.set_raw_message(Mail("jane@client.example", "Printer"));
  absl::StatusOr<v1::RouteEmailResponse> r = router_->ExplainRoute(req);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->decision(), v1::DECISION_CREATED);
  EXPECT_EQ(r->message_id(), 0);
  EXPECT_TRUE(r->acknowledgement_queued());
  EXPECT_THAT(TraceText(*r), HasSubstr("fallback [decided]"));
  EXPECT_EQ(WorkItemCount(), 0);
  absl::StatusOr<v1::ListMessagesResponse> all = router_->ListMessages({});
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->messages_size(), 0);
}

TEST_F(RouterCoreTest, BadRequestsGetPreciseCodes) {
  v1::RouteEmailRequest req;
  req.set_raw_message("x");
  EXPECT_THAT(router_->RouteEmail(req), StatusIs(absl::StatusCode::kInvalidArgument));
  req.set_connector("nope");
  EXPECT_THAT(router_->RouteEmail(req), StatusIs(absl::StatusCode::kNotFound));
  req.set_connector("support");
  req.clear_raw_message();
  EXPECT_THAT(router_->RouteEmail(req), StatusIs(absl::StatusCode::kInvalidArgument));
  req.set_stored_message_id(987654);
  EXPECT_THAT(router_->RouteEmail(req), StatusIs(absl::StatusCode::kNotFound));
  connector_.status = "disabled";
  holder_->PutConnector(connector_);
  req.clear_stored_message_id();
  req.set_raw_message(Mail("jane@client.example", "x"));
  EXPECT_THAT(router_->RouteEmail(req), StatusIs(absl::StatusCode::kFailedPrecondition));
  SetSpec(R"({"name":"support","settings":{"max_message_bytes":100}})");
  connector_.status = "active";
  holder_->PutConnector(connector_);
  EXPECT_THAT(router_->RouteEmail(req),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_message_bytes")));
}

// Once INTERNAL here and FAILED_PRECONDITION elsewhere: now one error, logged and counted.
TEST_F(RouterCoreTest, UnreadableStoredSpecIsFailedPreconditionAndCounted) {
  SetSpec(R"({"name":"support","settings":{"max_message_bytes":"lots"}})");
  v1::RouteEmailRequest req;
  req.set_connector("support");
  req.set_raw_message(Mail("jane@client.example", "x"));
  EXPECT_THAT(router_->RouteEmail(req),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("connector \"support\": stored spec unreadable: ")));
  v1::ExplainRouteRequest explain;
  explain.set_connector("support");
  explain.set_raw_message(req.raw_message());
  EXPECT_THAT(router_->ExplainRoute(explain), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(metrics_.spec_unreadable("support"), 2);
  EXPECT_EQ(WorkItemCount(), 0);
}

TEST_F(RouterCoreTest, StoredMessageIsRoutedByIdAndReplayedAfterwards) {
  store::MessageRecord m;
  m.connector_id = connector_.id;
  m.fetch_key = "INBOX:5:1";
  m.raw = Mail("jane@client.example", "Stored");
  int64_t id = holder_->StorePending(m);
  v1::RouteEmailRequest req;
  req.set_connector("support");
  req.set_stored_message_id(id);
  absl::StatusOr<v1::RouteEmailResponse> r = router_->RouteEmail(req);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->message_id(), id);
  EXPECT_EQ(r->decision(), v1::DECISION_CREATED);
  absl::StatusOr<v1::RouteEmailResponse> again = router_->RouteEmail(req);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->replayed());
  EXPECT_EQ(again->work_item_id(), r->work_item_id());
}

TEST_F(RouterCoreTest, StoredBytesSentAlongMustBeTheStoredOnes) {
  store::MessageRecord m;
  m.connector_id = connector_.id;
  m.fetch_key = "INBOX:5:7";
  m.raw = Mail("jane@client.example", "Printer on fire");
  m.content_sha256 = Sha256(m.raw);
  int64_t id = holder_->StorePending(m);
  v1::RouteEmailRequest req;
  req.set_connector("support");
  req.set_stored_message_id(id);
  req.set_raw_message(Mail("mallory@client.example", "Something else"));
  EXPECT_THAT(router_->RouteEmail(req),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("SHA-256")));
  EXPECT_EQ(router_->GetMessage(id, false)->decision(), v1::DECISION_UNSPECIFIED);

  req.set_raw_message(m.raw);
  absl::StatusOr<v1::RouteEmailResponse> r = router_->RouteEmail(req);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->message_id(), id);
  EXPECT_EQ(r->decision(), v1::DECISION_CREATED);
  EXPECT_EQ(WorkItem(r->work_item_id()).work_item().subject(), "Printer on fire");

  // Bytes sent for a message stored without a content hash are not trusted: the stored ones
  // are routed.
  m.fetch_key = "INBOX:5:8";
  m.raw = Mail("jane@client.example", "Stored subject");
  m.content_sha256.clear();
  req.set_stored_message_id(holder_->StorePending(m));
  req.set_raw_message(Mail("jane@client.example", "Sent subject"));
  r = router_->RouteEmail(req);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(WorkItem(r->work_item_id()).work_item().subject(), "Stored subject");

  // ExplainRoute takes one source only.
  v1::ExplainRouteRequest explain;
  explain.set_connector("support");
  explain.set_stored_message_id(id);
  explain.set_raw_message(m.raw);
  EXPECT_THAT(router_->ExplainRoute(explain), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The router decides a stored message from bytes sent along without reading its row; the
// commit then checks the row is what the request said, and where it is not, the message is
// read and decided from what was stored.
TEST_F(RouterCoreTest, BytesSentAlongDecideOnlyTheRowTheyDescribe) {
  AddRoute("vip", 10, false, R"({"queue_hint": ["vip"]})", R"({"queue":"vip"})");
  auto pending = [&](const std::string& fetch_key, const std::string& subject) {
    store::MessageRecord m;
    m.connector_id = connector_.id;
    m.fetch_key = fetch_key;
    m.folder = "INBOX";
    m.queue_hint = "billing";
    m.raw = Mail("jane@client.example", subject);
    m.content_sha256 = Sha256(m.raw);
    return std::make_pair(holder_->StorePending(m), m);
  };
  auto sent = [&](int64_t id, const store::MessageRecord& m) {
    v1::RouteEmailRequest req;
    req.set_connector("support");
    req.set_stored_message_id(id);
    req.set_fetch_key(m.fetch_key);
    req.set_folder(m.folder);
    req.set_queue_hint(m.queue_hint);
    req.set_raw_message(m.raw);
    return req;
  };

  // As stored: decided from the sent bytes.
  auto [id, m] = pending("INBOX:9:1", "Printer");
  absl::StatusOr<v1::RouteEmailResponse> r = router_->RouteEmail(sent(id, m));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->decision(), v1::DECISION_CREATED);
  EXPECT_EQ(r->queue(), "general");
  // Sent again once decided: the recorded decision, no second work item.
  absl::StatusOr<v1::RouteEmailResponse> again = router_->RouteEmail(sent(id, m));
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->replayed());
  EXPECT_EQ(again->work_item_id(), r->work_item_id());
  EXPECT_EQ(WorkItemCount(), 1);

  // A queue hint the row does not have is not believed: the stored one ("billing") routes.
  auto [hinted, hm] = pending("INBOX:9:2", "Hint");
  v1::RouteEmailRequest lie = sent(hinted, hm);
  lie.set_queue_hint("vip");
  r = router_->RouteEmail(lie);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->queue(), "general");

  // A person marked it spam while it waited: that status decides, not the bytes' content.
  auto [marked, mm] = pending("INBOX:9:3", "Not spam at all");
  v1::SetSpamStatusRequest mark;
  mark.set_id(marked);
  mark.set_spam(true);
  ASSERT_THAT(router_->SetSpamStatus(mark), IsOk());
  r = router_->RouteEmail(sent(marked, mm));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->decision(), v1::DECISION_SPAM);
  EXPECT_EQ(r->spam_status(), v1::SPAM_STATUS_MANUAL_SPAM);
  EXPECT_EQ(WorkItemCount(), 2);
}

TEST_F(RouterCoreTest, SweepDecidesPendingMessagesIncludingBrokenOnes) {
  store::MessageRecord m;
  m.connector_id = connector_.id;
  m.fetch_key = "INBOX:5:2";
  m.raw = Mail("jane@client.example", "Left behind");
  int64_t ok_id = holder_->StorePending(m);
  m.fetch_key = "INBOX:5:3";
  m.raw = "Subject: only headers\r\n";
  m.truncated = true;
  int64_t big_id = holder_->StorePending(m);
  clock_.Advance(absl::Seconds(2));
  absl::StatusOr<int> n = router_->SweepPending(absl::ZeroDuration(), 10);
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(router_->GetMessage(ok_id, false)->decision(), v1::DECISION_CREATED);
  EXPECT_EQ(router_->GetMessage(big_id, false)->decision(), v1::DECISION_FAILED);
  EXPECT_EQ(*router_->SweepPending(absl::ZeroDuration(), 10), 0);
}

// Issue 17: a message whose routing never finishes (the router is killed while parsing it)
// must not be claimed for ever. Each claim counts; after router_max_attempts the next claim
// records it failed, with a reason, and it is never routed again.
TEST_F(RouterCoreTest, ClaimsThatNeverFinishEndFailedAfterMaxAttempts) {
  Setting("router_max_attempts", "2");
  int64_t poison = StorePending("INBOX:7:1", "Parses forever");
  EXPECT_THAT(ClaimAndDie(), ::testing::ElementsAre(poison));
  EXPECT_EQ(Stored(poison).route_attempts(), 1);
  EXPECT_THAT(ClaimAndDie(), ::testing::ElementsAre(poison));
  EXPECT_EQ(Stored(poison).route_attempts(), 2);
  EXPECT_EQ(Stored(poison).decision(), v1::DECISION_UNSPECIFIED);
  EXPECT_EQ(metrics_.poisoned("support"), 0);

  clock_.Advance(absl::Minutes(2));
  absl::StatusOr<int> n = router_->SweepPending(absl::ZeroDuration(), 10);
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 1);
  v1::StoredMessage m = Stored(poison);
  EXPECT_EQ(m.decision(), v1::DECISION_FAILED);
  EXPECT_EQ(m.step(), "attempts");
  EXPECT_EQ(m.reason(),
            "routing did not finish in 2 attempts (the router stopped while routing it)");
  ASSERT_EQ(m.trace_size(), 1);
  EXPECT_EQ(m.trace(0).step(), "attempts");
  EXPECT_EQ(m.work_item_id(), 0);
  // Kept, bytes and all, for a person to look at or reprocess.
  absl::StatusOr<v1::StoredMessage> kept = router_->GetMessage(poison, true);
  ASSERT_THAT(kept, IsOk());
  EXPECT_THAT(kept->raw(), HasSubstr("Subject: Parses forever"));
  EXPECT_EQ(metrics_.poisoned("support"), 1);
  EXPECT_EQ(WorkItemCount(), 0);
  // Decided: never claimed or routed again.
  EXPECT_THAT(ClaimAndDie(), ::testing::IsEmpty());
  EXPECT_EQ(*router_->SweepPending(absl::ZeroDuration(), 10), 0);
  EXPECT_EQ(metrics_.poisoned("support"), 1);
}

// An attempt that ends in an error records it without counting a second time; the last
// allowed one decides the message failed at once, naming the error.
TEST_F(RouterCoreTest, AnErrorOnTheLastAttemptDecidesFailedAtOnceNamingIt) {
  CommitFailsStore failing(holder_->store());
  Router router({.store = &failing, .clock = &clock_, .metrics = &metrics_,
                 .config_recheck = absl::ZeroDuration()});
  int64_t id = StorePending("INBOX:7:6", "Cannot be written");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    clock_.Advance(absl::Minutes(2));
    EXPECT_EQ(*router.SweepPending(absl::ZeroDuration(), 10), 0);
    v1::StoredMessage m = Stored(id);
    EXPECT_EQ(m.decision(), v1::DECISION_UNSPECIFIED);
    EXPECT_EQ(m.route_attempts(), attempt);
    EXPECT_EQ(m.last_error(), "disk on fire");
  }
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(*router.SweepPending(absl::ZeroDuration(), 10), 1);
  v1::StoredMessage m = Stored(id);
  EXPECT_EQ(m.decision(), v1::DECISION_FAILED);
  EXPECT_EQ(m.reason(), "routing did not finish in 3 attempts; last error: disk on fire");
  EXPECT_EQ(m.route_attempts(), 3);
  EXPECT_EQ(metrics_.poisoned("support"), 1);
}

TEST_F(RouterCoreTest, AnAttemptThatFinishesAfterEarlierDeathsRoutesNormally) {
  int64_t id = StorePending("INBOX:7:2", "Slow but fine");
  ClaimAndDie();
  ClaimAndDie();
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(*router_->SweepPending(absl::ZeroDuration(), 10), 1);  // Third of 3 (default).
  v1::StoredMessage m = Stored(id);
  EXPECT_EQ(m.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(m.route_attempts(), 3);
  EXPECT_EQ(metrics_.poisoned("support"), 0);
}

// RouteEmail of a stored message (the fetcher's call) counts its attempt before parsing, and
// takes the same decision once the attempts are spent, naming the last recorded error.
TEST_F(RouterCoreTest, RouteEmailOfAStoredMessageCountsAttemptsAndFailsItWhenSpent) {
  int64_t id = StorePending("INBOX:7:3", "Kills the router");
  store::RouterStore& store = holder_->store();
  for (int i = 0; i < 3; ++i) {  // Three RouteEmail calls that died while parsing.
    ASSERT_THAT(store.StartAttempt(id, connector_.id, clock_.Now()), IsOk());
  }
  ASSERT_THAT(store.RecordAttemptError(id, "out of memory in the parser"), IsOk());
  EXPECT_EQ(Stored(id).route_attempts(), 3);  // Recording an error counts nothing more.
  v1::RouteEmailRequest req;
  req.set_connector("support");
  req.set_stored_message_id(id);
  absl::StatusOr<store::MessageRecord> raw = store.GetMessage(id, true);
  ASSERT_THAT(raw, IsOk());
  req.set_raw_message(raw->raw);
  absl::StatusOr<v1::RouteEmailResponse> r = router_->RouteEmail(req);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->decision(), v1::DECISION_FAILED);
  EXPECT_EQ(r->message_id(), id);
  EXPECT_EQ(r->reason(),
            "routing did not finish in 3 attempts (the router stopped while routing it); "
            "last error: out of memory in the parser");
  EXPECT_EQ(Stored(id).reason(), r->reason());
  EXPECT_EQ(metrics_.poisoned("support"), 1);
  // The fetcher asking again gets the recorded decision, and no attempt is counted.
  absl::StatusOr<v1::RouteEmailResponse> again = router_->RouteEmail(req);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->replayed());
  EXPECT_EQ(again->decision(), v1::DECISION_FAILED);
  EXPECT_EQ(Stored(id).route_attempts(), 4);
  EXPECT_EQ(metrics_.poisoned("support"), 1);

  // A message within its attempts is routed, and the attempt is counted.
  int64_t fine = StorePending("INBOX:7:4", "Fine");
  req.set_stored_message_id(fine);
  req.clear_raw_message();
  r = router_->RouteEmail(req);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->decision(), v1::DECISION_CREATED);
  EXPECT_EQ(Stored(fine).route_attempts(), 1);
}

TEST_F(RouterCoreTest, MailOfADisabledConnectorWaitsWithoutUsingAttempts) {
  int64_t id = StorePending("INBOX:7:5", "Waiting");
  connector_.status = "disabled";
  holder_->PutConnector(connector_);
  for (int i = 0; i < 5; ++i) EXPECT_THAT(ClaimAndDie(), ::testing::IsEmpty());
  EXPECT_EQ(*router_->SweepPending(absl::ZeroDuration(), 10), 0);
  EXPECT_EQ(Stored(id).route_attempts(), 0);
  connector_.status = "active";
  holder_->PutConnector(connector_);
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(*router_->SweepPending(absl::ZeroDuration(), 10), 1);
  EXPECT_EQ(Stored(id).decision(), v1::DECISION_CREATED);
}

TEST_F(RouterCoreTest, ListMessagesFiltersByDecision) {
  Route(Mail("jane@client.example", "a"));
  Route(Mail("jane@client.example", "spam", "X-Spam-Flag: YES\r\n"));
  v1::ListMessagesRequest req;
  req.set_connector("support");
  req.set_decision(v1::DECISION_SPAM);
  absl::StatusOr<v1::ListMessagesResponse> r = router_->ListMessages(req);
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(r->messages(), SizeIs(1));
  EXPECT_EQ(r->messages(0).subject(), "spam");
  EXPECT_EQ(r->messages(0).from(), "jane@client.example");
}

TEST_F(RouterCoreTest, WorkItemEventsListCreatedThenAppended) {
  v1::RouteEmailResponse first = Route(Mail("jane@client.example", "Printer"));
  Route(Mail("jane@client.example", absl::StrCat("Re: [#", first.work_item_reference(), "]")));
  absl::StatusOr<std::vector<v1::WorkItemEvent>> events = router_->WorkItemEvents(0, "", 10);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(2));
  EXPECT_EQ((*events)[0].kind(), "created");
  EXPECT_EQ((*events)[1].kind(), "appended");
  EXPECT_EQ((*events)[1].work_item().id(), first.work_item_id());
}

}  // namespace
}  // namespace postroom::router
