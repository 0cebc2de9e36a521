#include "tools/postroomctl/printers.h"

#include <google/protobuf/text_format.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace postroom::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
int64_t MsAgo(absl::Duration d) { return absl::ToUnixMillis(kNow - d); }

template <typename T>
T FromText(const std::string& text) {
  T msg;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &msg)) << text;
  return msg;
}

TEST(FormatTable, AlignsColumnsThreeSpacesApartWithoutTrailingSpaces) {
  EXPECT_EQ(FormatTable({"NAME", "STATUS"}, {{"support", "active"}, {"x", ""}}),
            "NAME      STATUS\n"
            "support   active\n"
            "x\n");
}

TEST(FormatAge, UsesKubectlUnits) {
  EXPECT_EQ(FormatAge(absl::Seconds(45)), "45s");
  EXPECT_EQ(FormatAge(absl::Minutes(12)), "12m");
  EXPECT_EQ(FormatAge(absl::Hours(5)), "5h");
  EXPECT_EQ(FormatAge(absl::Hours(24 * 3)), "3d");
  EXPECT_EQ(FormatAge(absl::Hours(24 * 800)), "2y");
  EXPECT_EQ(FormatAge(-absl::Seconds(3)), "0s");
  EXPECT_EQ(FormatAgo(0, kNow), "never");
}

TEST(ConnectorsTable, ShowsStatusErrorsAndAges) {
  v1::Connector in = FromText<v1::Connector>(
      R"pb(name: "support"
           protocol: PROTOCOL_IMAP
           direction: DIRECTION_INCOMING
           status: CONNECTOR_STATUS_DISABLED_BY_SYSTEM
           state { consecutive_incoming_errors: 5 })pb");
  in.mutable_state()->set_last_check_unix_ms(MsAgo(absl::Seconds(30)));
  in.set_modified_at_unix_ms(MsAgo(absl::Hours(50)));
  v1::Connector both = FromText<v1::Connector>(
      R"pb(name: "o365"
           protocol: PROTOCOL_GRAPH
           direction: DIRECTION_BOTH
           status: CONNECTOR_STATUS_ACTIVE
           state { consecutive_incoming_errors: 1 consecutive_outgoing_errors: 2 })pb");
  EXPECT_EQ(ConnectorsTable({in, both}, kNow),
            "NAME      PROTOCOL   DIRECTION   STATUS               ERRORS   LAST-CHECK   AGE\n"
            "support   imap       incoming    disabled_by_system   5        30s          2d\n"
            "o365      graph      both        active               1/2      never        never\n");
}

TEST(RoutesTable, ShowsQueueAndFallback) {
  const auto r1 = FromText<v1::Route>(R"pb(
    connector: "support"
    name: "invoices"
    position: 1
    then {
      fields {
        key: "queue"
        value { string_value: "billing" }
      }
    })pb");
  const auto r2 = FromText<v1::Route>(
      R"pb(connector: "support" name: "fallback" position: 2 fallback: true)pb");
  EXPECT_EQ(RoutesTable({r1, r2}),
            "CONNECTOR   POS   NAME       QUEUE     FALLBACK\n"
            "support     1     invoices   billing   no\n"
            "support     2     fallback   <none>    yes\n");
}

TEST(CompactStruct, IsOneLineOfFlowYaml) {
  const auto r = FromText<v1::Route>(R"pb(
    when {
      fields {
        key: "subject_contains"
        value { list_value { values { string_value: "invoice" } } }
      }
      fields {
        key: "from"
        value {
          struct_value {
            fields {
              key: "domain"
              value { string_value: "x.com" }
            }
          }
        }
      }
    })pb");
  EXPECT_EQ(CompactStruct(r.when()), "{from: {domain: x.com}, subject_contains: [invoice]}");
}

TEST(ChangedFields, ListsTopLevelDifferencesIgnoringVersion) {
  EXPECT_THAT(
      ChangedFields(R"({"name":"a","when":{"x":1},"version":"1","then":{"q":"a"}})",
                    R"({"name":"a","when":{"x":2},"version":"2","then":{"q":"a"},"d":"n"})"),
      ElementsAre("d", "when"));
  EXPECT_THAT(ChangedFields("", R"({"name":"a"})"), IsEmpty());
  EXPECT_THAT(ChangedFields("{not json", R"({"name":"a"})"), IsEmpty());
}

TEST(HistoryTable, ShowsChangesPerEntry) {
  const auto e1 = FromText<v1::AuditEntry>(R"pb(
    version: 1
    action: "create"
    actor: "admin"
    at_unix_ms: 1800000000000
    after_json: "{\"name\":\"a\"}")pb");
  const auto e2 = FromText<v1::AuditEntry>(R"pb(
    version: 2
    action: "update"
    actor: "admin"
    at_unix_ms: 1800000060000
    before_json: "{\"name\":\"a\",\"then\":{}}"
    after_json: "{\"name\":\"a\",\"then\":{\"q\":1}}")pb");
  EXPECT_EQ(HistoryTable({e1, e2}),
            "VERSION   ACTION   ACTOR   TIME                   CHANGES\n"
            "1         create   admin   2027-01-15T08:00:00Z\n"
            "2         update   admin   2027-01-15T08:01:00Z   then\n");
}

TEST(DescribeConnector, ShowsSecretsAsSetAndRoutesWithFallbackLast) {
  const auto c = FromText<v1::Connector>(R"pb(
    name: "support"
    protocol: PROTOCOL_IMAP
    direction: DIRECTION_INCOMING
    status: CONNECTOR_STATUS_ACTIVE
    version: 3
    modified_by: "admin"
    server { host: "127.0.0.1" port: 11143 tls: TLS_MODE_NONE }
    auth { method: AUTH_METHOD_PASSWORD username: "support" has_password: true }
    settings { poll_interval_s: 60 error_threshold: 5 }
    state { consecutive_incoming_errors: 2 last_incoming_error: "NO [AUTHENTICATIONFAILED]\nbad" }
  )pb");
  const auto fallback = FromText<v1::Route>(R"pb(
    connector: "support"
    name: "fallback"
    position: 2
    fallback: true
    then {
      fields {
        key: "queue"
        value { string_value: "support-general" }
      }
    })pb");
  const auto invoices = FromText<v1::Route>(R"pb(
    connector: "support"
    name: "invoices"
    position: 1
    when {
      fields {
        key: "subject_contains"
        value { list_value { values { string_value: "invoice" } } }
      }
    }
    then {
      fields {
        key: "queue"
        value { string_value: "billing" }
      }
    })pb");
  const std::string out = DescribeConnector(c, {fallback, invoices}, {}, kNow);
  EXPECT_THAT(out, HasSubstr("Name:       support\n"));
  EXPECT_THAT(out, HasSubstr("Status:     active\n"));
  EXPECT_THAT(out, HasSubstr("  auth:\n    method: password\n    username: support\n"
                             "    password: <set>\n"));
  EXPECT_THAT(out, Not(HasSubstr("has_password")));
  EXPECT_THAT(out, HasSubstr("    poll_interval_s: 60\n"));
  EXPECT_THAT(out, HasSubstr("Consecutive errors:     incoming 2, outgoing 0 (auto-disable at 5)"));
  EXPECT_THAT(out, HasSubstr("Last incoming error:    NO [AUTHENTICATIONFAILED] bad\n"));
  EXPECT_THAT(out, HasSubstr("  POS   NAME       WHEN                            THEN\n"
                             "  1     invoices   {subject_contains: [invoice]}   {queue: billing}\n"
                             "  2     fallback   <fallback>                      "
                             "{queue: support-general}\n"));
  EXPECT_THAT(out, HasSubstr("History (latest last):\n  <none>\n"));
}

TEST(DescribeConnector, OAuthShowsUnsetSecrets) {
  const auto c = FromText<v1::Connector>(R"pb(
    name: "o365"
    auth { method: AUTH_METHOD_OAUTH2 client_id: "cid" has_client_secret: true })pb");
  const std::string out = DescribeConnector(c, {}, {}, kNow);
  EXPECT_THAT(out, HasSubstr("client_secret: <set>"));
  EXPECT_THAT(out, HasSubstr("refresh_token: <unset>"));
  EXPECT_THAT(out, Not(HasSubstr("password")));
}

TEST(DescribeConnector, SaysWhenOutgoingSendsArePausedAndHowToEndIt) {
  auto c = FromText<v1::Connector>(R"pb(
    name: "gateway"
    direction: DIRECTION_OUTGOING
    state { consecutive_outgoing_errors: 2 })pb");
  c.mutable_state()->set_outgoing_paused_until_unix_ms(absl::ToUnixMillis(kNow + absl::Minutes(1)));
  EXPECT_THAT(DescribeConnector(c, {}, {}, kNow),
              HasSubstr("Sending:                paused after a failed send until "));
  EXPECT_THAT(DescribeConnector(c, {}, {}, kNow),
              HasSubstr("(a passing connection test ends it: postroomctl test connector gateway)"));
  // A pause that has ended is not mentioned.
  EXPECT_THAT(DescribeConnector(c, {}, {}, kNow + absl::Minutes(2)), Not(HasSubstr("Sending:")));
}

TEST(DescribeConnector, SaysWhatRetentionKeepsAndWhere) {
  auto c = FromText<v1::Connector>(R"pb(
    name: "support"
    direction: DIRECTION_INCOMING
    retention_days: 90
    state { retention_removed: 12345 default_retention_days: 365 })pb");
  EXPECT_THAT(DescribeConnector(c, {}, {}, kNow),
              HasSubstr("Retention:              raw mail and bodies kept 90 days (connector "
                        "setting); 12,345 messages older than that removed so far"));
  c.clear_retention_days();
  EXPECT_THAT(DescribeConnector(c, {}, {}, kNow),
              HasSubstr("kept 365 days (system setting retention_days); 12,345 messages"));
  c.mutable_state()->set_default_retention_days(0);
  c.mutable_state()->set_retention_removed(0);
  EXPECT_THAT(DescribeConnector(c, {}, {}, kNow),
              HasSubstr("Retention:              raw mail and bodies kept for ever (no "
                        "retention set)\n"));
  // An outgoing connector stores no mail.
  c.set_direction(v1::DIRECTION_OUTGOING);
  EXPECT_THAT(DescribeConnector(c, {}, {}, kNow), Not(HasSubstr("Retention:")));
}

TEST(DescribeConnector, WarnsWhereAnIncomingConnectorAcknowledgesWithoutAuthentication) {
  const auto acking = FromText<v1::Route>(R"pb(
    name: "fallback"
    fallback: true
    then {
      fields {
        key: "ack_template"
        value { string_value: "ack" }
      }
    })pb");
  const auto quiet = FromText<v1::Route>(R"pb(
    name: "fallback"
    fallback: true
    then {
      fields {
        key: "queue"
        value { string_value: "general" }
      }
    })pb");
  const std::string warning = "Warning: acknowledges mail without ack_requires_authentication";
  auto incoming = FromText<v1::Connector>(R"pb(name: "support" direction: DIRECTION_INCOMING)pb");
  EXPECT_THAT(DescribeConnector(incoming, {acking}, {}, kNow), HasSubstr(warning));
  EXPECT_THAT(DescribeConnector(incoming, {quiet}, {}, kNow), Not(HasSubstr(warning)));
  auto guarded = incoming;
  guarded.set_ack_requires_authentication(true);
  guarded.add_authserv_ids("mx.desk.example");
  EXPECT_THAT(DescribeConnector(guarded, {acking}, {}, kNow), Not(HasSubstr(warning)));
  auto silent = incoming;
  silent.set_send_automated_emails(false);
  EXPECT_THAT(DescribeConnector(silent, {acking}, {}, kNow), Not(HasSubstr(warning)));
  auto outgoing = FromText<v1::Connector>(R"pb(name: "gw" direction: DIRECTION_OUTGOING)pb");
  EXPECT_THAT(DescribeConnector(outgoing, {acking}, {}, kNow), Not(HasSubstr(warning)));
}

TEST(AckOutcomeText, SaysQueuedSuppressedOrNone) {
  auto m = FromText<v1::StoredMessage>(
      R"pb(decision: DECISION_CREATED ack { state: "queued" outbox_id: 17 })pb");
  EXPECT_EQ(AckOutcomeText(m), "queued (outbox 17)");
  m = FromText<v1::StoredMessage>(R"pb(decision: DECISION_CREATED
                                       ack {
                                         state: "suppressed"
                                         reason: "rate_limited"
                                         detail: "jane@client.example already got 5\nsince"
                                       })pb");
  EXPECT_EQ(AckOutcomeText(m), "suppressed (rate_limited: jane@client.example already got 5 since)");
  m = FromText<v1::StoredMessage>(R"pb(decision: DECISION_CREATED)pb");
  EXPECT_EQ(AckOutcomeText(m), "none (route has no ack_template)");
  m = FromText<v1::StoredMessage>(R"pb(decision: DECISION_APPENDED)pb");
  EXPECT_EQ(AckOutcomeText(m), "none (the connector does not acknowledge follow-ups)");
  m = FromText<v1::StoredMessage>(R"pb(decision: DECISION_SPAM)pb");
  EXPECT_EQ(AckOutcomeText(m), "none (no work item was made)");
}

TEST(FormatTestResult, ListsStepsAndNamesTheFailedOne) {
  const auto r = FromText<v1::TestConnectorResponse>(R"pb(
    passed: false
    failed_step: "auth"
    steps { name: "tcp" passed: true duration_ms: 1 detail: "127.0.0.1:11143" }
    steps { name: "auth" passed: false duration_ms: 25 detail: "NO [AUTHENTICATIONFAILED]" })pb");
  EXPECT_EQ(FormatTestResult("support", r),
            "STEP   RESULT   DURATION   DETAIL\n"
            "tcp    passed   1ms        127.0.0.1:11143\n"
            "auth   FAILED   25ms       NO [AUTHENTICATIONFAILED]\n"
            "connector/support: connection test FAILED at step auth\n");
}

TEST(ApplyLine, SaysCreatedConfiguredOrUnchanged) {
  EXPECT_EQ(ApplyLine("connector/support", true, {}), "connector/support created");
  EXPECT_EQ(ApplyLine("route/support/invoices", false, {"when", "then"}),
            "route/support/invoices configured (changed: when, then)");
  EXPECT_EQ(ApplyLine("template/ack", false, {}), "template/ack unchanged");
}

}  // namespace
}  // namespace postroom::ctl

namespace postroom::ctl {
namespace {

// 2027-01-15 10:30 UTC.
const absl::Time kPollNow =
    absl::FromCivil(absl::CivilMinute(2027, 1, 15, 10, 30), absl::UTCTimeZone());

v1::Connector Incoming(v1::ConnectorStatus status = v1::CONNECTOR_STATUS_ACTIVE) {
  v1::Connector c;
  c.set_name("support");
  c.set_direction(v1::DIRECTION_INCOMING);
  c.set_status(status);
  return c;
}

v1::ConnectorOwner Owner(int64_t next_poll_ms, int64_t cool_off_ms = 0, bool live = true) {
  v1::ConnectorOwner o;
  o.set_connector("support");
  o.set_owner("fetcher-1");
  o.set_live(live);
  o.set_expires_at_unix_ms(absl::ToUnixMillis(kPollNow) - 90'000);
  o.set_next_poll_unix_ms(next_poll_ms);
  o.set_cool_off_until_unix_ms(cool_off_ms);
  return o;
}

TEST(PollingLine, SaysWhyAConnectorIsNotPolledOrWhenItIsNext) {
  const int64_t now_ms = absl::ToUnixMillis(kPollNow);
  v1::ConnectorOwner next = Owner(now_ms + 35'000);
  EXPECT_EQ(PollingLine(Incoming(), &next, "", kPollNow), "next poll in 35s (replica fetcher-1)");
  EXPECT_THAT(PollingLine(Incoming(v1::CONNECTOR_STATUS_DRAFT), &next, "", kPollNow),
              HasSubstr("not polled: a draft (postroomctl test connector support"));
  EXPECT_THAT(PollingLine(Incoming(v1::CONNECTOR_STATUS_DISABLED), &next, "", kPollNow),
              HasSubstr("not polled: disabled"));
  v1::Connector auto_disabled = Incoming(v1::CONNECTOR_STATUS_DISABLED_BY_SYSTEM);
  auto_disabled.mutable_state()->set_auto_disabled_reason("5 consecutive errors: LOGIN refused");
  EXPECT_THAT(PollingLine(auto_disabled, &next, "", kPollNow),
              HasSubstr("not polled: auto-disabled: 5 consecutive errors: LOGIN refused"));

  v1::Connector night = Incoming();
  night.mutable_settings()->set_time_zone("Europe/Berlin");  // 11:30 there
  night.mutable_settings()->add_skip_windows("11:00-12:15");
  EXPECT_EQ(PollingLine(night, &next, "", kPollNow),
            "not polled until 12:15 Europe/Berlin (skip window 11:00-12:15)");
  night.mutable_settings()->set_time_zone("UTC");  // 10:30: outside
  EXPECT_EQ(PollingLine(night, &next, "", kPollNow), "next poll in 35s (replica fetcher-1)");
  v1::Connector midnight = Incoming();
  midnight.mutable_settings()->add_skip_windows("22:00-11:00");  // crosses midnight
  EXPECT_THAT(PollingLine(midnight, &next, "", kPollNow), HasSubstr("not polled until 11:00 UTC"));

  v1::ConnectorOwner cooling = Owner(now_ms + 600'000, now_ms + 600'000);
  EXPECT_THAT(PollingLine(Incoming(), &cooling, "", kPollNow),
              HasSubstr("cooling off after a failed poll until 2027-01-15T10:40:00Z"));
  v1::ConnectorOwner expired = Owner(0, 0, /*live=*/false);
  EXPECT_THAT(PollingLine(Incoming(), &expired, "", kPollNow),
              HasSubstr("the lease of replica fetcher-1 expired 90s ago"));
  EXPECT_THAT(PollingLine(Incoming(), nullptr, "", kPollNow),
              HasSubstr("no fetcher replica holds its lease yet"));
  EXPECT_EQ(PollingLine(Incoming(), nullptr, "unknown: the fetcher did not answer", kPollNow),
            "unknown: the fetcher did not answer");
  v1::ConnectorOwner elsewhere = Owner(0);
  EXPECT_THAT(PollingLine(Incoming(), &elsewhere, "", kPollNow),
              HasSubstr("polled by replica fetcher-1"));
  v1::Connector out = Incoming();
  out.set_direction(v1::DIRECTION_OUTGOING);
  EXPECT_EQ(PollingLine(out, nullptr, "", kPollNow), "not polled: outgoing only");
}

}  // namespace
}  // namespace postroom::ctl
