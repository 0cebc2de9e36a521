#include "libs/mail/imap_parser.h"

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mail/mail_error.h"
#include "tests/support/status_matchers.h"

namespace postroom::mail {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ImapParser, TaggedNoKeepsCodeAndText) {
  absl::StatusOr<ImapResponse> r =
      ParseImapResponse("A1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->kind, ImapResponse::Kind::kTagged);
  EXPECT_EQ(r->tag, "A1");
  EXPECT_EQ(r->name, "NO");
  EXPECT_EQ(r->code, "AUTHENTICATIONFAILED");
  EXPECT_EQ(r->text, "Authentication failed.");
  EXPECT_EQ(r->StatusText(), "NO [AUTHENTICATIONFAILED] Authentication failed.");
}

TEST(ImapParser, UntaggedOkCodeWithArguments) {
  absl::StatusOr<ImapResponse> r =
      ParseImapResponse("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->kind, ImapResponse::Kind::kUntagged);
  EXPECT_EQ(r->code, "UIDVALIDITY");
  EXPECT_EQ(r->code_args, "3857529045");
  EXPECT_EQ(r->text, "UIDs valid");
}

TEST(ImapParser, NumberedUntaggedResponse) {
  absl::StatusOr<ImapResponse> r = ParseImapResponse("* 23 EXISTS\r\n");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->number, 23u);
  EXPECT_EQ(r->name, "EXISTS");
}

TEST(ImapParser, FetchWithLiteralPointsIntoTheBuffer) {
  const std::string bytes =
      "* 12 FETCH (UID 105 RFC822.SIZE 11 FLAGS (\\Seen $Junk) BODY[] "
      "{11}\r\nab\r\n)\r\ncd\r\n)\r\n";
  absl::StatusOr<ImapResponse> r = ParseImapResponse(bytes);
  ASSERT_THAT(r, IsOk());
  absl::StatusOr<ImapFetchData> f = ParseFetch(*r);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->sequence, 12u);
  EXPECT_EQ(f->uid, 105u);
  EXPECT_EQ(f->rfc822_size, 11u);
  ASSERT_TRUE(f->body.has_value());
  EXPECT_EQ(*f->body, "ab\r\n)\r\ncd\r\n");
  EXPECT_GE(f->body->data(), bytes.data());
  EXPECT_LT(f->body->data(), bytes.data() + bytes.size());
  EXPECT_THAT(*f->flags, ElementsAre("\\Seen", "$Junk"));
}

TEST(ImapParser, QuotedStringsAreUnescaped) {
  absl::StatusOr<ImapResponse> r =
      ParseImapResponse("* LIST (\\HasNoChildren) \"/\" \"a \\\"q\\\" \\\\ b\"\r\n");
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->data.size(), 3u);
  EXPECT_EQ(r->data[2].Text(), "a \"q\" \\ b");
}

TEST(ImapParser, NilAndNestedLists) {
  absl::StatusOr<ImapResponse> r = ParseImapResponse("* 1 FETCH (X (a (b NIL) ()) Y nil)\r\n");
  ASSERT_THAT(r, IsOk());
  const ImapValue& list = r->data[0];
  ASSERT_EQ(list.list.size(), 4u);
  EXPECT_EQ(list.list[1].list[1].list[1].kind, ImapValue::Kind::kNil);
  EXPECT_TRUE(list.list[1].list[2].list.empty());
  EXPECT_EQ(list.list[3].kind, ImapValue::Kind::kNil);
}

TEST(ImapParser, SectionSpecWithSpacesIsOneAtom) {
  absl::StatusOr<ImapResponse> r =
      ParseImapResponse("* 1 FETCH (BODY[HEADER.FIELDS (FROM TO)]<0> {3}\r\nabc UID 4)\r\n");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->data[0].list[0].text, "BODY[HEADER.FIELDS (FROM TO)]<0>");
  EXPECT_EQ(r->data[0].list[1].Text(), "abc");
}

TEST(ImapParser, ContinuationWithText) {
  absl::StatusOr<ImapResponse> r = ParseImapResponse("+ idling\r\n");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->kind, ImapResponse::Kind::kContinuation);
  EXPECT_EQ(r->text, "idling");
  absl::StatusOr<ImapResponse> bare = ParseImapResponse("+\r\n");
  ASSERT_THAT(bare, IsOk());
  EXPECT_EQ(bare->text, "");
}

TEST(ImapParser, SearchNumbers) {
  absl::StatusOr<ImapResponse> r = ParseImapResponse("* SEARCH 2 84 882\r\n");
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(ParseSearch(*r), ::postroom::testing::IsOkAndHolds(ElementsAre(2, 84, 882)));
  absl::StatusOr<ImapResponse> empty = ParseImapResponse("* SEARCH\r\n");
  ASSERT_THAT(empty, IsOk());
  EXPECT_THAT(ParseSearch(*empty), ::postroom::testing::IsOkAndHolds(ElementsAre()));
}

TEST(ImapParser, CapabilitiesFromDataAndFromCode) {
  absl::StatusOr<ImapResponse> data =
      ParseImapResponse("* CAPABILITY IMAP4rev1 IDLE auth=PLAIN\r\n");
  ASSERT_THAT(data, IsOk());
  EXPECT_THAT(ParseCapabilities(*data), ElementsAre("IMAP4REV1", "IDLE", "AUTH=PLAIN"));
  absl::StatusOr<ImapResponse> code =
      ParseImapResponse("* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n");
  ASSERT_THAT(code, IsOk());
  EXPECT_THAT(ParseCapabilities(*code), ElementsAre("IMAP4REV1", "STARTTLS"));
}

TEST(ImapParser, MalformedInputIsAProtocolError) {
  for (const char* bad :
       {"", "* 1 FETCH (UID 1\r\n", "* 1 FETCH (BODY[] {10}\r\nabc)\r\n",
        "* LIST () \"/\" \"unterminated\r\n", "* 1 FETCH )\r\n", "A1 FETCH (x)\r\n",
        "* OK [UIDVALIDITY 3 no close\r\n", "* 99999999999 EXISTS\r\n", "* SEARCH a\r\n"}) {
    absl::StatusOr<ImapResponse> r = ParseImapResponse(bad);
    if (r.ok()) {
      // Some are well-formed responses with bad data; the typed parsers must reject them.
      EXPECT_THAT(ParseSearch(*r), StatusIs(absl::StatusCode::kInternal)) << bad;
      continue;
    }
    EXPECT_EQ(ClassifyMailError(r.status()), MailErrorClass::kProtocol) << bad;
  }
}

TEST(ImapParser, DeepNestingIsRefusedNotRecursedForever) {
  std::string deep = "* 1 FETCH " + std::string(10000, '(') + std::string(10000, ')') + "\r\n";
  EXPECT_THAT(ParseImapResponse(deep), StatusIs(absl::StatusCode::kInternal, HasSubstr("deep")));
}

TEST(ImapParser, RandomBytesNeverCrash) {
  std::mt19937 rng(42);
  const std::string alphabet = "* ()[]{}\"\\\r\n0123456789AB+~NIL";
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    int len = static_cast<int>(rng() % 40);
    for (int k = 0; k < len; ++k) s.push_back(alphabet[rng() % alphabet.size()]);
    absl::StatusOr<ImapResponse> r = ParseImapResponse(s);
    if (r.ok()) {
      (void)ParseFetch(*r);
      (void)ParseSearch(*r);
    }
    ImapResponseFramer framer(64, 64);
    (void)framer.Next(s);
  }
}

TEST(ImapFramer, LineNeedsItsLineFeed) {
  ImapResponseFramer f;
  EXPECT_THAT(f.Next("* 3 EXISTS"), ::postroom::testing::IsOkAndHolds(0u));
  EXPECT_THAT(f.Next("* 3 EXISTS\r\n* 4"), ::postroom::testing::IsOkAndHolds(12u));
}

TEST(ImapFramer, LiteralFedByteByByteEndsAtFinalLine) {
  const std::string resp = "* 1 FETCH (BODY[] {5}\r\na\r\n\r\n UID 3)\r\n";
  ImapResponseFramer f;
  size_t done = 0;
  for (size_t i = 1; i <= resp.size(); ++i) {
    absl::StatusOr<size_t> n = f.Next(absl::string_view(resp).substr(0, i));
    ASSERT_THAT(n, IsOk());
    if (*n > 0) {
      done = *n;
      EXPECT_EQ(i, resp.size());
      break;
    }
  }
  EXPECT_EQ(done, resp.size());
}

TEST(ImapFramer, ReportsBytesStillNeededForLiteral) {
  ImapResponseFramer f;
  std::string head = "* 1 FETCH (BODY[] {1000}\r\n";
  EXPECT_THAT(f.Next(head), ::postroom::testing::IsOkAndHolds(0u));
  EXPECT_EQ(f.literal_bytes_needed(head.size()), 1000u);
}

TEST(ImapFramer, BoundsLineAndLiteral) {
  ImapResponseFramer f(16, 100);
  EXPECT_THAT(f.Next(std::string(17, 'x')), StatusIs(absl::StatusCode::kInternal));
  ImapResponseFramer g(1 << 10, 100);
  EXPECT_THAT(g.Next("* 1 FETCH (BODY[] {101}\r\n"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("exceeds the limit")));
}

TEST(ImapEncoding, SequenceSetsCompressRuns) {
  EXPECT_EQ(FormatSequenceSet({9, 1, 2, 3, 7, 10, 3}), "1:3,7,9:10");
  EXPECT_EQ(FormatSequenceSet({}), "");
  EXPECT_EQ(FormatSequenceSet({4294967295u}), "4294967295");
}

TEST(ImapEncoding, QuotedOrLiteral) {
  EXPECT_EQ(QuoteImapString("p\"w\\d"), "\"p\\\"w\\\\d\"");
  EXPECT_EQ(QuoteImapString("line\r\nbreak"), std::nullopt);
  EXPECT_EQ(QuoteImapString("pässword"), std::nullopt);
}

TEST(ImapEncoding, MailboxNamesAreModifiedUtf7) {
  EXPECT_THAT(EncodeMailboxName("INBOX"), ::postroom::testing::IsOkAndHolds("INBOX"));
  EXPECT_THAT(EncodeMailboxName("Entwürfe"), ::postroom::testing::IsOkAndHolds("Entw&APw-rfe"));
  EXPECT_THAT(EncodeMailboxName("R&D"), ::postroom::testing::IsOkAndHolds("R&-D"));
  EXPECT_THAT(EncodeMailboxName("日本語"), ::postroom::testing::IsOkAndHolds("&ZeVnLIqe-"));
  EXPECT_THAT(EncodeMailboxName("\xff"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ImapEncoding, SearchDates) {
  EXPECT_EQ(FormatImapDate(absl::CivilDay(2026, 2, 1)), "1-Feb-2026");
  EXPECT_EQ(FormatImapDate(absl::CivilDay(2025, 12, 31)), "31-Dec-2025");
}

}  // namespace
}  // namespace postroom::mail
