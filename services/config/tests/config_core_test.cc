#include "services/config/core/config_core.h"

#include <algorithm>
#include <functional>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/config/core/connector_spec.h"
#include "services/config/tests/fakes.h"
#include "services/config/tests/store_factory.h"
#include "tests/support/status_matchers.h"

namespace postroom::config {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

const Actor kAlice{"alice"};

google::protobuf::Struct Json(const std::string& json) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &s).ok()) << json;
  return s;
}

v1::Connector Support() {
  v1::Connector c;
  c.set_name("support");
  c.set_protocol(v1::PROTOCOL_IMAP);
  c.set_direction(v1::DIRECTION_INCOMING);
  c.mutable_server()->set_host("127.0.0.1");
  c.mutable_server()->set_port(11143);
  c.mutable_server()->set_tls(v1::TLS_MODE_NONE);
  c.mutable_auth()->set_method(v1::AUTH_METHOD_PASSWORD);
  c.mutable_auth()->set_username("support");
  c.mutable_auth()->set_password("s3cret-pass");
  c.set_primary_address("support@example.com");
  *c.mutable_fallback() = Json(R"({"queue": "support-general"})");
  return c;
}

v1::Route Route(const std::string& name, const std::string& queue) {
  v1::Route r;
  r.set_connector("support");
  r.set_name(name);
  *r.mutable_when() = Json(R"({"subject_contains": ["x"]})");
  *r.mutable_then() = Json(absl::StrCat(R"({"queue": ")", queue, R"("})"));
  return r;
}

std::vector<std::string> RouteNames(const std::vector<v1::Route>& routes) {
  std::vector<std::string> names;
  for (const auto& r : routes) names.push_back(r.name());
  return names;
}

class ConfigCoreTest : public ::testing::Test {
 protected:
  ConfigCoreTest()
      : holder_(testing::MakeStore()),
        core_({.store = &holder_->store(), .sealer = &sealer_, .tester = &tester_,
               .routes = &routes_, .templates = &templates_, .clock = &clock_}) {}

  void ApplySupport() { ASSERT_THAT(core_.ApplyConnector(kAlice, Support(), 0), IsOk()); }

  FakeClock clock_;
  testing::FakeSealer sealer_;
  testing::FakeTester tester_;
  testing::FakeRouteValidator routes_;
  testing::FakeTemplateValidator templates_;
  std::unique_ptr<testing::StoreHolder> holder_;
  ConfigCore core_;
};

TEST_F(ConfigCoreTest, CreatedConnectorGetsDefaultsAndDraftStatus) {
  auto applied = core_.ApplyConnector(kAlice, Support(), 0);
  ASSERT_THAT(applied, IsOk());
  EXPECT_TRUE(applied->created);
  const v1::Connector& c = applied->object;
  EXPECT_EQ(c.status(), v1::CONNECTOR_STATUS_DRAFT);
  EXPECT_EQ(c.version(), 1);
  EXPECT_EQ(c.modified_by(), "alice");
  EXPECT_EQ(c.settings().poll_interval_s(), 60u);
  EXPECT_EQ(c.settings().error_threshold(), 5u);
  ASSERT_EQ(c.folders_size(), 1);
  EXPECT_EQ(c.folders(0).folder(), "INBOX");
  EXPECT_EQ(c.fallback().fields().at("queue").string_value(), "support-general");
}

TEST_F(ConfigCoreTest, SecretIsNeverReturnedButReportedAsSet) {
  ApplySupport();
  auto got = core_.GetConnector("support");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->first.auth().password(), "");
  EXPECT_TRUE(got->first.auth().has_password());
  auto history = core_.GetHistory("connector", "support", 0);
  ASSERT_THAT(history, IsOk());
  for (const auto& e : *history) {
    EXPECT_THAT(e.after_json(), Not(HasSubstr("s3cret-pass")));
    EXPECT_THAT(e.before_json(), Not(HasSubstr("s3cret-pass")));
  }
  EXPECT_THAT(history->front().after_json(), HasSubstr("_changed_secrets"));
}

TEST_F(ConfigCoreTest, ReapplyingSameConnectorChangesNothing) {
  ApplySupport();
  auto again = core_.ApplyConnector(kAlice, Support(), 0);
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->created);
  EXPECT_THAT(again->changed_fields, IsEmpty());
  EXPECT_EQ(again->object.version(), 1);
}

TEST_F(ConfigCoreTest, ChangedFieldsNameEachPathIncludingSecrets) {
  ApplySupport();
  v1::Connector c = Support();
  c.mutable_settings()->set_poll_interval_s(120);
  c.mutable_auth()->set_password("new-password");
  auto applied = core_.ApplyConnector(kAlice, c, 0);
  ASSERT_THAT(applied, IsOk());
  EXPECT_THAT(applied->changed_fields,
              UnorderedElementsAre("settings.poll_interval_s", "auth.password"));
  EXPECT_EQ(applied->object.version(), 2);
}

v1::Connector Graph() {
  v1::Connector c;
  c.set_name("graph");
  c.set_protocol(v1::PROTOCOL_GRAPH);
  c.set_direction(v1::DIRECTION_INCOMING);
  c.mutable_auth()->set_tenant_id("tenant-a");
  c.mutable_auth()->set_client_id("client-a");
  c.mutable_auth()->set_client_secret("graph-secret");
  c.mutable_auth()->set_refresh_token("graph-refresh");
  c.set_primary_address("support@example.com");
  *c.mutable_fallback() = Json(R"({"queue": "support-general"})");
  return c;
}

// A stored secret is never sent to a new place: each field that says where it goes, changed
// without the secret, is refused; the stored connector stays as it was.
TEST_F(ConfigCoreTest, StoredPasswordIsNotSentToANewPlace) {
  ApplySupport();
  struct Case {
    const char* changed;
    std::function<void(v1::Connector&)> change;
  };
  for (const Case& k : std::vector<Case>{
           {"server.host", [](v1::Connector& c) { c.mutable_server()->set_host("evil.example"); }},
           {"server.port", [](v1::Connector& c) { c.mutable_server()->set_port(2525); }}}) {
    v1::Connector c = Support();
    c.mutable_auth()->clear_password();
    k.change(c);
    EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(absl::StrCat("  - auth.password: required again because ",
                                                k.changed,
                                                " changed (a stored secret is never sent to a "
                                                "new place)"))));
  }
  auto got = core_.GetConnector("support");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->first.server().host(), "127.0.0.1");
  EXPECT_EQ(got->first.server().port(), 11143u);
  EXPECT_EQ(got->first.version(), 1);
}

TEST_F(ConfigCoreTest, StoredPasswordMovesWhenGivenAgain) {
  ApplySupport();
  v1::Connector c = Support();  // Holds the password.
  c.mutable_server()->set_host("mail.example.org");
  auto applied = core_.ApplyConnector(kAlice, c, 0);
  ASSERT_THAT(applied, IsOk());
  EXPECT_THAT(applied->changed_fields, ElementsAre("server.host"));
  // Other changes need no secret.
  c.mutable_auth()->clear_password();
  c.set_description("the help desk");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0), IsOk());
}

TEST_F(ConfigCoreTest, DroppingTlsNeedsThePasswordAgain) {
  v1::Connector c = Support();
  c.mutable_server()->set_tls(v1::TLS_MODE_IMPLICIT);
  ASSERT_THAT(core_.ApplyConnector(kAlice, c, 0), IsOk());
  c.mutable_auth()->clear_password();
  c.mutable_server()->set_tls(v1::TLS_MODE_NONE);
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("auth.password: required again because server.tls changed")));
}

TEST_F(ConfigCoreTest, StoredOAuthSecretsAreNotSentToANewPlace) {
  ASSERT_THAT(core_.ApplyConnector(kAlice, Graph(), 0), IsOk());
  struct Case {
    const char* changed;
    std::function<void(v1::Connector&)> change;
  };
  for (const Case& k : std::vector<Case>{
           {"auth.token_endpoint, auth.tenant_id",
            [](v1::Connector& c) { c.mutable_auth()->set_tenant_id("tenant-evil"); }},
           {"auth.client_id",
            [](v1::Connector& c) { c.mutable_auth()->set_client_id("client-evil"); }},
           {"auth.token_endpoint",
            [](v1::Connector& c) {
              c.mutable_auth()->set_token_endpoint("https://evil.example/token");
            }},
           {"server.host",
            [](v1::Connector& c) { c.mutable_server()->set_host("graph.evil.example"); }}}) {
    v1::Connector c = Graph();
    c.mutable_auth()->clear_client_secret();
    c.mutable_auth()->clear_refresh_token();
    k.change(c);
    auto applied = core_.ApplyConnector(kAlice, c, 0);
    EXPECT_THAT(applied, StatusIs(absl::StatusCode::kInvalidArgument,
                                  AllOf(HasSubstr(absl::StrCat(
                                            "auth.client_secret: required again because ",
                                            k.changed, " changed")),
                                        HasSubstr(absl::StrCat(
                                            "auth.refresh_token: required again because ",
                                            k.changed, " changed")))))
        << k.changed;
  }
  // One secret given again is not enough: the other would still go along.
  v1::Connector c = Graph();
  c.mutable_auth()->clear_refresh_token();
  c.mutable_auth()->set_client_id("client-b");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("auth.refresh_token: required again"),
                             Not(HasSubstr("auth.client_secret: required again")))));
  EXPECT_EQ(core_.GetConnector("graph")->first.auth().client_id(), "client-a");
}

TEST_F(ConfigCoreTest, HttpTokenEndpointOnlyOnLoopback) {
  for (const char* url : {"http://localhost.evil.example/token", "http://127.0.0.1.evil.example/t",
                          "http://user@127.0.0.1@evil.example/t", "http://[::1].evil/t"}) {
    v1::Connector c = Graph();
    c.mutable_auth()->set_token_endpoint(url);
    EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("  - auth.token_endpoint: ")))
        << url;
  }
  v1::Connector c = Graph();
  c.mutable_auth()->set_token_endpoint("http://127.0.0.1:8080/tenant/token");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0), IsOk());
}

TEST_F(ConfigCoreTest, UnusedStoredSecretIsForgottenWhenTheDestinationChanges) {
  ApplySupport();
  v1::Connector c = Support();
  c.mutable_auth()->clear_password();
  c.mutable_auth()->set_method(v1::AUTH_METHOD_OAUTH2);
  c.mutable_auth()->set_client_id("client-a");
  c.mutable_auth()->set_client_secret("oauth-secret");
  c.mutable_auth()->set_token_endpoint("https://login.example/token");
  c.mutable_server()->set_host("imap.example.org");
  auto applied = core_.ApplyConnector(kAlice, c, 0);
  ASSERT_THAT(applied, IsOk());
  EXPECT_FALSE(applied->object.auth().has_password());
  EXPECT_THAT(applied->changed_fields, ::testing::Contains("auth.password"));
  // Back to password auth: the old password is gone, so it cannot follow the new host.
  c.mutable_auth()->set_method(v1::AUTH_METHOD_PASSWORD);
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("auth.password: required for password auth")));
}

TEST_F(ConfigCoreTest, InvalidConnectorListsEveryProblemWithItsPath) {
  v1::Connector c = Support();
  c.set_name("Bad Name");
  c.mutable_server()->set_port(70000);
  c.mutable_settings()->add_skip_windows("25:00-04:00");
  c.mutable_settings()->set_time_zone("Mars/Olympus");
  c.mutable_settings()->set_poll_interval_s(1);
  auto applied = core_.ApplyConnector(kAlice, c, 0);
  EXPECT_THAT(applied, StatusIs(absl::StatusCode::kInvalidArgument,
                                AllOf(HasSubstr("  - name: "), HasSubstr("  - server.port: "),
                                      HasSubstr("  - settings.poll_interval_s: "),
                                      HasSubstr("  - settings.skip_windows[0]: "),
                                      HasSubstr("  - settings.time_zone: "))));
}

// Mail to an address of two incoming connectors would belong to both.
TEST_F(ConfigCoreTest, AliasOfAnotherIncomingConnectorsAddressIsRefused) {
  v1::Connector support = Support();
  support.add_aliases("help@example.com");
  ASSERT_THAT(core_.ApplyConnector(kAlice, support, 0), IsOk());
  v1::Connector billing = Support();
  billing.set_name("billing");
  billing.set_primary_address("billing@example.com");
  billing.add_aliases("invoices@example.com");
  billing.add_aliases("Support@Example.com");
  billing.add_aliases("HELP@example.com");
  EXPECT_THAT(core_.ApplyConnector(kAlice, billing, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("  - aliases[1]: \"support@example.com\" is in the "
                                       "primary_address of connector \"support\""),
                             HasSubstr("  - aliases[2]: \"help@example.com\" is in the aliases "
                                       "of connector \"support\": mail to it would belong to both"),
                             Not(HasSubstr("aliases[0]")))));
  // The other way round: a primary address that is another connector's alias.
  v1::Connector help = Support();
  help.set_name("help");
  help.set_primary_address("help@example.com");
  EXPECT_THAT(core_.ApplyConnector(kAlice, help, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("primary_address: \"help@example.com\" is in the aliases of "
                                 "connector \"support\"")));
  // Re-applying the connector itself clashes with nothing.
  EXPECT_THAT(core_.ApplyConnector(kAlice, support, 0), IsOk());
  billing.clear_aliases();
  billing.add_aliases("invoices@example.com");
  EXPECT_THAT(core_.ApplyConnector(kAlice, billing, 0), IsOk());
}

TEST_F(ConfigCoreTest, AliasesAreBoundedAndNotRepeated) {
  v1::Connector c = Support();
  c.add_aliases("help@example.com");
  c.add_aliases("SUPPORT@example.com");
  c.add_aliases("Help@Example.com");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("aliases[1]: \"support@example.com\" is the "
                                       "primary_address already"),
                             HasSubstr("aliases[2]: \"help@example.com\" repeats aliases[0]"))));
  c.clear_aliases();
  for (int i = 0; i < 101; ++i) c.add_aliases(absl::StrCat("a", i, "@example.com"));
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("aliases: 101 aliases; at most 100")));
}

TEST_F(ConfigCoreTest, PasswordWithLineBreakIsRefusedWithoutEchoingIt) {
  v1::Connector c = Support();
  c.mutable_auth()->set_password("pw\r\nA2 DELETE INBOX");
  auto applied = core_.ApplyConnector(kAlice, c, 0);
  EXPECT_THAT(applied, StatusIs(absl::StatusCode::kInvalidArgument,
                                AllOf(HasSubstr("auth.password: must not contain CR, LF or NUL"),
                                      Not(HasSubstr("DELETE INBOX")))));
}

TEST_F(ConfigCoreTest, UsernameWithNulIsRefused) {
  v1::Connector c = Support();
  c.mutable_auth()->set_username(std::string("support\0admin", 13));
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("auth.username: must not contain CR, LF or NUL")));
}

TEST_F(ConfigCoreTest, FolderWithLineBreakIsRefusedWithIndex) {
  v1::Connector c = Support();
  c.add_folders()->set_folder("Archive\nA9 LOGOUT");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("folders[", c.folders_size() - 1,
                                              "].folder: must not contain CR, LF or NUL"))));
}

TEST_F(ConfigCoreTest, ProcessedFolderWithCarriageReturnIsRefused) {
  v1::Connector c = Support();
  c.set_processed_action(v1::PROCESSED_ACTION_MOVE);
  c.set_processed_folder("Done\r");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("processed_folder: must not contain CR, LF or NUL")));
}

TEST_F(ConfigCoreTest, InvalidSkipWindowIsRefusedWithIndex) {
  v1::Connector c = Support();
  c.mutable_settings()->add_skip_windows("02:00-04:00");
  c.mutable_settings()->add_skip_windows("2am-4am");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("settings.skip_windows[1]: \"2am-4am\" is not a window")));
}

// Absent means the default; an explicit 0 is kept where it means something (no cool-off).
TEST_F(ConfigCoreTest, ExplicitZeroCoolOffIsKept) {
  v1::Connector c = Support();
  c.mutable_settings()->set_cool_off_min(0);
  ASSERT_THAT(core_.ApplyConnector(kAlice, c, 0), IsOk());
  auto got = core_.GetConnector("support");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->first.settings().has_cool_off_min());
  EXPECT_EQ(got->first.settings().cool_off_min(), 0u);
  EXPECT_EQ(got->first.settings().poll_interval_s(), 60u);

  c.mutable_settings()->clear_cool_off_min();
  auto again = core_.ApplyConnector(kAlice, c, 0);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(again->changed_fields, ::testing::Contains("settings.cool_off_min"));
  EXPECT_EQ(again->object.settings().cool_off_min(), 15u);
}

// An explicit 0 once became the protocol's default port silently.
TEST_F(ConfigCoreTest, ZeroPortIsRefusedAndAbsentPortIsTheDefault) {
  v1::Connector c = Support();
  c.mutable_server()->set_port(0);
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("  - server.port: 0 is not a port: use 1-65535")));
  c.mutable_server()->clear_port();
  auto applied = core_.ApplyConnector(kAlice, c, 0);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->object.server().port(), 143u);
}

TEST_F(ConfigCoreTest, ZeroWhereZeroMeansNothingIsRefusedWithItsPath) {
  v1::Connector c = Support();
  v1::ConnectionSettings& s = *c.mutable_settings();
  s.set_poll_interval_s(0);
  s.set_timeout_ms(0);
  s.set_max_tries(0);
  s.set_max_message_bytes(0);
  s.set_error_threshold(0);
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("  - settings.poll_interval_s: must be 10-86400 seconds"),
                             HasSubstr("  - settings.timeout_ms: must be 1000-600000 ms"),
                             HasSubstr("  - settings.max_tries: must be 1-10"),
                             HasSubstr("  - settings.max_message_bytes: must be 1 KiB-150 MiB"),
                             HasSubstr("  - settings.error_threshold: must be 1-1000"))));
}

// A hand-edited row: one error, FAILED_PRECONDITION, as in every other service.
TEST_F(ConfigCoreTest, UnreadableStoredSpecIsFailedPrecondition) {
  ApplySupport();
  ASSERT_THAT(holder_->store().InTransaction([](store::ConfigTx& tx) -> absl::Status {
    auto r = tx.FindConnector("support", /*lock=*/true);
    if (!r.ok()) return r.status();
    (*r)->spec_json = R"({"settings": {"cool_off_min": "soon"}})";
    return tx.UpdateConnector(**r);
  }),
              IsOk());
  EXPECT_THAT(core_.GetConnector("support"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("connector \"support\": stored spec unreadable: ")));
  EXPECT_THAT(core_.ApplyRoute(kAlice, Route("billing", "billing"), 0),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("stored spec unreadable")));
}

TEST_F(ConfigCoreTest, StaleVersionIsAborted) {
  ApplySupport();
  v1::Connector c = Support();
  c.set_description("changed");
  ASSERT_THAT(core_.ApplyConnector(kAlice, c, 1), IsOk());
  c.set_description("changed again");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 1),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("is at version 2, not 1")));
}

TEST_F(ConfigCoreTest, RefusedChangeLeavesNothingBehind) {
  ApplySupport();
  v1::Connector c = Support();
  c.set_description("new");
  c.mutable_server()->set_port(70000);
  ASSERT_THAT(core_.ApplyConnector(kAlice, c, 0), Not(IsOk()));
  auto got = core_.GetConnector("support");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->first.description(), "");
  EXPECT_EQ(got->first.version(), 1);
  EXPECT_EQ(core_.GetHistory("connector", "support", 0)->size(), 1u);
}

TEST_F(ConfigCoreTest, EnableWithoutFallbackIsRefused) {
  v1::Connector c = Support();
  c.clear_fallback();
  ASSERT_THAT(core_.ApplyConnector(kAlice, c, 0), IsOk());
  ASSERT_THAT(core_.TestConnector(kAlice, "support"), IsOk());
  EXPECT_THAT(core_.EnableConnector(kAlice, "support"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no fallback route")));
}

TEST_F(ConfigCoreTest, EnableWithoutPassingTestIsRefused) {
  ApplySupport();
  EXPECT_THAT(core_.EnableConnector(kAlice, "support"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("never tested")));
  tester_.pass = false;
  auto report = core_.TestConnector(kAlice, "support");
  ASSERT_THAT(report, IsOk());
  EXPECT_FALSE(report->passed());
  EXPECT_THAT(core_.EnableConnector(kAlice, "support"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("last connection test failed")));
}

TEST_F(ConfigCoreTest, TesterSeesPlaintextSecret) {
  ApplySupport();
  ASSERT_THAT(core_.TestConnector(kAlice, "support"), IsOk());
  EXPECT_EQ(tester_.last_tested.auth().password(), "s3cret-pass");
}

TEST_F(ConfigCoreTest, ConnectionChangeAfterTestRequiresNewTest) {
  ApplySupport();
  ASSERT_THAT(core_.TestConnector(kAlice, "support"), IsOk());
  clock_.Advance(absl::Seconds(5));
  v1::Connector c = Support();
  c.mutable_server()->set_port(11144);
  ASSERT_THAT(core_.ApplyConnector(kAlice, c, 0), IsOk());
  EXPECT_THAT(core_.EnableConnector(kAlice, "support"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("changed after the last test")));
  clock_.Advance(absl::Seconds(5));
  ASSERT_THAT(core_.TestConnector(kAlice, "support"), IsOk());
  auto enabled = core_.EnableConnector(kAlice, "support");
  ASSERT_THAT(enabled, IsOk());
  EXPECT_EQ(enabled->status(), v1::CONNECTOR_STATUS_ACTIVE);
}

TEST_F(ConfigCoreTest, NonConnectionChangeKeepsTestCurrent) {
  ApplySupport();
  ASSERT_THAT(core_.TestConnector(kAlice, "support"), IsOk());
  clock_.Advance(absl::Seconds(5));
  v1::Connector c = Support();
  c.mutable_settings()->set_poll_interval_s(300);
  ASSERT_THAT(core_.ApplyConnector(kAlice, c, 0), IsOk());
  EXPECT_THAT(core_.EnableConnector(kAlice, "support"), IsOk());
}

TEST_F(ConfigCoreTest, NoTesterMeansTestIsFailedPrecondition) {
  ConfigCore core({.store = &holder_->store(), .sealer = &sealer_, .tester = nullptr,
                   .routes = &routes_, .templates = &templates_, .clock = &clock_});
  ASSERT_THAT(core.ApplyConnector(kAlice, Support(), 0), IsOk());
  EXPECT_THAT(core.TestConnector(kAlice, "support"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no connection test is available for protocol imap")));
}

TEST_F(ConfigCoreTest, ActiveConnectorCannotBeDeleted) {
  ApplySupport();
  ASSERT_THAT(core_.TestConnector(kAlice, "support"), IsOk());
  ASSERT_THAT(core_.EnableConnector(kAlice, "support"), IsOk());
  EXPECT_THAT(core_.DeleteConnector(kAlice, "support", 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("disable it first")));
  ASSERT_THAT(core_.DisableConnector(kAlice, "support"), IsOk());
  EXPECT_THAT(core_.DeleteConnector(kAlice, "support", 0), IsOk());
  EXPECT_THAT(core_.GetConnector("support"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ConfigCoreTest, ConnectorWithStoredMailIsDeletedOnlyWithPurge) {
  ApplySupport();
  holder_->AddMail("support", {.messages = 20, .work_items = 3, .outbox = 2});
  EXPECT_THAT(core_.DeleteConnector(kAlice, "support", 0),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "connector \"support\" has 20 stored messages and 3 work items; "
                       "`postroomctl delete connector support --purge` removes them"));
  ASSERT_THAT(core_.GetConnector("support"), IsOk());

  auto removed = core_.DeleteConnector(kAlice, "support", 0, /*purge=*/true);
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(removed->messages, 20);
  EXPECT_EQ(removed->work_items, 3);
  EXPECT_EQ(removed->outbox, 2);
  EXPECT_THAT(core_.GetConnector("support"), StatusIs(absl::StatusCode::kNotFound));
  auto history = core_.GetHistory("connector", "support", 0);
  ASSERT_THAT(history, IsOk());
  ASSERT_FALSE(history->empty());
  EXPECT_EQ(history->back().action(), "purge");
  // PostgreSQL's jsonb reorders keys and spaces them.
  std::string after = history->back().after_json();
  after.erase(std::remove(after.begin(), after.end(), ' '), after.end());
  EXPECT_THAT(after, AllOf(HasSubstr(R"("purged":{)"), HasSubstr(R"("messages":20)"),
                           HasSubstr(R"("work_items":3)"), HasSubstr(R"("outbox":2)")));

  // Re-created, it starts empty: the purge left nothing behind under its new id.
  ApplySupport();
  EXPECT_THAT(core_.DeleteConnector(kAlice, "support", 0), IsOk());
  EXPECT_EQ(core_.GetHistory("connector", "support", 0)->back().action(), "delete");
}

TEST_F(ConfigCoreTest, PurgeOfAConnectorWithoutMailIsAPlainDelete) {
  ApplySupport();
  auto removed = core_.DeleteConnector(kAlice, "support", 0, /*purge=*/true);
  ASSERT_THAT(removed, IsOk());
  EXPECT_TRUE(removed->empty());
  EXPECT_EQ(core_.GetHistory("connector", "support", 0)->back().action(), "delete");
}

TEST(MailboxIdentityTest, NamesTheMailboxNotTheConnector) {
  v1::Connector a = Support();
  v1::Connector b = Support();
  b.set_name("bench");
  b.mutable_server()->set_host("127.0.0.1");
  b.mutable_auth()->set_username("SUPPORT");
  EXPECT_EQ(MailboxIdentity(a), "imap://support@127.0.0.1:11143");
  EXPECT_EQ(MailboxIdentity(a), MailboxIdentity(b));
  b.mutable_server()->set_port(993);
  EXPECT_NE(MailboxIdentity(a), MailboxIdentity(b));
  b = Support();
  b.set_protocol(v1::PROTOCOL_POP3);
  EXPECT_NE(MailboxIdentity(a), MailboxIdentity(b));
  b = Support();
  b.set_shared_mailbox("hr@example.com");
  EXPECT_EQ(MailboxIdentity(b), "imap://support@127.0.0.1:11143/hr@example.com");
}

TEST_F(ConfigCoreTest, NewRoutesGoBeforeTheFallback) {
  ApplySupport();
  ASSERT_THAT(core_.ApplyRoute(kAlice, Route("invoices", "billing"), 0), IsOk());
  ASSERT_THAT(core_.ApplyRoute(kAlice, Route("urgent", "oncall"), 0), IsOk());
  auto routes = core_.ListRoutes("support");
  ASSERT_THAT(routes, IsOk());
  EXPECT_THAT(RouteNames(*routes), ElementsAre("invoices", "urgent", "fallback"));
  EXPECT_TRUE(routes->back().fallback());
  EXPECT_EQ(routes->back().position(), 3u);
}

TEST_F(ConfigCoreTest, FallbackRouteCannotBeDeletedOrMovedOrApplied) {
  ApplySupport();
  ASSERT_THAT(core_.ApplyRoute(kAlice, Route("invoices", "billing"), 0), IsOk());
  EXPECT_THAT(core_.DeleteRoute(kAlice, "support", "fallback", 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cannot be deleted")));
  EXPECT_THAT(core_.MoveRoute(kAlice, "support", "fallback", "invoices", ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stays last")));
  EXPECT_THAT(core_.MoveRoute(kAlice, "support", "invoices", "", "fallback"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stays last")));
  EXPECT_THAT(core_.ApplyRoute(kAlice, Route("fallback", "x"), 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fallback")));
}

TEST_F(ConfigCoreTest, MoveRouteReordersAndRecordsHistory) {
  ApplySupport();
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_THAT(core_.ApplyRoute(kAlice, Route(name, "q"), 0), IsOk());
  }
  auto moved = core_.MoveRoute(kAlice, "support", "c", "a", "");
  ASSERT_THAT(moved, IsOk());
  EXPECT_THAT(RouteNames(*moved), ElementsAre("c", "a", "b", "fallback"));
  moved = core_.MoveRoute(kAlice, "support", "c", "", "b");
  ASSERT_THAT(moved, IsOk());
  EXPECT_THAT(RouteNames(*moved), ElementsAre("a", "b", "c", "fallback"));
  auto history = core_.GetHistory("route", "support/c", 0);
  ASSERT_THAT(history, IsOk());
  EXPECT_EQ(history->back().action(), "move");
}

TEST_F(ConfigCoreTest, DeletingRouteClosesTheGap) {
  ApplySupport();
  for (const char* name : {"a", "b"}) {
    ASSERT_THAT(core_.ApplyRoute(kAlice, Route(name, "q"), 0), IsOk());
  }
  ASSERT_THAT(core_.DeleteRoute(kAlice, "support", "a", 0), IsOk());
  auto routes = core_.ListRoutes("support");
  ASSERT_THAT(routes, IsOk());
  EXPECT_THAT(RouteNames(*routes), ElementsAre("b", "fallback"));
  EXPECT_EQ((*routes)[0].position(), 1u);
  EXPECT_EQ((*routes)[1].position(), 2u);
}

// Makes the stored `when` of route support/NAME JSON that is not an object, as a hand-written
// or foreign row could be.
absl::Status CorruptStoredWhen(store::ConfigStore& store, const std::string& name) {
  return store.InTransaction([&name](store::ConfigTx& tx) -> absl::Status {
    auto connector = tx.FindConnector("support", /*lock=*/true);
    if (!connector.ok() || !*connector) return absl::NotFoundError("connector support");
    auto routes = tx.ListRoutes((*connector)->id);
    if (!routes.ok()) return routes.status();
    for (store::RouteRecord r : *routes) {
      if (r.name != name) continue;
      r.when_json = R"(["subject_contains"])";
      return tx.UpdateRoute(r);
    }
    return absl::NotFoundError(name);
  });
}

// Reading such a route is an error naming it, never a route without conditions; applying it
// again replaces it.
TEST_F(ConfigCoreTest, StoredRouteThatDoesNotParseIsAnErrorNotAnEmptyRule) {
  ApplySupport();
  ASSERT_THAT(core_.ApplyRoute(kAlice, Route("invoices", "billing"), 0), IsOk());
  ASSERT_THAT(CorruptStoredWhen(holder_->store(), "invoices"), IsOk());
  const auto unreadable = StatusIs(
      absl::StatusCode::kInternal,
      AllOf(HasSubstr("route \"support/invoices\""), HasSubstr("stored when does not parse")));
  EXPECT_THAT(core_.ListRoutes("support"), unreadable);
  EXPECT_THAT(core_.GetRoute("support", "invoices"), unreadable);
  EXPECT_THAT(core_.MoveRoute(kAlice, "support", "invoices", "fallback", ""), unreadable);

  auto repaired = core_.ApplyRoute(kAlice, Route("invoices", "billing"), 0);
  ASSERT_THAT(repaired, IsOk());
  EXPECT_THAT(repaired->changed_fields, ElementsAre("when", "then"));
  auto route = core_.GetRoute("support", "invoices");
  ASSERT_THAT(route, IsOk());
  EXPECT_EQ(route->when().fields().count("subject_contains"), 1u);
  auto history = core_.GetHistory("route", "support/invoices", 0);
  ASSERT_THAT(history, IsOk());
  EXPECT_EQ(history->back().action(), "update");
  EXPECT_THAT(history->back().before_json(), HasSubstr("unreadable"));
}

TEST_F(ConfigCoreTest, StoredRouteThatDoesNotParseCanBeDeleted) {
  ApplySupport();
  ASSERT_THAT(core_.ApplyRoute(kAlice, Route("invoices", "billing"), 0), IsOk());
  ASSERT_THAT(CorruptStoredWhen(holder_->store(), "invoices"), IsOk());
  ASSERT_THAT(core_.DeleteRoute(kAlice, "support", "invoices", 0), IsOk());
  auto routes = core_.ListRoutes("support");
  ASSERT_THAT(routes, IsOk());
  EXPECT_THAT(RouteNames(*routes), ElementsAre("fallback"));
}

TEST_F(ConfigCoreTest, InvalidRouteIsRefusedWithPathsFromTheValidator) {
  ApplySupport();
  v1::Route r = Route("bad", "");
  *r.mutable_when() = Json(R"({"bad": 1})");
  EXPECT_THAT(core_.ApplyRoute(kAlice, r, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("  - when.bad: unknown condition"),
                             HasSubstr("  - then.queue: required"))));
}

TEST_F(ConfigCoreTest, RouteOnOutgoingConnectorIsRefused) {
  v1::Connector smtp;
  smtp.set_name("gateway");
  smtp.set_protocol(v1::PROTOCOL_SMTP);
  smtp.set_direction(v1::DIRECTION_OUTGOING);
  smtp.mutable_server()->set_host("127.0.0.1");
  smtp.mutable_auth()->set_username("u");
  smtp.mutable_auth()->set_password("p");
  smtp.set_primary_address("desk@example.com");
  ASSERT_THAT(core_.ApplyConnector(kAlice, smtp, 0), IsOk());
  v1::Route r = Route("x", "q");
  r.set_connector("gateway");
  EXPECT_THAT(core_.ApplyRoute(kAlice, r, 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("outgoing")));
}

v1::Connector Gateway(const std::string& name, bool system_default = true) {
  v1::Connector c;
  c.set_name(name);
  c.set_protocol(v1::PROTOCOL_SMTP);
  c.set_direction(v1::DIRECTION_OUTGOING);
  c.mutable_server()->set_host("127.0.0.1");
  c.mutable_auth()->set_username("u");
  c.mutable_auth()->set_password("p");
  c.set_primary_address("desk@example.com");
  c.set_system_default(system_default);
  return c;
}

TEST_F(ConfigCoreTest, OnlyOneSystemDefault) {
  auto gateway = [](const std::string& name) { return Gateway(name); };
  ASSERT_THAT(core_.ApplyConnector(kAlice, gateway("one"), 0), IsOk());
  EXPECT_THAT(core_.ApplyConnector(kAlice, gateway("two"), 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("connector \"one\" is the system default")));
}

// Outgoing connectors pass the same gate as incoming ones: a passing test since the last
// connection change.
TEST_F(ConfigCoreTest, OutgoingConnectorNeedsAPassingTestToBeEnabled) {
  ASSERT_THAT(core_.ApplyConnector(kAlice, Gateway("gateway", false), 0), IsOk());
  EXPECT_THAT(core_.EnableConnector(kAlice, "gateway"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("never tested"),
                             HasSubstr("postroomctl test connector gateway"))));
  tester_.pass = false;
  ASSERT_THAT(core_.TestConnector(kAlice, "gateway"), IsOk());
  EXPECT_THAT(core_.EnableConnector(kAlice, "gateway"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("last connection test failed")));
  tester_.pass = true;
  ASSERT_THAT(core_.TestConnector(kAlice, "gateway"), IsOk());
  clock_.Advance(absl::Seconds(5));
  v1::Connector moved = Gateway("gateway", false);
  moved.mutable_server()->set_port(2525);
  ASSERT_THAT(core_.ApplyConnector(kAlice, moved, 0), IsOk());
  EXPECT_THAT(core_.EnableConnector(kAlice, "gateway"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("changed after the last test")));
  clock_.Advance(absl::Seconds(5));
  ASSERT_THAT(core_.TestConnector(kAlice, "gateway"), IsOk());
  auto enabled = core_.EnableConnector(kAlice, "gateway");
  ASSERT_THAT(enabled, IsOk());
  EXPECT_EQ(enabled->status(), v1::CONNECTOR_STATUS_ACTIVE);
}

// The display name is no connection setting: changing it keeps the test current.
TEST_F(ConfigCoreTest, DisplayNameChangeKeepsTheTestCurrent) {
  ASSERT_THAT(core_.ApplyConnector(kAlice, Gateway("gateway", false), 0), IsOk());
  ASSERT_THAT(core_.TestConnector(kAlice, "gateway"), IsOk());
  clock_.Advance(absl::Seconds(5));
  v1::Connector named = Gateway("gateway", false);
  named.set_display_name("Service Desk");
  ASSERT_THAT(core_.ApplyConnector(kAlice, named, 0), IsOk());
  EXPECT_THAT(core_.EnableConnector(kAlice, "gateway"), IsOk());
  EXPECT_EQ(core_.GetConnector("gateway")->first.display_name(), "Service Desk");
}

TEST_F(ConfigCoreTest, DisplayNameWithALineBreakIsRefused) {
  v1::Connector c = Gateway("gateway", false);
  c.set_display_name("Desk\r\nBcc: victim@example.net");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("display_name")));
}

TEST_F(ConfigCoreTest, SaveToSentItemsIsAGraphSetting) {
  v1::Connector c = Gateway("gateway", false);
  c.mutable_settings()->set_save_to_sent_items(false);
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("settings.save_to_sent_items")));
  ASSERT_THAT(core_.ApplyConnector(kAlice, Gateway("gateway", false), 0), IsOk());
  EXPECT_TRUE(core_.GetConnector("gateway")->first.settings().save_to_sent_items());
}

// Mail without a connector of its own goes through the system default: it cannot be disabled
// or deleted while it is the default, only after `system_default: false` is applied.
TEST_F(ConfigCoreTest, SystemDefaultCannotBeDisabledOrDeleted) {
  ASSERT_THAT(core_.ApplyConnector(kAlice, Gateway("gateway"), 0), IsOk());
  ASSERT_THAT(core_.TestConnector(kAlice, "gateway"), IsOk());
  ASSERT_THAT(core_.EnableConnector(kAlice, "gateway"), IsOk());
  EXPECT_THAT(core_.DisableConnector(kAlice, "gateway"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("system default"), HasSubstr("system_default: false"))));
  EXPECT_EQ(core_.GetConnector("gateway")->first.status(), v1::CONNECTOR_STATUS_ACTIVE);
  EXPECT_THAT(core_.DeleteConnector(kAlice, "gateway", 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("system_default: false")));
  ASSERT_THAT(core_.ApplyConnector(kAlice, Gateway("gateway", false), 0), IsOk());
  EXPECT_THAT(core_.DisableConnector(kAlice, "gateway"), IsOk());
  EXPECT_THAT(core_.DeleteConnector(kAlice, "gateway", 0), IsOk());
}

TEST_F(ConfigCoreTest, TemplateInUseCannotBeDeleted) {
  v1::Template t;
  t.set_name("ack");
  t.set_subject("We got it");
  t.set_body_text("Thanks");
  ASSERT_THAT(core_.ApplyTemplate(kAlice, t, 0), IsOk());
  ApplySupport();
  v1::Route r = Route("with-ack", "q");
  (*r.mutable_then()->mutable_fields())["ack_template"].set_string_value("ack");
  ASSERT_THAT(core_.ApplyRoute(kAlice, r, 0), IsOk());
  EXPECT_THAT(core_.DeleteTemplate(kAlice, "ack", 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("support/with-ack")));
}

TEST_F(ConfigCoreTest, TemplateWithUnknownPlaceholderIsRefused) {
  v1::Template t;
  t.set_name("ack");
  t.set_subject("Hello {{unknown}}");
  t.set_body_text("x");
  EXPECT_THAT(core_.ApplyTemplate(kAlice, t, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("  - subject: unknown placeholder")));
}

TEST_F(ConfigCoreTest, UnknownSettingIsRefusedListingKnownKeys) {
  v1::Setting s;
  s.set_key("colour");
  s.set_value("blue");
  EXPECT_THAT(core_.ApplySetting(kAlice, s, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("known: admin_notification_address")));
  s.set_key("admin_notification_address");
  s.set_value("not an address");
  EXPECT_THAT(core_.ApplySetting(kAlice, s, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  s.set_value("ops@example.com");
  EXPECT_THAT(core_.ApplySetting(kAlice, s, 0), IsOk());
}

TEST_F(ConfigCoreTest, AckRequiresAuthenticationNeedsTrustedAuthservIds) {
  v1::Connector c = Support();
  c.set_ack_requires_authentication(true);
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("authserv_ids: ack_requires_authentication needs")));
  c.add_authserv_ids("mx example");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("authserv_ids[0]")));
  c.set_authserv_ids(0, "MX.Example.com");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0), IsOk());
}

TEST_F(ConfigCoreTest, RetentionDaysIsOneToThirtySixThousandFiveHundredOrUnset) {
  v1::Connector c = Support();
  for (uint32_t bad : {0u, 36501u}) {
    c.set_retention_days(bad);
    EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("retention_days: " + std::to_string(bad) +
                                   " is out of range: days of 1-36500")));
  }
  c.set_retention_days(90);
  auto applied = core_.ApplyConnector(kAlice, c, 0);
  ASSERT_THAT(applied, IsOk());
  auto got = core_.GetConnector("support");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->first.retention_days(), 90u);
  c.clear_retention_days();
  ASSERT_THAT(core_.ApplyConnector(kAlice, c, 0), IsOk());
  got = core_.GetConnector("support");
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->first.has_retention_days());
}

TEST_F(ConfigCoreTest, FollowUpTemplateMustExistAndBelongToAnIncomingConnector) {
  v1::Connector c = Support();
  c.set_acknowledge_follow_ups(true);
  c.set_follow_up_template("follow-up");
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("follow_up_template: template \"follow-up\" does not exist")));
  v1::Template t;
  t.set_name("follow-up");
  t.set_subject("We added your message");
  t.set_body_text("Thanks");
  ASSERT_THAT(core_.ApplyTemplate(kAlice, t, 0), IsOk());
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0), IsOk());
  c.set_direction(v1::DIRECTION_OUTGOING);
  EXPECT_THAT(core_.ApplyConnector(kAlice, c, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("only an incoming connector acknowledges follow-ups")));
}

TEST_F(ConfigCoreTest, NumericSettingsKeepTheirRanges) {
  auto apply = [&](const std::string& key, const std::string& value) {
    v1::Setting s;
    s.set_key(key);
    s.set_value(value);
    return core_.ApplySetting(kAlice, s, 0).status();
  };
  EXPECT_THAT(apply("ack_rate_limit_per_hour", "0"), IsOk());  // 0: no acknowledgements.
  EXPECT_THAT(apply("ack_rate_window_min", "0"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1-10080")));
  EXPECT_THAT(apply("ack_rate_window_min", "1440"), IsOk());
  EXPECT_THAT(apply("ack_connector_limit_per_hour", "100001"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0-100000")));
  EXPECT_THAT(apply("ack_connector_limit_per_hour", "0"), IsOk());
  EXPECT_THAT(apply("ack_work_item_limit", "-1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("automatic mails about one work item")));
  EXPECT_THAT(apply("ack_work_item_limit", "1001"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(apply("ack_work_item_limit", "0"), IsOk());  // 0: no limit.
  EXPECT_THAT(apply("ack_rate_limit_per_hour", "1001"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0-1000")));
  EXPECT_THAT(apply("mime_max_depth", "0"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(apply("mime_max_parts", "many"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(apply("mime_max_header_bytes", "512"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1024-16777216")));
  EXPECT_THAT(apply("mime_max_parts", "50"), IsOk());
  EXPECT_THAT(apply("router_max_attempts", "0"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1-100")));
  EXPECT_THAT(apply("router_max_attempts", "101"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(apply("router_max_attempts", "5"), IsOk());
  EXPECT_THAT(apply("retention_days", "36501"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0-36500")));
  EXPECT_THAT(apply("retention_days", "+90"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(apply("retention_days", "0"), IsOk());  // For ever, like unset.
  EXPECT_THAT(apply("retention_days", "365"), IsOk());
}

TEST_F(ConfigCoreTest, BlockedAddressIsNormalised) {
  v1::BlockedAddress b;
  b.set_pattern(" @Spam.Example.COM ");
  auto applied = core_.ApplyBlockedAddress(kAlice, b, 0);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->object.pattern(), "@spam.example.com");
  b.set_pattern("not-a-pattern");
  EXPECT_THAT(core_.ApplyBlockedAddress(kAlice, b, 0), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ConfigCoreTest, HistoryRecordsActorActionAndVersions) {
  ApplySupport();
  ASSERT_THAT(core_.TestConnector(kAlice, "support"), IsOk());
  ASSERT_THAT(core_.EnableConnector(Actor{"bob"}, "support"), IsOk());
  auto history = core_.GetHistory("connector", "support", 0);
  ASSERT_THAT(history, IsOk());
  std::vector<std::string> actions;
  for (const auto& e : *history) actions.push_back(e.action() + "/" + e.actor());
  EXPECT_THAT(actions, ElementsAre("create/alice", "test/alice", "enable/bob"));
  EXPECT_EQ(history->back().version(), 2);
}

// Webhooks (docs/webhooks.md). Over PostgreSQL in config_core_pg_test.

v1::Webhook Desk() {
  v1::Webhook w;
  w.set_name("desk");
  w.set_url("https://desk.example.com/hooks/postroom");
  w.add_events("work_item.created");
  w.add_events("reply.failed");
  w.set_secret("whsec-0123456789abcdef");
  return w;
}

TEST_F(ConfigCoreTest, WebhookIsCreatedEnabledWithItsSecretSealed) {
  auto applied = core_.ApplyWebhook(kAlice, Desk(), 0);
  ASSERT_THAT(applied, IsOk());
  EXPECT_TRUE(applied->created);
  EXPECT_TRUE(applied->object.enabled());
  EXPECT_TRUE(applied->object.has_secret());
  EXPECT_EQ(applied->object.secret(), "");
  EXPECT_EQ(applied->object.version(), 1);
}

TEST_F(ConfigCoreTest, WebhookSecretIsNeverReturnedNorStoredNorAudited) {
  ASSERT_THAT(core_.ApplyWebhook(kAlice, Desk(), 0), IsOk());
  auto got = core_.GetWebhook("desk");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->secret(), "");
  EXPECT_TRUE(got->has_secret());
  auto all = core_.ListWebhooks();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].secret(), "");
  EXPECT_TRUE((*all)[0].has_secret());
  auto history = core_.GetHistory("webhook", "desk", 0);
  ASSERT_THAT(history, IsOk());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_THAT((*history)[0].after_json(), Not(HasSubstr("whsec-0123456789abcdef")));
  EXPECT_THAT((*history)[0].after_json(), HasSubstr("_changed_secrets"));
  // What the store holds: the spec without it, and a ciphertext that is not the plaintext.
  holder_->store().InTransaction([&](store::ConfigTx& tx) -> absl::Status {
    auto doc = tx.FindDocument(store::DocumentKind::kWebhook, "desk", false);
    EXPECT_THAT(doc, IsOk());
    if (doc.ok() && doc->has_value()) {
      EXPECT_THAT((*doc)->spec_json, Not(HasSubstr("whsec")));
      EXPECT_THAT((*doc)->spec_json, Not(HasSubstr("has_secret")));
    }
    auto secret = tx.GetWebhookSecret("desk");
    EXPECT_THAT(secret, IsOk());
    if (secret.ok()) {
      EXPECT_TRUE(secret->has_value());
      if (secret->has_value()) EXPECT_NE((*secret)->sealed, "whsec-0123456789abcdef");
    }
    return absl::OkStatus();
  });
}

TEST_F(ConfigCoreTest, WebhookWithoutSecretIsRefusedWhenCreated) {
  v1::Webhook w = Desk();
  w.clear_secret();
  EXPECT_THAT(core_.ApplyWebhook(kAlice, w, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("  - secret: required")));
  EXPECT_THAT(core_.GetWebhook("desk"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ConfigCoreTest, WebhookEmptySecretOnUpdateKeepsTheStoredOne) {
  ASSERT_THAT(core_.ApplyWebhook(kAlice, Desk(), 0), IsOk());
  v1::Webhook w = Desk();
  w.clear_secret();
  w.add_events("message.bounced");
  auto applied = core_.ApplyWebhook(kAlice, w, 0);
  ASSERT_THAT(applied, IsOk());
  EXPECT_THAT(applied->changed_fields, ElementsAre("events"));
  EXPECT_TRUE(core_.GetWebhook("desk")->has_secret());
  // The same secret again is no change; a new one is, named but never shown.
  EXPECT_THAT(core_.ApplyWebhook(kAlice, Desk(), 0)->changed_fields, ElementsAre("events"));
  v1::Webhook rotated = Desk();
  rotated.set_secret("whsec-rotated-0123456789");
  auto rotation = core_.ApplyWebhook(kAlice, rotated, 0);
  ASSERT_THAT(rotation, IsOk());
  EXPECT_THAT(rotation->changed_fields, ElementsAre("secret"));
  EXPECT_EQ(rotation->object.version(), 4);
}

TEST_F(ConfigCoreTest, WebhookBadUrlIsRefusedWithItsFieldPath) {
  for (const char* url : {"", "desk.example.com/hook", "ftp://desk.example.com/hook",
                          "https://user:pw@desk.example.com/hook", "javascript:alert(1)"}) {
    v1::Webhook w = Desk();
    w.set_url(url);
    EXPECT_THAT(core_.ApplyWebhook(kAlice, w, 0),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("  - url: ")))
        << url;
  }
  EXPECT_THAT(core_.ListWebhooks(), IsOkAndHolds(IsEmpty()));
}

TEST_F(ConfigCoreTest, WebhookPlainHttpOnlyToLoopback) {
  for (const char* url : {"http://desk.example.com/hook", "http://127.0.0.1.evil.example/h",
                          "http://localhost.evil.example/h", "http://10.0.0.1/h",
                          "http://[::2]/h"}) {
    v1::Webhook w = Desk();
    w.set_url(url);
    EXPECT_THAT(core_.ApplyWebhook(kAlice, w, 0),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("url: must be an https:// URL (http only on loopback)")))
        << url;
  }
  for (const char* url : {"http://127.0.0.1:8080/h", "http://localhost/h", "http://[::1]:9/h",
                          "http://127.5.6.7/h"}) {
    v1::Webhook w = Desk();
    w.set_url(url);
    EXPECT_THAT(core_.ApplyWebhook(kAlice, w, 0), IsOk()) << url;
  }
}

TEST_F(ConfigCoreTest, WebhookUnknownOrRepeatedEventIsRefusedWithItsIndex) {
  v1::Webhook w = Desk();
  w.add_events("work_item.deleted");
  w.add_events("work_item.created");
  EXPECT_THAT(core_.ApplyWebhook(kAlice, w, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("  - events[2]: unknown event \"work_item.deleted\""),
                             HasSubstr("  - events[3]: \"work_item.created\" is listed twice"))));
  w.clear_events();
  EXPECT_THAT(core_.ApplyWebhook(kAlice, w, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("  - events: list at least")));
}

TEST_F(ConfigCoreTest, WebhookSecretLengthIsBounded) {
  for (size_t n : {size_t{1}, size_t{15}, size_t{257}, size_t{1} << 20}) {
    v1::Webhook w = Desk();
    w.set_secret(std::string(n, 'k'));
    EXPECT_THAT(core_.ApplyWebhook(kAlice, w, 0),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("  - secret: must be 16")))
        << n;
  }
}

TEST_F(ConfigCoreTest, WebhookDeleteRemovesItAndItsSecret) {
  ASSERT_THAT(core_.ApplyWebhook(kAlice, Desk(), 0), IsOk());
  ASSERT_THAT(core_.DeleteWebhook(kAlice, "desk", 0), IsOk());
  EXPECT_THAT(core_.GetWebhook("desk"), StatusIs(absl::StatusCode::kNotFound));
  v1::Webhook w = Desk();
  w.clear_secret();
  EXPECT_THAT(core_.ApplyWebhook(kAlice, w, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("secret: required")));
  EXPECT_THAT(core_.DeleteWebhook(kAlice, "desk", 0), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace postroom::config
