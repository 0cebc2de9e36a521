// Evaluation of every condition kind, the case rules, combinators and trace text.
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/rules/route.h"
#include "libs/rules/rules_test_util.h"

namespace postroom::rules {
namespace {

using ::testing::HasSubstr;
using testutil::Invoice;
using testutil::Json;
using testutil::Route;

// Evaluates both ways and insists the fast path and the explaining path agree.
bool Holds(const std::string& when_json, const MessageFacts& facts) {
  CompiledRoute route = Route(when_json);
  bool fast = route.Matches(facts);
  RouteOutcome outcome = route.Evaluate(facts);
  EXPECT_EQ(fast, outcome.matched) << when_json << ": " << outcome.ToString();
  return fast;
}

RouteOutcome Explain(const std::string& when_json, const MessageFacts& facts) {
  return Route(when_json, "invoices").Evaluate(facts);
}

// --- subject -------------------------------------------------------------------------------

TEST(SubjectContains, MatchesIgnoringCase) {
  EXPECT_TRUE(Holds(R"({"subject_contains": "INVOICE"})", Invoice()));
  EXPECT_TRUE(Holds(R"({"subject_contains": "acme"})", Invoice()));
}

TEST(SubjectContains, ListMatchesAnyValue) {
  EXPECT_TRUE(Holds(R"({"subject_contains": ["refund", "invoice"]})", Invoice()));
  EXPECT_FALSE(Holds(R"({"subject_contains": ["refund", "order"]})", Invoice()));
}

TEST(SubjectContains, FoldsNonAsciiCase) {
  MessageFacts m;
  m.subject = "ÄNDERUNG der Rechnung";
  EXPECT_TRUE(Holds(R"({"subject_contains": "änderung"})", m));
}

TEST(SubjectContains, TreatsRegexCharactersLiterally) {
  MessageFacts m;
  m.subject = "Price (USD) is $5.00?";
  EXPECT_TRUE(Holds(R"({"subject_contains": "(usd) is $5.00?"})", m));
  EXPECT_FALSE(Holds(R"({"subject_contains": "$5x00"})", m));
}

TEST(SubjectEquals, MatchesWholeSubjectIgnoringCaseAndOuterSpace) {
  MessageFacts m;
  m.subject = "  Password Reset ";
  EXPECT_TRUE(Holds(R"({"subject_equals": "password reset"})", m));
  EXPECT_FALSE(Holds(R"({"subject_equals": "password"})", m));
  EXPECT_FALSE(Holds(R"({"subject_equals": "password reset please"})", m));
}

TEST(SubjectMatches, IsCaseSensitiveByDefault) {
  EXPECT_TRUE(Holds(R"({"subject_matches": "^Invoice \\d{4}-\\d+"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"subject_matches": "^invoice"})", Invoice()));
}

TEST(SubjectMatches, CaseInsensitiveWithFlag) {
  EXPECT_TRUE(Holds(R"({"subject_matches": "(?i)^invoice"})", Invoice()));
}

TEST(SubjectMatches, SearchesAnywhereUnlessAnchored) {
  EXPECT_TRUE(Holds(R"({"subject_matches": "ACME"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"subject_matches": "^ACME"})", Invoice()));
}

TEST(SubjectMatches, ListMatchesAnyPattern) {
  EXPECT_TRUE(Holds(R"({"subject_matches": ["^Refund", "for ACME$"]})", Invoice()));
  EXPECT_FALSE(Holds(R"({"subject_matches": ["^Refund", "^ACME"]})", Invoice()));
}

// --- body ----------------------------------------------------------------------------------

TEST(BodyContains, MatchesAcrossLinesIgnoringCase) {
  EXPECT_TRUE(Holds(R"({"body_contains": "PLEASE FIND"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"body_contains": "unsubscribe"})", Invoice()));
}

TEST(BodyMatches, AnchorsNeedMultilineFlag) {
  EXPECT_FALSE(Holds(R"({"body_matches": "^please"})", Invoice()));
  EXPECT_TRUE(Holds(R"({"body_matches": "(?m)^please"})", Invoice()));
}

// --- sender --------------------------------------------------------------------------------

TEST(FromAddress, MatchesExactAddressIgnoringCase) {
  EXPECT_TRUE(Holds(R"({"from_address": "jane.doe@mail.acme.example"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"from_address": "jane@mail.acme.example"})", Invoice()));
  EXPECT_TRUE(
      Holds(R"({"from_address": ["x@y.example", "JANE.DOE@MAIL.ACME.EXAMPLE"]})", Invoice()));
}

TEST(FromDomain, MatchesDomainAndSubdomains) {
  EXPECT_TRUE(Holds(R"({"from_domain": "acme.example"})", Invoice()));
  EXPECT_TRUE(Holds(R"({"from_domain": "mail.acme.example"})", Invoice()));
  EXPECT_TRUE(Holds(R"({"from_domain": "@ACME.example"})", Invoice()));
}

TEST(FromDomain, DoesNotMatchDomainThatOnlyEndsTheSame) {
  EXPECT_FALSE(Holds(R"({"from_domain": "me.example"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"from_domain": "x.mail.acme.example"})", Invoice()));
}

TEST(FromDomain, WildcardMatchesOnlySubdomains) {
  MessageFacts m;
  m.from_address = "a@acme.example";
  EXPECT_FALSE(Holds(R"({"from_domain": "*.acme.example"})", m));
  m.from_address = "a@eu.acme.example";
  EXPECT_TRUE(Holds(R"({"from_domain": "*.acme.example"})", m));
}

TEST(FromMatches, RegexOnAddress) {
  EXPECT_TRUE(Holds(R"({"from_matches": "(?i)^jane\\."})", Invoice()));
  EXPECT_FALSE(Holds(R"({"from_matches": "^jane\\."})", Invoice()));
}

TEST(FromNameContains, MatchesDisplayNameIgnoringCase) {
  EXPECT_TRUE(Holds(R"({"from_name_contains": "doe"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"from_name_contains": "smith"})", Invoice()));
}

// --- recipients ----------------------------------------------------------------------------

TEST(RecipientAddress, LooksInEveryRecipientHeader) {
  EXPECT_TRUE(Holds(R"({"recipient_address": "support+billing@example.com"})", Invoice()));
  EXPECT_TRUE(Holds(R"({"recipient_address": "BOSS@corp.example"})", Invoice()));
  EXPECT_TRUE(Holds(R"({"recipient_address": "support@example.com"})", Invoice()));
  EXPECT_TRUE(Holds(R"({"recipient_address": "helpdesk@example.com"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"recipient_address": "sales@example.com"})", Invoice()));
}

TEST(RecipientAddress, IsExactAboutTags) {
  MessageFacts m;
  m.to = {"support+billing@example.com"};
  EXPECT_FALSE(Holds(R"({"recipient_address": "support@example.com"})", m));
}

TEST(ToAddress, LooksOnlyInTo) {
  EXPECT_TRUE(Holds(R"({"to_address": "support+billing@example.com"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"to_address": "boss@corp.example"})", Invoice()));
}

// `to` compares the address the router found the mail was sent to, not the headers.
TEST(SentTo, MatchesTheAddressTheMailWasSentToIgnoringCase) {
  MessageFacts m = Invoice();
  m.sent_to = "help@example.com";
  EXPECT_TRUE(Holds(R"({"to": "Help@Example.com"})", m));
  EXPECT_TRUE(Holds(R"({"to": ["sales@example.com", "help@example.com"]})", m));
  EXPECT_FALSE(Holds(R"({"to": "sales@example.com"})", m));
  // Present in To, but not the address it was sent to.
  EXPECT_FALSE(Holds(R"({"to": "support+billing@example.com"})", m));
  EXPECT_FALSE(Holds(R"({"to": "help@example.com"})", Invoice()));
}

TEST(Trace, SentTo) {
  MessageFacts m = Invoice();
  m.sent_to = "support@example.com";
  RouteOutcome o = Explain(R"({"to": ["help@example.com", "sales@example.com"]})", m);
  EXPECT_FALSE(o.matched);
  EXPECT_EQ(o.path, "when.to");
  EXPECT_EQ(o.reason,
            R"(sent to "support@example.com" which is not one of ["help@example.com", )"
            R"("sales@example.com"])");
  m.sent_to = "help@example.com";
  RouteOutcome ok = Explain(R"({"to": "HELP@example.com"})", m);
  EXPECT_TRUE(ok.matched);
  EXPECT_EQ(ok.reason, R"(sent to "help@example.com" which is "help@example.com")");
}

TEST(CcAddress, LooksOnlyInCc) {
  EXPECT_TRUE(Holds(R"({"cc_address": "boss@corp.example"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"cc_address": "support+billing@example.com"})", Invoice()));
}

TEST(RecipientDomain, MatchesDomainAndSubdomains) {
  EXPECT_TRUE(Holds(R"({"recipient_domain": "corp.example"})", Invoice()));
  MessageFacts m;
  m.to = {"a@eu.corp.example"};
  EXPECT_TRUE(Holds(R"({"recipient_domain": "corp.example"})", m));
  EXPECT_FALSE(Holds(R"({"recipient_domain": "other.example"})", m));
}

TEST(RecipientTag, MatchesPlusTagIgnoringCase) {
  EXPECT_TRUE(Holds(R"({"recipient_tag": "BILLING"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"recipient_tag": "sales"})", Invoice()));
  MessageFacts untagged;
  untagged.to = {"support@example.com"};
  EXPECT_FALSE(Holds(R"({"recipient_tag": "billing"})", untagged));
}

TEST(Recipient, AllCriteriaMustHoldForTheSameAddress) {
  // The tag is on example.com, the other domain has no tag: no single recipient fits both.
  EXPECT_FALSE(Holds(R"({"recipient": {"domain": "corp.example", "tag": "billing"}})", Invoice()));
  EXPECT_TRUE(Holds(R"({"recipient": {"domain": "example.com", "tag": "billing"}})", Invoice()));
}

TEST(Recipient, InLimitsTheHeaders) {
  EXPECT_TRUE(Holds(R"({"recipient": {"in": "delivered_to", "address": "support@example.com"}})",
                    Invoice()));
  EXPECT_FALSE(
      Holds(R"({"recipient": {"in": ["to", "cc"], "address": "support@example.com"}})", Invoice()));
  EXPECT_TRUE(
      Holds(R"({"recipient": {"in": "x_original_to", "domain": "example.com"}})", Invoice()));
}

// --- headers -------------------------------------------------------------------------------

TEST(Header, ContainsMatchesNameAndValueIgnoringCase) {
  EXPECT_TRUE(Holds(R"({"header": {"name": "x-mailer", "contains": "outlook"}})", Invoice()));
  EXPECT_FALSE(Holds(R"({"header": {"name": "X-Mailer", "contains": "thunderbird"}})", Invoice()));
}

TEST(Header, EqualsWholeValue) {
  EXPECT_TRUE(
      Holds(R"({"header": {"name": "X-Mailer", "equals": "microsoft outlook 16.0"}})", Invoice()));
  EXPECT_FALSE(
      Holds(R"({"header": {"name": "X-Mailer", "equals": "microsoft outlook"}})", Invoice()));
}

TEST(Header, MatchesIsCaseSensitive) {
  EXPECT_TRUE(Holds(R"({"header": {"name": "X-Mailer", "matches": "Outlook \\d+"}})", Invoice()));
  EXPECT_FALSE(Holds(R"({"header": {"name": "X-Mailer", "matches": "outlook"}})", Invoice()));
}

TEST(Header, AnyRepeatedHeaderCanMatch) {
  EXPECT_TRUE(Holds(R"({"header": {"name": "Received", "contains": "from c"}})", Invoice()));
}

TEST(Header, PresentTrueAndFalse) {
  EXPECT_TRUE(Holds(R"({"header": {"name": "X-Mailer", "present": true}})", Invoice()));
  EXPECT_FALSE(Holds(R"({"header": {"name": "X-Mailer", "present": false}})", Invoice()));
  EXPECT_TRUE(Holds(R"({"header": {"name": "List-Id", "present": false}})", Invoice()));
  EXPECT_FALSE(Holds(R"({"header": {"name": "List-Id", "present": true}})", Invoice()));
}

TEST(Header, AbsentHeaderNeverMatchesAValueTest) {
  EXPECT_FALSE(Holds(R"({"header": {"name": "List-Id", "matches": ".*"}})", Invoice()));
}

// --- attachments ---------------------------------------------------------------------------

TEST(HasAttachment, CountsOnlyNonInlineParts) {
  EXPECT_TRUE(Holds(R"({"has_attachment": true})", Invoice()));
  MessageFacts only_logo;
  only_logo.attachments = {{"logo.png", "image/png", 10, true}};
  EXPECT_FALSE(Holds(R"({"has_attachment": true})", only_logo));
  EXPECT_TRUE(Holds(R"({"has_attachment": false})", only_logo));
}

TEST(AttachmentNameMatches, RegexOnFileNames) {
  EXPECT_TRUE(Holds(R"({"attachment_name_matches": "(?i)\\.pdf$"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"attachment_name_matches": "\\.pdf$"})", Invoice()));
  // The inline logo is not an attachment.
  EXPECT_FALSE(Holds(R"({"attachment_name_matches": "logo"})", Invoice()));
}

TEST(AttachmentType, ExactAndWildcard) {
  EXPECT_TRUE(Holds(R"({"attachment_type": "Application/PDF"})", Invoice()));
  EXPECT_TRUE(Holds(R"({"attachment_type": "application/*"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"attachment_type": "image/*"})", Invoice()));  // Only inline.
  EXPECT_TRUE(Holds(R"({"attachment_type": ["text/csv", "application/pdf"]})", Invoice()));
}

TEST(AttachmentType, WildcardNeedsTheWholeType) {
  MessageFacts m;
  m.attachments = {{"a", "imagex/png", 1, false}};
  EXPECT_FALSE(Holds(R"({"attachment_type": "image/*"})", m));
}

// --- importance, folder, queue hint --------------------------------------------------------

TEST(Importance, MatchesAnyListedLevel) {
  EXPECT_TRUE(Holds(R"({"importance": "high"})", Invoice()));
  EXPECT_TRUE(Holds(R"({"importance": ["low", "HIGH"]})", Invoice()));
  EXPECT_FALSE(Holds(R"({"importance": "normal"})", Invoice()));
  EXPECT_TRUE(Holds(R"({"importance": "normal"})", MessageFacts{}));
}

TEST(Folder, EqualsIgnoringCase) {
  EXPECT_TRUE(Holds(R"({"folder": "inbox"})", Invoice()));
  EXPECT_FALSE(Holds(R"({"folder": "Billing"})", Invoice()));
}

TEST(QueueHint, EqualsIgnoringCase) {
  EXPECT_TRUE(Holds(R"({"queue_hint": ["sales", "Billing"]})", Invoice()));
  EXPECT_FALSE(Holds(R"({"queue_hint": "sales"})", Invoice()));
}

// --- combinations --------------------------------------------------------------------------

TEST(Map, LeavesAreAnded) {
  EXPECT_TRUE(
      Holds(R"({"subject_contains": "invoice", "from_domain": "acme.example"})", Invoice()));
  EXPECT_FALSE(
      Holds(R"({"subject_contains": "invoice", "from_domain": "other.example"})", Invoice()));
}

TEST(All, EveryChildMustHold) {
  EXPECT_TRUE(
      Holds(R"({"all": [{"subject_contains": "invoice"}, {"has_attachment": true}]})", Invoice()));
  EXPECT_FALSE(
      Holds(R"({"all": [{"subject_contains": "invoice"}, {"has_attachment": false}]})", Invoice()));
}

TEST(Any, OneChildSuffices) {
  EXPECT_TRUE(
      Holds(R"({"any": [{"subject_contains": "refund"}, {"has_attachment": true}]})", Invoice()));
  EXPECT_FALSE(
      Holds(R"({"any": [{"subject_contains": "refund"}, {"importance": "low"}]})", Invoice()));
}

TEST(Not, Negates) {
  EXPECT_FALSE(Holds(R"({"not": {"subject_contains": "invoice"}})", Invoice()));
  EXPECT_TRUE(Holds(R"({"not": {"subject_contains": "refund"}})", Invoice()));
}

TEST(Nesting, AnyOfAllWithNot) {
  const char* when = R"({
    "any": [
      {"all": [{"from_domain": "other.example"}, {"has_attachment": true}]},
      {"all": [{"recipient_tag": "billing"},
               {"not": {"any": [{"importance": "low"}, {"subject_contains": "spam"}]}}]}
    ]})";
  EXPECT_TRUE(Holds(when, Invoice()));
  MessageFacts low = Invoice();
  low.importance = Importance::kLow;
  EXPECT_FALSE(Holds(when, low));
}

TEST(EmptyWhen, MatchesEverything) {
  CompiledRoute route = Route("{}");
  EXPECT_TRUE(route.Matches(MessageFacts{}));
  RouteOutcome outcome = route.Evaluate(MessageFacts{});
  EXPECT_TRUE(outcome.matched);
  EXPECT_EQ(outcome.reason, "no conditions");
}

// --- traces --------------------------------------------------------------------------------

TEST(Trace, SubjectContainsNamesSubjectAndValues) {
  MessageFacts m;
  m.subject = "Hello";
  RouteOutcome o = Explain(R"({"subject_contains": ["invoice"]})", m);
  EXPECT_FALSE(o.matched);
  EXPECT_EQ(o.path, "when.subject_contains");
  EXPECT_EQ(o.reason, R"(subject "Hello" does not contain "invoice")");
  EXPECT_EQ(
      o.ToString(),
      R"(invoices: no match: when.subject_contains: subject "Hello" does not contain "invoice")");
}

TEST(Trace, ListValuesSayNoneOf) {
  MessageFacts m;
  m.subject = "Hello";
  RouteOutcome o = Explain(R"({"subject_contains": ["invoice", "bill"]})", m);
  EXPECT_EQ(o.reason, R"(subject "Hello" contains none of ["invoice", "bill"])");
}

TEST(Trace, MatchNamesTheValueThatMatched) {
  RouteOutcome o = Explain(R"({"subject_contains": ["refund", "INVOICE"]})", Invoice());
  EXPECT_TRUE(o.matched);
  EXPECT_EQ(o.reason, R"(subject "Invoice 2024-117 for ACME" contains "INVOICE")");
  EXPECT_EQ(
      o.ToString(),
      R"(invoices: matched: when.subject_contains: subject "Invoice 2024-117 for ACME" contains "INVOICE")");
}

TEST(Trace, CheapLeafFailsFirstInAMap) {
  // importance is checked before the subject, whatever the key order in the JSON.
  RouteOutcome o = Explain(R"({"subject_contains": "x", "importance": "low"})", Invoice());
  EXPECT_EQ(o.path, "when.importance");
  EXPECT_EQ(o.reason, "importance is high, not \"low\"");
}

TEST(Trace, BodyIsNeverQuoted) {
  RouteOutcome o = Explain(R"({"body_contains": "unsubscribe"})", Invoice());
  EXPECT_EQ(o.reason, "body (58 bytes) does not contain \"unsubscribe\"");
}

TEST(Trace, AnyListsEveryAlternative) {
  RouteOutcome o =
      Explain(R"({"any": [{"subject_contains": "refund"}, {"importance": "low"}]})", Invoice());
  EXPECT_EQ(o.path, "when.any");
  EXPECT_EQ(o.reason,
            "none of 2 alternatives held: when.any[0].subject_contains: subject \"Invoice "
            "2024-117 for ACME\" does not contain \"refund\"; when.any[1].importance: importance "
            "is high, not \"low\"");
}

TEST(Trace, AllGivesFirstFailingLeafWithIndexedPath) {
  RouteOutcome o =
      Explain(R"({"all": [{"has_attachment": true}, {"subject_matches": "^Refund"}]})", Invoice());
  EXPECT_EQ(o.path, "when.all[1].subject_matches");
  EXPECT_EQ(o.reason, R"(subject "Invoice 2024-117 for ACME" does not match "^Refund")");
}

TEST(Trace, NotExplainsWhatHeld) {
  RouteOutcome o = Explain(R"({"not": {"from_domain": "acme.example"}})", Invoice());
  EXPECT_FALSE(o.matched);
  EXPECT_EQ(o.path, "when.not");
  EXPECT_EQ(o.reason,
            "negated condition held: when.not.from_domain: sender domain \"Mail.Acme.example\" "
            "is within \"acme.example\"");
}

TEST(Trace, RecipientsListed) {
  RouteOutcome o = Explain(R"({"to_address": "sales@example.com"})", Invoice());
  EXPECT_EQ(
      o.reason,
      R"(no To recipient among ["support+billing@example.com"] has address "sales@example.com")");
  RouteOutcome ok = Explain(R"({"recipient_tag": "billing"})", Invoice());
  EXPECT_EQ(ok.reason, R"(recipient "support+billing@example.com" (To) has tag "billing")");
  RouteOutcome none = Explain(R"({"cc_address": "a@b.example"})", MessageFacts{});
  EXPECT_EQ(none.reason, "message has no Cc recipients");
}

TEST(Trace, HeaderReasons) {
  EXPECT_EQ(Explain(R"({"header": {"name": "List-Id", "contains": "x"}})", Invoice()).reason,
            R"(header "List-Id" is absent)");
  EXPECT_EQ(Explain(R"({"header": {"name": "X-Mailer", "contains": "gnus"}})", Invoice()).reason,
            R"(header "X-Mailer" ("Microsoft Outlook 16.0") does not contain "gnus")");
  EXPECT_EQ(Explain(R"({"header": {"name": "Received", "contains": "zzz"}})", Invoice()).reason,
            R"(none of the 2 "Received" headers contains "zzz")");
}

TEST(Trace, AttachmentReasons) {
  EXPECT_EQ(Explain(R"({"attachment_type": "text/csv"})", Invoice()).reason,
            R"(no attachment type among ["application/pdf"] is within "text/csv")");
  EXPECT_EQ(Explain(R"({"attachment_name_matches": "\\.docx$"})", MessageFacts{}).reason,
            "message has no attachments");
  EXPECT_EQ(Explain(R"({"has_attachment": false})", Invoice()).reason, "message has 1 attachment");
}

TEST(Trace, LongSubjectIsCut) {
  MessageFacts m;
  m.subject = std::string(200, 'a');
  RouteOutcome o = Explain(R"({"subject_contains": "b"})", m);
  EXPECT_THAT(o.reason, HasSubstr("aaa...\" does not contain"));
  EXPECT_LT(o.reason.size(), 130u);
}

// --- route lists ---------------------------------------------------------------------------

TEST(EvaluateRoutes, FirstMatchWinsWithTraceOfEarlierRoutes) {
  std::vector<CompiledRoute> routes = {
      Route(R"({"subject_contains": "refund"})", "refunds"),
      Route(R"({"recipient_tag": "billing"})", "billing"),
      Route(R"({"has_attachment": true})", "attachments"),
  };
  RoutingResult result = EvaluateRoutes(routes, Invoice());
  ASSERT_TRUE(result.matched.has_value());
  EXPECT_EQ(*result.matched, 1u);
  ASSERT_EQ(result.trace.size(), 2u);
  EXPECT_EQ(result.trace[0].route, "refunds");
  EXPECT_FALSE(result.trace[0].matched);
  EXPECT_EQ(result.trace[1].route, "billing");
  EXPECT_TRUE(result.trace[1].matched);
}

TEST(EvaluateRoutes, NoMatchTracesEveryRoute) {
  std::vector<CompiledRoute> routes = {Route(R"({"subject_contains": "refund"})", "a"),
                                       Route(R"({"importance": "low"})", "b")};
  RoutingResult result = EvaluateRoutes(routes, Invoice());
  EXPECT_FALSE(result.matched.has_value());
  EXPECT_EQ(result.trace.size(), 2u);
}

TEST(EvaluateRoutes, FallbackCatchesTheRest) {
  absl::StatusOr<CompiledRoute> fallback =
      CompileRoute("fallback", {}, Json(R"({"queue": "general"})"), RouteContext{.fallback = true});
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_TRUE(fallback->fallback());
  std::vector<CompiledRoute> routes = {Route(R"({"subject_contains": "refund"})", "a"), *fallback};
  RoutingResult result = EvaluateRoutes(routes, Invoice());
  ASSERT_TRUE(result.matched.has_value());
  EXPECT_EQ(*result.matched, 1u);
  EXPECT_EQ(routes[*result.matched].actions().queue, "general");
}

TEST(CompiledRoute, EvaluatesConcurrentlyFromManyThreads) {
  CompiledRoute route = Route(
      R"({"any": [{"subject_matches": "(?i)invoice\\s+\\d+"}, {"body_contains": "refund"}]})");
  MessageFacts yes = Invoice();
  MessageFacts no;
  no.subject = "hello";
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (!route.Matches(yes) || route.Matches(no)) ++wrong[t];
        if (!route.Evaluate(yes).matched) ++wrong[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace postroom::rules

namespace postroom::rules {
namespace {

TEST(Robustness, InvalidUtf8InMessageNeverCrashes) {
  MessageFacts m;
  m.subject = "Invoice \xff\xfe broken \xc3";
  m.body_text = std::string("\x80\x81 invoice", 10);
  m.from_address = "\xff@\xfe";
  m.headers = {{"X-A", "\xc3\x28"}};
  EXPECT_TRUE(Holds(R"({"subject_contains": "invoice"})", m));
  EXPECT_TRUE(Holds(R"({"body_contains": "INVOICE"})", m));
  EXPECT_FALSE(Holds(R"({"subject_equals": "invoice"})", m));
  EXPECT_FALSE(Holds(R"({"from_domain": "example.com"})", m));
  EXPECT_FALSE(Holds(R"({"header": {"name": "X-A", "matches": "^a"}})", m));
  // Traces travel in proto3 strings: invalid bytes come out escaped.
  EXPECT_EQ(Explain(R"({"subject_contains": "nope"})", m).reason,
            R"(subject "Invoice \xff\xfe broken \xc3" does not contain "nope")");
  m.subject = "Grüße";
  EXPECT_EQ(Explain(R"({"subject_contains": "nope"})", m).reason,
            R"(subject "Grüße" does not contain "nope")");
}

}  // namespace
}  // namespace postroom::rules
