// `then` compiled into Actions, and custom fields resolved against a message.
#include "libs/rules/actions.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/rules/route.h"
#include "libs/rules/rules_test_util.h"

namespace postroom::rules {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testutil::Invoice;
using testutil::Json;

Actions Compile(const std::string& then_json) {
  absl::StatusOr<CompiledRoute> route = CompileRoute("r", {}, Json(then_json), RouteContext{});
  EXPECT_TRUE(route.ok()) << route.status();
  return route.ok() ? route->actions() : Actions{};
}

TEST(Actions, DefaultsForAMinimalRoute) {
  Actions a = Compile(R"({"queue": "billing"})");
  EXPECT_EQ(a.queue, "billing");
  EXPECT_EQ(a.priority, Priority::kNormal);
  EXPECT_EQ(a.work_item_type, "");
  EXPECT_EQ(a.work_item_template, "");
  EXPECT_EQ(a.ack_template, "");
  EXPECT_FALSE(a.stop);
  EXPECT_THAT(a.fields, IsEmpty());
}

TEST(Actions, EveryActionIsCarried) {
  Actions a = Compile(R"({"queue": " billing ", "work_item_type": "request", "template": "inv",
                          "priority": "URGENT", "ack_template": "welcome",
                          "fields": {"source": "email", "customer": {"from": "sender_address"}}})");
  EXPECT_EQ(a.queue, "billing");  // Trimmed.
  EXPECT_EQ(a.work_item_type, "request");
  EXPECT_EQ(a.work_item_template, "inv");
  EXPECT_EQ(a.priority, Priority::kUrgent);
  EXPECT_EQ(a.ack_template, "welcome");
  EXPECT_THAT(a.fields, ElementsAre(FieldMapping{"customer", "", FieldSource::kSenderAddress},
                                    FieldMapping{"source", "email", FieldSource::kNone}));
}

TEST(Actions, StopRoute) {
  Actions a = Compile(R"({"stop": true})");
  EXPECT_TRUE(a.stop);
  EXPECT_EQ(a.queue, "");
}

TEST(Actions, LiteralNumbersAndBooleansBecomeText) {
  Actions a = Compile(R"({"queue": "q", "fields": {"a": 42, "b": 2.5, "c": false}})");
  EXPECT_THAT(a.fields, ElementsAre(FieldMapping{"a", "42", FieldSource::kNone},
                                    FieldMapping{"b", "2.5", FieldSource::kNone},
                                    FieldMapping{"c", "false", FieldSource::kNone}));
}

TEST(Names, PriorityImportanceSource) {
  EXPECT_STREQ(PriorityName(Priority::kHigh), "high");
  EXPECT_STREQ(ImportanceName(Importance::kLow), "low");
  EXPECT_STREQ(FieldSourceName(FieldSource::kSenderName), "sender_name");
  EXPECT_STREQ(FieldSourceName(FieldSource::kNone), "");
}

TEST(ResolveFields, MapsEveryMessageSource) {
  Actions a = Compile(R"({"queue": "q", "fields": {
      "s": {"from": "subject"}, "b": {"from": "body"}, "f": {"from": "sender"},
      "fa": {"from": "sender_address"}, "fn": {"from": "sender_name"},
      "i": {"from": "importance"}, "at": {"from": "attachments"}, "lit": "x"}})");
  std::vector<ResolvedField> r = ResolveFields(a, Invoice(), true);
  EXPECT_THAT(
      r,
      ElementsAre(ResolvedField{"at", "invoice-117.PDF", false, true},
                  ResolvedField{"b", Invoice().body_text, false, false},
                  ResolvedField{"f", "Jane Doe <Jane.Doe@Mail.Acme.example>", false, false},
                  ResolvedField{"fa", "Jane.Doe@Mail.Acme.example", false, false},
                  ResolvedField{"fn", "Jane Doe", false, false},
                  ResolvedField{"i", "high", false, false}, ResolvedField{"lit", "x", false, false},
                  ResolvedField{"s", "Invoice 2024-117 for ACME", false, false}));
}

TEST(ResolveFields, EmptySourceFallsBackToValue) {
  Actions a = Compile(R"({"queue": "q", "fields": {
      "name": {"from": "sender_name", "value": "unknown"},
      "files": {"from": "attachments", "value": "none"},
      "sender": {"from": "sender"}}})");
  MessageFacts m;
  m.from_address = "a@b.example";
  std::vector<ResolvedField> r = ResolveFields(a, m, false);
  EXPECT_THAT(r, ElementsAre(ResolvedField{"files", "none", false, false},
                             ResolvedField{"name", "unknown", false, false},
                             ResolvedField{"sender", "a@b.example", false, false}));
}

TEST(ResolveFields, EmlAttachesOnlyWhenRawIsAvailable) {
  Actions a =
      Compile(R"({"queue": "q", "fields": {"original": {"from": "eml", "value": "see archive"}}})");
  EXPECT_THAT(ResolveFields(a, Invoice(), true),
              ElementsAre(ResolvedField{"original", "see archive", true, false}));
  EXPECT_THAT(ResolveFields(a, Invoice(), false),
              ElementsAre(ResolvedField{"original", "see archive", false, false}));
}

}  // namespace
}  // namespace postroom::rules
