#include "services/router/connector_series.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/pg_test_database.h"
#include "tests/support/status_matchers.h"

namespace postroom::router {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::PgTestDatabase;
using ::testing::ElementsAre;
using ::testing::Not;

void Exec(store::Database& db, const std::string& sql) {
  ASSERT_THAT(db.Transact([&](pqxx::work& t) {
    t.exec(sql);
    return absl::OkStatus();
  }),
              IsOk());
}

TEST(ConnectorSeries, NamesEveryIncomingConnectorAndReportsAnUnreadableTable) {
  absl::StatusOr<std::unique_ptr<PgTestDatabase>> tdb = PgTestDatabase::Create();
  ASSERT_THAT(tdb, IsOk());
  store::Database db({.uri = (*tdb)->Uri()});
  Exec(db,
       "INSERT INTO connectors (name, protocol, direction, status, spec, modified_by) VALUES "
       "('in', 'imap', 'incoming', 'active', '{}', 't'), "
       "('both', 'graph', 'both', 'active', '{}', 't'), "
       "('out', 'smtp', 'outgoing', 'active', '{}', 't')");
  std::vector<std::string> seen;
  auto init = [&](const std::string& name) { seen.push_back(name); };
  ASSERT_THAT(InitConnectorSeries(db, init), IsOk());
  std::sort(seen.begin(), seen.end());
  EXPECT_THAT(seen, ElementsAre("both", "in"));

  // The sweep logs this instead of silently creating no series.
  Exec(db, "ALTER TABLE connectors RENAME TO connectors_gone");
  seen.clear();
  EXPECT_THAT(InitConnectorSeries(db, init), Not(IsOk()));
  EXPECT_TRUE(seen.empty());
}

}  // namespace
}  // namespace postroom::router
