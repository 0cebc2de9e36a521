// Services connect as a login role in postroom_app (0010_roles.sql), not as the owner: they can
// do their work but cannot rewrite or truncate the audit log, nor change the schema.
#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/store/database.h"
#include "libs/store/migrations.h"
#include "libs/store/migrator.h"
#include "libs/store/pg_config_store.h"
#include "libs/store/pg_router_store.h"
#include "tests/support/pg_test_database.h"
#include "tests/support/status_matchers.h"

namespace postroom::store {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::PgTestDatabase;
using ::postroom::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

// `uri` (postgresql://postgres@...) connecting as `role` instead.
std::string AsRole(const std::string& uri, const std::string& role) {
  return absl::StrReplaceAll(uri, {{"://postgres@", absl::StrCat("://", role, "@")}});
}

std::string UniqueName(const std::string& prefix) {
  std::random_device rd;
  return absl::StrFormat("%s_%08x", prefix, rd());
}

absl::Status Exec(Database& db, const std::string& sql) {
  return db.Transact([&](pqxx::work& t) {
    t.exec(sql);
    return absl::OkStatus();
  });
}

std::string Query(Database& db, const std::string& sql) {
  std::string out;
  absl::Status st = db.Transact([&](pqxx::work& t) {
    out = t.exec1(sql)[0].c_str();
    return absl::OkStatus();
  });
  EXPECT_THAT(st, IsOk()) << sql;
  return out;
}

class RolesPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tdb = PgTestDatabase::Create();
    ASSERT_THAT(tdb.status(), IsOk());
    tdb_ = std::move(*tdb);
    owner_ = std::make_unique<Database>(DatabaseOptions{.uri = tdb_->Uri(), .pool_size = 1});
    login_ = UniqueName("t_service");
    ASSERT_THAT(Exec(*owner_, absl::StrCat("CREATE ROLE ", login_, " LOGIN IN ROLE postroom_app")),
                IsOk());
    app_ = std::make_unique<Database>(
        DatabaseOptions{.uri = AsRole(tdb_->Uri(), login_), .pool_size = 1});
    ASSERT_EQ(Query(*app_, "SELECT current_user"), login_);
  }
  void TearDown() override {
    app_.reset();
    if (owner_ != nullptr && !login_.empty()) {
      EXPECT_THAT(Exec(*owner_, absl::StrCat("DROP ROLE ", login_)), IsOk());
    }
  }

  absl::Status AppendAudit(Database& db, const std::string& actor) {
    PgConfigStore store(db);
    return store.InTransaction([&](ConfigTx& tx) {
      return tx.AppendAudit({.actor = actor, .kind = "setting", .object = "x",
                             .action = "create", .version = 1, .after_json = "{}"});
    });
  }

  std::unique_ptr<PgTestDatabase> tdb_;
  std::unique_ptr<Database> owner_;
  std::unique_ptr<Database> app_;
  std::string login_;
};

TEST_F(RolesPgTest, ServiceRoleAppendsToTheAuditLogButCannotRewriteIt) {
  ASSERT_THAT(AppendAudit(*app_, "alice"), IsOk());
  EXPECT_EQ(Query(*app_, "SELECT actor FROM audit_log"), "alice");
  for (const char* sql : {"UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log",
                          "TRUNCATE audit_log", "ALTER TABLE audit_log DISABLE TRIGGER ALL",
                          "DROP TRIGGER audit_log_no_truncate ON audit_log",
                          "DROP TABLE audit_log CASCADE"}) {
    EXPECT_THAT(Exec(*app_, sql), Not(IsOk())) << sql;
  }
  EXPECT_THAT(Exec(*app_, "UPDATE audit_log SET actor = 'mallory'"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("permission denied")));
  EXPECT_EQ(Query(*owner_, "SELECT count(*) || ':' || min(actor) FROM audit_log"), "1:alice");
}

TEST_F(RolesPgTest, EvenTheOwnerCannotTruncateTheAuditLogByAccident) {
  ASSERT_THAT(AppendAudit(*owner_, "alice"), IsOk());
  EXPECT_THAT(Exec(*owner_, "TRUNCATE audit_log"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("append-only")));
  EXPECT_THAT(Exec(*owner_, "DELETE FROM audit_log"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("append-only")));
  EXPECT_EQ(Query(*owner_, "SELECT count(*) FROM audit_log"), "1");
}

TEST_F(RolesPgTest, ServiceRoleDoesTheServicesWork) {
  PgConfigStore store(*app_);
  ASSERT_THAT(store.InTransaction([](ConfigTx& tx) -> absl::Status {
    ConnectorRecord c{.name = "support", .protocol = "imap", .direction = "incoming",
                      .spec_json = "{}", .version = 1, .modified_by = "alice"};
    if (absl::Status st = tx.InsertConnector(c); !st.ok()) return st;
    if (absl::Status st = tx.PutSecret(c.id, {"password", "k1", "sealed"}); !st.ok()) return st;
    c.version = 2;
    if (absl::Status st = tx.UpdateConnector(c); !st.ok()) return st;
    return tx.DeleteSecret(c.id, "password");
  }),
              IsOk());
  EXPECT_EQ(Query(*app_, "SELECT version FROM connectors WHERE name = 'support'"), "2");
  // It reads the schema version (readiness) but cannot pretend a migration ran.
  EXPECT_THAT(RequireSchemaVersion(*app_, LatestSchemaVersion()), IsOk());
  EXPECT_THAT(Exec(*app_, "INSERT INTO schema_migrations (version, name) VALUES (9999, 'x')"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("permission denied")));
  EXPECT_THAT(Exec(*app_, "UPDATE schema_repeatables SET sha256 = 'x'"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("permission denied")));
  EXPECT_THAT(Exec(*app_, "CREATE TABLE mine (x int)"), Not(IsOk()));
}

// Erasure on request runs as the router's role: it updates messages, work items, the outbox and
// suppressions, deletes outbox files and appends its one audit entry.
TEST_F(RolesPgTest, ServiceRoleCanForgetAnAddress) {
  ASSERT_THAT(
      Exec(*owner_,
           "INSERT INTO connectors (name, protocol, direction, spec, version, modified_by) "
           "VALUES ('support', 'imap', 'incoming', '{}', 1, 'alice');"
           "INSERT INTO work_items (reference, queue, requester_address, subject) "
           "VALUES ('SUP-1', 'q', 'jane@x.example', 'secret');"
           "INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, summary, decision, "
           "work_item_id) SELECT c.id, 'k', 3, 'abc', '{\"from\":\"jane@x.example\"}', "
           "'created', w.id FROM connectors c, work_items w;"
           "INSERT INTO outbox (to_address, subject) VALUES ('jane@x.example', 'ack');"
           "INSERT INTO outbox_attachments (outbox_id, position, filename, content_type, content) "
           "SELECT id, 0, 'f', 'text/plain', 'x' FROM outbox;"
           "INSERT INTO suppressions (connector_id, address, reason) "
           "SELECT id, 'jane@x.example', 'bounce' FROM connectors"),
      IsOk());
  PgRouterStore store(*app_);
  absl::StatusOr<ForgetResult> r = store.ForgetAddress({.address = "jane@x.example",
                                                        .limit = 200, .actor = "ada"});
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->next_after_id, 0);
  EXPECT_EQ(r->counts.messages, 1);
  EXPECT_EQ(r->counts.outbox_attachments, 1);
  EXPECT_EQ(r->counts.suppressions, 1);
  EXPECT_EQ(Query(*owner_, "SELECT count(*) FROM audit_log WHERE kind = 'privacy'"), "1");
  EXPECT_EQ(Query(*owner_, "SELECT count(*) FROM work_items WHERE subject <> ''"), "0");
}

TEST_F(RolesPgTest, GrantingAgainChangesNothing) {
  ASSERT_THAT(Exec(*owner_, "SELECT postroom_grant_app()"), IsOk());
  ASSERT_THAT(Exec(*owner_, "SELECT postroom_grant_app()"), IsOk());
  EXPECT_THAT(AppendAudit(*app_, "bob"), IsOk());
  EXPECT_THAT(Exec(*app_, "DELETE FROM audit_log"), Not(IsOk()));
  EXPECT_THAT(Exec(*app_, "SELECT postroom_grant_app()"), Not(IsOk()));
}

// A migrator that is no superuser (owns its schema, may not create roles) migrates all the
// same, and its service roles get the grants.
TEST_F(RolesPgTest, MigrationWorksForAnOwnerThatIsNotASuperuser) {
  const std::string migrator = UniqueName("t_owner");
  const std::string schema = UniqueName("t_schema");
  ASSERT_THAT(Exec(*owner_, absl::StrCat("CREATE ROLE ", migrator, " LOGIN NOSUPERUSER "
                                         "NOCREATEROLE; CREATE SCHEMA ", schema,
                                         " AUTHORIZATION ", migrator)),
              IsOk());
  const std::string base = absl::StrCat(tdb_->BaseUri(),
                                        tdb_->BaseUri().find('?') == std::string::npos ? "?" : "&",
                                        "options=-c%20search_path%3D", schema);
  {
    Database as_migrator({.uri = AsRole(base, migrator), .pool_size = 1});
    EXPECT_THAT(Migrate(as_migrator), IsOk());
    Database as_service({.uri = AsRole(base, login_), .pool_size = 1});
    EXPECT_THAT(AppendAudit(as_service, "carol"), IsOk());
    EXPECT_THAT(Exec(as_service, "TRUNCATE audit_log"), Not(IsOk()));
  }
  EXPECT_THAT(Exec(*owner_, absl::StrCat("DROP SCHEMA ", schema, " CASCADE; DROP OWNED BY ",
                                         migrator, "; DROP ROLE ", migrator)),
              IsOk());
}

}  // namespace
}  // namespace postroom::store
