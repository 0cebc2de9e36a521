// PgFetchStore against real PostgreSQL (label pg): leases with SKIP LOCKED and fencing tokens,
// idempotent batches, auto-disable in one transaction.
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/sha256.h"
#include "libs/store/database.h"
#include "libs/store/pg_config_store.h"
#include "libs/store/pg_fetch_store.h"
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
constexpr absl::Duration kPeriod = absl::Seconds(30);

class FetchStorePg : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tdb = PgTestDatabase::Create();
    ASSERT_TRUE(tdb.ok()) << tdb.status();
    tdb_ = std::move(*tdb);
    db_ = std::make_unique<Database>(DatabaseOptions{.uri = tdb_->Uri(), .pool_size = 6});
    store_ = std::make_unique<PgFetchStore>(*db_);
  }

  int64_t AddConnector(const std::string& name, const std::string& status = "active") {
    int64_t id = 0;
    EXPECT_THAT(db_->Transact([&](pqxx::work& t) {
      id = t.exec_params1(
                "INSERT INTO connectors (name, protocol, direction, status, spec, "
                "modified_by) VALUES ($1, 'imap', 'incoming', $2, $3::jsonb, 'test') "
                "RETURNING id",
                name, status, "{\"name\":\"" + name + "\"}")[0]
               .as<int64_t>();
      return absl::OkStatus();
    }),
                IsOk());
    return id;
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
  NewMessage Msg(const std::string& key) {
    NewMessage m;
    m.fetch_key = key;
    m.folder = "INBOX";
    m.raw = std::string("Subject: x\r\n\r\n") + std::string(100, '\0') + "body";
    m.size_bytes = static_cast<int64_t>(m.raw.size());
    return m;
  }

  std::unique_ptr<PgTestDatabase> tdb_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<PgFetchStore> store_;
};

TEST_F(FetchStorePg, OneReplicaTakesAllThenSecondGetsItsFairShare) {
  for (int i = 0; i < 5; ++i) AddConnector("c" + std::to_string(i));
  AddConnector("off", "disabled");
  auto a = store_->RenewLeases("a", kT0, kPeriod, {});
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(*a, SizeIs(5));
  EXPECT_EQ((*a)[0].fencing_token, 1);
  ASSERT_THAT(store_->RenewLeases("b", kT0, kPeriod, {}), IsOk());    // b announces itself
  a = store_->RenewLeases("a", kT0 + absl::Seconds(1), kPeriod, {});  // a gives up 2
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(*a, SizeIs(3));
  auto b = store_->RenewLeases("b", kT0 + absl::Seconds(2), kPeriod, {});
  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(*b, SizeIs(2));
  std::set<std::string> names;
  for (const auto& l : *a) names.insert(l.connector);
  for (const auto& l : *b) EXPECT_TRUE(names.insert(l.connector).second) << l.connector;
  EXPECT_EQ(names.size(), 5u);
}

// Hand-over: a surplus lease this replica still has a session on is kept (shedding), never
// released under it; quiet surplus goes first.
TEST_F(FetchStorePg, SurplusLeasesInUseAreShedNotReleasedAndQuietOnesGoFirst) {
  std::vector<int64_t> ids;
  for (int i = 1; i <= 4; ++i) ids.push_back(AddConnector("c" + std::to_string(i)));
  const std::set<int64_t> all(ids.begin(), ids.end());
  ASSERT_THAT(store_->RenewLeases("a", kT0, kPeriod, all), IsOk());
  ASSERT_THAT(store_->RenewLeases("b", kT0, kPeriod, {}), IsOk());  // b joins: two each
  auto a = store_->RenewLeases("a", kT0 + absl::Seconds(1), kPeriod, all);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(*a, SizeIs(4));  // all in use: nothing given back
  std::map<std::string, bool> shedding;
  for (const auto& l : *a) shedding[l.connector] = l.shedding;
  EXPECT_EQ(shedding, (std::map<std::string, bool>{
                          {"c1", false}, {"c2", false}, {"c3", true}, {"c4", true}}));
  EXPECT_EQ(Query("SELECT count(*) FROM fetcher_leases WHERE owner = 'a' AND expires_at = "
                  "to_timestamp(1800000031)"),
            "4");  // the shedding ones are renewed too
  auto b = store_->RenewLeases("b", kT0 + absl::Seconds(2), kPeriod, {});
  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(*b, SizeIs(0));

  // c2 and c3 quiet now: the surplus goes among them, highest first; c1 and c4 stay, no
  // longer over the share.
  a = store_->RenewLeases("a", kT0 + absl::Seconds(3), kPeriod, {ids[0], ids[3]});
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(*a, SizeIs(2));
  EXPECT_EQ((*a)[0].connector, "c1");
  EXPECT_EQ((*a)[1].connector, "c4");
  EXPECT_FALSE((*a)[0].shedding);
  EXPECT_FALSE((*a)[1].shedding);
  b = store_->RenewLeases("b", kT0 + absl::Seconds(4), kPeriod, {});
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(*b, SizeIs(2));
  EXPECT_EQ((*b)[0].connector, "c2");
  EXPECT_EQ((*b)[1].connector, "c3");
}

TEST_F(FetchStorePg, ConcurrentReplicasNeverHoldOneConnector) {
  for (int i = 0; i < 20; ++i) AddConnector("c" + std::to_string(i));
  std::atomic<bool> overlap{false};
  std::map<std::string, std::set<std::string>> held;  // replica -> connectors (last round)
  absl::Mutex mu;
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      std::string owner = "r" + std::to_string(r);
      for (int round = 0; round < 15; ++round) {
        auto leases = store_->RenewLeases(owner, kT0 + absl::Seconds(round), kPeriod, {});
        ASSERT_THAT(leases, IsOk());
        absl::MutexLock l(&mu);
        std::set<std::string> mine;
        for (const auto& x : *leases) mine.insert(x.connector);
        held[owner] = mine;
        std::set<std::string> all;
        size_t total = 0;
        for (const auto& [o, s] : held) {
          total += s.size();
          all.insert(s.begin(), s.end());
        }
        if (all.size() != total) overlap = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(overlap);
  // On a busy machine one thread may finish all its rounds before another starts, so the
  // shares settle in a few more rounds taken in turn (as replicas do every lease period).
  for (int round = 15; round < 18; ++round) {
    for (int r = 0; r < 3; ++r) {
      std::string owner = "r" + std::to_string(r);
      auto leases = store_->RenewLeases(owner, kT0 + absl::Seconds(round), kPeriod, {});
      ASSERT_THAT(leases, IsOk());
      held[owner].clear();
      for (const auto& x : *leases) held[owner].insert(x.connector);
    }
  }
  // Converged: 20 over 3 replicas, at most ceil(20/3) = 7 each, none left over.
  size_t total = 0;
  for (const auto& [o, s] : held) {
    EXPECT_LE(s.size(), 7u) << o;
    total += s.size();
  }
  EXPECT_EQ(total, 20u);
}

TEST_F(FetchStorePg, ExpiredLeaseIsTakenWithNewTokenAndZombieCannotWrite) {
  int64_t id = AddConnector("support");
  auto a = store_->RenewLeases("a", kT0, kPeriod, {});
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(*a, SizeIs(1));
  const LeaseRecord zombie = (*a)[0];
  BatchWrite w;
  w.messages.push_back(Msg("INBOX:1:1"));
  w.cursor = FolderCursorRecord();
  w.cursor->folder = "INBOX";
  w.cursor->uid_validity = 1;
  w.cursor->last_uid = 1;
  ASSERT_THAT(store_->SaveBatch(zombie, w), IsOk());

  auto b = store_->RenewLeases("b", kT0 + kPeriod + absl::Seconds(1), kPeriod, {});
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(*b, SizeIs(1));
  EXPECT_EQ((*b)[0].fencing_token, zombie.fencing_token + 1);

  BatchWrite late;
  late.messages.push_back(Msg("INBOX:1:2"));
  late.cursor = *w.cursor;
  late.cursor->last_uid = 2;
  EXPECT_THAT(store_->SaveBatch(zombie, late),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("no longer held")));
  EXPECT_THAT(store_->RecordSuccess(zombie, kT0, 0, 0), StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(Query("SELECT count(*) FROM messages"), "1");
  auto cursors = store_->GetCursors(id);
  ASSERT_THAT(cursors, IsOk());
  EXPECT_EQ((*cursors)[0].last_uid, 1);
  // The zombie's next round does not get it back while b's lease is live.
  auto again = store_->RenewLeases("a", kT0 + kPeriod + absl::Seconds(2), kPeriod, {});
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(*again, SizeIs(0));
}

TEST_F(FetchStorePg, BatchIsIdempotentAndKeepsBytesExactly) {
  AddConnector("support");
  auto a = store_->RenewLeases("a", kT0, kPeriod, {});
  ASSERT_THAT(a, IsOk());
  BatchWrite w;
  w.messages = {Msg("INBOX:1:1"), Msg("INBOX:1:2")};
  auto r1 = store_->SaveBatch((*a)[0], w);
  ASSERT_THAT(r1, IsOk());
  EXPECT_THAT(r1->inserted, SizeIs(2));
  auto r2 = store_->SaveBatch((*a)[0], w);
  ASSERT_THAT(r2, IsOk());
  EXPECT_THAT(r2->inserted, SizeIs(0));
  EXPECT_EQ(r2->already_stored, 2u);
  EXPECT_EQ(Query("SELECT length(raw) FROM messages WHERE fetch_key = 'INBOX:1:1'"),
            std::to_string(Msg("x").raw.size()));
  EXPECT_EQ(Query("SELECT count(*) FROM messages WHERE decision IS NULL"), "2");
}

TEST_F(FetchStorePg, LargeBatchGoesInInChunksInOrderOnceEach) {
  AddConnector("support");
  auto a = store_->RenewLeases("a", kT0, kPeriod, {});
  ASSERT_THAT(a, IsOk());
  BatchWrite first;
  first.messages = {Msg("INBOX:1:5"), Msg("INBOX:1:30")};
  ASSERT_THAT(store_->SaveBatch((*a)[0], first), IsOk());

  // 40 messages span several INSERT statements: two of them stored before, one key twice,
  // one stored as failed; each message's own bytes, received time and hash go with its row.
  BatchWrite w;
  for (int uid = 1; uid <= 40; ++uid) {
    NewMessage m = Msg("INBOX:1:" + std::to_string(uid));
    m.raw += std::to_string(uid);
    m.size_bytes = static_cast<int64_t>(m.raw.size());
    m.message_id = "m" + std::to_string(uid) + "@example.org";
    m.received_at = kT0 + absl::Seconds(uid);
    if (uid == 33) m.failed_reason = "over the size limit";
    w.messages.push_back(m);
  }
  w.messages.push_back(w.messages[20]);
  auto r = store_->SaveBatch((*a)[0], w);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->already_stored, 3u);
  ASSERT_THAT(r->inserted, SizeIs(38));
  for (size_t i = 1; i < r->inserted.size(); ++i) {
    EXPECT_LT(r->inserted[i - 1].id, r->inserted[i].id);
  }
  EXPECT_EQ(r->inserted[0].fetch_key, "INBOX:1:1");
  EXPECT_EQ(r->inserted[37].fetch_key, "INBOX:1:40");
  EXPECT_EQ(Query("SELECT count(*) FROM messages"), "40");
  const NewMessage& m37 = w.messages[36];
  EXPECT_EQ(Query("SELECT raw = '\\x" + absl::BytesToHexString(m37.raw) +
                  "'::bytea AND message_id = 'm37@example.org' AND received_at = "
                  "to_timestamp(1800000037) AND content_sha256 = '\\x" +
                  absl::BytesToHexString(Sha256(m37.raw)) +
                  "'::bytea FROM messages WHERE fetch_key = 'INBOX:1:37'"),
            "t");
  EXPECT_EQ(Query("SELECT decision || ':' || decision_reason FROM messages WHERE fetch_key = "
                  "'INBOX:1:33'"),
            "failed:over the size limit");
  for (const StoredRef& s : r->inserted) EXPECT_EQ(s.pending, s.fetch_key != "INBOX:1:33");
}

TEST_F(FetchStorePg, BatchRecordsContentHashAndBackfillProgressVisibleToDescribe) {
  int64_t id = AddConnector("support");
  auto a = store_->RenewLeases("a", kT0, kPeriod, {});
  ASSERT_THAT(a, IsOk());
  BatchWrite w;
  w.messages = {Msg("INBOX:1:1")};
  NewMessage cut = Msg("INBOX:1:2");
  cut.truncated = true;
  w.messages.push_back(cut);
  w.cursor = FolderCursorRecord{.folder = "INBOX", .uid_validity = 1, .last_uid = 2,
                                .backfill_done = 200, .backfill_total = 1000};
  ASSERT_THAT(store_->SaveBatch((*a)[0], w), IsOk());
  EXPECT_EQ(Query("SELECT encode(content_sha256, 'hex') FROM messages WHERE fetch_key = "
                  "'INBOX:1:1'"),
            absl::BytesToHexString(Sha256(Msg("x").raw)));
  EXPECT_EQ(Query("SELECT content_sha256 IS NULL FROM messages WHERE fetch_key = 'INBOX:1:2'"),
            "t");
  // Mid-way through a first sync (no poll has finished, connector_state has no row yet),
  // `describe connector` already shows how far the backfill is.
  PgConfigStore config(*db_);
  ConnectorStateRecord state;
  ASSERT_THAT(config.InTransaction([&](ConfigTx& tx) {
    auto s = tx.GetState(id);
    if (s.ok()) state = *s;
    return s.status();
  }),
              IsOk());
  EXPECT_EQ(state.backfill_done, 200);
  EXPECT_EQ(state.backfill_total, 1000);
}

TEST_F(FetchStorePg, Pop3SeenSetGrowsAndForgetsInTheBatchTransaction) {
  int64_t id = AddConnector("mail");
  auto a = store_->RenewLeases("a", kT0, kPeriod, {});
  ASSERT_THAT(a, IsOk());
  BatchWrite w;
  w.pop3_uidls = {"u1", "u2", "u3"};
  ASSERT_THAT(store_->SaveBatch((*a)[0], w), IsOk());
  BatchWrite prune;
  prune.pop3_uidls = {"u4"};
  prune.pop3_forget = {"u1", "u3", "never-seen"};
  ASSERT_THAT(store_->SaveBatch((*a)[0], prune), IsOk());
  auto seen = store_->GetPop3Seen(id);
  ASSERT_THAT(seen, IsOk());
  EXPECT_THAT(*seen, ::testing::UnorderedElementsAre("u2", "u4"));
  // A replica that lost the lease cannot prune.
  auto b = store_->RenewLeases("b", kT0 + kPeriod + absl::Seconds(1), kPeriod, {});
  ASSERT_THAT(b, IsOk());
  BatchWrite zombie;
  zombie.pop3_forget = {"u2"};
  EXPECT_THAT(store_->SaveBatch((*a)[0], zombie), StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(*store_->GetPop3Seen(id), SizeIs(2));
}

TEST_F(FetchStorePg, OversizedIsStoredFailedAndNoticeQueuedOnce) {
  AddConnector("support");
  ASSERT_THAT(db_->Transact([](pqxx::work& t) {
    t.exec0(
        "INSERT INTO settings (key, spec, modified_by) VALUES ('admin_notification_address', "
        "'{\"value\": \"admin@example.com\"}', 'test')");
    return absl::OkStatus();
  }),
              IsOk());
  auto a = store_->RenewLeases("a", kT0, kPeriod, {});
  ASSERT_THAT(a, IsOk());
  BatchWrite w;
  NewMessage m = Msg("INBOX:1:9");
  m.truncated = true;
  m.failed_reason = "too big";
  w.messages.push_back(m);
  w.notices.push_back({"oversize:support:INBOX:1:9", "subject", "body"});
  auto r = store_->SaveBatch((*a)[0], w);
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(r->inserted, SizeIs(1));
  EXPECT_FALSE(r->inserted[0].pending);
  ASSERT_THAT(store_->SaveBatch((*a)[0], w), IsOk());
  EXPECT_EQ(Query("SELECT decision || '/' || decision_reason FROM messages"), "failed/too big");
  EXPECT_EQ(Query("SELECT count(*) FROM outbox WHERE to_address = 'admin@example.com'"), "1");
}

TEST_F(FetchStorePg, ThresholdAutoDisablesInOneTransactionAndSuccessResets) {
  int64_t id = AddConnector("support");
  ASSERT_THAT(db_->Transact([](pqxx::work& t) {
    t.exec0(
        "INSERT INTO settings (key, spec, modified_by) VALUES ('admin_notification_address', "
        "'{\"value\": \"admin@example.com\"}', 'test')");
    return absl::OkStatus();
  }),
              IsOk());
  auto a = store_->RenewLeases("a", kT0, kPeriod, {});
  ASSERT_THAT(a, IsOk());
  PollFailure f{kT0, "LOGIN refused", "authentication", 2, {"auto_disable:support:1", "s", "b"}};
  auto r1 = store_->RecordFailure((*a)[0], f);
  ASSERT_THAT(r1, IsOk());
  EXPECT_EQ(r1->consecutive_errors, 1);
  EXPECT_FALSE(r1->auto_disabled);
  ASSERT_THAT(store_->RecordSuccess((*a)[0], kT0, 0, 0), IsOk());
  EXPECT_EQ(Query("SELECT consecutive_incoming_errors FROM connector_state"), "0");
  ASSERT_THAT(store_->RecordFailure((*a)[0], f), IsOk());
  auto r3 = store_->RecordFailure((*a)[0], f);
  ASSERT_THAT(r3, IsOk());
  EXPECT_TRUE(r3->auto_disabled);
  EXPECT_EQ(Query("SELECT status FROM connectors WHERE id = " + std::to_string(id)),
            "disabled_by_system");
  EXPECT_EQ(Query("SELECT modified_by FROM connectors"), "system");
  EXPECT_THAT(Query("SELECT auto_disabled_reason FROM connector_state"),
              HasSubstr("LOGIN refused"));
  EXPECT_EQ(Query("SELECT actor || ':' || action FROM audit_log"), "system:auto_disable");
  EXPECT_EQ(Query("SELECT count(*) FROM outbox"), "1");
  EXPECT_EQ(Query("SELECT last_incoming_error_class FROM connector_state"), "authentication");
  // The lease goes with the status.
  auto next = store_->RenewLeases("a", kT0 + absl::Seconds(1), kPeriod, {});
  ASSERT_THAT(next, IsOk());
  EXPECT_THAT(*next, SizeIs(0));
}

TEST_F(FetchStorePg, ReleaseAllLetsAnotherReplicaTakeOverAtOnce) {
  AddConnector("support");
  ASSERT_THAT(store_->RenewLeases("a", kT0, kPeriod, {}), IsOk());
  ASSERT_THAT(store_->ReleaseAll("a"), IsOk());
  auto b = store_->RenewLeases("b", kT0 + absl::Seconds(1), kPeriod, {});
  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(*b, SizeIs(1));
  auto views = store_->ListLeases();
  ASSERT_THAT(views, IsOk());
  ASSERT_THAT(*views, SizeIs(1));
  EXPECT_EQ((*views)[0].owner, "b");
}

}  // namespace
}  // namespace postroom::store
