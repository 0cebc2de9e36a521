#include "libs/templates/template.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace postroom {
void PrintTo(const FieldError& e, std::ostream* os) { *os << rules::FormatFieldError(e); }
}  // namespace postroom

namespace postroom::templates {
namespace {

using postroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

auto Err(const std::string& path, auto message_matcher) {
  return AllOf(Field(&FieldError::path, path), Field(&FieldError::message, message_matcher));
}

TemplateSource Ack() {
  return {
      "Re: {{message.subject}} {{reply_token}}",
      "Hello {{sender.name|there}},\n\nwe received your message as {{work_item.reference}} in "
      "{{ work_item.queue }}.\n-- {{connector.address}}",
      "<p>Hello {{sender.name|there}},</p><p>ticket <a href=\"{{work_item.url}}\">"
      "{{work_item.reference}}</a></p>",
  };
}

Values Filled() {
  return {{"message.subject", "Printer <broken> & \"smoking\""},
          {"reply_token", "[#SUP-1042]"},
          {"sender.name", "O'Brien"},
          {"work_item.reference", "SUP-1042"},
          {"work_item.queue", "hardware"},
          {"work_item.url", "https://desk.example/items/1042?a=1&b=2"},
          {"connector.address", "support@example.com"}};
}

TEST(ValidateTemplate, AcceptsEveryKnownPlaceholder) {
  std::string body;
  for (const PlaceholderInfo& p : KnownPlaceholders()) body += "{{" + p.name + "}} ";
  EXPECT_THAT(ValidateTemplate({"s", body, body}), IsEmpty());
  EXPECT_EQ(KnownPlaceholders().size(), 15u);
}

TEST(ValidateTemplate, AcceptsTheExample) { EXPECT_THAT(ValidateTemplate(Ack()), IsEmpty()); }

TEST(ValidateTemplate, UnknownPlaceholderWithPositionAndSuggestion) {
  EXPECT_THAT(ValidateTemplate({"Ticket {{work_item.refrence}}", "x", ""}),
              ElementsAre(Err("subject", R"(unknown placeholder "work_item.refrence" at line 1, )"
                                         R"(column 8; did you mean "work_item.reference"? )"
                                         "(docs/templates.md lists the placeholders)")));
  EXPECT_THAT(ValidateTemplate({"s", "a\nbé {{Sender.Name}}", ""}),
              ElementsAre(Err("body_text", AllOf(HasSubstr("at line 2, column 4"),
                                                 HasSubstr(R"(did you mean "sender.name"?)")))));
  EXPECT_THAT(ValidateTemplate({"s", "", "<b>{{customer}}</b>"}),
              ElementsAre(Err("body_html", StartsWith(R"(unknown placeholder "customer" at )"))));
}

TEST(ValidateTemplate, UnbalancedBraces) {
  EXPECT_THAT(ValidateTemplate({"s", "Hello {{sender.name", ""}),
              ElementsAre(Err("body_text", R"("{{" at line 1, column 7 is not closed with "}}"; )"
                                           R"(write \{{ for literal braces)")));
  EXPECT_THAT(ValidateTemplate({"s", "a {{ b {{sender.name}}", ""}),
              ElementsAre(Err("body_text", HasSubstr("column 3 is not closed"))));
  EXPECT_THAT(ValidateTemplate({"s", "x}} y", ""}),
              ElementsAre(Err("body_text", R"("}}" at line 1, column 2 closes nothing; write )"
                                           R"(\}} for literal braces)")));
  EXPECT_THAT(ValidateTemplate({"s", "{{}} and {{ | x}}", ""}),
              ElementsAre(Err("body_text", HasSubstr("empty placeholder at line 1, column 1")),
                          Err("body_text", HasSubstr("empty placeholder at line 1, column 10"))));
}

TEST(ValidateTemplate, SingleBracesAndEscapesArePlainText) {
  EXPECT_THAT(ValidateTemplate({"s", "", "<style>p{color:red}</style> \\{{literal\\}}"}),
              IsEmpty());
}

TEST(ValidateTemplate, SubjectRequiredAndOneLine) {
  EXPECT_THAT(ValidateTemplate({" ", "b", ""}),
              ElementsAre(Err("subject", StartsWith("required"))));
  EXPECT_THAT(ValidateTemplate({"a\r\nBcc: x@y", "b", ""}),
              ElementsAre(Err("subject", "must be one line")));
}

TEST(ValidateTemplate, BodyRequired) {
  EXPECT_THAT(ValidateTemplate({"s", "", " "}),
              ElementsAre(Err("body_text", "a template needs body_text or body_html, or both")));
}

TEST(ValidateTemplate, CollectsEveryProblem) {
  EXPECT_THAT(ValidateTemplate({"{{x}}", "{{y", "}}"}),
              ElementsAre(Err("subject", HasSubstr("unknown placeholder")),
                          Err("body_text", HasSubstr("not closed")),
                          Err("body_html", HasSubstr("closes nothing"))));
}

TEST(Compile, InvalidTemplateIsInvalidArgumentNamingIt) {
  EXPECT_THAT(
      CompiledTemplate::Compile({"{{x}}", "b", ""}, "welcome"),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          StartsWith(
              "template \"welcome\": invalid (1 problem):\n  - subject: unknown placeholder")));
}

TEST(Render, TextIsNotEscapedHtmlIs) {
  absl::StatusOr<RenderedMessage> r = Render(Ack(), Filled());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->subject, "Re: Printer <broken> & \"smoking\" [#SUP-1042]");
  EXPECT_EQ(r->body_text,
            "Hello O'Brien,\n\nwe received your message as SUP-1042 in hardware.\n-- "
            "support@example.com");
  EXPECT_EQ(r->body_html,
            "<p>Hello O&#39;Brien,</p><p>ticket <a "
            "href=\"https://desk.example/items/1042?a=1&amp;b=2\">SUP-1042</a></p>");
}

TEST(Render, DefaultsAndMissingValues) {
  Values v = Filled();
  v.erase("sender.name");
  v["work_item.queue"] = "";
  absl::StatusOr<RenderedMessage> r = Render(Ack(), v);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->body_text, StartsWith("Hello there,"));
  EXPECT_THAT(r->body_text, HasSubstr("SUP-1042 in .\n"));  // No default: empty.
}

TEST(Render, DefaultIsEscapedInHtml) {
  absl::StatusOr<RenderedMessage> r = Render({"s", "", "{{sender.name|<you>}}"}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body_html, "&lt;you&gt;");
}

TEST(Render, SubjectIsHeaderSafe) {
  Values v = Filled();
  v["message.subject"] = "hi\r\nBcc: victim@example.com\n\nbody\tx";
  absl::StatusOr<RenderedMessage> r = Render(Ack(), v);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->subject, "Re: hi Bcc: victim@example.com body x [#SUP-1042]");
}

TEST(Render, EscapedBracesAreLiteral) {
  absl::StatusOr<RenderedMessage> r = Render({"s", "\\{{reply_token\\}} {a}", ""}, Filled());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body_text, "{{reply_token}} {a}");
}

TEST(Render, UnusedValuesAreIgnoredAndNoHtmlPartStaysEmpty) {
  Values v = Filled();
  v["unrelated"] = "x";
  absl::StatusOr<RenderedMessage> r = Render({"s {{work_item.reference}}", "b", ""}, v);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (RenderedMessage{"s SUP-1042", "b", ""}));
}

TEST(CompiledTemplate, ListsUsedPlaceholders) {
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile(Ack());
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(t->UsedPlaceholders(),
              ElementsAre("connector.address", "message.subject", "reply_token", "sender.name",
                          "work_item.queue", "work_item.reference", "work_item.url"));
}

TEST(EscapeHtml, EscapesTheFiveCharacters) {
  EXPECT_EQ(EscapeHtml(R"(<a href="x">'&'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(HeaderSafe, CollapsesLineBreaksAndTrims) {
  EXPECT_EQ(HeaderSafe("  a\r\n\r\nb\x01"
                       "c\n"),
            "a b c");
  EXPECT_EQ(HeaderSafe("plain"), "plain");
}

}  // namespace
}  // namespace postroom::templates

// docs/templates.md stays true: its placeholder table is the list here and its example is valid.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace postroom::templates {
namespace {

std::string ReadDoc() {
  const char* root = std::getenv("POSTROOM_SOURCE_DIR");
  if (root == nullptr) return "";
  std::ifstream file(std::string(root) + "/docs/templates.md");
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(DocsTemplates, PlaceholderTableMatchesKnownPlaceholders) {
  std::string doc = ReadDoc();
  ASSERT_FALSE(doc.empty()) << "run through ctest, or set POSTROOM_SOURCE_DIR";
  size_t from = doc.find("## Placeholders"), to = doc.find("## Escaping");
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  doc = doc.substr(from, to - from);
  std::set<std::string> documented;
  std::regex row(R"(\n\| `\{\{([a-z_.]+)\}\}` \|)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), row); it != std::sregex_iterator();
       ++it) {
    documented.insert((*it)[1]);
  }
  std::set<std::string> known;
  for (const PlaceholderInfo& p : KnownPlaceholders()) known.insert(p.name);
  EXPECT_EQ(documented, known);
}

TEST(DocsTemplates, ExampleTemplateValidatesAndRenders) {
  std::string doc = ReadDoc();
  ASSERT_FALSE(doc.empty());
  size_t start = doc.find("```yaml\nkind: Template");
  ASSERT_NE(start, std::string::npos);
  start += 8;
  YAML::Node node = YAML::Load(doc.substr(start, doc.find("```", start) - start));
  TemplateSource source{node["subject"].as<std::string>(), node["body_text"].as<std::string>(),
                        node["body_html"].as<std::string>()};
  EXPECT_THAT(ValidateTemplate(source), IsEmpty());
  absl::StatusOr<RenderedMessage> r =
      Render(source, {{"message.subject", "Printer"}, {"reply_token", "[#SUP-1]"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->subject, "Re: Printer [#SUP-1]");
  EXPECT_THAT(r->body_text, StartsWith("Hello there,\n"));
}

}  // namespace
}  // namespace postroom::templates
