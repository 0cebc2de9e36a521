// Which mail may get an automatic answer: every RFC 3834 signal, our own addresses and
// Message-IDs, headers that only look like signals (quoted in a body, inside an attachment,
// receipts-only X-Auto-Response-Suppress), and real client output from the shared corpus.
#include "libs/mime/tests/corpus.h"
#include "libs/mime/auto_response.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mime/inspect.h"
#include "libs/mime/parser.h"

namespace postroom::mime {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::HasSubstr;

constexpr char kHuman[] =
    "From: Jane Doe <jane@client.example>\r\n"
    "To: support@desk.example\r\n"
    "Subject: Printer on floor 3\r\n"
    "Message-ID: <abc.123@client.example>\r\n"
    "\r\n"
    "It jams.\r\n";

std::vector<std::string> ReasonsOf(const std::string& raw, const AutoResponseOptions& o = {}) {
  absl::StatusOr<ParsedMessage> m = ParseMessage(raw);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? AutoResponseSuppressedReasons(*m, o) : std::vector<std::string>{"unparsed"};
}

std::string WithHeader(const std::string& header) { return header + "\r\n" + kHuman; }

TEST(AutoResponse, PersonsMailMayBeAnswered) { EXPECT_THAT(ReasonsOf(kHuman), IsEmpty()); }

TEST(AutoResponse, EachSignalSuppresses) {
  const std::pair<const char*, const char*> cases[] = {
      {"Auto-Submitted: auto-replied", "auto-submitted"},
      {"Auto-Submitted: auto-generated; owner-email=x@y.example", "auto-submitted"},
      {"X-Loop: helpdesk@other.example", "x-loop"},
      {"X-Auto-Response-Suppress: All", "x-auto-response-suppress"},
      {"X-Auto-Response-Suppress: DR, OOF", "x-auto-response-suppress"},
      {"X-Auto-Response-Suppress: autoreply", "x-auto-response-suppress"},
      {"Return-Path: <>", "null-return-path"},
      {"Precedence: bulk", "precedence-bulk"},
      {"Precedence: junk", "precedence-junk"},
      {"Precedence: List", "precedence-list"},
      {"X-Autoreply: yes", "x-autoreply"},
      {"X-Autorespond: Vacation", "x-autorespond"},
      {"List-Id: <dev.lists.example>", "list-id"},
      {"List-Unsubscribe: <mailto:u@lists.example>", "list-unsubscribe"},
      {"List-Post: <mailto:dev@lists.example>", "list-post"},
  };
  for (const auto& [header, signal] : cases) {
    EXPECT_THAT(ReasonsOf(WithHeader(header)),
                ElementsAre(absl::StrCat("auto_response_suppressed:", signal)))
        << header;
  }
}

TEST(AutoResponse, PersonsHeadersThatAskForNothingDoNotSuppress) {
  // Outlook sets receipts-only suppression on ordinary mail: it still gets its answer.
  EXPECT_THAT(ReasonsOf(WithHeader("X-Auto-Response-Suppress: DR, RN, NRN")), IsEmpty());
  EXPECT_THAT(ReasonsOf(WithHeader("X-Auto-Response-Suppress: NDR, DR, RN, NRN")), IsEmpty());
  EXPECT_THAT(ReasonsOf(WithHeader("Auto-Submitted: no")), IsEmpty());
  EXPECT_THAT(ReasonsOf(WithHeader("Auto-Submitted: No; a person wrote this")), IsEmpty());
  EXPECT_THAT(ReasonsOf(WithHeader("Precedence: first-class")), IsEmpty());
}

TEST(AutoResponse, HeadersQuotedInABodyOrAnAttachedMessageNeverCount) {
  const std::string quoted =
      std::string(kHuman) +
      "\r\n> Auto-Submitted: auto-replied\r\nX-Loop: support@desk.example\r\n"
      "Precedence: bulk\r\nList-Id: <x.example>\r\n";
  EXPECT_THAT(ReasonsOf(quoted), IsEmpty());
  const std::string forwarded =
      "From: Jane Doe <jane@client.example>\r\n"
      "To: support@desk.example\r\n"
      "Subject: Fwd: what I got\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
      "--b\r\nContent-Type: message/rfc822\r\n\r\n"
      "From: vacation@other.example\r\nAuto-Submitted: auto-replied\r\nX-Loop: a@b.example\r\n"
      "Return-Path: <>\r\nMessage-ID: <postroom.outbox.7.1700000000000@desk.example>\r\n"
      "Subject: Out of office\r\n\r\naway\r\n"
      "--b--\r\n";
  EXPECT_THAT(ReasonsOf(forwarded), IsEmpty());
}

TEST(AutoResponse, OurOwnAddressesAndMessageIds) {
  AutoResponseOptions own;
  own.own_addresses = {"support@desk.example", "help@desk.example"};
  EXPECT_THAT(ReasonsOf(kHuman, own), IsEmpty());
  std::string from_alias = kHuman;
  from_alias.replace(from_alias.find("jane@client.example"), 19, "Help@Desk.example");
  EXPECT_THAT(ReasonsOf(from_alias, own), ElementsAre("auto_response_suppressed:own-address"));
  std::string tagged = kHuman;
  tagged.replace(tagged.find("jane@client.example"), 19, "Help+x@Desk.example");
  EXPECT_THAT(ReasonsOf(tagged, own), ElementsAre("auto_response_suppressed:own-address"));
  EXPECT_THAT(ReasonsOf(WithHeader("Return-Path: <support@desk.example>"), own),
              ElementsAre("auto_response_suppressed:own-address"));
  EXPECT_THAT(ReasonsOf(WithHeader("Sender: support@desk.example"), own),
              ElementsAre("auto_response_suppressed:own-address"));

  std::string ours = kHuman;
  ours.replace(ours.find("abc.123@client.example"), 22,
               "postroom.outbox.17.1733568000123@desk.example");
  EXPECT_THAT(ReasonsOf(ours), ElementsAre("auto_response_suppressed:own-message-id"));
  EXPECT_TRUE(IsPostroomMessageId("postroom.reply.3.1733568000123@x.example"));
  EXPECT_FALSE(IsPostroomMessageId("postroom.outbox.17.x@desk.example"));
  EXPECT_FALSE(IsPostroomMessageId("postroom.outbox.17.1733568000123"));
  EXPECT_FALSE(IsPostroomMessageId("xpostroom.outbox.17.1733568000123@desk.example"));
  EXPECT_FALSE(IsPostroomMessageId("abc.123@client.example"));
}

TEST(AutoResponse, InspectJsonSaysWhetherAndWhy) {
  std::string line = InspectJsonLine("m.eml", WithHeader("X-Loop: helpdesk@other.example"));
  EXPECT_THAT(line, HasSubstr("\"auto_response_suppressed\":true"));
  EXPECT_THAT(line, HasSubstr("\"reasons\":[\"auto_response_suppressed:x-loop\"]"));
  EXPECT_THAT(InspectJsonLine("m.eml", kHuman),
              HasSubstr("\"auto_response_suppressed\":false,\"reasons\":[]"));
}

// ---- Real client output (the shared corpus; see libs/mime/tests/mime_corpus_test.cc).

using test_corpus::CorpusDir;

std::string ReadCorpusFile(const std::string& relative) {
  const std::string path = CorpusDir() + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "corpus file " << path
                         << " not found: set POSTROOM_CORPUS_DIR to the shared corpus";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(AutoResponseCorpus, MailClientsArePeople) {
  for (const char* client : {"android", "aol", "apple_mail", "comcast", "gmail", "hotmail",
                             "iphone", "outlook", "sparrow", "thunderbird", "yahoo"}) {
    std::string raw = ReadCorpusFile(
        absl::StrCat("mailgun-talon/tests/fixtures/standard_replies/", client, ".eml"));
    EXPECT_THAT(ReasonsOf(raw), IsEmpty()) << client;
    // The same mail with Outlook's receipts-only suppression is still a person's.
    EXPECT_THAT(ReasonsOf("X-Auto-Response-Suppress: DR, RN, NRN\r\n" + raw), IsEmpty())
        << client;
    EXPECT_THAT(ReasonsOf("X-Auto-Response-Suppress: All\r\n" + raw),
                ElementsAre("auto_response_suppressed:x-auto-response-suppress"))
        << client;
  }
}

TEST(AutoResponseCorpus, RealResponders) {
  const std::pair<const char*, std::vector<std::string>> cases[] = {
      {"rfc3834-01.eml", {"auto_response_suppressed:auto-submitted"}},
      {"rfc3834-02.eml",
       {"auto_response_suppressed:x-auto-response-suppress",
        "auto_response_suppressed:null-return-path"}},
      {"rfc3834-06.eml",
       {"auto_response_suppressed:auto-submitted",
        "auto_response_suppressed:x-auto-response-suppress",
        "auto_response_suppressed:null-return-path", "auto_response_suppressed:precedence-bulk"}},
  };
  for (const auto& [file, reasons] : cases) {
    EXPECT_EQ(ReasonsOf(ReadCorpusFile(
                  absl::StrCat("sisimai-set-of-emails/maildir/bsd/", file))),
              reasons)
        << file;
  }
}

}  // namespace
}  // namespace postroom::mime
