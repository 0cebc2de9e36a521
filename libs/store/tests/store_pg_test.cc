#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/store/database.h"
#include "libs/store/migrations.h"
#include "libs/store/migrator.h"
#include "libs/store/pg_config_store.h"
#include "tests/support/pg_test_database.h"
#include "tests/support/status_matchers.h"

namespace postroom::store {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::PgTestDatabase;
using ::postroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

std::unique_ptr<PgTestDatabase> NewDatabase(bool migrate = true) {
  auto db = PgTestDatabase::Create(migrate);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

TEST(Migrator, FreshDatabaseReachesLatestVersionAndSecondRunIsNoOp) {
  auto tdb = NewDatabase(/*migrate=*/false);
  ASSERT_NE(tdb, nullptr);
  Database db({.uri = tdb->Uri()});
  EXPECT_THAT(CurrentSchemaVersion(db), IsOkAndHolds(0));
  EXPECT_THAT(RequireSchemaVersion(db, LatestSchemaVersion()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("postroom-config migrate")));
  EXPECT_THAT(Migrate(db), IsOkAndHolds(LatestSchemaVersion()));
  EXPECT_THAT(Migrate(db), IsOkAndHolds(LatestSchemaVersion()));
  EXPECT_THAT(RequireSchemaVersion(db, LatestSchemaVersion()), IsOk());
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

}  // namespace
}  // namespace postroom::store
