// Save-time validation: every refusal with its path, and all errors collected in one call.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/rules/route.h"
#include "libs/rules/rules_test_util.h"
#include "tests/support/status_matchers.h"

namespace postroom {
void PrintTo(const FieldError& e, std::ostream* os) { *os << rules::FormatFieldError(e); }
}  // namespace postroom

namespace postroom::rules {
namespace {

using postroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using testutil::Json;

auto Err(const std::string& path, auto message_matcher) {
  return AllOf(Field(&FieldError::path, path), Field(&FieldError::message, message_matcher));
}

std::vector<FieldError> When(const std::string& when_json) {
  return ValidateRoute(Json(when_json), Json(R"({"queue": "q"})"), RouteContext{});
}

std::vector<FieldError> Then(const std::string& then_json, const RouteContext& context = {}) {
  return ValidateRoute(Json(R"({"subject_contains": "x"})"), Json(then_json), context);
}

TEST(ValidateRoute, AcceptsTheDocumentedExample) {
  EXPECT_THAT(ValidateRoute(Json(R"({"subject_contains": ["invoice"]})"),
                            Json(R"({"queue": "billing"})"), RouteContext{}),
              IsEmpty());
}

TEST(ValidateRoute, AcceptsEveryConditionKind) {
  const char* when = R"({
    "subject_contains": "a", "subject_equals": ["b"], "subject_matches": "^c",
    "body_contains": "d", "body_matches": "e+",
    "from_address": "a@b.example", "from_domain": ["b.example", "*.c.example", "@d.example"],
    "from_matches": "x", "from_name_contains": "y",
    "to": ["s@e.example"], "to_address": "t@e.example", "cc_address": ["c@e.example"],
    "recipient_address": "r@e.example", "recipient_domain": "e.example", "recipient_tag": "t",
    "recipient": {"in": ["to", "delivered_to"], "domain": "e.example", "tag": "billing"},
    "header": {"name": "X-Priority", "equals": "1"},
    "has_attachment": true, "attachment_name_matches": "\\.pdf$",
    "attachment_type": ["application/pdf", "image/*"], "importance": ["high", "low"],
    "folder": "INBOX", "queue_hint": "billing",
    "all": [{"subject_contains": "x"}], "any": [{"importance": "normal"}],
    "not": {"header": {"name": "List-Id", "present": true}}
  })";
  EXPECT_THAT(When(when), IsEmpty());
}

TEST(ValidateRoute, UnknownConditionSuggestsTheClosestKey) {
  EXPECT_THAT(
      When(R"({"subjet_contains": "x"})"),
      ElementsAre(Err("when.subjet_contains",
                      StartsWith(R"(unknown condition; did you mean "subject_contains"?)"))));
}

TEST(ValidateRoute, UnknownConditionWithoutCloseKey) {
  EXPECT_THAT(When(R"({"colour": "red"})"),
              ElementsAre(Err("when.colour",
                              "unknown condition (see docs/routes.md for the "
                              "condition keys)")));
}

TEST(ValidateRoute, WrongTypes) {
  EXPECT_THAT(When(R"({"subject_contains": 3})"),
              ElementsAre(Err("when.subject_contains",
                              "expected a string or a list of strings, got a number (put it in "
                              "quotes to make it text)")));
  EXPECT_THAT(When(R"({"has_attachment": "yes"})"),
              ElementsAre(Err("when.has_attachment", "expected true or false, got a string")));
  EXPECT_THAT(
      When(R"({"subject_contains": ["a", 2, null]})"),
      ElementsAre(Err("when.subject_contains[1]", HasSubstr("expected a string, got a number")),
                  Err("when.subject_contains[2]", "expected a string, got null")));
  EXPECT_THAT(When(R"({"not": ["x"]})"),
              ElementsAre(Err("when.not", "expected a condition object, got a list")));
  EXPECT_THAT(When(R"({"any": {"subject_contains": "x"}})"),
              ElementsAre(Err("when.any", "expected a list of condition objects, got an object")));
  EXPECT_THAT(When(R"({"header": "X-Priority"})"),
              ElementsAre(Err("when.header", HasSubstr("expected an object"))));
  EXPECT_THAT(When(R"({"recipient": true})"),
              ElementsAre(Err("when.recipient", HasSubstr("expected an object"))));
}

TEST(ValidateRoute, EmptyValuesAndLists) {
  EXPECT_THAT(When(R"({"subject_contains": ""})"),
              ElementsAre(Err("when.subject_contains", "must not be empty")));
  EXPECT_THAT(When(R"({"subject_contains": []})"),
              ElementsAre(Err("when.subject_contains", "must not be an empty list")));
  EXPECT_THAT(When(R"({"body_contains": ["a", ""]})"),
              ElementsAre(Err("when.body_contains[1]", "must not be empty")));
  EXPECT_THAT(When(R"({"all": []})"), ElementsAre(Err("when.all", "must not be an empty list")));
  EXPECT_THAT(When(R"({"any": [{}]})"),
              ElementsAre(Err("when.any[0]", HasSubstr("must not be empty"))));
  EXPECT_THAT(When(R"({"not": {}})"), ElementsAre(Err("when.not", HasSubstr("must not be empty"))));
}

TEST(ValidateRoute, BadRegexCarriesRe2Error) {
  EXPECT_THAT(
      When(R"({"subject_matches": "(unclosed"})"),
      ElementsAre(Err("when.subject_matches",
                      R"(invalid RE2 regular expression "(unclosed": missing ): (unclosed)")));
}

TEST(ValidateRoute, BadRegexInListAndNestedGetsIndexedPath) {
  EXPECT_THAT(
      When(R"({"any": [{"subject_contains": "x"}, {"subject_matches": ["ok", "a**"]}]})"),
      ElementsAre(Err("when.any[1].subject_matches[1]",
                      HasSubstr("invalid RE2 regular expression \"a**\": bad repetition"))));
}

TEST(ValidateRoute, RefusesPerlOnlyRegexFeatures) {
  // Backreferences and lookarounds are not RE2: they could take exponential time.
  EXPECT_THAT(When(R"({"body_matches": "(a)\\1"})"),
              ElementsAre(Err("when.body_matches", HasSubstr("invalid escape sequence"))));
  EXPECT_THAT(When(R"j({"header": {"name": "X", "matches": "(?=a)"}})j"),
              ElementsAre(Err("when.header.matches", HasSubstr("invalid RE2"))));
  EXPECT_THAT(When(R"({"attachment_name_matches": "[z-a]"})"),
              ElementsAre(Err("when.attachment_name_matches",
                              HasSubstr("invalid character class range: z-a"))));
}

TEST(ValidateRoute, RefusesOverlongRegex) {
  std::string when = R"({"subject_matches": ")" + std::string(5000, 'a') + R"("})";
  EXPECT_THAT(When(when), ElementsAre(Err("when.subject_matches", HasSubstr("longer than 4096"))));
}

TEST(ValidateRoute, BadAddressesDomainsTagsTypes) {
  EXPECT_THAT(When(R"({"from_address": "jane"})"),
              ElementsAre(Err("when.from_address", HasSubstr("is not an email address"))));
  EXPECT_THAT(When(R"({"to_address": ["a@b.example", "Jane <j@b.example>"]})"),
              ElementsAre(Err("when.to_address[1]", HasSubstr("is not an email address"))));
  EXPECT_THAT(When(R"({"to": ["help@b.example", "help"]})"),
              ElementsAre(Err("when.to[1]", HasSubstr("is not an email address"))));
  EXPECT_THAT(When(R"({"to": []})"), ElementsAre(Err("when.to", HasSubstr("empty"))));
  EXPECT_THAT(When(R"({"to": 3})"), ElementsAre(Err("when.to", HasSubstr("a number"))));
  EXPECT_THAT(When(R"({"from_domain": "a b.example"})"),
              ElementsAre(Err("when.from_domain", HasSubstr("is not a domain"))));
  EXPECT_THAT(When(R"({"recipient_domain": "x@y.example"})"),
              ElementsAre(Err("when.recipient_domain", HasSubstr("is not a domain"))));
  EXPECT_THAT(When(R"({"recipient_domain": "ex*.com"})"),
              ElementsAre(Err("when.recipient_domain", HasSubstr("is not a domain"))));
  EXPECT_THAT(When(R"({"recipient_tag": "+billing"})"),
              ElementsAre(Err("when.recipient_tag", HasSubstr("is not a tag"))));
  EXPECT_THAT(When(R"({"attachment_type": "pdf"})"),
              ElementsAre(Err("when.attachment_type", HasSubstr("is not a MIME type"))));
  EXPECT_THAT(When(R"({"attachment_type": ["*/*", "image/p*", "text/plain; charset=x"]})"),
              ElementsAre(Err("when.attachment_type[0]", HasSubstr("is not a MIME type")),
                          Err("when.attachment_type[1]", HasSubstr("is not a MIME type")),
                          Err("when.attachment_type[2]", HasSubstr("is not a MIME type"))));
}

TEST(ValidateRoute, UnknownImportance) {
  EXPECT_THAT(When(R"({"importance": ["high", "urgent"]})"),
              ElementsAre(Err("when.importance[1]",
                              R"(unknown importance "urgent"; use low, normal or high)")));
}

TEST(ValidateRoute, HeaderObjectProblems) {
  EXPECT_THAT(When(R"({"header": {"contains": "x"}})"),
              ElementsAre(Err("when.header.name", HasSubstr("required"))));
  EXPECT_THAT(When(R"({"header": {"name": "X-A"}})"),
              ElementsAre(Err("when.header", "needs one of contains, equals, matches or present")));
  EXPECT_THAT(When(R"({"header": {"name": "X-A", "contains": "a", "matches": "b"}})"),
              ElementsAre(Err("when.header", HasSubstr("not contains and matches"))));
  EXPECT_THAT(When(R"({"header": {"name": "X-A:", "present": true}})"),
              ElementsAre(Err("when.header.name", HasSubstr("is not a header name"))));
  EXPECT_THAT(When(R"({"header": {"name": "X-A", "contians": "a", "equals": "b"}})"),
              ElementsAre(Err("when.header.contians", HasSubstr(R"(did you mean "contains"?)"))));
  EXPECT_THAT(When(R"({"header": {"name": "X-A", "present": "yes"}})"),
              ElementsAre(Err("when.header.present", "expected true or false, got a string")));
}

TEST(ValidateRoute, RecipientObjectProblems) {
  EXPECT_THAT(When(R"({"recipient": {"in": "to"}})"),
              ElementsAre(Err("when.recipient", "needs at least one of address, domain or tag")));
  EXPECT_THAT(
      When(R"({"recipient": {"in": ["to", "bcc"], "tag": "x"}})"),
      ElementsAre(Err("when.recipient.in[1]", HasSubstr("unknown recipient header \"bcc\""))));
  EXPECT_THAT(When(R"({"recipient": {"adress": "a@b.example"}})"),
              ElementsAre(Err("when.recipient.adress", HasSubstr(R"(did you mean "address"?)")),
                          Err("when.recipient", HasSubstr("needs at least one"))));
}

TEST(ValidateRoute, DeepNestingIsRefused) {
  std::string when = R"({"subject_contains": "x"})";
  for (int i = 0; i < 20; ++i) when = R"({"not": )" + when + "}";
  std::vector<FieldError> errors = When(when);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].message, HasSubstr("nest deeper than 16 levels"));
}

TEST(ValidateRoute, CollectsEveryErrorInOneCall) {
  std::vector<FieldError> errors =
      ValidateRoute(Json(R"({"subject_matches": "(", "importance": "urgent",
               "any": [{"from_address": "nope"}, {"colour": 1}]})"),
                    Json(R"({"priority": "critical", "work_item_type": "bug", "colour": "red"})"),
                    RouteContext{.allowed_work_item_types = {"incident", "request"}});
  EXPECT_THAT(errors,
              ElementsAre(Err("when.importance", HasSubstr("unknown importance")),
                          Err("when.subject_matches", HasSubstr("invalid RE2")),
                          Err("when.any[0].from_address", HasSubstr("not an email address")),
                          Err("when.any[1].colour", HasSubstr("unknown condition")),
                          Err("then.colour", HasSubstr("unknown action")),
                          Err("then.priority", HasSubstr("unknown priority")),
                          Err("then.work_item_type", HasSubstr("not allowed")),
                          Err("then.queue", HasSubstr("required"))));
}

TEST(ValidateRoute, FallbackTakesNoConditions) {
  EXPECT_THAT(ValidateRoute(Json(R"({"subject_contains": "x"})"), Json(R"({"queue": "q"})"),
                            RouteContext{.fallback = true}),
              ElementsAre(Err("when", HasSubstr("fallback route takes no conditions"))));
  EXPECT_THAT(ValidateRoute(Json("{}"), Json(R"({"queue": "q"})"), RouteContext{.fallback = true}),
              IsEmpty());
}

// --- then ----------------------------------------------------------------------------------

TEST(ValidateThen, QueueRequiredUnlessStop) {
  EXPECT_THAT(Then("{}"), ElementsAre(Err("then.queue", HasSubstr("required"))));
  EXPECT_THAT(Then(R"({"stop": true})"), IsEmpty());
  EXPECT_THAT(Then(R"({"queue": "  "})"),
              ElementsAre(Err("then.queue", "must not be empty: name the queue")));
  EXPECT_THAT(Then(R"({"queue": 7})"),
              ElementsAre(Err("then.queue", "expected a string, got a number")));
  EXPECT_THAT(Then(R"({"queue": "a\nb"})"), ElementsAre(Err("then.queue", HasSubstr("one line"))));
}

TEST(ValidateThen, StopForbidsWorkItemActions) {
  EXPECT_THAT(Then(R"({"stop": true, "queue": "q", "ack_template": "t"})"),
              ElementsAre(Err("then.ack_template", HasSubstr("not allowed with stop: true")),
                          Err("then.queue", HasSubstr("not allowed with stop: true"))));
  EXPECT_THAT(Then(R"({"stop": "yes", "queue": "q"})"),
              ElementsAre(Err("then.stop", "expected true or false, got a string")));
  EXPECT_THAT(Then(R"({"stop": false, "queue": "q"})"), IsEmpty());
}

TEST(ValidateThen, UnknownActionSuggests) {
  EXPECT_THAT(Then(R"({"queue": "q", "priorty": "high"})"),
              ElementsAre(Err("then.priorty", HasSubstr(R"(did you mean "priority"?)"))));
}

TEST(ValidateThen, Priority) {
  EXPECT_THAT(Then(R"({"queue": "q", "priority": "Urgent"})"), IsEmpty());
  EXPECT_THAT(Then(R"({"queue": "q", "priority": "critical"})"),
              ElementsAre(Err("then.priority",
                              R"(unknown priority "critical"; use low, normal, high or urgent)")));
  EXPECT_THAT(Then(R"({"queue": "q", "priority": 1})"),
              ElementsAre(Err("then.priority", HasSubstr("got a number"))));
}

TEST(ValidateThen, WorkItemTypeCheckedAgainstConnectorList) {
  RouteContext context{.allowed_work_item_types = {"incident", "request"}};
  EXPECT_THAT(Then(R"({"queue": "q", "work_item_type": "request"})", context), IsEmpty());
  EXPECT_THAT(
      Then(R"({"queue": "q", "work_item_type": "incidnet"})", context),
      ElementsAre(Err("then.work_item_type",
                      R"(work item type "incidnet" is not allowed for this connector; use one of )"
                      R"(["incident", "request"]; did you mean "incident"? or add it to the )"
                      R"(connector's work_item_types)")));
  // An empty list allows any type.
  EXPECT_THAT(Then(R"({"queue": "q", "work_item_type": "anything"})"), IsEmpty());
}

TEST(ValidateThen, AckTemplateCheckedThroughLookup) {
  RouteContext context;
  context.ack_template_exists = [](absl::string_view name) { return name == "welcome"; };
  EXPECT_THAT(Then(R"({"queue": "q", "ack_template": "welcome"})", context), IsEmpty());
  EXPECT_THAT(Then(R"({"queue": "q", "ack_template": "welcom"})", context),
              ElementsAre(Err("then.ack_template",
                              R"(acknowledgement template "welcom" does not exist; create it )"
                              R"(first (kind: Template))")));
  // Without a lookup nothing is checked (the router compiling stored routes).
  EXPECT_THAT(Then(R"({"queue": "q", "ack_template": "welcom"})"), IsEmpty());
}

TEST(ValidateThen, WorkItemTemplateCheckedThroughLookup) {
  RouteContext context;
  context.work_item_template_exists = [](absl::string_view name) { return name == "invoice"; };
  EXPECT_THAT(Then(R"({"queue": "q", "template": "invoice"})", context), IsEmpty());
  EXPECT_THAT(Then(R"({"queue": "q", "template": "other"})", context),
              ElementsAre(Err("then.template", HasSubstr("does not exist"))));
}

TEST(ValidateThen, NamesAreBounded) {
  const std::string name_200(200, 'f');
  EXPECT_THAT(Then(absl::StrCat(R"({"queue": "q", "template": ")", name_200, R"("})")), IsEmpty());
  EXPECT_THAT(Then(absl::StrCat(R"({"queue": "q", "template": ")", name_200, R"(x"})")),
              ElementsAre(Err("then.template",
                              "the work item template name is 201 bytes; at most 200")));
  EXPECT_THAT(Then(absl::StrCat(R"({"queue": ")", std::string(5000, 'q'), R"("})")),
              ElementsAre(Err("then.queue", HasSubstr("5000 bytes; at most 200"))));
  EXPECT_THAT(Then(R"({"queue": "q", "template": "two\nlines"})"),
              ElementsAre(Err("then.template", HasSubstr("one line"))));
}

TEST(ValidateThen, Fields) {
  EXPECT_THAT(Then(R"({"queue": "q", "fields": {
      "customer": {"from": "sender_address"}, "source": "email", "count": 3,
      "flag": true, "original": {"from": "eml", "value": "no raw message"}}})"),
              IsEmpty());
  EXPECT_THAT(Then(R"({"queue": "q", "fields": {}})"),
              ElementsAre(Err("then.fields", HasSubstr("must not be empty"))));
  EXPECT_THAT(Then(R"({"queue": "q", "fields": ["a"]})"),
              ElementsAre(Err("then.fields", HasSubstr("expected an object of fields"))));
  EXPECT_THAT(Then(R"({"queue": "q", "fields": {"a": {"from": "subjet"}}})"),
              ElementsAre(Err("then.fields.a.from", HasSubstr(R"(unknown source "subjet")"))));
  EXPECT_THAT(Then(R"({"queue": "q", "fields": {"a": {}}})"),
              ElementsAre(Err("then.fields.a", HasSubstr("needs value"))));
  EXPECT_THAT(Then(R"({"queue": "q", "fields": {"a": {"value": "x", "default": "y"}}})"),
              ElementsAre(Err("then.fields.a.default", HasSubstr("unknown key"))));
  EXPECT_THAT(Then(R"({"queue": "q", "fields": {"a": null, "b": {"value": [1]}}})"),
              ElementsAre(Err("then.fields.a", HasSubstr("got null")),
                          Err("then.fields.b.value", HasSubstr("got a list"))));
  EXPECT_THAT(Then(R"({"queue": "q", "fields": {"1st field": "x"}})"),
              ElementsAre(Err("then.fields.1st field", HasSubstr("starts with a letter"))));
  EXPECT_THAT(Then(R"({"queue": "q", "fields": {"a": {"from": 1}}})"),
              ElementsAre(Err("then.fields.a.from", "expected a string, got a number")));
}

TEST(CompileRoute, InvalidRouteGivesInvalidArgumentListingEveryProblem) {
  absl::StatusOr<CompiledRoute> route = CompileRoute(
      "invoices", Json(R"({"subject_matches": "("})"), Json(R"({"priority": "x"})"), {});
  EXPECT_THAT(
      route,
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          AllOf(StartsWith("route \"invoices\": invalid (3 problems):\n  - when.subject_matches: "),
                HasSubstr("\n  - then.priority: unknown priority"),
                HasSubstr("\n  - then.queue: required"))));
}

// --- JSON entry points ---------------------------------------------------------------------

TEST(ValidateRouteJson, ValidJson) {
  EXPECT_THAT(
      ValidateRouteJson(R"({"subject_contains": ["invoice"]})", R"({"queue": "billing"})", {}),
      IsEmpty());
  EXPECT_THAT(ValidateRouteJson("", R"({"queue": "billing"})", {}), IsEmpty());
}

TEST(ValidateRouteJson, BrokenJsonNamesTheObject) {
  std::vector<FieldError> errors = ValidateRouteJson(R"({"subject_contains": )", "[1]", {});
  EXPECT_THAT(errors, ElementsAre(Err("when", StartsWith("not a JSON object")),
                                  Err("then", StartsWith("not a JSON object"))));
}

TEST(ValidateRouteJson, ErrorsInsideJsonHavePaths) {
  EXPECT_THAT(ValidateRouteJson(R"({"any": [{"subject_matches": "*"}]})", R"({"queue": "q"})", {}),
              ElementsAre(Err("when.any[0].subject_matches",
                              HasSubstr("no argument for repetition operator"))));
}

TEST(CompileRouteJson, CompilesAndEvaluates) {
  absl::StatusOr<CompiledRoute> route = CompileRouteJson(
      "invoices", R"({"subject_contains": "invoice"})", R"({"queue": "billing"})", {});
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->name(), "invoices");
  EXPECT_EQ(route->actions().queue, "billing");
  EXPECT_TRUE(route->Matches(testutil::Invoice()));
  EXPECT_THAT(
      CompileRouteJson("x", "nope", "{}", {}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\n  - when: not a JSON object")));
}

TEST(ParseJsonObject, RejectsNonObjects) {
  EXPECT_THAT(ParseJsonObject("[]", "when"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseJsonObject("\"x\"", "when"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(ParseJsonObject("  ", "when").ok());
}

TEST(Keys, ListTheLanguage) {
  EXPECT_THAT(ConditionKeys(), ::testing::Contains("recipient_tag"));
  EXPECT_THAT(ActionKeys(), ::testing::Contains("ack_template"));
}

}  // namespace
}  // namespace postroom::rules

#include <random>

namespace postroom::rules {
namespace {

// Random trees of known and unknown keys with values of every kind: validation never crashes,
// and it reports nothing exactly when compilation succeeds.
google::protobuf::Value RandomValue(std::mt19937& rng, int depth);

google::protobuf::Struct RandomMap(std::mt19937& rng, int depth) {
  static const std::vector<std::string> extra = {"in",      "address",  "domain", "tag",
                                                 "name",    "contains", "equals", "matches",
                                                 "present", "bogus"};
  google::protobuf::Struct s;
  int n = std::uniform_int_distribution<int>(0, 3)(rng);
  for (int i = 0; i < n; ++i) {
    const auto& keys = ConditionKeys();
    std::string key = std::uniform_int_distribution<int>(0, 3)(rng) == 0
                          ? extra[rng() % extra.size()]
                          : keys[rng() % keys.size()];
    (*s.mutable_fields())[key] = RandomValue(rng, depth + 1);
  }
  return s;
}

google::protobuf::Value RandomValue(std::mt19937& rng, int depth) {
  static const std::vector<std::string> strings = {
      "",        "x",        "invoice", "a@b.example",     "b.example", "*.b.example",
      "(",       "^In",      "high",    "application/pdf", "image/*",   "to",
      "billing", "X-Mailer", "[z-a]"};
  google::protobuf::Value v;
  int kind = std::uniform_int_distribution<int>(0, depth > 4 ? 3 : 5)(rng);
  switch (kind) {
    case 0:
      v.set_string_value(strings[rng() % strings.size()]);
      break;
    case 1:
      v.set_bool_value(rng() % 2 == 0);
      break;
    case 2:
      v.set_number_value(rng() % 100);
      break;
    case 3:
      v.set_null_value({});
      break;
    case 4: {
      auto* list = v.mutable_list_value();
      int n = std::uniform_int_distribution<int>(0, 3)(rng);
      for (int i = 0; i < n; ++i) *list->add_values() = RandomValue(rng, depth + 1);
      break;
    }
    default:
      *v.mutable_struct_value() = RandomMap(rng, depth);
  }
  return v;
}

TEST(ValidateRoute, RandomTreesNeverCrashAndAgreeWithCompile) {
  std::mt19937 rng(20261124);
  int valid = 0;
  for (int i = 0; i < 3000; ++i) {
    google::protobuf::Struct when = RandomMap(rng, 0);
    std::vector<FieldError> errors =
        ValidateRoute(when, testutil::Json(R"({"queue": "q"})"), RouteContext{});
    for (const FieldError& e : errors) {
      EXPECT_TRUE(e.path.rfind("when", 0) == 0) << e.path;
      EXPECT_FALSE(e.message.empty());
    }
    absl::StatusOr<CompiledRoute> route =
        CompileRoute("r", when, testutil::Json(R"({"queue": "q"})"), RouteContext{});
    ASSERT_EQ(errors.empty(), route.ok()) << route.status();
    if (route.ok()) {
      ++valid;
      EXPECT_EQ(route->Matches(testutil::Invoice()), route->Evaluate(testutil::Invoice()).matched);
      EXPECT_EQ(route->Matches(MessageFacts{}), route->Evaluate(MessageFacts{}).matched);
    }
  }
  EXPECT_GT(valid, 100);  // The generator reaches valid routes too, not only errors.
}

}  // namespace
}  // namespace postroom::rules
