#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/store/database.h"
#include "libs/store/migrations.h"
#include "libs/store/migrator.h"
#include "libs/store/pg_config_store.h"
#include "libs/store/pg_router_store.h"
#include "tests/support/eventually.h"
#include "tests/support/pg_test_database.h"
#include "tests/support/status_matchers.h"

namespace postroom::store {
namespace {

using ::postroom::testing::Eventually;
using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::PgTestDatabase;
using ::postroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::SizeIs;

std::unique_ptr<PgTestDatabase> NewDatabase(bool migrate = true) {
  auto db = PgTestDatabase::Create(migrate);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

// One SQL statement, its first column as text.
std::string SqlValue(Database& db, const std::string& sql) {
  std::string out;
  EXPECT_THAT(db.Transact([&](pqxx::work& t) {
    pqxx::result r = t.exec(sql);
    out = r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
    return absl::OkStatus();
  }),
              IsOk());
  return out;
}

// Every function of the test's schema with its definition, the schema's name taken out.
constexpr char kFunctionDefinitions[] =
    "SELECT string_agg(replace(pg_get_functiondef(p.oid), current_schema(), 'S'), E'\\n' "
    "ORDER BY p.proname, pg_get_function_identity_arguments(p.oid)) "
    "FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace";
// Which row version of schema_repeatables each file has: a rewrite changes its xmin.
constexpr char kAppliedRepeatables[] =
    "SELECT string_agg(name || ':' || xmin::text, ',' ORDER BY name) FROM schema_repeatables";

TEST(Migrator, FreshDatabaseReachesLatestVersionAndSecondRunIsNoOp) {
  auto tdb = NewDatabase(/*migrate=*/false);
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  EXPECT_THAT(CurrentSchemaVersion(db), IsOkAndHolds(0));
  EXPECT_THAT(RequireSchemaVersion(db, LatestSchemaVersion()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("postroom-config migrate")));
  EXPECT_THAT(Migrate(db), IsOkAndHolds(LatestSchemaVersion()));
  // Every function file ran once; the second run rewrites no row (same xmin) and no function.
  const std::string applied = SqlValue(db, kAppliedRepeatables);
  const std::string functions = SqlValue(db, kFunctionDefinitions);
  EXPECT_EQ(SqlValue(db, "SELECT count(*) FROM schema_repeatables"),
            std::to_string(AllRepeatables().size()));
  EXPECT_THAT(Migrate(db), IsOkAndHolds(LatestSchemaVersion()));
  EXPECT_THAT(RequireSchemaVersion(db, LatestSchemaVersion()), IsOk());
  EXPECT_EQ(SqlValue(db, kAppliedRepeatables), applied);
  EXPECT_EQ(SqlValue(db, kFunctionDefinitions), functions);
}

// A database migrated by an older release (numbered migrations up to 0010, whose function
// definitions it ran, the dead 49-argument overload still there) ends, once upgraded, with
// exactly the functions a fresh database gets.
TEST(Migrator, UpgradedDatabaseEndsWithTheFunctionsOfAFreshOne) {
  auto fresh_db = NewDatabase(/*migrate=*/false);
  auto old_db = NewDatabase(/*migrate=*/false);
  ASSERT_NE(fresh_db, nullptr);
  ASSERT_NE(old_db, nullptr);
  Database fresh({.uri = fresh_db->Uri()});
  Database old({.uri = old_db->Uri()});
  ASSERT_THAT(Migrate(old, AllMigrations(), AllRepeatables(),
                      {.up_to_version = 10, .repeatables = false}),
              IsOkAndHolds(10));
  // What those releases left behind: the migrations then carried the function's bodies (they
  // no longer do: the function file is the one definition), the 49-argument overload and the
  // 50-argument one with an older body.
  constexpr char k49[] =
      "p_id bigint, p_insert boolean, p_expected text, p_connector_id bigint, p_fetch_key text, "
      "p_folder text, p_queue_hint text, p_received_ms double precision, p_size bigint, "
      "p_raw bytea, p_truncated boolean, p_msgid text, p_sha bytea, p_thread_root text, "
      "p_summary text, p_decision text, p_step text, p_route text, p_reason text, p_trace text, "
      "p_duplicate_of bigint, p_spam_status text, p_check_duplicate boolean, p_create boolean, "
      "p_wi_id bigint, p_reference text, p_wi_source text, p_wi_queue text, p_wi_type text, "
      "p_wi_priority text, p_requester_address text, p_requester_name text, p_wi_subject text, "
      "p_wi_body text, p_wi_fields text, p_wi_attachments text, p_wi_test_mode boolean, "
      "p_append_to bigint, p_ack boolean, p_ack_connector bigint, p_ack_reason text, "
      "p_ack_to text, p_ack_subject text, p_ack_text text, p_ack_html text, p_ack_headers text, "
      "p_ack_dedupe text, p_ack_since_ms double precision, p_ack_limit integer";
  constexpr char kReturns[] =
      ") RETURNS TABLE (outcome text, message_id bigint, work_item_id bigint, reference text, "
      "duplicate_of bigint, ack text, detail text) LANGUAGE plpgsql AS $$ BEGIN RETURN; END $$";
  ASSERT_THAT(old.Transact([&](pqxx::work& t) {
    t.exec(absl::StrCat("CREATE FUNCTION postroom_commit_decision(", k49, kReturns));
    t.exec(absl::StrCat("CREATE FUNCTION postroom_commit_decision(", k49, ", p_verify boolean",
                        kReturns));
    return absl::OkStatus();
  }),
              IsOk());
  const char kOverloads[] =
      "SELECT count(*) FROM pg_proc WHERE proname = 'postroom_commit_decision' "
      "AND pronamespace = current_schema()::regnamespace";
  EXPECT_EQ(SqlValue(old, kOverloads), "2");
  ASSERT_THAT(Migrate(old), IsOkAndHolds(LatestSchemaVersion()));
  ASSERT_THAT(Migrate(fresh), IsOkAndHolds(LatestSchemaVersion()));
  EXPECT_EQ(SqlValue(old, kOverloads), "1");
  const std::string definitions = SqlValue(fresh, kFunctionDefinitions);
  EXPECT_THAT(definitions, HasSubstr("postroom_commit_decision("));
  EXPECT_EQ(SqlValue(old, kFunctionDefinitions), definitions);
}

// A session idle inside a transaction past idle_in_transaction_timeout is ended by PostgreSQL,
// so its locks go (a paused fetcher replica must not keep its lease row locked).
TEST(Database, IdleInTransactionTimeoutEndsAPausedTransaction) {
  auto tdb = NewDatabase(/*migrate=*/false);
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri(), .idle_in_transaction_timeout = absl::Milliseconds(300)});
  absl::Status st = db.Transact([&](pqxx::work& t) -> absl::Status {
    t.exec("SELECT 1");
    absl::SleepFor(absl::Seconds(1));  // paused inside the transaction
    t.exec("SELECT 2");
    return absl::OkStatus();
  });
  EXPECT_FALSE(st.ok()) << "the paused transaction was not ended";
  Database plain({.uri = tdb->Uri()});
  EXPECT_THAT(plain.Transact([&](pqxx::work& t) -> absl::Status {
    t.exec("SELECT 1");
    absl::SleepFor(absl::Milliseconds(500));
    t.exec("SELECT 2");
    return absl::OkStatus();
  }),
              IsOk());
}

// A function file whose content changed runs again on the next migrate; an unchanged one does
// not.
TEST(Migrator, ChangedFunctionFileIsAppliedAgain) {
  auto tdb = NewDatabase(/*migrate=*/false);
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  auto answer = [](int n) {
    const std::string sql = absl::StrCat(
        "CREATE OR REPLACE FUNCTION test_answer() RETURNS int LANGUAGE sql AS 'SELECT ", n, "'");
    return Repeatable{"functions/test_answer", sql, absl::StrCat("hash-", n)};
  };
  const std::vector<Migration> none;
  ASSERT_THAT(Migrate(db, none, {answer(1)}, {}), IsOk());
  EXPECT_EQ(SqlValue(db, "SELECT test_answer()"), "1");
  // Changed by hand: an unchanged file leaves it alone, a changed one replaces it.
  SqlValue(db, "CREATE OR REPLACE FUNCTION test_answer() RETURNS int LANGUAGE sql AS 'SELECT 7'");
  ASSERT_THAT(Migrate(db, none, {answer(1)}, {}), IsOk());
  EXPECT_EQ(SqlValue(db, "SELECT test_answer()"), "7");
  ASSERT_THAT(Migrate(db, none, {answer(2)}, {}), IsOk());
  EXPECT_EQ(SqlValue(db, "SELECT test_answer()"), "2");
  EXPECT_EQ(SqlValue(db, "SELECT sha256 FROM schema_repeatables"), "hash-2");
}

TEST(Database, UnreachableServerIsUnavailableWithHint) {
  Database db({.uri = "postgresql://127.0.0.1:1/none?connect_timeout=2"});
  EXPECT_THAT(db.Ping(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("POSTROOM_DATABASE")));
}

TEST(Database, FailedFunctionRollsBack) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  absl::Status st = db.Transact([](pqxx::work& t) {
    t.exec0("INSERT INTO settings (key, spec, modified_by) VALUES ('a', '{}', 'test')");
    return absl::InvalidArgumentError("changed my mind");
  });
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument));
  int rows = -1;
  ASSERT_THAT(db.Transact([&](pqxx::work& t) {
    rows = t.exec1("SELECT count(*) FROM settings")[0].as<int>();
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_EQ(rows, 0);
}

// A VOLATILE function for CallGrouped: it records its call and answers with what it got; a
// negative number fails the way a missing row does in postroom_commit_decision.
constexpr char kGroupedFunction[] = R"sql(
CREATE TABLE grouped_log (n int PRIMARY KEY, payload bytea NOT NULL);
CREATE FUNCTION grouped_put(p_n int, p_payload bytea, p_tag text, p_wait double precision)
RETURNS TABLE (n int, bytes int, tag text, logged bigint) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_sleep(p_wait);
  INSERT INTO grouped_log VALUES (p_n, p_payload);
  IF p_n < 0 THEN RAISE EXCEPTION 'no row %', p_n USING ERRCODE = 'P0002'; END IF;
  RETURN QUERY SELECT p_n, length(p_payload), p_tag, (SELECT count(*) FROM grouped_log);
END $$;
)sql";

class GroupedCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tdb_ = NewDatabase();
    ASSERT_NE(tdb_, nullptr);
    db_ = std::make_unique<Database>(
        DatabaseOptions{.uri = tdb_->Uri(), .pool_size = 4, .application_name = "grouped-test"});
    ASSERT_THAT(db_->Transact([](pqxx::work& t) {
      t.exec(kGroupedFunction);
      return absl::OkStatus();
    }),
                IsOk());
    db_->PrepareGroupedCall("put", "grouped_put", {false, true, false, false}, "putting");
  }

  // Payload of call n: n bytes with a NUL in the middle, which only binary parameters keep.
  static std::string Payload(int n) {
    std::string p(static_cast<size_t>(n < 0 ? 3 : n + 2), 'x');
    p[p.size() / 2] = '\0';
    return p;
  }

  absl::StatusOr<pqxx::row> Put(int n, double wait_s) {
    const std::string payload = Payload(n);
    return db_->CallGrouped("put", CallArgs(n, Bytea{payload}, "t" + std::to_string(n), wait_s));
  }

  std::vector<int> Logged() {
    std::vector<int> out;
    EXPECT_THAT(db_->Transact([&](pqxx::work& t) {
      for (const auto& r : t.exec("SELECT n FROM grouped_log ORDER BY n")) {
        out.push_back(r[0].as<int>());
      }
      return absl::OkStatus();
    }),
                IsOk());
    return out;
  }

  std::unique_ptr<PgTestDatabase> tdb_;
  std::unique_ptr<Database> db_;
};

TEST_F(GroupedCallTest, ConcurrentCallsShareStatementsAndEachGetsItsOwnRow) {
  constexpr int kCalls = 16;
  std::vector<absl::StatusOr<pqxx::row>> rows(kCalls, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] { rows[i] = Put(i, 0.05); });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_THAT(rows[i].status(), IsOk()) << i;
    const pqxx::row& r = *rows[i];
    EXPECT_EQ(r[0].as<int>(), i);
    EXPECT_EQ(r[1].as<size_t>(), Payload(i).size()) << "bytes arrive whole, NUL included";
    EXPECT_EQ(r[2].as<std::string>(), "t" + std::to_string(i));
    EXPECT_GE(r[3].as<int>(), 1);
  }
  EXPECT_THAT(Logged(), SizeIs(kCalls));
  Database::GroupedStats stats = db_->GroupedCallStats();
  EXPECT_EQ(stats.calls, kCalls);
  // Two groups run at a time and each takes 50 ms per call: the rest queue and share.
  EXPECT_LT(stats.statements, kCalls / 2);
}

TEST_F(GroupedCallTest, ManyCallsOverOneConnectionAllSucceed) {
  // Two groups at a time over a pool of one: each connection is handed straight to the next
  // leader, which must find it free of the previous statement.
  db_ = std::make_unique<Database>(
      DatabaseOptions{.uri = tdb_->Uri(), .pool_size = 1, .application_name = "grouped-test"});
  db_->PrepareGroupedCall("put", "grouped_put", {false, true, false, false}, "putting");
  constexpr int kThreads = 8, kEach = 150;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        absl::StatusOr<pqxx::row> r = Put(t * kEach + i, 0);
        if (!r.ok() && failed++ == 0) ADD_FAILURE() << r.status();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_THAT(Logged(), SizeIs(kThreads * kEach));
}

TEST_F(GroupedCallTest, LaterCallsOfAGroupSeeTheWritesOfEarlierOnes) {
  // One connection, so one group at a time: with two, the first calls of two groups run at
  // once and each may count only its own row (seen under ASan's slower timing: 1, 1, 3, ...).
  db_ = std::make_unique<Database>(
      DatabaseOptions{.uri = tdb_->Uri(), .pool_size = 1, .application_name = "grouped-test"});
  db_->PrepareGroupedCall("put", "grouped_put", {false, true, false, false}, "putting");
  std::vector<absl::StatusOr<pqxx::row>> rows(6, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) threads.emplace_back([&, i] { rows[i] = Put(i, 0.05); });
  for (std::thread& t : threads) t.join();
  std::vector<int> logged;
  for (const auto& r : rows) {
    ASSERT_THAT(r.status(), IsOk());
    logged.push_back((*r)[3].as<int>());
  }
  std::sort(logged.begin(), logged.end());
  EXPECT_EQ(logged, (std::vector<int>{1, 2, 3, 4, 5, 6})) << "each call counts the rows before it";
}

TEST_F(GroupedCallTest, AFailingCallFailsAloneAndLeavesNoRow) {
  std::vector<absl::StatusOr<pqxx::row>> rows(8, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { rows[i] = Put(i == 5 ? -5 : i, 0.05); });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    if (i == 5) {
      EXPECT_THAT(rows[i].status(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("no row -5")));
    } else {
      EXPECT_THAT(rows[i].status(), IsOk()) << i;
    }
  }
  EXPECT_EQ(Logged(), (std::vector<int>{0, 1, 2, 3, 4, 6, 7}));
}

TEST_F(GroupedCallTest, ConnectionKilledWhileIdleIsReplacedBeforeTheCall) {
  ASSERT_THAT(Put(1, 0).status(), IsOk());
  Database killer({.uri = tdb_->Uri(), .application_name = "killer"});
  ASSERT_THAT(killer.Transact([](pqxx::work& t) {
    t.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
           "WHERE application_name = 'grouped-test'");
    return absl::OkStatus();
  }),
              IsOk());
  // The call must meet a dead connection that the pool considers idle: wait until the
  // backends are gone, then until the pool's connections have been idle past kProbeIdleAfter.
  auto backends_left = [&killer]() -> int64_t {
    int64_t n = -1;
    (void)killer.Transact([&n](pqxx::work& t) {
      n = t.exec1("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'grouped-test'")[0]
              .as<int64_t>();
      return absl::OkStatus();
    });
    return n;
  };
  ASSERT_TRUE(Eventually([&] { return backends_left() == 0; }, absl::Seconds(10)))
      << backends_left() << " backends left";
  const absl::Time idle_from = absl::Now();
  ASSERT_TRUE(Eventually([&] { return absl::Now() - idle_from > Database::kProbeIdleAfter; },
                         Database::kProbeIdleAfter + absl::Seconds(1)));
  EXPECT_THAT(Put(2, 0).status(), IsOk());
  EXPECT_EQ(Logged(), (std::vector<int>{1, 2}));
}

TEST_F(GroupedCallTest, UnregisteredOrMisshapenCallIsInternal) {
  EXPECT_THAT(db_->CallGrouped("nope", CallArgs(1)).status(),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("no grouped call nope")));
  EXPECT_THAT(db_->CallGrouped("put", CallArgs(1, "not bytes", "t", 0.0)).status(),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("binary positions")));
  EXPECT_THAT(Logged(), SizeIs(0));
}

// The lines of EXPLAIN for `sql` run with `args` as a generic plan: what a prepared statement
// keeps once PostgreSQL stops planning it per call.
std::vector<std::string> GenericPlan(Database& db, const std::string& sql,
                                     const std::string& args) {
  std::vector<std::string> lines;
  absl::Status st = db.WithConnection([&](pqxx::connection& c) {
    pqxx::nontransaction t(c);
    t.exec0("SET plan_cache_mode = force_generic_plan");
    t.exec0("PREPARE lookup AS " + sql);
    for (const auto& row : t.exec("EXPLAIN EXECUTE lookup(" + args + ")")) {
      lines.push_back(row[0].as<std::string>());
    }
    t.exec0("DEALLOCATE lookup");  // The pool hands the connection out again.
    t.exec0("RESET plan_cache_mode");
    return absl::OkStatus();
  });
  EXPECT_THAT(st, IsOk());
  return lines;
}

// On a fresh database the router's lookups are planned while `messages` is empty. A plan that
// takes connector_id alone as its index condition would read every message of the connector on
// each lookup as the table grows (measured once: 1.2 ms of a 1.8 ms decision at 6,000 messages).
TEST(PgRouterStore, PreparedLookupsUseBothIndexColumnsInAGenericPlanOnAnEmptyTable) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  EXPECT_THAT(GenericPlan(db, PgRouterStore::DuplicateStepSql(), "1, 'a@b', '\\x00', 0"),
              Contains(AllOf(HasSubstr("Index Cond"), HasSubstr("connector_id = $1"),
                             HasSubstr("message_id = $2"))));
  EXPECT_THAT(GenericPlan(db, PgRouterStore::WorkItemByThreadRootSql(), "1, 'root'"),
              Contains(AllOf(HasSubstr("Index Cond"), HasSubstr("connector_id = $1"),
                             HasSubstr("thread_root = $2"))));
}

int64_t AddConnector(Database& db, const std::string& name, const std::string& status) {
  return std::stoll(SqlValue(
      db, "INSERT INTO connectors (name, protocol, direction, status, spec, modified_by) "
          "VALUES ('" + name + "', 'imap', 'incoming', '" + status +
              "', '{}', 'test') RETURNING id"));
}
int64_t AddMessage(Database& db, int64_t connector_id, const std::string& fetch_key,
                   const std::string& decision = "") {
  return std::stoll(SqlValue(
      db, "INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, message_id, decision, "
          "stored_at) VALUES (" + std::to_string(connector_id) + ", '" + fetch_key +
              "', 2, 'hi', 'mid-" + fetch_key + "@x', NULLIF('" + decision +
              "', ''), now() - interval '1 minute') RETURNING id"));
}

// A new two-byte message decided `decision` by `step`, as the router writes it.
DecisionWrite InsertWrite(int64_t connector_id, const std::string& fetch_key,
                          const std::string& decision, const std::string& step) {
  DecisionWrite w;
  w.insert.emplace();
  w.insert->connector_id = connector_id;
  w.insert->fetch_key = fetch_key;
  w.insert->raw = "hi";
  w.insert->size_bytes = 2;
  w.decision.decision = decision;
  w.decision.decision_step = step;
  return w;
}

// A claim is a routing attempt, counted by the claiming statement itself and committed before
// routing starts: a router killed while it routes has still used the attempt up. The attempts
// of RouteEmail (StartAttempt) count the same way; recording an error counts nothing more.
TEST(PgRouterStore, ClaimsAndStartedAttemptsAreCountedDurablyOnPendingMessagesOnly) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  PgRouterStore store(db);
  const int64_t support = AddConnector(db, "support", "active");
  const int64_t off = AddConnector(db, "off", "disabled");
  const int64_t pending = AddMessage(db, support, "k1");
  const int64_t waiting = AddMessage(db, off, "k2");
  const int64_t decided = AddMessage(db, support, "k3", "created");
  // Read through another connection: what the claim committed, not what it holds.
  Database other({.uri = tdb->Uri()});
  auto attempts = [&](int64_t id) {
    return SqlValue(other, "SELECT route_attempts || ':' || last_error FROM messages WHERE id = " +
                               std::to_string(id));
  };

  const absl::Time t0 = absl::Now();
  EXPECT_THAT(store.ClaimPending(t0, t0 - absl::Minutes(1), t0, 10),
              IsOkAndHolds(std::vector<int64_t>{pending}));
  EXPECT_EQ(attempts(pending), "1:");
  EXPECT_EQ(attempts(waiting), "0:");  // A disabled connector's mail waits, uncounted.
  EXPECT_EQ(attempts(decided), "0:");
  // Claimed a moment ago: not taken, not counted.
  EXPECT_THAT(store.ClaimPending(t0, t0 - absl::Minutes(1), t0, 10),
              IsOkAndHolds(std::vector<int64_t>{}));
  EXPECT_EQ(attempts(pending), "1:");
  // The claim timed out (the router that took it died): taken again, a second attempt.
  const absl::Time t1 = t0 + absl::Minutes(2);
  EXPECT_THAT(store.ClaimPending(t1, t1 - absl::Minutes(1), t1, 10),
              IsOkAndHolds(std::vector<int64_t>{pending}));
  EXPECT_THAT(store.RecordAttemptError(pending, "boom"), IsOk());
  EXPECT_EQ(attempts(pending), "2:boom");

  absl::StatusOr<std::optional<RouterStore::Attempt>> a = store.StartAttempt(pending, support, t1);
  ASSERT_THAT(a, IsOk());
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->route_attempts, 3);
  EXPECT_EQ((*a)->last_error, "boom");
  EXPECT_EQ((*a)->message_id, "mid-k1@x");
  EXPECT_EQ(attempts(pending), "3:boom");
  // Started by RouteEmail a moment ago: the sweep leaves it alone.
  EXPECT_THAT(store.ClaimPending(t1, t1 - absl::Minutes(1), t1, 10),
              IsOkAndHolds(std::vector<int64_t>{}));
  // Decided, another connector's, unknown: nothing started, nothing written.
  for (auto [id, connector] : {std::pair{decided, support}, std::pair{pending, off},
                                std::pair{int64_t{999999}, support}}) {
    absl::StatusOr<std::optional<RouterStore::Attempt>> none =
        store.StartAttempt(id, connector, t1);
    ASSERT_THAT(none, IsOk());
    EXPECT_FALSE(none->has_value()) << "message " << id << " of connector " << connector;
  }
  EXPECT_EQ(attempts(pending), "3:boom");
  EXPECT_EQ(attempts(decided), "0:");
}

// The message and the work item ids come from two sequences in blocks. When the message's block
// cannot be drawn, the commit fails, whatever the work item's block does: an insert with id 0
// would otherwise go ahead (it did while one status was shared by both blocks).
TEST(PgRouterStore, AFailedIdBlockStopsTheCommitEvenWhenTheOtherSucceeds) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  PgRouterStore store(db);
  const int64_t support = AddConnector(db, "support", "active");
  // A block of 64 message ids no longer fits under the sequence's maximum.
  SqlValue(db, "ALTER SEQUENCE messages_id_seq MAXVALUE 10");
  DecisionWrite w = InsertWrite(support, "k1", "created", "fallback");
  w.create.emplace();
  w.create->queue = "q";
  ASSERT_THAT(store.NextWorkItemId(), IsOk());  // The work item's id block is fine.
  w.create->id = *store.NextWorkItemId();
  w.create->reference = WorkItemReference("WI", w.create->id);
  EXPECT_THAT(store.CommitDecision(w), StatusIs(absl::StatusCode::kInternal,
                                                HasSubstr("messages_id_seq")));
  EXPECT_EQ(SqlValue(db, "SELECT count(*) FROM messages"), "0");
  EXPECT_EQ(SqlValue(db, "SELECT count(*) FROM work_items"), "0");
}

// A decision that creates or joins a work item, as the router writes it (DecisionWrite).
DecisionWrite NewTextWrite(PgRouterStore& store, int64_t connector, const std::string& key,
                           const std::string& new_text) {
  DecisionWrite w = InsertWrite(connector, key, "created", "fallback");
  w.decision.new_text = new_text;
  w.create.emplace();
  w.create->queue = "q";
  w.create->requester_address = "jane@client.example";
  w.create->body = new_text + "\n\nOn Mon, Support wrote:\n> the original\n";
  w.create->template_name = "incident-form";
  absl::StatusOr<int64_t> id = store.NextWorkItemId();
  EXPECT_THAT(id, IsOk());
  w.create->id = id.ok() ? *id : 0;
  w.create->reference = WorkItemReference("WI", w.create->id);
  return w;
}

// Issue #20: the new text is kept on the work item (its first message's) and on every message
// that joins it, the route's template on the work item; reads give them whole, lists and events
// a preview, and the webhook payloads carry both, cut so the payload is never replaced.
TEST(PgRouterStore, NewTextAndTemplateReachWorkItemMessagesListsAndWebhooks) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  PgRouterStore store(db);
  const int64_t support = AddConnector(db, "support", "active");
  SqlValue(db, "INSERT INTO webhooks (name, spec, modified_by, secret_key_id, secret_sealed) "
               "VALUES ('desk', '{\"url\": \"http://127.0.0.1:9/\", \"events\": "
               "[\"work_item.created\", \"work_item.appended\"]}', 'test', 'k1', 's') "
               "RETURNING name");

  absl::StatusOr<DecisionResult> created =
      store.CommitDecision(NewTextWrite(store, support, "k1", "Printer on fire."));
  ASSERT_THAT(created, IsOk());
  absl::StatusOr<WorkItemRecord> wi = store.GetWorkItem(created->work_item_id);
  ASSERT_THAT(wi, IsOk());
  EXPECT_EQ(wi->new_text, "Printer on fire.");
  EXPECT_THAT(wi->body, HasSubstr("the original"));
  EXPECT_EQ(wi->template_name, "incident-form");
  EXPECT_THAT(store.GetMessage(created->message_id, false),
              IsOkAndHolds(::testing::Field(&MessageRecord::new_text, "Printer on fire.")));

  // A follow-up keeps its own new text; the work item keeps its first message's.
  DecisionWrite follow_up = InsertWrite(support, "k2", "appended", "follow_up");
  follow_up.decision.new_text = "It works again.";
  follow_up.append_to = created->work_item_id;
  absl::StatusOr<DecisionResult> appended = store.CommitDecision(follow_up);
  ASSERT_THAT(appended, IsOk());
  EXPECT_THAT(store.GetMessage(appended->message_id, false),
              IsOkAndHolds(::testing::Field(&MessageRecord::new_text, "It works again.")));
  EXPECT_THAT(store.GetWorkItem(created->work_item_id),
              IsOkAndHolds(::testing::Field(&WorkItemRecord::new_text, "Printer on fire.")));
  absl::StatusOr<std::vector<MessageRecord>> of_item =
      store.ListMessagesOfWorkItem(created->work_item_id);
  ASSERT_THAT(of_item, IsOkAndHolds(SizeIs(2)));
  EXPECT_EQ((*of_item)[1].new_text, "It works again.");

  // A decision that reaches no work item keeps none, whatever it was given.
  DecisionWrite spam = follow_up;
  spam.insert->fetch_key = "k3";
  spam.decision.decision = "spam";
  spam.append_to = 0;
  absl::StatusOr<DecisionResult> spam_done = store.CommitDecision(spam);
  ASSERT_THAT(spam_done, IsOk());
  EXPECT_THAT(store.GetMessage(spam_done->message_id, false),
              IsOkAndHolds(::testing::Field(&MessageRecord::new_text, "")));

  EXPECT_EQ(SqlValue(db, "SELECT string_agg(event || ':' || (body_text::jsonb->'data'->>'new_text')"
                         " || ':' || coalesce(body_text::jsonb->'data'->>'template', '-'), ',' "
                         "ORDER BY id) FROM outbox WHERE kind = 'webhook'"),
            "work_item.created:Printer on fire.:incident-form,"
            "work_item.appended:It works again.:-");

  // 9,000 two-byte characters: whole on GetWorkItem, 2,048 in lists and events, 8,192 in the
  // payload (flagged), which stays under the 64 KiB that would replace it.
  std::string long_text;
  for (int i = 0; i < 9000; ++i) long_text += "\xc3\xa9";
  absl::StatusOr<DecisionResult> big =
      store.CommitDecision(NewTextWrite(store, support, "k4", long_text));
  ASSERT_THAT(big, IsOk());
  EXPECT_THAT(store.GetWorkItem(big->work_item_id),
              IsOkAndHolds(::testing::Field(&WorkItemRecord::new_text, long_text)));
  absl::StatusOr<std::vector<WorkItemRecord>> listed = store.ListWorkItems({});
  ASSERT_THAT(listed, IsOk());
  ASSERT_FALSE(listed->empty());
  EXPECT_EQ((*listed)[0].new_text, long_text.substr(0, 2 * kNewTextPreviewChars));
  EXPECT_EQ((*listed)[0].new_text, NewTextPreview(long_text));  // The in-memory store's cut.
  EXPECT_EQ((*listed)[0].template_name, "incident-form");
  absl::StatusOr<std::vector<WorkItemEventRecord>> events = store.ListWorkItemEvents(0, "", 10);
  ASSERT_THAT(events, IsOkAndHolds(SizeIs(3)));
  EXPECT_EQ((*events)[0].work_item.new_text, "Printer on fire.");
  EXPECT_EQ((*events)[2].work_item.new_text, NewTextPreview(long_text));
  absl::StatusOr<std::vector<MessageRecord>> messages = store.ListMessages({});
  ASSERT_THAT(messages, IsOk());
  EXPECT_EQ((*messages)[0].new_text, NewTextPreview(long_text));
  EXPECT_EQ(SqlValue(db, "SELECT length(body_text::jsonb->'data'->>'new_text') || ' ' || "
                         "(body_text::jsonb->'data'->>'new_text_truncated') FROM outbox "
                         "WHERE kind = 'webhook' ORDER BY id DESC LIMIT 1"),
            "8192 true");

  // The table's own bound holds whoever writes.
  absl::Status over = db.Transact([&](pqxx::work& t) {
    t.exec("UPDATE work_items SET new_text = repeat('x', 262145)");
    return absl::OkStatus();
  });
  EXPECT_THAT(over, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("new_text")));
}

// Replicas sweeping at once: every message is claimed by one of them and counted once.
TEST(PgRouterStore, ConcurrentClaimsCountEachMessageOnce) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri(), .pool_size = 4});
  PgRouterStore store(db);
  const int64_t support = AddConnector(db, "support", "active");
  constexpr int kMessages = 40;
  for (int i = 0; i < kMessages; ++i) AddMessage(db, support, "c" + std::to_string(i));
  const absl::Time now = absl::Now();
  std::vector<int64_t> claimed[4];
  std::atomic<int> total{0};
  std::vector<std::thread> threads;
  for (auto& mine : claimed) {
    threads.emplace_back([&] {
      for (int round = 0; round < 200 && total.load() < kMessages; ++round) {
        absl::StatusOr<std::vector<int64_t>> ids =
            store.ClaimPending(now, now - absl::Minutes(1), now, 3);
        if (!ids.ok()) continue;
        mine.insert(mine.end(), ids->begin(), ids->end());
        total += static_cast<int>(ids->size());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<int64_t> all;
  for (const auto& mine : claimed) all.insert(all.end(), mine.begin(), mine.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a message claimed twice";
  EXPECT_THAT(all, SizeIs(kMessages));
  EXPECT_EQ(SqlValue(db, "SELECT count(*) || ':' || sum(route_attempts) FROM messages"),
            absl::StrCat(kMessages, ":", kMessages));
}

TEST(PgConfigStore, UniqueNameIsAlreadyExists) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  PgConfigStore store(db);
  auto insert = [&](const std::string& name) {
    return store.InTransaction([&](ConfigTx& tx) {
      ConnectorRecord c{.name = name, .protocol = "imap", .direction = "incoming",
                        .spec_json = "{}", .version = 1, .modified_by = "test"};
      return tx.InsertConnector(c);
    });
  };
  ASSERT_THAT(insert("support"), IsOk());
  EXPECT_THAT(insert("support"), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(PgConfigStore, AuditLogIsAppendOnly) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  PgConfigStore store(db);
  ASSERT_THAT(store.InTransaction([](ConfigTx& tx) {
    return tx.AppendAudit({.actor = "alice", .kind = "setting", .object = "x", .action = "create",
                           .version = 1, .after_json = "{\"value\":\"1\"}"});
  }),
              IsOk());
  absl::Status st = db.Transact([](pqxx::work& t) {
    t.exec0("UPDATE audit_log SET actor = 'mallory'");
    return absl::OkStatus();
  });
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInternal, HasSubstr("append-only")));
  std::vector<AuditRecord> entries;
  ASSERT_THAT(store.InTransaction([&](ConfigTx& tx) -> absl::Status {
    auto r = tx.ListAudit("setting", "x", 10);
    if (!r.ok()) return r.status();
    entries = *r;
    return absl::OkStatus();
  }),
              IsOk());
  ASSERT_THAT(entries, SizeIs(1));
  EXPECT_EQ(entries[0].actor, "alice");
  EXPECT_EQ(entries[0].after_json, "{\"value\": \"1\"}");
}

TEST(PgConfigStore, RoutePositionsCanBeSwappedInOneTransaction) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  PgConfigStore store(db);
  ASSERT_THAT(store.InTransaction([](ConfigTx& tx) -> absl::Status {
    ConnectorRecord c{.name = "support", .protocol = "imap", .direction = "incoming",
                      .spec_json = "{}", .version = 1, .modified_by = "t"};
    if (auto st = tx.InsertConnector(c); !st.ok()) return st;
    RouteRecord a{.connector_id = c.id, .name = "a", .position = 1, .version = 1,
                  .modified_by = "t"};
    RouteRecord b{.connector_id = c.id, .name = "b", .position = 2, .version = 1,
                  .modified_by = "t"};
    if (auto st = tx.InsertRoute(a); !st.ok()) return st;
    if (auto st = tx.InsertRoute(b); !st.ok()) return st;
    a.position = 2;
    b.position = 1;
    if (auto st = tx.UpdateRoute(a); !st.ok()) return st;
    return tx.UpdateRoute(b);
  }),
              IsOk());
}

}  // namespace
}  // namespace postroom::store

namespace postroom::store {
namespace {

TEST(PgConfigStore, StateCarriesBackfillProgressTheFetcherWrites) {
  auto tdb = testing::PgTestDatabase::Create();
  ASSERT_TRUE(tdb.ok()) << tdb.status();
  Database db({.uri = (*tdb)->Uri()});
  PgConfigStore store(db);
  ConnectorStateRecord state;
  ConnectorRecord c{.name = "support", .protocol = "imap", .direction = "incoming",
                    .spec_json = "{}", .version = 1, .modified_by = "t"};
  ASSERT_THAT(store.InTransaction([&](ConfigTx& tx) { return tx.InsertConnector(c); }),
              testing::IsOk());
  // What the fetcher records at the end of a poll.
  ASSERT_THAT(db.Transact([&](pqxx::work& t) {
    t.exec_params("UPDATE connector_state SET backfill_done = 40, backfill_total = 100 "
                  "WHERE connector_id = $1",
                  c.id);
    return absl::OkStatus();
  }),
              testing::IsOk());
  ASSERT_THAT(store.InTransaction([&](ConfigTx& tx) -> absl::Status {
    auto c = tx.FindConnector("support", false);
    if (!c.ok()) return c.status();
    auto s = tx.GetState((*c)->id);
    if (!s.ok()) return s.status();
    state = *s;
    return absl::OkStatus();
  }),
              testing::IsOk());
  EXPECT_EQ(state.backfill_done, 40);
  EXPECT_EQ(state.backfill_total, 100);
}

// docs/fetcher.md, "A deleted connector's mailbox": the position outlives the connector.
TEST(PgConfigStore, MailboxTombstoneCarriesTheFetchPositionToARecreatedConnector) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  PgConfigStore store(db);
  const std::string mailbox = "imap://bench@127.0.0.1:11143";
  auto insert = [&](const std::string& name) {
    ConnectorRecord c{.name = name, .protocol = "imap", .direction = "incoming",
                      .spec_json = "{}", .version = 1, .modified_by = "t"};
    EXPECT_THAT(store.InTransaction([&](ConfigTx& tx) { return tx.InsertConnector(c); }), IsOk());
    return c.id;
  };
  auto remove = [&](int64_t id) {
    return store.InTransaction([&](ConfigTx& tx) -> absl::Status {
      if (absl::Status st = tx.KeepMailboxTombstone(id, mailbox); !st.ok()) return st;
      return tx.DeleteConnector(id);
    });
  };
  auto adopt = [&](int64_t id, const std::string& identity) {
    bool adopted = false;
    EXPECT_THAT(store.InTransaction([&](ConfigTx& tx) -> absl::Status {
      auto r = tx.AdoptMailboxTombstone(id, identity);
      if (r.ok()) adopted = *r;
      return r.status();
    }),
                IsOk());
    return adopted;
  };
  const int64_t first = insert("bench");
  ASSERT_THAT(db.Transact([&](pqxx::work& t) {
    t.exec_params("INSERT INTO folder_cursors (connector_id, folder, uidvalidity, last_uid, "
                  "delta_link) VALUES ($1, 'INBOX', 7, 20, ''), ($1, 'Archive', 0, 0, 'd')",
                  first);
    t.exec_params("INSERT INTO pop3_seen (connector_id, uidl) VALUES ($1, 'u1'), ($1, 'u2')",
                  first);
    return absl::OkStatus();
  }),
              IsOk());
  ASSERT_THAT(remove(first), IsOk());
  EXPECT_EQ(SqlValue(db, "SELECT count(*) FROM folder_cursors"), "0");
  EXPECT_EQ(SqlValue(db, "SELECT connector FROM mailbox_tombstones"), "bench");

  // A connector of the mailbox that never fetched leaves the older position in place.
  ASSERT_THAT(remove(insert("never-polled")), IsOk());
  EXPECT_EQ(SqlValue(db, "SELECT connector FROM mailbox_tombstones"), "bench");

  const int64_t other = insert("other-mailbox");
  EXPECT_FALSE(adopt(other, "imap://someone-else@127.0.0.1:11143"));
  EXPECT_EQ(SqlValue(db, "SELECT count(*) FROM folder_cursors"), "0");

  const int64_t again = insert("bench-again");
  EXPECT_TRUE(adopt(again, mailbox));
  EXPECT_EQ(SqlValue(db, absl::StrCat("SELECT string_agg(folder || ':' || uidvalidity || ':' || "
                                      "last_uid || ':' || delta_link, ',' ORDER BY folder) FROM "
                                      "folder_cursors WHERE connector_id = ", again)),
            "Archive:0:0:d,INBOX:7:20:");
  EXPECT_EQ(SqlValue(db, absl::StrCat("SELECT string_agg(uidl, ',' ORDER BY uidl) FROM "
                                      "pop3_seen WHERE connector_id = ", again)),
            "u1,u2");
  EXPECT_EQ(SqlValue(db, "SELECT count(*) FROM mailbox_tombstones"), "0");
  EXPECT_FALSE(adopt(insert("bench-third"), mailbox));
}

// A purge removes the connector's messages, the outbox rows answering them and its own work
// items; a work item another connector's mail joined stays (it outlives the connector).
TEST(PgConfigStore, PurgeRemovesTheConnectorsMailAndCountsIt) {
  auto tdb = NewDatabase();
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  PgConfigStore store(db);
  ConnectorRecord a{.name = "a", .protocol = "imap", .direction = "incoming",
                    .spec_json = "{}", .version = 1, .modified_by = "t"};
  ConnectorRecord b = a;
  b.name = "b";
  ASSERT_THAT(store.InTransaction([&](ConfigTx& tx) -> absl::Status {
    if (absl::Status st = tx.InsertConnector(a); !st.ok()) return st;
    return tx.InsertConnector(b);
  }),
              IsOk());
  ASSERT_THAT(db.Transact([&](pqxx::work& t) {
    t.exec_params(
        "WITH w AS (INSERT INTO work_items (connector_id, reference, queue, requester_address) "
        "VALUES ($1, 'A-1', 'q', 'x@example.com'), ($1, 'A-2', 'q', 'x@example.com') RETURNING "
        "id, reference), m AS (INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, "
        "work_item_id) SELECT $1, reference, 1, 'x'::bytea, id FROM w UNION ALL SELECT $2, 'b-joins', "
        "1, 'x', id FROM w WHERE reference = 'A-2' UNION ALL SELECT $1, 'no-item', 1, 'x', NULL "
        "RETURNING id, connector_id, fetch_key) INSERT INTO outbox (reason, to_address, "
        "message_id, dedupe_key) SELECT 'ack', 'x@example.com', id, 'ack:' || fetch_key FROM m",
        a.id, b.id);
    return absl::OkStatus();
  }),
              IsOk());
  StoredMail counted, removed, after;
  ASSERT_THAT(store.InTransaction([&](ConfigTx& tx) -> absl::Status {
    counted = *tx.CountStoredMail(a.id);
    removed = *tx.PurgeStoredMail(a.id);
    after = *tx.CountStoredMail(a.id);
    return tx.DeleteConnector(a.id);
  }),
              IsOk());
  EXPECT_EQ(counted.messages, 3);
  EXPECT_EQ(counted.work_items, 1);  // A-2 has a message of b.
  EXPECT_EQ(counted.outbox, 3);
  EXPECT_EQ(removed.messages, counted.messages);
  EXPECT_EQ(removed.work_items, counted.work_items);
  EXPECT_EQ(removed.outbox, counted.outbox);
  EXPECT_TRUE(after.empty());
  EXPECT_EQ(SqlValue(db, "SELECT string_agg(reference, ',') FROM work_items"), "A-2");
  EXPECT_EQ(SqlValue(db, "SELECT string_agg(fetch_key, ',') FROM messages"), "b-joins");
  EXPECT_EQ(SqlValue(db, "SELECT string_agg(dedupe_key, ',') FROM outbox"), "ack:b-joins");
}

}  // namespace
}  // namespace postroom::store
