#include "tools/postroomctl/yaml_proto.h"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "postroom/v1/config.pb.h"

namespace postroom::ctl {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

template <typename T>
T Parse(const std::string& yaml, std::vector<Problem>* problems,
        const EnvLookup& env = FakeEnv({})) {
  T msg;
  YamlToMessage(YAML::Load(yaml), "", {"kind"}, env, &msg, problems);
  return msg;
}

template <typename T>
T FromText(const std::string& text) {
  T msg;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &msg)) << text;
  return msg;
}

std::string ToYamlText(const google::protobuf::Message& msg) {
  YAML::Emitter e;
  e << YAML::BeginMap;
  EmitMessageFields(msg, true, e);
  e << YAML::EndMap;
  return e.c_str();
}

TEST(YamlToMessage, IssueConnectorMapsExactly) {
  std::vector<Problem> problems;
  const v1::Connector got = Parse<v1::Connector>(R"(
kind: Connector
name: support
protocol: imap            # imap | pop3 | graph | smtp
direction: incoming       # incoming | outgoing | both
server: {host: 127.0.0.1, port: 11143, tls: none}      # none | starttls | implicit
auth: {method: password, username: support, password: secret}
primary_address: support@example.com
settings: {poll_interval_s: 60, timeout_ms: 30000, max_tries: 3, cool_off_min: 15,
           skip_windows: ["02:00-04:00"], error_threshold: 5}
fallback: {queue: support-general}
)",
                                                 &problems);
  EXPECT_THAT(problems, IsEmpty());
  const auto want = FromText<v1::Connector>(R"pb(
    name: "support"
    protocol: PROTOCOL_IMAP
    direction: DIRECTION_INCOMING
    server { host: "127.0.0.1" port: 11143 tls: TLS_MODE_NONE }
    auth { method: AUTH_METHOD_PASSWORD username: "support" password: "secret" }
    primary_address: "support@example.com"
    settings {
      poll_interval_s: 60
      timeout_ms: 30000
      max_tries: 3
      cool_off_min: 15
      skip_windows: "02:00-04:00"
      error_threshold: 5
    }
    fallback {
      fields {
        key: "queue"
        value { string_value: "support-general" }
      }
    }
  )pb");
  std::string diff;
  MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(want, got)) << diff;
}

TEST(YamlToMessage, IssueRouteMapsExactly) {
  std::vector<Problem> problems;
  const v1::Route got = Parse<v1::Route>(R"(
kind: Route
connector: support
name: invoices
when: {subject_contains: [invoice]}
then: {queue: billing}
)",
                                         &problems);
  EXPECT_THAT(problems, IsEmpty());
  const auto want = FromText<v1::Route>(R"pb(
    connector: "support"
    name: "invoices"
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
    }
  )pb");
  EXPECT_TRUE(MessageDifferencer::Equals(want, got)) << got.DebugString();
}

TEST(YamlToMessage, UnknownKeyIsRefusedWithPathLineAndSuggestion) {
  std::vector<Problem> problems;
  Parse<v1::Connector>("name: support\nsettings:\n  poll_intervl_s: 60\n", &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_EQ(problems[0].path, "settings.poll_intervl_s");
  EXPECT_EQ(problems[0].message, "unknown field (did you mean \"poll_interval_s\"?)");
}

TEST(YamlToMessage, EveryProblemIsReportedNotOnlyTheFirst) {
  std::vector<Problem> problems;
  Parse<v1::Connector>("nme: support\nprotocol: imapx\nserver: {port: abc}\n", &problems);
  EXPECT_THAT(problems, ElementsAre(Field(&Problem::path, "nme"), Field(&Problem::path, "protocol"),
                                    Field(&Problem::path, "server.port")));
}

TEST(YamlToMessage, UnknownEnumValueListsAllowedValues) {
  std::vector<Problem> problems;
  Parse<v1::Connector>("protocol: imap4\nserver: {tls: ssl}\n", &problems);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].message, "unknown value \"imap4\"; allowed: imap, pop3, graph, smtp");
  EXPECT_EQ(problems[1].path, "server.tls");
  EXPECT_EQ(problems[1].message, "unknown value \"ssl\"; allowed: none, starttls, implicit");
}

TEST(YamlToMessage, ShortEnumsCoverEveryConfigEnum) {
  std::vector<Problem> problems;
  const auto c = Parse<v1::Connector>(
      "provider: office365\ndirection: both\nauth: {method: oauth2}\nprocessed_action: mark_read\n",
      &problems);
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_EQ(c.provider(), v1::PROVIDER_PRESET_OFFICE365);
  EXPECT_EQ(c.direction(), v1::DIRECTION_BOTH);
  EXPECT_EQ(c.auth().method(), v1::AUTH_METHOD_OAUTH2);
  EXPECT_EQ(c.processed_action(), v1::PROCESSED_ACTION_MARK_READ);
}

TEST(YamlToMessage, FullEnumNamesFromProtoJsonAreAccepted) {
  std::vector<Problem> problems;
  const auto c = Parse<v1::Connector>("protocol: PROTOCOL_POP3\n", &problems);
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_EQ(c.protocol(), v1::PROTOCOL_POP3);
}

TEST(YamlToMessage, UnspecifiedEnumValueIsRefused) {
  std::vector<Problem> problems;
  Parse<v1::Connector>("protocol: unspecified\n", &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].message, HasSubstr("allowed: imap, pop3"));
}

TEST(YamlToMessage, WrongTypesAreRefusedWithExpectation) {
  std::vector<Problem> problems;
  Parse<v1::Connector>(
      "server: {port: -1}\nsettings: {skip_windows: \"02:00-04:00\", max_tries: 3.5}\n"
      "test_mode_only: maybe\nauth: [password]\nname: {a: b}\n",
      &problems);
  ASSERT_EQ(problems.size(), 6u);
  EXPECT_EQ(problems[0].path, "server.port");
  EXPECT_THAT(problems[0].message, HasSubstr("non-negative integer"));
  EXPECT_EQ(problems[1].path, "settings.skip_windows");
  EXPECT_EQ(problems[1].message, "expected a list, got \"02:00-04:00\"");
  EXPECT_EQ(problems[2].path, "settings.max_tries");
  EXPECT_EQ(problems[3].message, "expected true or false, got \"maybe\"");
  EXPECT_EQ(problems[4].message, "expected a map of fields, got a list");
  EXPECT_EQ(problems[5].message, "expected a string, got a map");
}

TEST(YamlToMessage, Uint32OverflowIsRefused) {
  std::vector<Problem> problems;
  Parse<v1::Connector>("server: {port: 4294967296}\n", &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "server.port");
}

TEST(YamlToMessage, DuplicateKeyIsRefused) {
  std::vector<Problem> problems;
  Parse<v1::Connector>("name: a\nname: b\n", &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, "duplicate key");
  EXPECT_EQ(problems[0].line, 2);
}

TEST(YamlToMessage, StructMustBeAMap) {
  std::vector<Problem> problems;
  Parse<v1::Route>("when: [subject_contains]\n", &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "when");
}

TEST(YamlToMessage, SecretsComeFromTheEnvironment) {
  std::vector<Problem> problems;
  const auto c =
      Parse<v1::Connector>("auth: {method: oauth2, client_secret_env: CS, refresh_token_env: RT}\n",
                           &problems, FakeEnv({{"CS", "s3cret"}, {"RT", "r3fresh"}}));
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_EQ(c.auth().client_secret(), "s3cret");
  EXPECT_EQ(c.auth().refresh_token(), "r3fresh");
  const auto p =
      Parse<v1::Connector>("auth: {password_env: PW}\n", &problems, FakeEnv({{"PW", "pw"}}));
  EXPECT_EQ(p.auth().password(), "pw");
}

TEST(YamlToMessage, UnsetSecretVariableIsRefused) {
  std::vector<Problem> problems;
  Parse<v1::Connector>("auth:\n  password_env: SUPPORT_PASSWORD\n", &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "auth.password_env");
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_THAT(problems[0].message, HasSubstr("environment variable SUPPORT_PASSWORD is not set"));
}

TEST(YamlToMessage, SecretAndItsEnvTogetherAreRefused) {
  std::vector<Problem> problems;
  Parse<v1::Connector>("auth: {password: x, password_env: PW}\n", &problems,
                       FakeEnv({{"PW", "pw"}}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, "give either password or password_env, not both");
}

TEST(YamlToMessage, EnvSuffixOnANonSecretIsUnknown) {
  std::vector<Problem> problems;
  Parse<v1::Connector>("auth: {username_env: U}\n", &problems, FakeEnv({{"U", "u"}}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].message, HasSubstr("unknown field"));
}

TEST(YamlToMessage, OutputOnlyFieldsAreIgnored) {
  std::vector<Problem> problems;
  const auto c = Parse<v1::Connector>(
      "name: support\nstatus: active\nversion: 7\nmodified_by: alice\nmodified_at_unix_ms: 5\n"
      "state: {consecutive_incoming_errors: 3}\nauth: {has_password: true}\n",
      &problems);
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_EQ(c.version(), 0);
  EXPECT_FALSE(c.has_state());
  EXPECT_FALSE(c.auth().has_password());
  const auto r = Parse<v1::Route>("name: x\nposition: 3\nfallback: true\n", &problems);
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_EQ(r.position(), 0u);
  EXPECT_FALSE(r.fallback());
}

TEST(YamlToMessage, OptionalBoolKeepsPresence) {
  std::vector<Problem> problems;
  const auto c = Parse<v1::Connector>("send_automated_emails: false\n", &problems);
  EXPECT_TRUE(c.has_send_automated_emails());
  EXPECT_FALSE(c.send_automated_emails());
}

TEST(YamlToValue, PlainScalarsAreTypedQuotedStayStrings) {
  const google::protobuf::Value v =
      YamlToValue(YAML::Load("{a: 5, b: '5', c: true, d: \"true\", e: ~, f: 1.5, g: x1}"));
  const auto& f = v.struct_value().fields();
  EXPECT_EQ(f.at("a").number_value(), 5);
  EXPECT_EQ(f.at("b").string_value(), "5");
  EXPECT_TRUE(f.at("c").bool_value());
  EXPECT_EQ(f.at("d").string_value(), "true");
  EXPECT_EQ(f.at("e").kind_case(), google::protobuf::Value::kNullValue);
  EXPECT_EQ(f.at("f").number_value(), 1.5);
  EXPECT_EQ(f.at("g").string_value(), "x1");
}

TEST(EmitMessageFields, ConnectorRoundTripsThroughYaml) {
  const auto original = FromText<v1::Connector>(R"pb(
    name: "support"
    description: "Support: the main mailbox"
    protocol: PROTOCOL_IMAP
    provider: PROVIDER_PRESET_GMAIL
    direction: DIRECTION_BOTH
    server { host: "127.0.0.1" port: 11143 tls: TLS_MODE_STARTTLS }
    auth { method: AUTH_METHOD_PASSWORD username: "support" }
    aliases: "help@example.com"
    aliases: "@weird"
    folders { folder: "INBOX" queue: "" }
    folders { folder: "Urgent" queue: "urgent" }
    processed_action: PROCESSED_ACTION_MOVE
    settings { poll_interval_s: 60 skip_windows: "02:00-04:00" max_message_bytes: 26214400 }
    send_automated_emails: false
    subject_token_prefix: "true"
    fallback {
      fields {
        key: "queue"
        value { string_value: "123" }
      }
      fields {
        key: "priority"
        value { number_value: 2 }
      }
      fields {
        key: "ratio"
        value { number_value: 0.1 }
      }
      fields {
        key: "notify"
        value { bool_value: true }
      }
      fields {
        key: "tags"
        value {
          list_value {
            values { string_value: "a b" }
            values { string_value: "" }
            values { null_value: NULL_VALUE }
          }
        }
      }
    }
  )pb");
  const std::string yaml = ToYamlText(original);
  std::vector<Problem> problems;
  const auto back = Parse<v1::Connector>(yaml, &problems);
  EXPECT_THAT(problems, IsEmpty()) << yaml;
  std::string diff;
  MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(original, back)) << diff << "\n" << yaml;
  // And once more: the YAML is stable.
  EXPECT_EQ(ToYamlText(back), yaml);
}

TEST(EmitMessageFields, MultiLineTextRoundTrips) {
  for (const std::string text : {"Hello,\nwe got it.\n", "no newline at end\nsecond", "a\n\n",
                                 "  leading\n", "tab\there\n"}) {
    v1::Template t;
    t.set_name("ack");
    t.set_body_text(text);
    std::vector<Problem> problems;
    const auto back = Parse<v1::Template>(ToYamlText(t), &problems);
    EXPECT_THAT(problems, IsEmpty());
    EXPECT_EQ(back.body_text(), text) << ToYamlText(t);
  }
}

TEST(EmitMessageFields, IssueYamlReadsBackAsWritten) {
  std::vector<Problem> problems;
  const auto c = Parse<v1::Connector>(
      "name: support\nprotocol: imap\ndirection: incoming\n"
      "server: {host: 127.0.0.1, port: 11143, tls: none}\n",
      &problems);
  EXPECT_EQ(ToYamlText(c),
            "name: support\nprotocol: imap\ndirection: incoming\nserver:\n  host: 127.0.0.1\n"
            "  port: 11143\n  tls: none");
}

TEST(EmitMessageFields, EmptyMessageIsAFlowMapOnItsKeyLine) {
  v1::Connector c;
  c.set_name("x");
  c.mutable_state();
  EXPECT_EQ(ToYamlText(c), "name: x\nstate: {}");
}

TEST(ShortEnumName, StripsTheEnumPrefix) {
  EXPECT_EQ(
      ShortEnumName(*v1::ProviderPreset_descriptor()->FindValueByName("PROVIDER_PRESET_OFFICE365")),
      "office365");
  EXPECT_EQ(ShortEnumName(*v1::ConnectorStatus_descriptor()->FindValueByName(
                "CONNECTOR_STATUS_DISABLED_BY_SYSTEM")),
            "disabled_by_system");
  EXPECT_THAT(AllowedEnumValues(*v1::ProcessedAction_descriptor()),
              ElementsAre("leave", "mark_read", "move", "delete"));
}

TEST(ClosestName, SuggestsOnlyNearNames) {
  EXPECT_EQ(ClosestName("primary_adress", {"primary_address", "reply_to"}), "primary_address");
  EXPECT_EQ(ClosestName("colour", {"primary_address", "reply_to"}), "");
}

}  // namespace
}  // namespace postroom::ctl
