#include "services/fetcher/core/fetcher_core.h"

#include <memory>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mail/mail_error.h"
#include "libs/store/testing/in_memory_fetch_store.h"
#include "services/fetcher/tests/fakes.h"
#include "tests/support/status_matchers.h"

namespace postroom::fetcher {
namespace {

using ::postroom::fetcher::testing::FakeMailbox;
using ::postroom::fetcher::testing::FakeMailConnector;
using ::postroom::fetcher::testing::FakeTaskRunner;
using ::postroom::fetcher::testing::MakeConnector;
using ::postroom::fetcher::testing::MakeMessage;
using ::postroom::fetcher::testing::PlainSecretOpener;
using ::postroom::fetcher::testing::RecordingRouteSink;
using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kPeriod = absl::Seconds(30);

class Harness {
 public:
  explicit Harness(std::string replica = "replica-a", store::InMemoryFetchStore* shared = nullptr,
                   FakeClock* clock = nullptr, absl::Duration try_backoff = absl::ZeroDuration(),
                   std::function<void(absl::Duration)> sleep = nullptr)
      : store_(shared != nullptr ? shared : &own_store_),
        clock_(clock != nullptr ? clock : &own_clock_),
        mail_(box),
        core_({.replica = replica,
               .lease_period = kPeriod,
               .batch_messages = 100,
               .try_backoff = try_backoff,
               .sleep = std::move(sleep)},
              {.store = store_,
               .mail = &mail_,
               .secrets = &secrets_,
               .router = &router,
               .observer = nullptr,
               .clock = clock_,
               .idle_runner = &idle_runner}) {}

  FetcherCore& core() { return core_; }
  store::InMemoryFetchStore& store() { return *store_; }
  FakeClock& clock() { return *clock_; }
  FakeMailConnector& mail() { return mail_; }

  PollReport RoundAndPoll() {
    EXPECT_THAT(core_.RunLeaseRound(), IsOk());
    return core_.RunOneDue();
  }

  FakeMailbox box;
  RecordingRouteSink router;
  FakeTaskRunner idle_runner;

 private:
  store::InMemoryFetchStore own_store_;
  FakeClock own_clock_;
  store::InMemoryFetchStore* store_;
  FakeClock* clock_;
  PlainSecretOpener secrets_;
  FakeMailConnector mail_;
  FetcherCore core_;
};

v1::Connector WithSettings(uint32_t threshold = 3, uint32_t max_tries = 2) {
  v1::Connector c;
  c.mutable_settings()->set_error_threshold(threshold);
  c.mutable_settings()->set_max_tries(max_tries);
  c.mutable_settings()->set_cool_off_min(1);
  c.mutable_settings()->set_poll_interval_s(60);
  return c;
}

std::vector<std::string> Keys(store::InMemoryFetchStore& s) {
  std::vector<std::string> out;
  for (const auto& m : s.Messages()) out.push_back(m.message.fetch_key);
  return out;
}

TEST(FetcherCore, FullSyncStoresEveryMessageOnceAndRoutesIt) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings()));
  for (int i = 0; i < 250; ++i) h.box.Add("INBOX", MakeMessage("m" + std::to_string(i)));
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  EXPECT_EQ(r.stored, 250);
  auto msgs = h.store().Messages();
  ASSERT_THAT(msgs, SizeIs(250));
  EXPECT_EQ(msgs[0].message.fetch_key, "INBOX:1:1");
  EXPECT_EQ(msgs[0].message.message_id, "m0");
  EXPECT_EQ(msgs[0].decision, "");
  EXPECT_THAT(h.router.jobs, SizeIs(250));
  EXPECT_EQ(h.router.jobs[0].message_id, msgs[0].id);
  EXPECT_EQ(h.router.jobs[0].raw, msgs[0].message.raw);  // the router need not read it back
  EXPECT_EQ(h.mail().last_password, "pw-support");
  auto cursors = h.store().GetCursors(1);
  ASSERT_THAT(cursors, IsOk());
  ASSERT_THAT(*cursors, SizeIs(1));
  EXPECT_EQ((*cursors)[0].last_uid, 250);
  EXPECT_EQ((*cursors)[0].backfill_done, 250);
  EXPECT_EQ((*cursors)[0].backfill_total, 250);
  EXPECT_EQ(h.store().GetState(1).consecutive_errors, 0);
  EXPECT_NE(h.store().GetState(1).last_success_at, absl::InfinitePast());
}

TEST(FetcherCore, IncrementalSyncFetchesOnlyNewMessages) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings()));
  h.box.Add("INBOX", MakeMessage("a"));
  h.box.Add("INBOX", MakeMessage("b"));
  EXPECT_EQ(h.RoundAndPoll().stored, 2);
  h.clock().Advance(absl::Seconds(30));
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kNothingDue);  // interval is 60 s
  h.box.Add("INBOX", MakeMessage("c"));
  h.clock().Advance(absl::Seconds(31));
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(r.already_stored, 0);
  EXPECT_THAT(Keys(h.store()), ElementsAre("INBOX:1:1", "INBOX:1:2", "INBOX:1:3"));
}

TEST(FetcherCore, UidValidityChangeRefetchesUnderNewKeys) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings()));
  h.box.Add("INBOX", MakeMessage("a"));
  h.box.Add("INBOX", MakeMessage("b"));
  h.RoundAndPoll();
  h.box.Renumber("INBOX", 7);
  ASSERT_THAT(h.core().PollNow("support"), IsOk());
  PollReport r = h.core().RunOneDue();
  EXPECT_EQ(r.stored, 2);
  EXPECT_THAT(Keys(h.store()), ElementsAre("INBOX:1:1", "INBOX:1:2", "INBOX:7:1", "INBOX:7:2"));
  EXPECT_EQ((*h.store().GetCursors(1))[0].uid_validity, 7);
  // Same Message-IDs: the router's duplicate step recognises the re-fetched copies.
  EXPECT_EQ(h.store().Messages()[2].message.message_id, "a");
}

TEST(FetcherCore, SyncStartDateSkipsOlderMailOnFirstSync) {
  Harness h;
  v1::Connector c = WithSettings();
  c.mutable_settings()->set_sync_start_date("2026-10-01");
  h.store().PutConnector(MakeConnector(1, "support", "imap", c));
  h.box.Add("INBOX", MakeMessage("old"), absl::CivilDay(2026, 9, 1));
  h.box.Add("INBOX", MakeMessage("new"), absl::CivilDay(2026, 10, 2));
  EXPECT_EQ(h.RoundAndPoll().stored, 1);
  EXPECT_THAT(Keys(h.store()), ElementsAre("INBOX:1:2"));
}

TEST(FetcherCore, FolderMappingPassesQueueHint) {
  Harness h;
  v1::Connector c = WithSettings();
  auto* f = c.add_folders();
  f->set_folder("Invoices");
  f->set_queue("billing");
  h.store().PutConnector(MakeConnector(1, "support", "imap", c));
  h.box.Add("Invoices", MakeMessage("inv"));
  h.box.Add("INBOX", MakeMessage("not-mapped"));
  EXPECT_EQ(h.RoundAndPoll().stored, 1);
  ASSERT_THAT(h.router.jobs, SizeIs(1));
  EXPECT_EQ(h.router.jobs[0].folder, "Invoices");
  EXPECT_EQ(h.router.jobs[0].queue_hint, "billing");
}

TEST(FetcherCore, OversizedMessageIsStoredAsHeadersFailedAndAdminIsTold) {
  Harness h;
  v1::Connector c = WithSettings();
  c.mutable_settings()->set_max_message_bytes(1000);
  h.store().PutConnector(MakeConnector(1, "support", "imap", c));
  h.box.Add("INBOX", MakeMessage("small", 200));
  h.box.Add("INBOX", MakeMessage("big", 5000));
  h.box.Add("INBOX", MakeMessage("small2", 200));
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  auto msgs = h.store().Messages();
  ASSERT_THAT(msgs, SizeIs(3));
  const auto* big = &msgs[0];
  for (const auto& m : msgs) {
    if (m.message.message_id == "big") big = &m;
  }
  EXPECT_TRUE(big->message.truncated);
  EXPECT_EQ(big->decision, "failed");
  EXPECT_LT(big->message.raw.size(), 200u);
  EXPECT_GE(big->message.size_bytes, 5000);
  EXPECT_THAT(big->message.failed_reason, ::testing::HasSubstr("max_message_bytes 1000"));
  EXPECT_THAT(h.store().Outbox(), SizeIs(1));
  EXPECT_THAT(h.router.jobs, SizeIs(2));  // the failed one is decided already
  EXPECT_EQ((*h.store().GetCursors(1))[0].last_uid, 3);
  // Only its start was asked for: the whole would exceed the client's response limit.
  EXPECT_EQ(h.box.head_fetches, 1);
}

TEST(FetcherCore, OversizedPop3MessageIsRetrievedAsHeadersOnly) {
  Harness h;
  v1::Connector c = WithSettings();
  c.mutable_settings()->set_max_message_bytes(1000);
  h.store().PutConnector(MakeConnector(1, "mail", "pop3", c));
  h.box.pop3 = {{"u1", MakeMessage("small", 200)}, {"u2", MakeMessage("big", 5000)}};
  EXPECT_EQ(h.RoundAndPoll().outcome, PollOutcome::kSuccess);
  EXPECT_EQ(h.box.head_fetches, 1);
  auto msgs = h.store().Messages();
  ASSERT_THAT(msgs, SizeIs(2));
  for (const auto& m : msgs) {
    if (m.message.message_id != "big") continue;
    EXPECT_TRUE(m.message.truncated);
    EXPECT_GE(m.message.size_bytes, 5000);
  }
}

TEST(FetcherCore, ProcessedActionRunsOnlyAfterTheCommit) {
  Harness h;
  v1::Connector c = WithSettings(/*threshold=*/10, /*max_tries=*/1);
  c.set_processed_action(v1::PROCESSED_ACTION_MARK_READ);
  h.store().PutConnector(MakeConnector(1, "support", "imap", c));
  h.box.Add("INBOX", MakeMessage("a"));
  ASSERT_THAT(h.core().RunLeaseRound(), IsOk());
  h.store().FailAll(absl::UnavailableError("database away"));
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kError);
  EXPECT_FALSE(h.box.folders["INBOX"].messages[1].seen);
  EXPECT_TRUE(h.box.actions.empty());
  h.store().FailAll(absl::OkStatus());
  ASSERT_THAT(h.core().PollNow("support"), IsOk());
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kSuccess);
  EXPECT_TRUE(h.box.folders["INBOX"].messages[1].seen);
  EXPECT_THAT(h.box.actions, ElementsAre("seen 1"));
}

TEST(FetcherCore, MoveActionMovesAfterStoring) {
  Harness h;
  v1::Connector c = WithSettings();
  c.set_processed_action(v1::PROCESSED_ACTION_MOVE);
  c.set_processed_folder("Done");
  h.store().PutConnector(MakeConnector(1, "support", "imap", c));
  h.box.Add("INBOX", MakeMessage("a"));
  h.RoundAndPoll();
  EXPECT_THAT(h.store().Messages(), SizeIs(1));
  EXPECT_TRUE(h.box.folders["INBOX"].messages.empty());
  EXPECT_THAT(h.box.folders["Done"].messages, SizeIs(1));
}

TEST(FetcherCore, FailureMidFetchKeepsCommittedBatchesAndNextPollStoresTheRestOnce) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings(10, 1)));
  for (int i = 0; i < 350; ++i) h.box.Add("INBOX", MakeMessage("m" + std::to_string(i)));
  h.box.fetch_fail_after = 250;
  h.box.fetch_error = mail::MailError(mail::MailErrorClass::kNetwork, "connection reset");
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kError);
  EXPECT_EQ(r.stored, 200);  // two batches of 100 committed, the third was in flight
  EXPECT_EQ((*h.store().GetCursors(1))[0].last_uid, 200);
  h.clock().Advance(absl::Minutes(2));
  r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  EXPECT_EQ(r.stored, 150);
  std::vector<std::string> keys = Keys(h.store());
  std::set<std::string> unique(keys.begin(), keys.end());
  EXPECT_EQ(keys.size(), 350u);
  EXPECT_EQ(unique.size(), 350u);
}

TEST(FetcherCore, NetworkErrorsAreRetriedWithinOnePoll) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings(3, 3)));
  h.box.connect_error = mail::MailError(mail::MailErrorClass::kNetwork, "connection refused");
  h.box.connect_failures = 2;
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  EXPECT_EQ(r.tries, 3);
  EXPECT_EQ(h.box.opens, 3);
}

TEST(FetcherCore, AuthenticationErrorIsNotRetriedAndStartsCoolOff) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings(3, 3)));
  h.box.connect_error =
      mail::MailError(mail::MailErrorClass::kAuthentication, "NO [AUTHENTICATIONFAILED]");
  const absl::Time t0 = h.clock().Now();
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kError);
  EXPECT_EQ(r.tries, 1);
  EXPECT_EQ(h.core().NextDue(), t0 + absl::Minutes(1));
  auto state = h.store().GetState(1);
  EXPECT_EQ(state.consecutive_errors, 1);
  EXPECT_EQ(state.last_error_class, "authentication");
  EXPECT_THAT(state.last_error, ::testing::HasSubstr("AUTHENTICATIONFAILED"));
  h.clock().Advance(absl::Seconds(59));
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kNothingDue);
}

// The tries of one poll were back to back (the same millisecond): useless against a server
// that is restarting.
TEST(FetcherCore, TheTriesOfOnePollAreSpacedByADoublingBackoff) {
  std::vector<absl::Duration> slept;
  Harness h("replica-a", nullptr, nullptr, absl::Seconds(1),
            [&](absl::Duration d) { slept.push_back(d); });
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings(5, 4)));
  h.box.connect_error = mail::MailError(mail::MailErrorClass::kNetwork, "connection refused");
  h.box.connect_failures = 100;
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kError);
  EXPECT_EQ(r.tries, 4);
  EXPECT_THAT(slept, ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(4)));
}

// Fixing a connector takes effect now: a passing connection test after the failed poll, or a
// changed setting, ends the cool-off (it used to keep the next poll 15 minutes away).
TEST(FetcherCore, APassingConnectionTestAfterTheFailureEndsTheCoolOff) {
  Harness h;
  store::IncomingConnectorRecord rec = MakeConnector(1, "support", "imap", WithSettings(3, 1));
  h.store().PutConnector(rec);
  h.box.connect_error = mail::MailError(mail::MailErrorClass::kAuthentication, "NO [AUTH]");
  const absl::Time failed = h.clock().Now();
  ASSERT_EQ(h.RoundAndPoll().outcome, PollOutcome::kError);
  EXPECT_EQ(h.core().NextDue(), failed + absl::Minutes(1));
  h.clock().Advance(absl::Seconds(5));
  rec.test_passed_at = failed - absl::Seconds(1);  // a pass from before the failure: no effect
  h.store().PutConnector(rec);
  ASSERT_THAT(h.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(h.core().NextDue(), failed + absl::Minutes(1));
  rec.test_passed_at = h.clock().Now();  // postroomctl test connector, after the fix
  h.store().PutConnector(rec);
  h.box.connect_error = absl::OkStatus();
  h.box.connect_failures = 0;
  ASSERT_THAT(h.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(h.core().NextDue(), h.clock().Now());
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kSuccess);
}

TEST(FetcherCore, AChangedSettingEndsTheCoolOffAndKeepsTheErrorCount) {
  Harness h;
  store::IncomingConnectorRecord rec = MakeConnector(1, "support", "imap", WithSettings(3, 1));
  h.store().PutConnector(rec);
  h.box.connect_error = mail::MailError(mail::MailErrorClass::kAuthentication, "NO [AUTH]");
  ASSERT_EQ(h.RoundAndPoll().outcome, PollOutcome::kError);
  h.clock().Advance(absl::Seconds(5));
  rec.version += 1;  // e.g. a new password applied
  h.store().PutConnector(rec);
  ASSERT_THAT(h.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(h.core().NextDue(), h.clock().Now());
  PollReport r = h.core().RunOneDue();
  EXPECT_EQ(r.outcome, PollOutcome::kError);  // still refused: counted as the second error
  EXPECT_EQ(h.store().GetState(1).consecutive_errors, 2);
}

// `cool_off_min: 0` is no cool-off: once it silently became 15 minutes.
TEST(FetcherCore, ExplicitZeroCoolOffRetriesAtTheNextInterval) {
  Harness h;
  v1::Connector c = WithSettings(3, 1);
  c.mutable_settings()->set_cool_off_min(0);
  h.store().PutConnector(MakeConnector(1, "support", "imap", c));
  h.box.connect_error =
      mail::MailError(mail::MailErrorClass::kAuthentication, "NO [AUTHENTICATIONFAILED]");
  const absl::Time t0 = h.clock().Now();
  EXPECT_EQ(h.RoundAndPoll().outcome, PollOutcome::kError);
  EXPECT_EQ(h.core().NextDue(), t0 + absl::Seconds(60));  // The interval: not at once either.
}

// One error in every service for a stored spec that does not read: FAILED_PRECONDITION.
TEST(FetcherCore, UnreadableStoredSpecFailsThePollWithOneError) {
  Harness h;
  store::IncomingConnectorRecord rec = MakeConnector(1, "support", "imap", WithSettings());
  rec.spec_json = R"({"settings": {"cool_off_min": "soon"}})";
  h.store().PutConnector(rec);
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kError);
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 ::testing::HasSubstr(
                                     "connector \"support\": stored spec unreadable: ")));
}

TEST(FetcherCore, ThresholdAutoDisablesWithAuditAndAdminNoticeThenReEnableResets) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings(3, 1)));
  h.box.connect_error =
      mail::MailError(mail::MailErrorClass::kAuthentication, "NO [AUTHENTICATIONFAILED]");
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(h.RoundAndPoll().auto_disabled);
    h.clock().Advance(absl::Minutes(1));
  }
  EXPECT_EQ(h.store().Status(1), "active");
  PollReport r = h.RoundAndPoll();
  EXPECT_TRUE(r.auto_disabled);
  EXPECT_EQ(h.store().Status(1), "disabled_by_system");
  ASSERT_THAT(h.store().AuditLog(), SizeIs(1));
  EXPECT_EQ(h.store().AuditLog()[0].actor, "system");
  EXPECT_EQ(h.store().AuditLog()[0].action, "auto_disable");
  ASSERT_THAT(h.store().Outbox(), SizeIs(1));
  EXPECT_THAT(h.store().Outbox()[0].body, ::testing::HasSubstr("AUTHENTICATIONFAILED"));
  EXPECT_THAT(h.store().GetState(1).auto_disabled_reason, ::testing::HasSubstr("3 consecutive"));
  // Disabled: the lease goes, nothing is polled.
  ASSERT_THAT(h.core().RunLeaseRound(), IsOk());
  EXPECT_THAT(h.core().Owned(), SizeIs(0));
  // An operator fixes the password and re-enables: polled again, counters from zero.
  h.box.connect_error = absl::OkStatus();
  h.store().SetStatus(1, "active");
  EXPECT_EQ(h.RoundAndPoll().outcome, PollOutcome::kSuccess);
  EXPECT_EQ(h.store().GetState(1).consecutive_errors, 0);
}

TEST(FetcherCore, SuccessResetsTheErrorCounter) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings(5, 1)));
  h.box.connect_error = mail::MailError(mail::MailErrorClass::kNetwork, "refused");
  h.RoundAndPoll();
  h.clock().Advance(absl::Minutes(1));
  h.RoundAndPoll();
  EXPECT_EQ(h.store().GetState(1).consecutive_errors, 2);
  h.box.connect_error = absl::OkStatus();
  h.clock().Advance(absl::Minutes(1));
  EXPECT_EQ(h.RoundAndPoll().outcome, PollOutcome::kSuccess);
  EXPECT_EQ(h.store().GetState(1).consecutive_errors, 0);
}

TEST(FetcherCore, SkipWindowSkipsPollsButPollNowDoesNot) {
  Harness h;
  v1::Connector c = WithSettings();
  // The fake clock starts at 2027-01-15 08:00 UTC = 09:00 in Berlin.
  c.mutable_settings()->add_skip_windows("08:30-09:30");
  c.mutable_settings()->set_time_zone("Europe/Berlin");
  h.store().PutConnector(MakeConnector(1, "support", "imap", c));
  h.box.Add("INBOX", MakeMessage("a"));
  EXPECT_EQ(h.RoundAndPoll().outcome, PollOutcome::kSkipped);
  EXPECT_EQ(h.box.opens, 0);
  ASSERT_THAT(h.core().PollNow("support"), IsOk());
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kSuccess);
}

TEST(FetcherCore, PollNowIgnoresCoolOffAndIsNotFoundWhenNotHeld) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings(5, 1)));
  h.box.connect_error = mail::MailError(mail::MailErrorClass::kNetwork, "refused");
  h.RoundAndPoll();
  h.box.connect_error = absl::OkStatus();
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kNothingDue);
  ASSERT_THAT(h.core().PollNow("support"), IsOk());
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kSuccess);
  EXPECT_THAT(h.core().PollNow("other"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(FetcherCore, Pop3StoresEachUidlOnceAndDeletesOnlyAfterCommit) {
  Harness h;
  v1::Connector c = WithSettings();
  c.set_processed_action(v1::PROCESSED_ACTION_DELETE);
  h.store().PutConnector(MakeConnector(1, "mail", "pop3", c));
  h.box.pop3 = {{"u1", MakeMessage("p1")}, {"u2", MakeMessage("p2")}};
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  EXPECT_EQ(r.stored, 2);
  EXPECT_THAT(Keys(h.store()), ElementsAre("uidl:u1", "uidl:u2"));
  EXPECT_TRUE(h.box.pop3.empty());
  h.box.pop3 = {{"u3", MakeMessage("p3")}};
  ASSERT_THAT(h.core().PollNow("mail"), IsOk());
  EXPECT_EQ(h.core().RunOneDue().stored, 1);
}

TEST(FetcherCore, Pop3LeaveKeepsMailAndSkipsSeenUidls) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "mail", "pop3", WithSettings()));
  h.box.pop3 = {{"u1", MakeMessage("p1")}};
  EXPECT_EQ(h.RoundAndPoll().stored, 1);
  h.box.pop3.push_back({"u2", MakeMessage("p2")});
  ASSERT_THAT(h.core().PollNow("mail"), IsOk());
  PollReport r = h.core().RunOneDue();
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(h.box.fetched, 2);  // u1 was not downloaded again
  EXPECT_THAT(h.box.pop3, SizeIs(2));
}

TEST(FetcherCore, Pop3ForgetsSeenUidlsTheServerNoLongerLists) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "mail", "pop3", WithSettings()));
  h.box.pop3 = {{"u1", MakeMessage("p1")}, {"u2", MakeMessage("p2")}, {"u3", MakeMessage("p3")}};
  EXPECT_EQ(h.RoundAndPoll().stored, 3);
  // Another client removed u1 and u3; u4 arrived.
  h.box.pop3 = {{"u2", MakeMessage("p2")}, {"u4", MakeMessage("p4")}};
  ASSERT_THAT(h.core().PollNow("mail"), IsOk());
  PollReport r = h.core().RunOneDue();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  EXPECT_EQ(r.stored, 1);
  EXPECT_THAT(h.store().GetPop3Seen(1), IsOkAndHolds(UnorderedElementsAre("u2", "u4")));
  EXPECT_THAT(Keys(h.store()), ElementsAre("uidl:u1", "uidl:u2", "uidl:u3", "uidl:u4"));
}

TEST(FetcherCore, Pop3KeepsTheSeenSetWhenTheListingFails) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "mail", "pop3", WithSettings(5, 1)));
  h.box.pop3 = {{"u1", MakeMessage("p1")}};
  EXPECT_EQ(h.RoundAndPoll().stored, 1);
  h.box.pop3.clear();
  h.box.connect_error = mail::MailError(mail::MailErrorClass::kNetwork, "reset");
  ASSERT_THAT(h.core().PollNow("mail"), IsOk());
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kError);
  EXPECT_THAT(h.store().GetPop3Seen(1), IsOkAndHolds(ElementsAre("u1")));
}

TEST(FetcherCore, DeleteActionRunsAfterTheCommit) {
  Harness h;
  v1::Connector c = WithSettings();
  c.set_processed_action(v1::PROCESSED_ACTION_DELETE);
  h.store().PutConnector(MakeConnector(1, "support", "imap", c));
  h.box.Add("INBOX", MakeMessage("a"));
  h.box.Add("INBOX", MakeMessage("b"));
  EXPECT_EQ(h.RoundAndPoll().stored, 2);
  EXPECT_THAT(h.box.actions, ElementsAre("delete 1,2"));
}

// IMAP IDLE: a connector whose server offers IDLE keeps its session after a successful poll.
v1::Connector IdleSettings() {
  v1::Connector c = WithSettings();
  c.mutable_settings()->set_poll_interval_s(600);
  return c;
}

TEST(FetcherCore, ImapIdleNewMailMakesTheConnectorDueLongBeforeItsInterval) {
  Harness h;
  h.box.idle = true;
  h.store().PutConnector(MakeConnector(1, "support", "imap", IdleSettings()));
  h.box.Add("INBOX", MakeMessage("a"));
  EXPECT_EQ(h.RoundAndPoll().stored, 1);
  ASSERT_THAT(h.idle_runner.tasks, SizeIs(1));
  EXPECT_THAT(h.core().Idling(), ElementsAre("support"));
  EXPECT_EQ(h.box.closes, 0);  // the session waits; it was not logged out

  h.box.Add("INBOX", MakeMessage("b"));
  h.box.idle_wakes = true;
  h.idle_runner.RunAll();
  EXPECT_THAT(h.box.idle_waits, ElementsAre(absl::Seconds(600)));  // until the regular poll
  EXPECT_THAT(h.box.idle_folders, ElementsAre("INBOX"));
  EXPECT_EQ(h.box.closes, 1);
  EXPECT_THAT(h.core().Idling(), ::testing::IsEmpty());
  // Due one second after the poll before it (the guard against a poll loop), not in 600 s.
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kNothingDue);
  h.clock().Advance(absl::Seconds(1));
  PollReport r = h.core().RunOneDue();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  EXPECT_EQ(r.stored, 1);
  EXPECT_THAT(h.idle_runner.tasks, SizeIs(1));  // and it waits again
}

TEST(FetcherCore, ImapIdleWithoutNewsOrWithAnErrorLeavesThePollIntervalAlone) {
  Harness h;
  h.box.idle = true;
  h.store().PutConnector(MakeConnector(1, "support", "imap", IdleSettings()));
  h.RoundAndPoll();
  h.idle_runner.RunAll();  // time ran out, nothing new
  h.clock().Advance(absl::Seconds(599));
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kNothingDue);
  h.clock().Advance(absl::Seconds(1));
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kSuccess);

  h.box.idle_error = mail::MailError(mail::MailErrorClass::kNetwork, "connection reset");
  h.idle_runner.RunAll();
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kNothingDue);
  EXPECT_EQ(h.store().GetState(1).consecutive_errors, 0);  // not a failed poll
  h.clock().Advance(absl::Seconds(600));
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kSuccess);
}

TEST(FetcherCore, ImapIdleEndsWhenTheLeaseIsLost) {
  store::InMemoryFetchStore store;
  FakeClock clock;
  Harness a("replica-a", &store, &clock);
  a.box.idle = true;
  store.PutConnector(MakeConnector(1, "support", "imap", IdleSettings()));
  a.RoundAndPoll();
  ASSERT_THAT(a.idle_runner.tasks, SizeIs(1));
  // replica-a stops renewing; after the lease period replica-b takes the connector.
  clock.Advance(kPeriod + absl::Seconds(1));
  Harness b("replica-b", &store, &clock);
  ASSERT_THAT(b.core().RunLeaseRound(), IsOk());
  ASSERT_THAT(a.core().RunLeaseRound(), IsOk());  // a learns it lost the lease
  a.box.idle_wakes = true;
  a.idle_runner.RunAll();
  EXPECT_EQ(a.box.idle_stopped, 1);
  EXPECT_EQ(a.box.closes, 1);
  EXPECT_EQ(a.core().RunOneDue().outcome, PollOutcome::kNothingDue);
}

TEST(FetcherCore, ImapIdleEndsWhenTheConnectorChangesOrIsDisabled) {
  Harness h;
  h.box.idle = true;
  h.store().PutConnector(MakeConnector(1, "support", "imap", IdleSettings()));
  h.RoundAndPoll();
  ASSERT_THAT(h.core().RunLeaseRound(), IsOk());  // nothing changed: keeps waiting
  EXPECT_THAT(h.core().Idling(), ElementsAre("support"));
  store::IncomingConnectorRecord changed = MakeConnector(1, "support", "imap", IdleSettings());
  changed.version = 2;
  h.store().PutConnector(changed);
  ASSERT_THAT(h.core().RunLeaseRound(), IsOk());
  EXPECT_THAT(h.core().Idling(), ::testing::IsEmpty());
  h.idle_runner.RunAll();
  EXPECT_EQ(h.box.idle_stopped, 1);

  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kSuccess);  // new settings: polled now
  ASSERT_THAT(h.idle_runner.tasks, SizeIs(1));
  h.store().SetStatus(1, "disabled");
  ASSERT_THAT(h.core().RunLeaseRound(), IsOk());
  h.idle_runner.RunAll();
  EXPECT_EQ(h.box.idle_stopped, 2);
}

// The owner of `connector`'s lease in the store, "" when free.
std::string OwnerOf(store::InMemoryFetchStore& store, const std::string& connector) {
  auto leases = store.ListLeases();
  EXPECT_THAT(leases, IsOk());
  for (const auto& l : *leases) {
    if (l.connector == connector) return l.owner;
  }
  return "";
}

TEST(FetcherCore, ImapIdleEndsAtShutdownAndWhenTheNextPollStarts) {
  Harness h;
  h.box.idle = true;
  h.store().PutConnector(MakeConnector(1, "support", "imap", IdleSettings()));
  h.RoundAndPoll();
  ASSERT_THAT(h.core().PollNow("support"), IsOk());
  EXPECT_EQ(h.core().RunOneDue().outcome, PollOutcome::kSuccess);
  ASSERT_THAT(h.idle_runner.tasks, SizeIs(2));
  EXPECT_THAT(h.core().Idling(), ElementsAre("support"));  // the second poll's session
  // ReleaseAll waits for the IDLE tasks to log out before it gives the lease back.
  absl::Status released = absl::UnknownError("not returned");
  std::thread shutdown([&] { released = h.core().ReleaseAll(); });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(OwnerOf(h.store(), "support"), "replica-a");  // still in the mailbox
  h.idle_runner.RunAll();
  shutdown.join();
  EXPECT_THAT(released, IsOk());
  EXPECT_EQ(OwnerOf(h.store(), "support"), "");
  EXPECT_EQ(h.box.idle_stopped, 2);
  EXPECT_EQ(h.box.closes, 2);
}

TEST(FetcherCore, ImapWithoutIdleLogsOutAfterEachPoll) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", IdleSettings()));
  h.RoundAndPoll();
  EXPECT_THAT(h.idle_runner.tasks, ::testing::IsEmpty());
  EXPECT_EQ(h.box.closes, 1);
}

// An IDLE-capable server and a connector over INBOX and Sales, one message in each.
void TwoFolders(Harness& h) {
  h.box.idle = true;
  v1::Connector c = IdleSettings();
  c.add_folders()->set_folder("INBOX");
  c.add_folders()->set_folder("Sales");
  h.box.Add("INBOX", MakeMessage("a"));
  h.box.Add("Sales", MakeMessage("s"));
  h.store().PutConnector(MakeConnector(1, "support", "imap", c));
}

TEST(FetcherCore, ImapIdleOnSeveralFoldersWatchesTheFirst) {
  Harness h;
  TwoFolders(h);
  EXPECT_EQ(h.RoundAndPoll().stored, 2);
  h.idle_runner.RunAll();
  EXPECT_THAT(h.box.idle_folders, ElementsAre("INBOX"));
}

TEST(FetcherCore, ImapMailReachingTheFirstFolderDuringThePollOfAnotherIsFetchedAtOnce) {
  Harness h;
  TwoFolders(h);
  bool once = false;
  h.box.on_open = [&](const std::string& folder) {
    if (folder == "Sales" && !once) h.box.Add("INBOX", MakeMessage("b"));
    once = once || folder == "Sales";
  };
  EXPECT_EQ(h.RoundAndPoll().stored, 2);
  EXPECT_THAT(h.idle_runner.tasks, ::testing::IsEmpty());  // IDLE would not report "b"
  PollReport r = h.core().RunOneDue();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  EXPECT_EQ(r.stored, 1);
}

TEST(LeaseKeeper, ReplicasSpreadConnectorsEvenlyAndNeverShareOne) {
  store::InMemoryFetchStore store;
  FakeClock clock;
  for (int i = 1; i <= 5; ++i) {
    store.PutConnector(MakeConnector(i, "c" + std::to_string(i), "imap", WithSettings()));
  }
  Harness a("a", &store, &clock), b("b", &store, &clock);
  ASSERT_THAT(a.core().RunLeaseRound(), IsOk());
  EXPECT_THAT(a.core().Owned(), SizeIs(5));
  for (int round = 0; round < 3; ++round) {
    ASSERT_THAT(b.core().RunLeaseRound(), IsOk());
    ASSERT_THAT(a.core().RunLeaseRound(), IsOk());
  }
  auto owned_a = a.core().Owned(), owned_b = b.core().Owned();
  EXPECT_EQ(owned_a.size() + owned_b.size(), 5u);
  EXPECT_LE(owned_a.size(), 3u);
  EXPECT_LE(owned_b.size(), 3u);
  for (const auto& x : owned_a) {
    for (const auto& y : owned_b) EXPECT_NE(x.connector, y.connector);
  }
}

// Replicas a and b sharing IMAP connectors c1 and c2; `idle`: a's server offers IDLE and the
// connectors poll every 600 s.
struct TwoReplicas {
  explicit TwoReplicas(bool idle) {
    for (int i = 1; i <= 2; ++i) {
      store.PutConnector(MakeConnector(i, "c" + std::to_string(i), "imap",
                                       idle ? IdleSettings() : WithSettings()));
    }
    a.box.idle = idle;
  }
  store::InMemoryFetchStore store;
  FakeClock clock;
  Harness a{"a", &store, &clock};
  Harness b{"b", &store, &clock};
};

// Hand-over: a lease over the fair share goes only once this replica has left the mailbox.
TEST(LeaseKeeper, ASurplusLeaseWithARunningIdleIsReleasedOnlyAfterTheIdleReturned) {
  TwoReplicas t(/*idle=*/true);
  store::InMemoryFetchStore& store = t.store;
  Harness &a = t.a, &b = t.b;
  ASSERT_THAT(a.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(a.core().RunOneDue().outcome, PollOutcome::kSuccess);
  EXPECT_EQ(a.core().RunOneDue().outcome, PollOutcome::kSuccess);
  ASSERT_THAT(a.idle_runner.tasks, SizeIs(2));  // both sessions wait in IDLE
  ASSERT_THAT(b.core().RunLeaseRound(), IsOk());  // b joins: one each

  ASSERT_THAT(a.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(OwnerOf(store, "c2"), "a");  // kept while its IDLE is still logged in
  auto owned = a.core().Owned();
  ASSERT_THAT(owned, SizeIs(2));
  EXPECT_FALSE(owned[0].shedding);
  EXPECT_TRUE(owned[1].shedding);
  EXPECT_THAT(a.core().Idling(), ElementsAre("c1"));  // c2's IDLE was told to end
  ASSERT_THAT(a.core().PollNow("c2"), IsOk());
  EXPECT_EQ(a.core().RunOneDue().outcome, PollOutcome::kNothingDue);  // no new session on it
  ASSERT_THAT(b.core().RunLeaseRound(), IsOk());
  EXPECT_THAT(b.core().Owned(), SizeIs(0));

  a.idle_runner.RunAll();  // both IDLEs return and log out
  EXPECT_EQ(a.box.closes, 2);
  ASSERT_THAT(a.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(OwnerOf(store, "c2"), "");
  ASSERT_THAT(a.core().Owned(), SizeIs(1));
  EXPECT_FALSE(a.core().Owned()[0].shedding);
  ASSERT_THAT(b.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(OwnerOf(store, "c2"), "b");
}

TEST(LeaseKeeper, QuietSurplusLeasesGoAtOnceAndAPollInProgressKeepsItsLease) {
  TwoReplicas t(/*idle=*/false);
  store::InMemoryFetchStore& store = t.store;
  Harness &a = t.a, &b = t.b;
  ASSERT_THAT(a.core().RunLeaseRound(), IsOk());
  ASSERT_THAT(b.core().RunLeaseRound(), IsOk());
  std::string c1_owner, c2_owner;
  a.box.on_open = [&](const std::string&) {
    if (!c1_owner.empty() || !c2_owner.empty()) return;
    // Mid-poll of c2, a's next round gives back the quiet c1, not c2.
    EXPECT_THAT(a.core().RunLeaseRound(), IsOk());
    c1_owner = OwnerOf(store, "c1");
    c2_owner = OwnerOf(store, "c2");
  };
  ASSERT_THAT(a.core().PollNow("c2"), IsOk());
  PollReport r = a.core().RunOneDue();
  EXPECT_EQ(r.connector, "c2");
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  EXPECT_EQ(c1_owner, "");
  EXPECT_EQ(c2_owner, "a");
  ASSERT_THAT(b.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(OwnerOf(store, "c1"), "b");
}

TEST(LeaseKeeper, ASheddingLeaseLogsOutAfterItsPollAndGoesTheRoundAfter) {
  TwoReplicas t(/*idle=*/true);
  store::InMemoryFetchStore& store = t.store;
  Harness &a = t.a, &b = t.b;
  ASSERT_THAT(a.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(a.core().RunOneDue().connector, "c1");
  ASSERT_THAT(a.idle_runner.tasks, SizeIs(1));  // c1 waits in IDLE
  ASSERT_THAT(b.core().RunLeaseRound(), IsOk());
  bool once = false;
  a.box.on_open = [&](const std::string&) {
    if (once) return;
    once = true;
    EXPECT_THAT(a.core().RunLeaseRound(), IsOk());  // both busy: c2 is shed, not released
  };
  EXPECT_EQ(a.core().RunOneDue().connector, "c2");
  EXPECT_EQ(OwnerOf(store, "c2"), "a");
  EXPECT_THAT(a.idle_runner.tasks, SizeIs(1));  // c2's session logged out instead of IDLE
  EXPECT_EQ(a.box.closes, 1);
  ASSERT_THAT(a.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(OwnerOf(store, "c2"), "");
  EXPECT_THAT(a.core().Idling(), ElementsAre("c1"));  // c1 keeps its IDLE and its lease
  ASSERT_THAT(b.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(OwnerOf(store, "c2"), "b");
}

TEST(LeaseKeeper, DeadReplicasConnectorsAreTakenOverAndTheZombieCannotWrite) {
  store::InMemoryFetchStore store;
  FakeClock clock;
  store.PutConnector(MakeConnector(1, "support", "imap", WithSettings()));
  Harness a("a", &store, &clock), b("b", &store, &clock);
  a.box.Add("INBOX", MakeMessage("x"));
  ASSERT_THAT(a.core().RunLeaseRound(), IsOk());
  ASSERT_THAT(b.core().RunLeaseRound(), IsOk());
  EXPECT_THAT(b.core().Owned(), SizeIs(0));
  clock.Advance(kPeriod + absl::Seconds(1));  // a pauses past its lease
  ASSERT_THAT(b.core().RunLeaseRound(), IsOk());
  ASSERT_THAT(b.core().Owned(), SizeIs(1));
  EXPECT_EQ(b.core().Owned()[0].fencing_token, 2);
  // a wakes up still believing it holds the lease: its write is refused.
  PollReport r = a.core().RunOneDue();
  EXPECT_EQ(r.outcome, PollOutcome::kLeaseLost);
  EXPECT_THAT(store.Messages(), SizeIs(0));
  EXPECT_EQ(store.GetState(1).consecutive_errors, 0);
}

TEST(LeaseKeeper, SettingsChangesArePickedUpOnTheNextRound) {
  Harness h;
  h.store().PutConnector(MakeConnector(1, "support", "imap", WithSettings()));
  h.RoundAndPoll();
  auto rec = MakeConnector(1, "support", "imap", WithSettings());
  rec.version = 2;
  h.store().PutConnector(rec);
  ASSERT_THAT(h.core().RunLeaseRound(), IsOk());
  EXPECT_EQ(h.core().NextDue(), h.clock().Now());  // polled with the new settings at once
}

TEST(Settings, SkipWindowCrossingMidnight) {
  v1::Connector c;
  c.mutable_settings()->add_skip_windows("22:00-06:00");
  auto s = SettingsOf(c);
  ASSERT_THAT(s, IsOk());
  auto at = [](int h) {
    return absl::FromCivil(absl::CivilHour(2026, 11, 24, h), absl::UTCTimeZone());
  };
  EXPECT_TRUE(InSkipWindow(*s, at(23)));
  EXPECT_TRUE(InSkipWindow(*s, at(5)));
  EXPECT_FALSE(InSkipWindow(*s, at(6)));
  EXPECT_FALSE(InSkipWindow(*s, at(12)));
}

TEST(Settings, BadSkipWindowIsInvalid) {
  v1::Connector c;
  c.set_name("x");
  c.mutable_settings()->add_skip_windows("25:00-x");
  EXPECT_THAT(SettingsOf(c), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The fetcher's sscanf once took 24:59 (as 00:59); config's grammar is the one grammar now.
TEST(Settings, TwentyFourFiftyNineIsRefused) {
  v1::Connector c;
  c.set_name("x");
  c.mutable_settings()->add_skip_windows("24:59-02:00");
  EXPECT_THAT(SettingsOf(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                      ::testing::HasSubstr("\"24:59-02:00\" is not a window")));
}

TEST(Settings, WholeDayWindowIsAccepted) {
  v1::Connector c;
  c.mutable_settings()->add_skip_windows("00:00-24:00");
  auto s = SettingsOf(c);
  ASSERT_THAT(s, IsOk());
  EXPECT_TRUE(InSkipWindow(*s, absl::FromCivil(absl::CivilMinute(2026, 11, 24, 23, 59),
                                               absl::UTCTimeZone())));
}

TEST(Settings, AbsentIsTheDefaultAndExplicitZeroCoolOffIsKept) {
  v1::Connector c;
  auto s = SettingsOf(c);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->cool_off, absl::Minutes(15));
  EXPECT_EQ(s->max_message_bytes, 25u << 20);
  c.mutable_settings()->set_cool_off_min(0);
  s = SettingsOf(c);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->cool_off, absl::ZeroDuration());
}

// A hand-edited 0 where 0 means nothing (a poll loop without pause) is refused, not defaulted.
TEST(Settings, ALeaseRoundOfHalfThePeriodOrMoreIsRefused) {
  EXPECT_THAT(CheckLeaseTiming(absl::Seconds(30), absl::Seconds(3)), IsOk());
  EXPECT_THAT(CheckLeaseTiming(absl::Seconds(4), absl::Milliseconds(1999)), IsOk());
  EXPECT_THAT(CheckLeaseTiming(absl::Seconds(4), absl::Seconds(2)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("must be less than half of --lease_period_s")));
  EXPECT_THAT(CheckLeaseTiming(absl::Seconds(4), absl::Seconds(6)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("--lease_round_ms (6000 ms)")));
}

TEST(Settings, ZeroPollIntervalIsRefused) {
  v1::Connector c;
  c.set_name("x");
  c.mutable_settings()->set_poll_interval_s(0);
  EXPECT_THAT(SettingsOf(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                      ::testing::HasSubstr("settings.poll_interval_s is 0")));
}

TEST(ExtractMessageId, FoldedAndCaseInsensitive) {
  EXPECT_EQ(ExtractMessageId("Subject: a\r\nmessage-id:\r\n <abc@x>\r\n\r\nbody"), "abc@x");
  EXPECT_EQ(ExtractMessageId("Subject: a\r\n\r\nMessage-ID: <no@x>\r\n"), "");
}

}  // namespace
}  // namespace postroom::fetcher
