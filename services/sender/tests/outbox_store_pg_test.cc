// PgOutboxStore against real PostgreSQL (label pg): claims with SKIP LOCKED and leases, claim
// tokens, the system default, retries, outgoing error counters and auto-disable with audit and
// notice in one transaction, RetryNow, suppressed addresses (skipped at claim, listed, deleted
// with audit).
#include <atomic>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/store/database.h"
#include "libs/store/pg_config_store.h"
#include "libs/store/pg_outbox_store.h"
#include "tests/support/pg_test_database.h"
#include "tests/support/status_matchers.h"

namespace postroom::store {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::PgTestDatabase;
using ::postroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
constexpr absl::Duration kLease = absl::Minutes(10);

class OutboxStorePg : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tdb = PgTestDatabase::Create();
    ASSERT_TRUE(tdb.ok()) << tdb.status();
    tdb_ = std::move(*tdb);
    db_ = std::make_unique<Database>(DatabaseOptions{.uri = tdb_->Uri(), .pool_size = 6});
    store_ = std::make_unique<PgOutboxStore>(*db_);
  }

  void Exec(const std::string& sql) {
    ASSERT_THAT(db_->Transact([&](pqxx::work& t) {
      t.exec(sql);
      return absl::OkStatus();
    }),
                IsOk());
  }
  std::string Query(const std::string& sql) {
    std::string out;
    EXPECT_THAT(db_->Transact([&](pqxx::work& t) {
      pqxx::result r = t.exec(sql);
      out = r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
      return absl::OkStatus();
    }),
                IsOk());
    return out;
  }
  int64_t AddConnector(const std::string& name, bool system_default = false,
                       const std::string& status = "active", const std::string& protocol = "smtp") {
    return std::stoll(
        Query("INSERT INTO connectors (name, protocol, direction, status, system_default, spec, "
              "modified_by) VALUES ('" +
              name + "', '" + protocol + "', 'outgoing', '" + status + "', " +
              (system_default ? "true" : "false") + ", '{}', 'test') RETURNING id"));
  }
  // A row due at kT0 (connector 0: none, i.e. the system default).
  int64_t Queue(int64_t connector, const std::string& key, absl::Time due = kT0) {
    return std::stoll(
        Query("INSERT INTO outbox (connector_id, reason, to_address, subject, dedupe_key, due_at) "
              "VALUES (NULLIF(" +
              std::to_string(connector) + ", 0), 'ack', 'a@example.org', 's', '" + key +
              "', to_timestamp(" + std::to_string(absl::ToUnixSeconds(due)) + ")) RETURNING id"));
  }

  std::unique_ptr<PgTestDatabase> tdb_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<PgOutboxStore> store_;
};

TEST_F(OutboxStorePg, ClaimsDueRowsOnceAndBindsSystemDefault) {
  int64_t gw = AddConnector("gateway", true);
  int64_t a = Queue(0, "a");
  Queue(gw, "later", kT0 + absl::Minutes(5));
  auto c = store_->ClaimDue("r1", kT0, kLease, 10);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT(*c, SizeIs(1));
  EXPECT_EQ((*c)[0].id, a);
  EXPECT_EQ((*c)[0].connector_id, gw);
  EXPECT_EQ((*c)[0].connector, "gateway");
  EXPECT_EQ((*c)[0].attempts, 1);
  EXPECT_EQ((*c)[0].claim_token, 1);
  EXPECT_EQ((*c)[0].claimed_by, "r1");
  EXPECT_EQ((*c)[0].status, "queued");  // Still counted by the outbox gauges.
  EXPECT_THAT(store_->ClaimDue("r2", kT0, kLease, 10), postroom::testing::IsOkAndHolds(SizeIs(0)));
  auto next = store_->NextDue();
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(**next, kT0 + absl::Minutes(5));
}

TEST_F(OutboxStorePg, RowsOfInactiveConnectorsWaitAndGraphConnectorsAreClaimed) {
  int64_t off = AddConnector("off", false, "disabled_by_system");
  Queue(off, "a");
  Queue(0, "no-default");
  EXPECT_THAT(store_->ClaimDue("r1", kT0, kLease, 10), postroom::testing::IsOkAndHolds(SizeIs(0)));
  auto next = store_->NextDue();
  ASSERT_THAT(next, IsOk());
  EXPECT_FALSE(next->has_value());
  // Graph connectors send with sendMail: their rows are claimed like SMTP ones.
  int64_t graph = AddConnector("graph", false, "active", "graph");
  Queue(graph, "b");
  auto c = store_->ClaimDue("r1", kT0, kLease, 10);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT(*c, SizeIs(1));
  EXPECT_EQ((*c)[0].connector, "graph");
}

TEST_F(OutboxStorePg, ConcurrentReplicasNeverClaimTheSameRow) {
  AddConnector("gateway", true);
  for (int i = 0; i < 60; ++i) Queue(0, "k" + std::to_string(i));
  std::mutex mu;
  std::multiset<int64_t> seen;
  std::vector<std::thread> threads;
  for (int r = 0; r < 4; ++r) {
    threads.emplace_back([&, r] {
      for (;;) {
        auto c = store_->ClaimDue("r" + std::to_string(r), kT0, kLease, 3);
        if (!c.ok() || c->empty()) return;
        std::lock_guard<std::mutex> l(mu);
        for (const auto& o : *c) seen.insert(o.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(seen, SizeIs(60));
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 60u);
}

TEST_F(OutboxStorePg, ExpiredClaimIsTakenOverAndOldClaimCannotFinish) {
  AddConnector("gateway", true);
  int64_t id = Queue(0, "a");
  auto first = store_->ClaimDue("r1", kT0, kLease, 1);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(*first, SizeIs(1));
  auto second = store_->ClaimDue("r2", kT0 + kLease, kLease, 1);
  ASSERT_THAT(second, IsOk());
  ASSERT_THAT(*second, SizeIs(1));
  EXPECT_EQ((*second)[0].claim_token, 2);
  EXPECT_EQ((*second)[0].attempts, 2);

  AttemptOutcome late{
      .id = id, .owner = "r1", .claim_token = 1, .kind = AttemptKind::kSent, .at = kT0 + kLease};
  EXPECT_THAT(store_->FinishAttempt(late),
              postroom::testing::IsOkAndHolds(::testing::Field(&AttemptResult::applied, false)));
  AttemptOutcome ok{.id = id,
                    .owner = "r2",
                    .claim_token = 2,
                    .kind = AttemptKind::kSent,
                    .at = kT0 + kLease,
                    .smtp_message_id = "m@x"};
  EXPECT_THAT(store_->FinishAttempt(ok),
              postroom::testing::IsOkAndHolds(::testing::Field(&AttemptResult::applied, true)));
  auto row = store_->Get(id);
  ASSERT_THAT(row, IsOk());
  EXPECT_EQ(row->status, "sent");
  EXPECT_EQ(row->smtp_message_id, "m@x");
  EXPECT_EQ(row->claimed_by, "");
  EXPECT_EQ(*row->sent_at, kT0 + kLease);
}

TEST_F(OutboxStorePg, RetryMovesDueAndFailuresCountUpToAutoDisable) {
  Exec(
      "INSERT INTO settings (key, spec, modified_by) VALUES ('admin_notification_address', "
      "'{\"value\": \"ops@example.com\"}', 'test')");
  int64_t gw = AddConnector("gateway", true);
  int64_t id = Queue(0, "a");
  for (int i = 1; i <= 3; ++i) {
    absl::Time now = kT0 + absl::Minutes(i);
    auto c = store_->ClaimDue("r1", now, kLease, 1);
    ASSERT_THAT(c, IsOk());
    ASSERT_THAT(*c, SizeIs(1)) << i;
    AttemptOutcome o{
        .id = id,
        .owner = "r1",
        .claim_token = (*c)[0].claim_token,
        .kind = AttemptKind::kRetry,
        .at = now,
        .next_due = now + absl::Seconds(30),
        .error = "smtp 127.0.0.1:1: connect: Connection refused",
        .error_class = "network",
        .connector_effect = AttemptOutcome::ConnectorEffect::kFailure,
        .connector_id = gw,
        .threshold = 3,
        .notice = {.dedupe_key = "auto_disable:gateway:1", .subject = "disabled", .body = "b"}};
    auto r = store_->FinishAttempt(o);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->consecutive_errors, i);
    EXPECT_EQ(r->auto_disabled, i == 3);
  }
  EXPECT_EQ(Query("SELECT status FROM connectors WHERE name = 'gateway'"), "disabled_by_system");
  EXPECT_THAT(Query("SELECT auto_disabled_reason FROM connector_state"),
              HasSubstr("3 consecutive outgoing network errors; last: smtp 127.0.0.1:1"));
  EXPECT_THAT(Query("SELECT last_outgoing_error FROM connector_state"),
              HasSubstr("Connection refused"));
  EXPECT_EQ(Query("SELECT actor || ' ' || action FROM audit_log WHERE object = 'gateway'"),
            "system auto_disable");
  EXPECT_EQ(Query("SELECT count(*) FROM outbox WHERE reason = 'notification' AND to_address = "
                  "'ops@example.com'"),
            "1");
  auto row = store_->Get(id);
  ASSERT_THAT(row, IsOk());
  EXPECT_EQ(row->status, "queued");
  EXPECT_EQ(row->due_at, kT0 + absl::Minutes(3) + absl::Seconds(30));
  EXPECT_EQ(row->last_error_class, "network");
}

// A failure pauses the connector's sends; failures of sends that were under way meanwhile are
// kept as the last error but not counted; paused rows are not claimed, wait until the pause
// ends, and the sender's next wake-up is the pause's end. A success ends the pause.
TEST_F(OutboxStorePg, OutgoingFailureCountsOncePerPause) {
  int64_t gw = AddConnector("gateway", true);
  int64_t a = Queue(0, "a");
  int64_t b = Queue(0, "b");
  int64_t c = Queue(0, "c");
  auto claimed = store_->ClaimDue("r1", kT0, kLease, 2);
  ASSERT_THAT(claimed, IsOk());
  ASSERT_THAT(*claimed, SizeIs(2));
  auto fail = [&](const OutboxItem& item, absl::Time at) {
    return store_->FinishAttempt({.id = item.id,
                                  .owner = "r1",
                                  .claim_token = item.claim_token,
                                  .kind = AttemptKind::kRetry,
                                  .at = at,
                                  .next_due = at + absl::Seconds(25),
                                  .error = "connect: Connection refused",
                                  .error_class = "network",
                                  .connector_effect = AttemptOutcome::ConnectorEffect::kFailure,
                                  .connector_id = gw,
                                  .threshold = 2,
                                  .pause_initial = absl::Seconds(30),
                                  .pause_max = absl::Hours(1)});
  };
  auto first = fail((*claimed)[0], kT0);
  ASSERT_THAT(first, IsOk());
  EXPECT_TRUE(first->counted);
  EXPECT_EQ(first->consecutive_errors, 1);
  EXPECT_EQ(first->paused_until, kT0 + absl::Seconds(30));
  auto second = fail((*claimed)[1], kT0 + absl::Seconds(2));  // the same outage
  ASSERT_THAT(second, IsOk());
  EXPECT_FALSE(second->counted);
  EXPECT_EQ(second->consecutive_errors, 1);
  EXPECT_FALSE(second->auto_disabled);  // threshold 2 not reached by one outage
  EXPECT_EQ(Query("SELECT status FROM connectors WHERE id = " + std::to_string(gw)), "active");
  // Rows wait for the pause's end, and nothing is claimed before it.
  auto row = store_->Get(a);
  ASSERT_THAT(row, IsOk());
  EXPECT_EQ(row->due_at, kT0 + absl::Seconds(30));
  auto none = store_->ClaimDue("r1", kT0 + absl::Seconds(29), kLease, 4);
  ASSERT_THAT(none, IsOk());
  EXPECT_THAT(*none, SizeIs(0));
  auto next = store_->NextDue();
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(**next, kT0 + absl::Seconds(30));
  // After the pause a failure counts again (pause doubles) and reaches the threshold.
  auto again = store_->ClaimDue("r1", kT0 + absl::Seconds(30), kLease, 1);
  ASSERT_THAT(again, IsOk());
  ASSERT_THAT(*again, SizeIs(1));
  auto third = fail((*again)[0], kT0 + absl::Seconds(31));
  ASSERT_THAT(third, IsOk());
  EXPECT_TRUE(third->counted);
  EXPECT_EQ(third->consecutive_errors, 2);
  EXPECT_TRUE(third->auto_disabled);
  EXPECT_EQ(third->paused_until, kT0 + absl::Seconds(91));
  (void)b;
  (void)c;
}

TEST_F(OutboxStorePg, NotTriedRowGetsItsAttemptBackAndSuccessEndsThePause) {
  int64_t gw = AddConnector("gateway", true);
  Exec("INSERT INTO connector_state (connector_id, consecutive_outgoing_errors, "
       "outgoing_paused_until) VALUES (" +
       std::to_string(gw) + ", 1, to_timestamp(" + std::to_string(absl::ToUnixSeconds(kT0)) +
       "))");
  int64_t id = Queue(0, "a");
  auto c = store_->ClaimDue("r1", kT0, kLease, 1);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT(*c, SizeIs(1));
  EXPECT_EQ((*c)[0].attempts, 1);
  ASSERT_THAT(store_->FinishAttempt({.id = id,
                                     .owner = "r1",
                                     .claim_token = (*c)[0].claim_token,
                                     .kind = AttemptKind::kRetry,
                                     .at = kT0,
                                     .next_due = kT0 + absl::Seconds(30),
                                     .error = "not sent: paused",
                                     .error_class = "paused",
                                     .tried = false}),
              IsOk());
  EXPECT_EQ(Query("SELECT attempts FROM outbox WHERE id = " + std::to_string(id)), "0");
  auto c2 = store_->ClaimDue("r1", kT0 + absl::Seconds(30), kLease, 1);
  ASSERT_THAT(c2, IsOk());
  ASSERT_THAT(*c2, SizeIs(1));
  ASSERT_THAT(store_->FinishAttempt({.id = id,
                                     .owner = "r1",
                                     .claim_token = (*c2)[0].claim_token,
                                     .kind = AttemptKind::kSent,
                                     .at = kT0 + absl::Seconds(30),
                                     .connector_effect = AttemptOutcome::ConnectorEffect::kSuccess,
                                     .connector_id = gw}),
              IsOk());
  EXPECT_EQ(Query("SELECT coalesce(outgoing_paused_until::text, 'none') || ' ' || "
                  "consecutive_outgoing_errors FROM connector_state"),
            "none 0");
}

// The fix takes effect now: a passing connection test or `enable connector` (the config
// service's writes) ends the pause; a failing test leaves it.
TEST_F(OutboxStorePg, PassingTestOrEnableEndsThePause) {
  int64_t gw = AddConnector("gateway", true);
  const std::string pause = "UPDATE connector_state SET outgoing_paused_until = to_timestamp(" +
                            std::to_string(absl::ToUnixSeconds(kT0 + absl::Hours(1))) +
                            ") WHERE connector_id = " + std::to_string(gw);
  Exec("INSERT INTO connector_state (connector_id) VALUES (" + std::to_string(gw) + ")");
  Exec(pause);
  PgConfigStore config(*db_);
  auto test = [&](bool passed) {
    return config.InTransaction(
        [&](ConfigTx& tx) { return tx.RecordTest(gw, kT0, passed, "{}"); });
  };
  const std::string paused = "SELECT outgoing_paused_until IS NOT NULL FROM connector_state";
  ASSERT_THAT(test(false), IsOk());
  EXPECT_EQ(Query(paused), "t");
  ASSERT_THAT(test(true), IsOk());
  EXPECT_EQ(Query(paused), "f");
  Exec(pause);
  ASSERT_THAT(config.InTransaction([&](ConfigTx& tx) { return tx.ResetErrors(gw); }), IsOk());
  EXPECT_EQ(Query(paused), "f");
  Queue(0, "a");
  auto c = store_->ClaimDue("r1", kT0, kLease, 1);
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT(*c, SizeIs(1));
}

TEST_F(OutboxStorePg, SuccessResetsOutgoingCounter) {
  int64_t gw = AddConnector("gateway", true);
  Exec(
      "INSERT INTO connector_state (connector_id, consecutive_outgoing_errors, "
      "consecutive_incoming_errors) VALUES (" +
      std::to_string(gw) + ", 2, 4)");
  int64_t id = Queue(0, "a");
  auto c = store_->ClaimDue("r1", kT0, kLease, 1);
  ASSERT_THAT(c, IsOk());
  AttemptOutcome o{.id = id,
                   .owner = "r1",
                   .claim_token = 1,
                   .kind = AttemptKind::kSent,
                   .at = kT0,
                   .connector_effect = AttemptOutcome::ConnectorEffect::kSuccess,
                   .connector_id = gw};
  ASSERT_THAT(store_->FinishAttempt(o), IsOk());
  EXPECT_EQ(Query("SELECT consecutive_outgoing_errors || ' ' || consecutive_incoming_errors "
                  "FROM connector_state"),
            "0 4");
  EXPECT_NE(Query("SELECT last_outgoing_success_at FROM connector_state"), "");
}

TEST_F(OutboxStorePg, ListFiltersAndRetryNow) {
  int64_t gw = AddConnector("gateway", true);
  int64_t a = Queue(gw, "a");
  int64_t b = Queue(gw, "b");
  Exec("UPDATE outbox SET status = 'failed', attempts = 10, last_error = 'x' WHERE id = " +
       std::to_string(a));
  Exec("UPDATE outbox SET status = 'sent' WHERE id = " + std::to_string(b));
  auto failed = store_->List({.status = "failed"});
  ASSERT_THAT(failed, IsOk());
  ASSERT_THAT(*failed, SizeIs(1));
  EXPECT_EQ((*failed)[0].id, a);
  EXPECT_THAT(store_->List({.connector = "gateway"}), postroom::testing::IsOkAndHolds(SizeIs(2)));
  EXPECT_THAT(store_->List({.connector = "other"}), postroom::testing::IsOkAndHolds(SizeIs(0)));
  EXPECT_THAT(store_->List({.status = "bogus"}), StatusIs(absl::StatusCode::kInvalidArgument));

  auto r = store_->RetryNow(a, kT0 + absl::Hours(1));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, "queued");
  EXPECT_EQ(r->attempts, 0);
  EXPECT_EQ(r->due_at, kT0 + absl::Hours(1));
  EXPECT_THAT(store_->RetryNow(a, kT0 + absl::Hours(1)), IsOk());  // Idempotent.
  EXPECT_THAT(store_->RetryNow(b, kT0), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store_->RetryNow(999, kT0), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Get(999), StatusIs(absl::StatusCode::kNotFound));
}

class SuppressionPg : public OutboxStorePg {
 protected:
  void Suppress(int64_t connector, const std::string& address) {
    Exec("INSERT INTO suppressions (connector_id, address, dsn_status, diagnostic) VALUES (" +
         std::to_string(connector) + ", '" + address + "', '5.1.1', 'smtp; 550 5.1.1 no such user')");
  }
  int64_t QueueTo(int64_t connector, const std::string& key, const std::string& reason,
                  const std::string& to) {
    return std::stoll(
        Query("INSERT INTO outbox (connector_id, reason, to_address, subject, dedupe_key, due_at) "
              "VALUES (NULLIF(" + std::to_string(connector) + ", 0), '" + reason + "', '" + to +
              "', 's', '" + key + "', to_timestamp(" + std::to_string(absl::ToUnixSeconds(kT0)) +
              ")) RETURNING id"));
  }
};

TEST_F(SuppressionPg, AutomaticMailToASuppressedAddressIsRecordedNotSentRepliesStillGo) {
  int64_t gw = AddConnector("gateway", true);
  int64_t other = AddConnector("other");
  Suppress(gw, "gone@example.org");
  int64_t ack = QueueTo(0, "ack", "ack", "Gone@Example.org");  // Bound to the default: gw.
  int64_t reply = QueueTo(gw, "reply", "reply", "gone@example.org");
  int64_t elsewhere = QueueTo(other, "elsewhere", "ack", "gone@example.org");
  int64_t fine = QueueTo(gw, "fine", "ack", "here@example.org");
  auto c = store_->ClaimDue("r1", kT0, kLease, 10);
  ASSERT_THAT(c, IsOk());
  std::set<int64_t> claimed;
  for (const OutboxItem& o : *c) claimed.insert(o.id);
  EXPECT_EQ(claimed, (std::set<int64_t>{reply, elsewhere, fine}));
  auto row = store_->Get(ack);
  ASSERT_THAT(row, IsOk());
  EXPECT_EQ(row->status, "suppressed");
  EXPECT_EQ(row->attempts, 0);
  EXPECT_EQ(row->last_error_class, "suppressed");
  EXPECT_THAT(row->last_error, HasSubstr("not sent: Gone@Example.org is on the suppression list"));
  EXPECT_THAT(store_->List({.status = "suppressed"}),
              postroom::testing::IsOkAndHolds(SizeIs(1)));
  // Once the address is off the list, the row may be retried and goes.
  ASSERT_THAT(store_->DeleteSuppression("gateway", "gone@example.org", "alice", kT0), IsOk());
  auto retried = store_->RetryNow(ack, kT0);
  ASSERT_THAT(retried, IsOk());
  EXPECT_EQ(retried->status, "queued");
  auto again = store_->ClaimDue("r1", kT0, kLease, 10);
  ASSERT_THAT(again, IsOk());
  ASSERT_THAT(*again, SizeIs(1));
  EXPECT_EQ((*again)[0].id, ack);
}

TEST_F(SuppressionPg, ListsPerConnectorAndDeletesWithAnAuditEntry) {
  int64_t gw = AddConnector("gateway", true);
  int64_t other = AddConnector("other");
  Suppress(gw, "a@example.org");
  Suppress(gw, "b@example.org");
  Suppress(other, "a@example.org");
  auto all = store_->ListSuppressions({});
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(*all, SizeIs(3));
  auto gw_only = store_->ListSuppressions({.connector = "gateway"});
  ASSERT_THAT(gw_only, IsOk());
  ASSERT_THAT(*gw_only, SizeIs(2));
  EXPECT_EQ((*gw_only)[0].address, "b@example.org");  // Newest first.
  EXPECT_EQ((*gw_only)[0].connector, "gateway");
  EXPECT_EQ((*gw_only)[0].dsn_status, "5.1.1");
  auto page = store_->ListSuppressions({.connector = "gateway", .before_id = (*gw_only)[0].id});
  ASSERT_THAT(page, IsOk());
  ASSERT_THAT(*page, SizeIs(1));
  EXPECT_EQ((*page)[0].address, "a@example.org");
  EXPECT_THAT(store_->ListSuppressions({.connector = "nope"}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"nope\"")));

  auto deleted = store_->DeleteSuppression("gateway", "  A@Example.org ", "alice", kT0);
  ASSERT_THAT(deleted, IsOk());
  EXPECT_EQ(deleted->address, "a@example.org");
  EXPECT_EQ(Query("SELECT actor || ' ' || object || ' ' || action || ' ' || (before->>'dsn_status') "
                  "FROM audit_log WHERE kind = 'suppression'"),
            "alice gateway/a@example.org delete 5.1.1");
  // The other connector's entry stays; a second delete finds nothing.
  EXPECT_EQ(Query("SELECT count(*) FROM suppressions WHERE address = 'a@example.org'"), "1");
  EXPECT_THAT(store_->DeleteSuppression("gateway", "a@example.org", "alice", kT0),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("is not suppressed")));
  EXPECT_THAT(store_->DeleteSuppression("nope", "a@example.org", "alice", kT0),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not an outgoing connector")));
  EXPECT_EQ(Query("SELECT count(*) FROM audit_log WHERE kind = 'suppression'"), "1");
}

TEST_F(SuppressionPg, ABouncedRowCannotBeRetried) {
  int64_t gw = AddConnector("gateway", true);
  int64_t id = QueueTo(gw, "k", "ack", "a@example.org");
  Exec("UPDATE outbox SET status = 'bounced', bounce_status = '5.1.1', bounce_diagnostic = 'x' "
       "WHERE id = " + std::to_string(id));
  auto row = store_->Get(id);
  ASSERT_THAT(row, IsOk());
  EXPECT_EQ(row->bounce_status, "5.1.1");
  EXPECT_THAT(store_->RetryNow(id, kT0), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                  HasSubstr("is bounced")));
  EXPECT_THAT(store_->List({.status = "bounced"}), postroom::testing::IsOkAndHolds(SizeIs(1)));
}

}  // namespace
}  // namespace postroom::store
