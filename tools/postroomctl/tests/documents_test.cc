#include "tools/postroomctl/documents.h"

#include <google/protobuf/util/message_differencer.h>

#include <chrono>
#include <cstdlib>
#include <future>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace postroom::ctl {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

EnvLookup NoEnv() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

constexpr char kIssueYaml[] = R"(kind: Connector
name: support
protocol: imap            # imap | pop3 | graph | smtp
direction: incoming       # incoming | outgoing | both
server: {host: 127.0.0.1, port: 11143, tls: none}      # none | starttls | implicit
auth: {method: password, username: support, password: secret}
primary_address: support@example.com
settings: {poll_interval_s: 60, timeout_ms: 30000, max_tries: 3, cool_off_min: 15,
           skip_windows: ["02:00-04:00"], error_threshold: 5}
fallback: {queue: support-general}
---
kind: Route
connector: support
name: invoices
when: {subject_contains: [invoice]}
then: {queue: billing}
)";

std::vector<std::string> Refs(const std::vector<Document>& docs) {
  std::vector<std::string> refs;
  for (const Document& d : docs) refs.push_back(ObjectRef(d.object));
  return refs;
}

TEST(ParseDocuments, IssueFileGivesConnectorThenRoute) {
  ParsedDocuments p = ParseDocuments(kIssueYaml, "demo.yaml", NoEnv());
  EXPECT_THAT(p.problems, IsEmpty());
  EXPECT_THAT(Refs(p.documents), ElementsAre("connector/support", "route/support/invoices"));
  EXPECT_EQ(p.documents[0].source, "demo.yaml:1");
  EXPECT_EQ(p.documents[1].source, "demo.yaml:12");
  EXPECT_EQ(std::get<v1::Connector>(p.documents[0].object).auth().password(), "secret");
}

TEST(ParseDocuments, ProblemLineNamesFileLineObjectAndPath) {
  std::string yaml = kIssueYaml;
  yaml.replace(yaml.find("poll_interval_s"), 15, "poll_intervl_s");
  yaml +=
      "---\nkind: Route\nconnector: support\nname: x\nwhen: {a: 1}\nthen: {queue: q}\nqueue: 3\n";
  ParsedDocuments p = ParseDocuments(yaml, "demo.yaml", NoEnv());
  ASSERT_EQ(p.problems.size(), 2u);
  EXPECT_THAT(p.problems[0], HasSubstr("demo.yaml:8: connector \"support\": "
                                       "settings.poll_intervl_s: unknown field"));
  EXPECT_EQ(p.problems[1], "demo.yaml:23: route \"support/x\": queue: unknown field");
  // A document with a problem is not kept; the others are.
  EXPECT_THAT(Refs(p.documents), ElementsAre("route/support/invoices"));
}

TEST(ParseDocuments, MissingAndUnknownKindsAreProblems) {
  ParsedDocuments p = ParseDocuments("name: a\n---\nkind: Conector\nname: b\n", "f.yaml", NoEnv());
  ASSERT_EQ(p.problems.size(), 2u);
  EXPECT_EQ(p.problems[0],
            "f.yaml:1: document 1: missing kind: (one of Setting, Template, BlockedAddress, "
            "Connector, Route, Webhook)");
  EXPECT_THAT(p.problems[1], HasSubstr("f.yaml:3: document 2: kind: unknown kind \"Conector\""));
  EXPECT_THAT(p.documents, IsEmpty());
}

TEST(ParseDocuments, MissingIdentityIsAProblem) {
  ParsedDocuments p = ParseDocuments("kind: Route\nname: x\n", "f.yaml", NoEnv());
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0], "f.yaml:1: route \"/x\": connector: required");
}

TEST(ParseDocuments, SyntaxErrorGivesTheLine) {
  ParsedDocuments p = ParseDocuments("kind: Connector\nname: [a\n", "f.yaml", NoEnv());
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_THAT(p.problems[0], HasSubstr("f.yaml:"));
  EXPECT_THAT(p.problems[0], HasSubstr("invalid YAML"));
}

// Found by yaml_fuzz (docs/fuzzing.md): yaml-cpp 0.7's LoadAll never returns on a stray ','
// outside any collection; it yields empty documents without end and grows until out of memory.
// Run on a thread so that a regression fails here instead of hanging the test binary.
TEST(ParseDocuments, StrayFlowEntryIsAnErrorNotAHang) {
  for (const char* text : {",", "kind: Setting\nkey: a\nvalue: '1'\n---\n,\n", "[1, 2]\n,"}) {
    auto parsed = std::async(std::launch::async,
                             [text] { return ParseDocuments(text, "f.yaml", NoEnv()); });
    if (parsed.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "ParseDocuments did not return on " << text;
      std::_Exit(1);  // The thread cannot be stopped; leaving would wait for it.
    }
    ParsedDocuments p = parsed.get();
    ASSERT_EQ(p.problems.size(), 1u) << text;
    EXPECT_THAT(p.problems[0], HasSubstr("invalid YAML")) << text;
    EXPECT_THAT(p.documents, IsEmpty());
  }
  ParsedDocuments p = ParseDocuments("a: 1\n---\n,\n", "f.yaml", NoEnv());
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0], "f.yaml:3: invalid YAML: unexpected ','");
}

TEST(ParseDocuments, ListsAndEmptyDocumentsAreAccepted) {
  ParsedDocuments p = ParseDocuments(
      "---\n- {kind: Setting, key: a, value: '1'}\n---\n"
      "kind: List\nitems:\n- {kind: Template, name: t}\n---\n",
      "f.yaml", NoEnv());
  EXPECT_THAT(p.problems, IsEmpty());
  EXPECT_THAT(Refs(p.documents), ElementsAre("setting/a", "template/t"));
}

TEST(ParseDocuments, VersionIsKeptForStrictApply) {
  ParsedDocuments p = ParseDocuments("kind: Template\nname: t\nversion: 4\n", "f", NoEnv());
  ASSERT_EQ(p.documents.size(), 1u);
  EXPECT_EQ(p.documents[0].version, 4);
}

TEST(OrderForApply, DependenciesFirstWrittenOrderWithinAKind) {
  ParsedDocuments p = ParseDocuments(R"(
kind: Route
connector: support
name: r1
---
kind: Connector
name: support
direction: incoming
---
kind: Route
connector: support
name: r0
---
kind: Connector
name: both
direction: both
---
kind: Connector
name: out
direction: outgoing
---
kind: BlockedAddress
pattern: "@spam.example"
---
kind: Template
name: ack
---
kind: Setting
key: default_outgoing_connector
value: out
)",
                                     "f", NoEnv());
  ASSERT_THAT(p.problems, IsEmpty());
  EXPECT_THAT(Refs(OrderForApply(p.documents)),
              ElementsAre("setting/default_outgoing_connector", "template/ack",
                          "blocked-address/@spam.example", "connector/out", "connector/both",
                          "connector/support", "route/support/r1", "route/support/r0"));
}

TEST(ToYaml, OutputAppliesBackToTheSameObjects) {
  ParsedDocuments p = ParseDocuments(kIssueYaml, "demo.yaml", NoEnv());
  ASSERT_THAT(p.problems, IsEmpty());
  v1::Connector served = std::get<v1::Connector>(p.documents[0].object);
  // What the server sends back: secrets blanked, output-only fields set.
  served.mutable_auth()->clear_password();
  served.mutable_auth()->set_has_password(true);
  served.set_status(v1::CONNECTOR_STATUS_ACTIVE);
  served.set_version(3);
  served.mutable_state()->set_consecutive_incoming_errors(2);
  const v1::Route& route = std::get<v1::Route>(p.documents[1].object);
  const std::string yaml = ToYaml({&served, &route});
  EXPECT_THAT(yaml, HasSubstr("kind: Connector\nname: support\nprotocol: imap\n"));
  EXPECT_THAT(yaml, HasSubstr("\n---\nkind: Route\n"));
  EXPECT_THAT(yaml, HasSubstr("status: active"));

  ParsedDocuments back = ParseDocuments(yaml, "out.yaml", NoEnv());
  ASSERT_THAT(back.problems, IsEmpty()) << yaml;
  ASSERT_EQ(back.documents.size(), 2u);
  v1::Connector want = served;
  want.clear_status();
  want.clear_version();
  want.clear_state();
  want.mutable_auth()->clear_has_password();
  EXPECT_TRUE(MessageDifferencer::Equals(want, AsMessage(back.documents[0].object))) << yaml;
  EXPECT_TRUE(MessageDifferencer::Equals(route, AsMessage(back.documents[1].object))) << yaml;
  EXPECT_EQ(back.documents[0].version, 3);
}

TEST(ToJson, OutputAppliesBackToTheSameObjects) {
  ParsedDocuments p = ParseDocuments(kIssueYaml, "demo.yaml", NoEnv());
  ASSERT_THAT(p.problems, IsEmpty());
  const v1::Connector& c = std::get<v1::Connector>(p.documents[0].object);
  const v1::Route& r = std::get<v1::Route>(p.documents[1].object);
  const std::string one = ToJson({&c});
  EXPECT_THAT(one, HasSubstr("{\n  \"kind\": \"Connector\",\n  \"name\": \"support\",\n"));
  EXPECT_THAT(one, HasSubstr("\"primary_address\""));  // Proto field names, not camelCase.
  const std::string list = ToJson({&c, &r});
  EXPECT_THAT(list, HasSubstr("{\n  \"kind\": \"List\",\n  \"items\": [\n    {\n      \"kind\""));
  for (const std::string& json : {one, list}) {
    ParsedDocuments back = ParseDocuments(json, "out.json", NoEnv());
    ASSERT_THAT(back.problems, IsEmpty()) << json;
    EXPECT_TRUE(MessageDifferencer::Equals(c, AsMessage(back.documents[0].object))) << json;
  }
  ParsedDocuments back = ParseDocuments(list, "out.json", NoEnv());
  ASSERT_EQ(back.documents.size(), 2u);
  EXPECT_TRUE(MessageDifferencer::Equals(r, AsMessage(back.documents[1].object))) << list;
}

TEST(KindFromCliName, AcceptsSingularPluralAndYamlNames) {
  EXPECT_EQ(KindFromCliName("connectors"), Kind::kConnector);
  EXPECT_EQ(KindFromCliName("route"), Kind::kRoute);
  EXPECT_EQ(KindFromCliName("blocked-addresses"), Kind::kBlockedAddress);
  EXPECT_EQ(KindFromCliName("BlockedAddress"), Kind::kBlockedAddress);
  EXPECT_EQ(KindFromCliName("settings"), Kind::kSetting);
  EXPECT_EQ(KindFromCliName("widgets"), std::nullopt);
}

}  // namespace
}  // namespace postroom::ctl
