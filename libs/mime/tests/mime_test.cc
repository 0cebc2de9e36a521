#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mime/charset.h"
#include "libs/mime/classify.h"
#include "libs/mime/html_text.h"
#include "libs/mime/inspect.h"
#include "libs/mime/parser.h"
#include "tests/support/status_matchers.h"

namespace postroom::mime {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

ParsedMessage Parse(std::string_view raw, const ParseLimits& limits = {}) {
  absl::StatusOr<ParsedMessage> m = ParseMessage(raw, limits);
  EXPECT_THAT(m, IsOk());
  return m.ok() ? *std::move(m) : ParsedMessage{};
}

MATCHER_P2(IsAddress, name, address, "") { return arg.name == name && arg.address == address; }

constexpr char kSimple[] =
    "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <Juergen.Mueller@Example.COM>\r\n"
    "To: \"Support Desk\" <Support@Example.org>, bob@example.net\r\n"
    "Cc: Team: carol@example.net, dave@example.net;\r\n"
    "Delivered-To: support@example.org\r\n"
    "X-Original-To: help@example.org\r\n"
    "Subject: =?iso-8859-1?Q?Gr=FC=DFe?= aus\r\n"
    " =?UTF-8?B?S8O2bG4=?=\r\n"
    "Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
    "Message-ID: <abc@mail.example.com>\r\n"
    "In-Reply-To: <parent@example.org>\r\n"
    "References: <root@example.org>\r\n"
    " <parent@example.org>\r\n"
    "X-Priority: 1 (Highest)\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Hallo Welt =E2=82=AC\r\n"
    "zweite Zeile=\r\n"
    " weiter\r\n";

TEST(ParseMessage, DecodesHeadersAddressesAndIds) {
  ParsedMessage m = Parse(kSimple);
  EXPECT_EQ(m.subject, "Grüße aus Köln");
  EXPECT_THAT(m.from, ElementsAre(IsAddress("Jürgen Müller", "juergen.mueller@example.com")));
  EXPECT_THAT(m.to, ElementsAre(IsAddress("Support Desk", "support@example.org"),
                                IsAddress("", "bob@example.net")));
  EXPECT_THAT(m.cc,
              ElementsAre(IsAddress("", "carol@example.net"), IsAddress("", "dave@example.net")));
  EXPECT_THAT(m.delivered_to, ElementsAre(IsAddress("", "support@example.org")));
  EXPECT_THAT(m.x_original_to, ElementsAre(IsAddress("", "help@example.org")));
  EXPECT_EQ(m.message_id, "abc@mail.example.com");
  EXPECT_EQ(m.in_reply_to, "parent@example.org");
  EXPECT_THAT(m.references, ElementsAre("root@example.org", "parent@example.org"));
  ASSERT_TRUE(m.date.has_value());
  EXPECT_EQ(*m.date,
            absl::FromCivil(absl::CivilSecond(2026, 11, 24, 9, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(m.importance, Importance::kHigh);
  EXPECT_THAT(m.defects, IsEmpty());
}

TEST(ParseMessage, KeepsEveryHeaderInOrderRawAndDecoded) {
  ParsedMessage m = Parse(kSimple);
  ASSERT_EQ(m.headers.size(), 13u);
  EXPECT_EQ(m.headers[0].name, "From");
  EXPECT_EQ(m.headers[5].name, "Subject");
  EXPECT_EQ(m.headers[5].raw_value, "=?iso-8859-1?Q?Gr=FC=DFe?= aus\r\n =?UTF-8?B?S8O2bG4=?=");
  EXPECT_EQ(m.headers[5].value, "Grüße aus Köln");
  // Content-* fields sit under the MIME part in GMime; they keep their place here.
  EXPECT_EQ(m.headers[10].name, "X-Priority");
  EXPECT_EQ(m.headers[11].name, "Content-Type");
  EXPECT_EQ(m.headers[12].name, "Content-Transfer-Encoding");
  ASSERT_NE(m.FindHeader("x-priority"), nullptr);
  EXPECT_EQ(m.FindHeader("x-priority")->value, "1 (Highest)");
}

TEST(ParseMessage, DecodesQuotedPrintableUtf8BodyWithLfLineEnds) {
  ParsedMessage m = Parse(kSimple);
  EXPECT_EQ(m.text_body, "Hallo Welt €\nzweite Zeile weiter\n");
  EXPECT_THAT(m.html_body, IsEmpty());
}

TEST(ParseMessage, ReadsUnencoded8BitHeadersAsUtf8OrWindows1252) {
  ParsedMessage utf8 = Parse("From: a@b.example\nSubject: Caf\xC3\xA9\n\nx\n");
  EXPECT_EQ(utf8.subject, "Café");
  ParsedMessage latin = Parse("From: a@b.example\nSubject: Caf\xE9 \x80\n\nx\n");
  EXPECT_EQ(latin.subject, "Café €");
}

TEST(ParseMessage, SurvivesBrokenEncodedWords) {
  ParsedMessage m =
      Parse("Subject: =?utf-8?B?broken!!?= and =?x-unknown?Q?abc?= =?utf-8?Q?ok?=\n\n");
  EXPECT_TRUE(IsValidUtf8(m.subject));
  EXPECT_THAT(m.subject, HasSubstr("ok"));
}

TEST(ParseMessage, ConvertsDeclaredCharsets) {
  ParsedMessage m = Parse(
      "Content-Type: text/plain; charset=iso-8859-1\n"
      "Content-Transfer-Encoding: base64\n\n"
      "R3L832U=\n");  // "Grüße" in ISO-8859-1.
  EXPECT_EQ(m.text_body, "Grüße");
  EXPECT_THAT(m.defects, IsEmpty());
}

TEST(ParseMessage, FallsBackWhenTheCharsetIsUnknown) {
  ParsedMessage m = Parse(
      "Content-Type: text/plain; charset=x-no-such-charset\n\n"
      "Gr\xC3\xBC\xC3\x9F"
      "e\n");
  EXPECT_EQ(m.text_body, "Grüße\n");
  EXPECT_THAT(m.defects, Contains("bad_charset:x-no-such-charset"));
}

TEST(ParseMessage, FallsBackWhenAsciiIsDeclaredButBytesAreNot) {
  ParsedMessage m =
      Parse("Content-Type: text/plain; charset=us-ascii\n\nna\xEFve \x93quoted\x94\n");
  EXPECT_EQ(m.text_body, "naïve “quoted”\n");
  EXPECT_THAT(m.defects, Contains("bad_charset:us-ascii"));
}

TEST(ParseMessage, ReplacesInvalidSequencesOfAKnownCharset) {
  ParsedMessage m = Parse("Content-Type: text/plain; charset=shift_jis\n\nab\x81\n");
  EXPECT_TRUE(IsValidUtf8(m.text_body));
  EXPECT_THAT(m.text_body, HasSubstr("ab"));
}

std::string Base64(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  int col = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
    if ((col += 4) == 76) {
      out += "\r\n";
      col = 0;
    }
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out + "\r\n";
}

std::string WithAttachment(const std::string& disposition, const std::string& body) {
  return absl::StrCat(
      "From: a@b.example\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
      "--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
      "--XX\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n",
      disposition, "\r\n\r\n", Base64(body), "--XX--\r\n");
}

TEST(ParseMessage, ReportsAttachmentsWithDecodedSize) {
  for (size_t size : {0, 1, 2, 3, 4, 57, 58, 59, 1000, 65537}) {
    std::string body(size, 'x');
    for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>(i * 7);
    ParsedMessage m =
        Parse(WithAttachment("Content-Disposition: attachment; filename=a.pdf", body));
    ASSERT_EQ(m.attachments.size(), 1u) << size;
    EXPECT_EQ(m.attachments[0].size, size);
    EXPECT_EQ(m.attachments[0].filename, "a.pdf");
    EXPECT_EQ(m.attachments[0].content_type, "application/pdf");
    EXPECT_FALSE(m.attachments[0].is_inline);
    EXPECT_EQ(m.text_body, "see attached");  // The line end before a boundary is the boundary's.
  }
}

TEST(ParseMessage, DecodesRfc2231AndEncodedWordFilenames) {
  ParsedMessage a = Parse(WithAttachment(
      "Content-Disposition: attachment;\r\n filename*0*=UTF-8''Rechnung%20%E2%82%AC;\r\n"
      " filename*1=\".pdf\"",
      "x"));
  ASSERT_EQ(a.attachments.size(), 1u);
  EXPECT_EQ(a.attachments[0].filename, "Rechnung €.pdf");
  ParsedMessage b = Parse(WithAttachment(
      "Content-Disposition: attachment; filename=\"=?UTF-8?B?w6TDtsO8LnBkZg==?=\"", "x"));
  ASSERT_EQ(b.attachments.size(), 1u);
  EXPECT_EQ(b.attachments[0].filename, "äöü.pdf");
}

TEST(ParseMessage, MarksImagesReferencedFromHtmlAsInline) {
  ParsedMessage m = Parse(
      "Content-Type: multipart/related; boundary=R\n\n"
      "--R\nContent-Type: text/html; charset=utf-8\n\n<img src=\"cid:logo@x\">\n"
      "--R\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n"
      "iVBORw0KGgo=\n--R--\n");
  EXPECT_EQ(m.html_body, "<img src=\"cid:logo@x\">");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_TRUE(m.attachments[0].is_inline);
  EXPECT_EQ(m.attachments[0].content_id, "logo@x");
  EXPECT_EQ(m.attachments[0].size, 8u);
}

TEST(ParseMessage, PicksPlainAndHtmlFromAlternative) {
  ParsedMessage m = Parse(
      "Content-Type: multipart/alternative; boundary=A\n\n"
      "--A\nContent-Type: text/plain\n\nplain\n"
      "--A\nContent-Type: text/html\n\n<p>html</p>\n--A--\n");
  EXPECT_EQ(m.text_body, "plain");
  EXPECT_EQ(m.html_body, "<p>html</p>");
  EXPECT_THAT(m.attachments, IsEmpty());
  EXPECT_THAT(m.parts, ElementsAre("multipart/alternative", "text/plain", "text/html"));
}

TEST(ParseMessage, MapsImportanceHeaders) {
  EXPECT_EQ(Parse("Importance: low\n\nx").importance, Importance::kLow);
  EXPECT_EQ(Parse("X-Priority: 5\n\nx").importance, Importance::kLow);
  EXPECT_EQ(Parse("Priority: urgent\n\nx").importance, Importance::kHigh);
  EXPECT_EQ(Parse("X-MSMail-Priority: High\n\nx").importance, Importance::kHigh);
  EXPECT_EQ(Parse("Subject: x\n\nx").importance, Importance::kNormal);
  EXPECT_STREQ(ImportanceName(Importance::kHigh), "high");
}

TEST(ParseMessage, RecordsMissingBoundaryAndKeepsTheText) {
  ParsedMessage m = Parse("Content-Type: multipart/mixed\n\nsome text\n");
  EXPECT_THAT(m.defects, Contains("missing_boundary"));
  EXPECT_THAT(m.text_body, HasSubstr("some text"));
}

TEST(ParseMessage, RecordsATruncatedMultipart) {
  ParsedMessage m = Parse(
      "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\ncut off");
  EXPECT_THAT(m.defects, Contains("truncated_part"));
  EXPECT_EQ(m.text_body, "cut off");
}

TEST(ParseMessage, RecordsAnUnparsableDate) {
  EXPECT_THAT(Parse("Date: yesterday-ish\n\nx").defects, Contains("bad_date"));
  EXPECT_FALSE(Parse("Date: yesterday-ish\n\nx").date.has_value());
}

std::string Nested(int depth) {
  std::string head, tail;
  for (int i = 0; i < depth; ++i) {
    absl::StrAppend(&head, "Content-Type: multipart/mixed; boundary=b", i, "\n\n--b", i, "\n");
    tail = absl::StrCat("\n--b", i, "--\n", tail);
  }
  return absl::StrCat(head, "Content-Type: text/plain\n\ndeep", tail);
}

TEST(ParseMessage, StopsAtTheDepthLimit) {
  ParseLimits limits;
  limits.max_depth = 5;
  ParsedMessage m = Parse(Nested(20), limits);
  EXPECT_THAT(m.defects, Contains("depth_limit"));
  EXPECT_LE(m.parts.size(), 6u);
  EXPECT_THAT(Parse(Nested(4), limits).defects, Not(Contains("depth_limit")));
}

TEST(ParseMessage, SurvivesHostileNestingQuickly) {
  auto start = std::chrono::steady_clock::now();
  ParsedMessage m = Parse(Nested(5000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(m.defects, Contains("depth_limit"));
}

TEST(ParseMessage, StopsAtThePartLimit) {
  std::string raw = "Content-Type: multipart/mixed; boundary=P\n\n";
  for (int i = 0; i < 50; ++i) absl::StrAppend(&raw, "--P\nContent-Type: image/gif\n\nx\n");
  raw += "--P--\n";
  ParseLimits limits;
  limits.max_parts = 10;
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Contains("part_limit"));
  EXPECT_EQ(m.parts.size(), 10u);
}

TEST(ParseMessage, CutsOverlongHeaders) {
  ParseLimits limits;
  limits.max_header_field_bytes = 100;
  limits.max_header_bytes = 1000;
  std::string raw = absl::StrCat("Subject: ", std::string(500, 'a'), "\n");
  for (int i = 0; i < 100; ++i) absl::StrAppend(&raw, "X-Filler-", i, ": some value here\n");
  raw += "\nbody\n";
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Contains("header_too_long"));
  EXPECT_THAT(m.defects, Contains("header_limit"));
  EXPECT_EQ(m.headers[0].raw_value.size(), 100u);
  EXPECT_LT(m.headers.size(), 100u);
}

TEST(ParseMessage, ParsesBareCrLineEnds) {
  ParsedMessage m = Parse("From: a@b.example\rSubject: old mac\r\rbody line\r");
  EXPECT_EQ(m.subject, "old mac");
  EXPECT_EQ(m.text_body, "body line\n");
  EXPECT_THAT(m.defects, Contains("bare_cr_line_ends"));
}

TEST(ParseMessage, RejectsEmptyAndOversizedInput) {
  EXPECT_THAT(ParseMessage(""), StatusIs(absl::StatusCode::kInvalidArgument));
  ParseLimits limits;
  limits.max_message_bytes = 10;
  EXPECT_THAT(ParseMessage("Subject: too long for the limit\n\n", limits),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseMessage, ParsesGarbageWithoutCrashing) {
  std::string garbage;
  for (int i = 0; i < 20000; ++i) garbage.push_back(static_cast<char>((i * 131 + 7) % 256));
  absl::StatusOr<ParsedMessage> m = ParseMessage(garbage);
  ASSERT_THAT(m, IsOk());
  EXPECT_TRUE(IsValidUtf8(m->text_body));
  EXPECT_TRUE(IsValidUtf8(InspectJsonLine("garbage", garbage)));
}

TEST(ParseMessage, IsSafeToCallFromManyThreads) {
  std::vector<std::string> inputs = {kSimple, WithAttachment("", std::string(3000, 'z')),
                                     Nested(40),
                                     "Subject: =?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=\n\nx"};
  std::vector<std::string> expected;
  for (const std::string& in : inputs) expected.push_back(InspectJsonLine("f", in));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        size_t k = (i + t) % inputs.size();
        if (InspectJsonLine("f", inputs[k]) != expected[k]) ++mismatches[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

TEST(ParseHelpers, ParseAddressListAndIds) {
  EXPECT_THAT(ParseAddressList("\"Doe, J\" <J@X.example>, k@y.example"),
              ElementsAre(IsAddress("Doe, J", "j@x.example"), IsAddress("", "k@y.example")));
  EXPECT_THAT(ParseMessageIds("<a@b> <c@d>"), ElementsAre("a@b", "c@d"));
  EXPECT_THAT(ParseMessageIds("bare-id@host"), ElementsAre("bare-id@host"));
}

// ---- Charset helpers.

TEST(Charset, SanitizeReplacesInvalidUtf8) {
  EXPECT_EQ(SanitizeUtf8("ok \xC3\xA9 \xFF \xED\xA0\x80 \xC0\xAF end"),
            "ok é \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD end");
  EXPECT_TRUE(IsValidUtf8("plain ascii and 日本語"));
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
}

TEST(Charset, ConvertsKnownCharsets) {
  EXPECT_EQ(ConvertToUtf8("\x1B$B$3$s$K$A$O\x1B(B", "ISO-2022-JP").text, "こんにちは");
  EXPECT_EQ(ConvertToUtf8("\x80 \xE4", "windows-1252").text, "€ ä");
  EXPECT_EQ(ConvertToUtf8("\xB1\xE8", "ks_c_5601-1987").text, "김");
}

// ---- Classification.

Classification ClassifyRaw(std::string_view raw, const ClassifyOptions& options = {}) {
  return Classify(Parse(raw), options);
}

TEST(Classify, PlainMailIsNormal) {
  Classification c = ClassifyRaw(kSimple);
  EXPECT_EQ(c.kind, MessageKind::kNormal);
  EXPECT_THAT(c.reasons, IsEmpty());
}

TEST(Classify, SpamSignals) {
  EXPECT_THAT(ClassifyRaw("X-Spam-Flag: YES\n\nx").reasons, ElementsAre("spam:x-spam-flag"));
  EXPECT_THAT(ClassifyRaw("X-Spam-Status: Yes, score=9\n\nx").reasons,
              ElementsAre("spam:x-spam-status"));
  EXPECT_EQ(ClassifyRaw("X-Spam-Status: No, score=0\n\nx").kind, MessageKind::kNormal);
  EXPECT_THAT(ClassifyRaw("X-Forefront-Antispam-Report: CIP:1.2.3.4;SFV:SPM;SCL:1\n\nx").reasons,
              ElementsAre("spam:forefront-sfv-spm"));
  EXPECT_THAT(ClassifyRaw("X-Forefront-Antispam-Report: SFV:NSPM;SCL:5;SRV:\n\nx").reasons,
              ElementsAre("spam:forefront-scl"));
  EXPECT_EQ(ClassifyRaw("X-Forefront-Antispam-Report: SFV:NSPM;SCL:1;\n\nx").kind,
            MessageKind::kNormal);
  EXPECT_EQ(ClassifyRaw("X-Forefront-Antispam-Report: SFV:SKN;SCL:-1;\n\nx").kind,
            MessageKind::kNormal);
  EXPECT_THAT(
      ClassifyRaw("Authentication-Results: mx.example; dkim=none; dmarc=fail (p=reject)\n\nx")
          .reasons,
      ElementsAre("spam:dmarc-fail"));
}

TEST(Classify, FeedbackIdIsBulkSpamUnlessTurnedOff) {
  EXPECT_EQ(ClassifyRaw("Feedback-ID: 1:campaign:esp\n\nx").kind, MessageKind::kSpam);
  ClassifyOptions off;
  off.feedback_id_is_spam = false;
  EXPECT_EQ(ClassifyRaw("Feedback-ID: 1:campaign:esp\n\nx", off).kind, MessageKind::kNormal);
}

TEST(Classify, AutoReplyHeaders) {
  EXPECT_EQ(ClassifyRaw("Auto-Submitted: auto-replied\n\nx").kind, MessageKind::kAutoReply);
  EXPECT_EQ(ClassifyRaw("Auto-Submitted: auto-generated\n\nx").kind, MessageKind::kAutoReply);
  EXPECT_EQ(ClassifyRaw("Auto-Submitted: no\n\nx").kind, MessageKind::kNormal);
  EXPECT_EQ(ClassifyRaw("X-Autoreply: yes\n\nx").kind, MessageKind::kAutoReply);
  EXPECT_EQ(ClassifyRaw("X-Autorespond: on\n\nx").kind, MessageKind::kAutoReply);
  EXPECT_EQ(ClassifyRaw("Precedence: auto_reply\n\nx").kind, MessageKind::kAutoReply);
  EXPECT_THAT(ClassifyRaw("X-MS-Exchange-Inbox-Rules-Loop: a@b.example\n\nx").reasons,
              ElementsAre("auto_reply:x-ms-exchange-inbox-rules-loop"));
  EXPECT_EQ(ClassifyRaw("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\n\nx").kind,
            MessageKind::kAutoReply);
}

TEST(Classify, AutoResponseSuppressAloneIsNotAnAutoReply) {
  EXPECT_EQ(ClassifyRaw("X-Auto-Response-Suppress: All\nSubject: Invoice 42\n\nx").kind,
            MessageKind::kNormal);
}

TEST(Classify, SubjectAloneIsAWeakSignal) {
  Classification weak = ClassifyRaw("Subject: Out of Office: back Monday\n\nx");
  EXPECT_EQ(weak.kind, MessageKind::kNormal);
  EXPECT_THAT(weak.reasons, ElementsAre("auto_reply_weak:subject:out of office"));

  Classification combined =
      ClassifyRaw("Return-Path: <>\nSubject: Automatische Antwort: Abwesenheit\n\nx");
  EXPECT_EQ(combined.kind, MessageKind::kAutoReply);

  ClassifyOptions decisive;
  decisive.auto_reply_subject_is_decisive = true;
  EXPECT_EQ(ClassifyRaw("Subject: Abwesenheitsnotiz\n\nx", decisive).kind, MessageKind::kAutoReply);
}

TEST(Classify, ExclusionKeywordsAndSendersMarkMailAsAutoReplies) {
  ClassifyOptions options;
  options.auto_reply_exclusion_keywords = {"ticket #"};
  options.auto_reply_exclusion_senders = {"@partner.example", "bot@other.example"};
  // Seed 004's "Exclude auto-replies": matching mail is filtered out as an auto-reply, even
  // without any header saying so.
  Classification by_keyword = ClassifyRaw("Subject: Ticket #42 updated\n\nx", options);
  EXPECT_EQ(by_keyword.kind, MessageKind::kAutoReply);
  EXPECT_THAT(by_keyword.reasons, Contains("auto_reply:exclusion-keyword:ticket #"));
  Classification by_domain = ClassifyRaw("From: x@partner.example\nSubject: hi\n\nx", options);
  EXPECT_EQ(by_domain.kind, MessageKind::kAutoReply);
  EXPECT_THAT(by_domain.reasons, Contains("auto_reply:exclusion-sender:@partner.example"));
  EXPECT_EQ(ClassifyRaw("From: bot@other.example\nSubject: hi\n\nx", options).kind,
            MessageKind::kAutoReply);
  // Not listed: a person's mail stays normal.
  EXPECT_EQ(ClassifyRaw("From: human@other.example\nSubject: Ticket 42\n\nx", options).kind,
            MessageKind::kNormal);
  EXPECT_EQ(ClassifyRaw("From: x@partner.example.org\nSubject: hi\n\nx", options).kind,
            MessageKind::kNormal);
}

TEST(Classify, ListHeaders) {
  EXPECT_THAT(ClassifyRaw("List-Id: <dev.lists.example>\n\nx").reasons,
              ElementsAre("list:list-id"));
  EXPECT_EQ(ClassifyRaw("List-Unsubscribe: <mailto:u@x.example>\n\nx").kind, MessageKind::kList);
  EXPECT_EQ(ClassifyRaw("Precedence: bulk\n\nx").kind, MessageKind::kList);
}

constexpr char kDsn[] =
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"
    "To: support@example.com\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "Auto-Submitted: auto-replied\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"D\"\n\n"
    "--D\nContent-Type: text/plain\n\nI'm sorry to have to inform you that your message could "
    "not\nbe delivered.\n"
    "--D\nContent-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.example.org\n\n"
    "Final-Recipient: rfc822; Gone@Example.net\n"
    "Action: failed\n"
    "Status: 5.0.0\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected\n\n"
    "--D\nContent-Type: message/rfc822\n\n"
    "From: support@example.com\nTo: gone@example.net\nMessage-ID: <ours-123@example.com>\n"
    "Subject: Your ticket\n\nHello\n"
    "--D--\n";

TEST(Classify, DeliveryStatusNotificationIsABounceTiedToTheOriginal) {
  Classification c = ClassifyRaw(kDsn);
  EXPECT_EQ(c.kind, MessageKind::kBounce);
  EXPECT_THAT(c.reasons, ElementsAre("bounce:dsn", "auto_reply:auto-submitted"));
  ASSERT_TRUE(c.has_bounce);
  EXPECT_EQ(c.bounce.type, BounceType::kFailure);
  EXPECT_EQ(c.bounce.original_message_id, "ours-123@example.com");
  EXPECT_THAT(c.bounce.recipients, ElementsAre("gone@example.net"));
  EXPECT_EQ(c.bounce.status, "5.1.1");  // The remote server's code beats "5.0.0".
  EXPECT_EQ(c.bounce.reporting_mta, "mx.example.org");
  EXPECT_THAT(c.bounce.diagnostic, HasSubstr("Recipient address rejected"));
}

TEST(Classify, DelayAndSuccessReportsAreBounceKinds) {
  std::string delayed = kDsn;
  delayed.replace(delayed.find("Action: failed"), 14, "Action: delayed");
  delayed.replace(delayed.find("550 5.1.1"), 9, "451 4.4.1");
  delayed.replace(delayed.find("Status: 5.0.0"), 13, "Status: 4.0.0");
  EXPECT_EQ(ClassifyRaw(delayed).bounce.type, BounceType::kDelay);
  std::string delivered = kDsn;
  delivered.replace(delivered.find("Action: failed"), 14, "Action: delivered");
  EXPECT_EQ(ClassifyRaw(delivered).bounce.type, BounceType::kSuccess);
}

TEST(Classify, PlainTextBounceFromMailerDaemon) {
  Classification c = ClassifyRaw(
      "From: MAILER-DAEMON@mail.example.org\nReturn-Path: <>\nSubject: failure notice\n\n"
      "Hi. This is the qmail-send program at mail.example.org.\n"
      "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
      "<nobody@example.net>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
      "--- Below this line is a copy of the message.\n\n"
      "Message-ID: <orig-9@example.com>\nSubject: hi\n\nhello\n");
  EXPECT_EQ(c.kind, MessageKind::kBounce);
  EXPECT_EQ(c.bounce.status, "5.1.1");
  EXPECT_THAT(c.bounce.recipients, ElementsAre("nobody@example.net"));
  EXPECT_EQ(c.bounce.original_message_id, "orig-9@example.com");
}

TEST(Classify, XFailedRecipientsIsABounce) {
  Classification c = ClassifyRaw("X-Failed-Recipients: a@b.example, c@d.example\n\nx");
  EXPECT_EQ(c.kind, MessageKind::kBounce);
  EXPECT_THAT(c.bounce.recipients, ElementsAre("a@b.example", "c@d.example"));
}

TEST(Classify, FeedbackReportIsABounceKindWithItsType) {
  Classification c = ClassifyRaw(
      "From: abuse@isp.example\nSubject: complaint\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=F\n\n"
      "--F\nContent-Type: text/plain\n\nThis is an abuse report.\n"
      "--F\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: x/1\n"
      "Version: 1\nOriginal-Rcpt-To: user@isp.example\n\n"
      "--F\nContent-Type: text/rfc822-headers\n\nMessage-ID: <news-1@example.com>\n"
      "From: news@example.com\n\n--F--\n");
  EXPECT_EQ(c.kind, MessageKind::kBounce);
  EXPECT_EQ(c.bounce.type, BounceType::kFeedbackReport);
  EXPECT_EQ(c.bounce.feedback_type, "abuse");
  EXPECT_EQ(c.bounce.original_message_id, "news-1@example.com");
  EXPECT_THAT(c.bounce.recipients, ElementsAre("user@isp.example"));
}

TEST(Classify, ReadReceiptIsAnAutoReply) {
  Classification c = ClassifyRaw(
      "Content-Type: multipart/report; report-type=disposition-notification; boundary=M\n\n"
      "--M\nContent-Type: text/plain\n\nread\n"
      "--M\nContent-Type: message/disposition-notification\n\nDisposition: manual-action/"
      "MDN-sent-manually; displayed\n\n--M--\n");
  EXPECT_EQ(c.kind, MessageKind::kAutoReply);
  EXPECT_THAT(c.reasons, Contains("auto_reply:mdn"));
}

TEST(Classify, PrecedenceIsSpamThenBounceThenAutoReplyThenList) {
  EXPECT_EQ(ClassifyRaw(absl::StrCat("X-Spam-Flag: YES\n", kDsn)).kind, MessageKind::kSpam);
  EXPECT_TRUE(ClassifyRaw(absl::StrCat("X-Spam-Flag: YES\n", kDsn)).has_bounce);
  EXPECT_EQ(ClassifyRaw("Auto-Submitted: auto-replied\nPrecedence: bulk\nList-Id: <x>\n\nx").kind,
            MessageKind::kAutoReply);
  EXPECT_EQ(ClassifyRaw("X-Autoreply: yes\nX-Spam-Flag: yes\n\nx").kind, MessageKind::kSpam);
}

TEST(Classify, FeedbackIdOnABounceIsNotSpam) {
  Classification c = ClassifyRaw(absl::StrCat("Feedback-ID: 1:gmail\n", kDsn));
  EXPECT_EQ(c.kind, MessageKind::kBounce);
  EXPECT_THAT(c.reasons, Contains("spam_ignored:feedback-id-on-report"));
}

TEST(FindStatusCode, SkipsIpAddressesAndVersions) {
  EXPECT_EQ(FindStatusCode("from 192.168.5.1.1 said 550 5.1.1 user unknown"), "5.1.1");
  EXPECT_EQ(FindStatusCode("version 2.4.10.1, then 4.7.26."), "4.7.26");
  EXPECT_EQ(FindStatusCode("nothing here 1.2.3"), "");
}

// ---- Inspect.

TEST(InspectJsonLine, HasTheDocumentedFields) {
  std::string line = InspectJsonLine("mail/1.eml", kDsn);
  for (const char* field :
       {"\"file\":\"mail/1.eml\"", "\"message_id\":\"\"", "\"classification\":\"bounce\"",
        "\"auto_response_suppressed\":true",
        "\"reasons\":[\"bounce:dsn\",\"auto_reply:auto-submitted\","
        "\"auto_response_suppressed:auto-submitted\"]",
        "\"subject\":\"Undelivered Mail Returned to Sender\"",
        "\"from\":\"mailer-daemon@mx.example.org\"", "\"in_reply_to\":\"\"", "\"references\":[]",
        "\"original_message_id\":\"ours-123@example.com\"", "\"status\":\"5.1.1\"",
        "\"attachments\":[{\"filename\":\"\",\"content_type\":\"message/delivery-status\"",
        "\"defects\":[]"}) {
    EXPECT_THAT(line, HasSubstr(field));
  }
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(InspectJsonLine, EscapesControlCharactersAndReplacesInvalidUtf8) {
  std::string line = InspectJsonLine("bad\xFFname\t\"q\"\\",
                                     "Subject: a\x01"
                                     "b\n\nx");
  EXPECT_TRUE(IsValidUtf8(line));
  EXPECT_THAT(line, HasSubstr("\"file\":\"bad\xEF\xBF\xBDname\\t\\\"q\\\"\\\\\""));
  EXPECT_THAT(line, HasSubstr("\"subject\":\"a\\u0001b\""));
}

TEST(InspectJsonLine, ReportsAnErrorForEmptyInput) {
  std::string line = InspectJsonLine("empty.eml", "");
  EXPECT_THAT(line, HasSubstr("\"error\":\"cannot parse the message: it is empty"));
  EXPECT_THAT(line, HasSubstr("\"classification\":\"normal\""));
}

}  // namespace
}  // namespace postroom::mime

namespace postroom::mime {
namespace {

TEST(HtmlToText, DropsTagsScriptsAndDecodesEntities) {
  EXPECT_EQ(HtmlToText("<html><head><title>t</title><style>p{x:y}</style></head><body>"
                       "<p>Hello&nbsp;&amp; <b>welcome</b></p><script>alert(1)</script>"
                       "<!-- hidden --><div>Price: 5&#8364; &#x263A; &lt;ok&gt;</div>"
                       "line<br>break &unknown; & done</body></html>"),
            "Hello & welcome\n\nPrice: 5€ ☺ <ok>\nline\nbreak &unknown; & done");
}

TEST(HtmlToText, SurvivesBrokenMarkup) {
  EXPECT_EQ(HtmlToText("text <b unclosed"), "text");
  EXPECT_EQ(HtmlToText("<script>never closed"), "");
  EXPECT_EQ(HtmlToText("&#0; &#xFFFFFFFF; a"), "\xEF\xBF\xBD \xEF\xBF\xBD a");
}

TEST(BodyText, PrefersPlainTextAndFallsBackToHtml) {
  ParsedMessage m;
  m.html_body = "<p>only html</p>";
  EXPECT_EQ(BodyText(m), "only html");
  m.text_body = "plain";
  EXPECT_EQ(BodyText(m), "plain");
}

}  // namespace
}  // namespace postroom::mime

namespace postroom::mime {
namespace {

// Inputs built to make a careless scanner quadratic; each must finish in well under a second.
TEST(HostileInput, RepeatedPatternsStayLinear) {
  std::string ampersands(2 << 20, '&');
  std::string html = absl::StrCat(
      "From: MAILER-DAEMON@x.example\nReturn-Path: <>\nSubject: Undeliverable\n"
      "Content-Type: text/html\n\n",
      ampersands);
  std::string ids = "From: MAILER-DAEMON@x.example\nSubject: failure notice\n\n";
  for (int i = 0; i < 100000; ++i) ids += "message-id: ";
  std::string scripts = "Content-Type: text/html\n\n";
  for (int i = 0; i < 100000; ++i) scripts += "<script></a>";
  std::string headers;
  for (int i = 0; i < 50000; ++i) absl::StrAppend(&headers, "X-H", i, ": =?utf-8?q?a?=\n");
  headers += "\nbody\n";
  for (const std::string* raw : {&html, &ids, &scripts, &headers}) {
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<ParsedMessage> m = ParseMessage(*raw);
    ASSERT_THAT(m, IsOk());
    Classify(*m);
    HtmlToText(m->html_body);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3))
        << raw->substr(0, 40);
  }
}

}  // namespace
}  // namespace postroom::mime
