// Hostile mail cannot hurt the parser: every ParseLimits limit holds while parsing, says which
// limit it hit, and keeps what came before it (libs/mime/bounds.h).
#include <sys/resource.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mime/classify.h"
#include "libs/mime/html_text.h"
#include "libs/mime/parser.h"
#include "libs/mime/tests/hostile_mail.h"
#include "tests/support/sanitizers.h"
#include "tests/support/status_matchers.h"

namespace postroom::mime {
namespace {

using ::postroom::testing::IsOk;
using ::testing::Contains;
using ::testing::Field;
using ::testing::Not;
using ::testing::StartsWith;

ParsedMessage Parse(std::string_view raw, const ParseLimits& limits = {}) {
  absl::StatusOr<ParsedMessage> m = ParseMessage(raw, limits);
  EXPECT_THAT(m, IsOk());
  return m.ok() ? *std::move(m) : ParsedMessage{};
}

// The one opaque part that stands for the rest of the message after a cut.
uint64_t OpaqueRestBytes(const ParsedMessage& m) {
  uint64_t bytes = 0;
  for (const Attachment& a : m.attachments) {
    if (a.content_type == "application/octet-stream" && a.filename.empty()) bytes += a.size;
  }
  return bytes;
}

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

constexpr char kFirstPart[] =
    "From: a@example.com\nSubject: first\nContent-Type: multipart/mixed; boundary=b\n\n"
    "--b\nContent-Type: text/plain\n\nread before the limit\n";

// --- The four shapes of issue 17 -----------------------------------------------------------

TEST(HostileShapes, TenMegabytesOfEmptyPartsStopAtThePartLimit) {
  std::string raw = kFirstPart;
  hostile::Fill(raw, "--b\n\n", 10'000'000);
  ParsedMessage m = Parse(raw);
  EXPECT_THAT(m.defects, Contains("parts limit 1000 reached: rest kept as one opaque part"));
  EXPECT_THAT(m.defects, Contains("part_limit"));
  EXPECT_EQ(m.parts.size(), 1000u);
  EXPECT_EQ(m.subject, "first");
  EXPECT_THAT(m.text_body, StartsWith("read before the limit"));
  EXPECT_GT(OpaqueRestBytes(m), 9'990'000u);
}

TEST(HostileShapes, TenMegabytesOfHeaderLinesStopAtTheFieldLimit) {
  std::string raw = "Subject: first\n";
  hostile::Fill(raw, "Xa: bcd\n", 10'000'000);
  raw += "\nbody\n";
  ParsedMessage m = Parse(raw);
  EXPECT_THAT(m.defects, Contains("header fields limit 10000 reached: later fields dropped"));
  EXPECT_EQ(m.headers.size(), 10000u);
  EXPECT_EQ(m.subject, "first");
  EXPECT_EQ(m.text_body, "body\n");
}

TEST(HostileShapes, ATwentyMegabyteFoldedHeaderIsCut) {
  std::string raw = "Subject: first";
  hostile::Fill(raw, "\n folded", 20'000'000);
  raw += "\nFrom: after@example.com\n\nbody\n";
  ParsedMessage m = Parse(raw);
  EXPECT_THAT(m.defects,
              Contains("header field limit 65536 bytes reached: rest of the field dropped"));
  EXPECT_THAT(m.subject, StartsWith("first folded folded"));
  EXPECT_LE(m.headers.front().raw_value.size(), 65536u);
  ASSERT_EQ(m.from.size(), 1u);  // The field after the cut one is read.
  EXPECT_EQ(m.from[0].address, "after@example.com");
  EXPECT_EQ(m.text_body, "body\n");
}

TEST(HostileShapes, AThousandNestedBoundariesStopAtTheDepthLimit) {
  std::string raw = "Subject: first\n";
  for (int i = 0; i < 1000; ++i) {
    absl::StrAppend(&raw, "Content-Type: multipart/mixed; boundary=b", i, "\n\n--b", i, "\n");
  }
  raw += "Content-Type: text/plain\n\n";
  hostile::Fill(raw, "--b1x\n", raw.size() + 4'000'000);
  ParsedMessage m = Parse(raw);
  EXPECT_THAT(m.defects, Contains("depth limit 32 reached: rest kept as one opaque part"));
  EXPECT_EQ(m.parts.size(), 33u);  // Depths 0 to 32.
  EXPECT_EQ(m.subject, "first");
  EXPECT_GT(OpaqueRestBytes(m), 4'000'000u);
}

TEST(HostileShapes, BareDelimiterLinesCountAsParts) {
  // GMime builds nothing for a part without headers or content, but reads each one, so the
  // scan counts them: the multipart and the text part are what is left.
  std::string raw = kFirstPart;
  hostile::Fill(raw, "--b\n", 10'000'000);
  ParsedMessage m = Parse(raw);
  EXPECT_THAT(m.defects, Contains("parts limit 1000 reached: rest kept as one opaque part"));
  EXPECT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.text_body, "read before the limit");
}

// --- One test per limit ---------------------------------------------------------------------

TEST(Limits, PartsBeyondTheLimitBecomeOneOpaquePartOfTheExactRest) {
  std::string raw = kFirstPart;
  for (int i = 0; i < 10; ++i) absl::StrAppend(&raw, "--b\nContent-Type: image/gif\n\nx\n");
  std::string rest = "--b\nContent-Type: image/png\n\ny\n--b--\n";
  raw += rest;
  ParseLimits limits;
  limits.max_parts = 12;  // The multipart, the text and 10 images.
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Contains("parts limit 12 reached: rest kept as one opaque part"));
  EXPECT_EQ(m.parts.size(), 12u);
  EXPECT_EQ(OpaqueRestBytes(m), rest.size());
  EXPECT_THAT(m.parts, Not(Contains("image/png")));
  // The cut closes the multipart: GMime sees no truncated part.
  EXPECT_THAT(m.defects, Not(Contains("truncated_part")));

  limits.max_parts = 13;
  ParsedMessage all = Parse(raw, limits);
  EXPECT_THAT(all.defects, Not(Contains("part_limit")));
  EXPECT_EQ(OpaqueRestBytes(all), 0u);
}

TEST(Limits, PartsInsideAttachedMessagesCount) {
  std::string raw =
      "Subject: outer\nContent-Type: multipart/mixed; boundary=o\n\n--o\n\nouter text\n"
      "--o\nContent-Type: message/rfc822\n\nSubject: inner\n"
      "Content-Type: multipart/mixed; boundary=i\n\n";
  for (int i = 0; i < 100; ++i) raw += "--i\n\nx\n";
  raw += "--i--\n--o--\n";
  ParseLimits limits;
  limits.max_parts = 10;
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Contains("parts limit 10 reached: rest kept as one opaque part"));
  EXPECT_EQ(m.text_body, "outer text");
  EXPECT_GT(OpaqueRestBytes(m), 0u);
}

TEST(Limits, DeeplyNestedAttachedMessagesStopAtTheDepthLimit) {
  std::string raw = "Subject: top\n";
  for (int i = 0; i < 100000; ++i) raw += "Content-Type: message/rfc822\n\nSubject: x\n";
  raw += "\nbottom\n";
  ParseLimits limits;
  limits.max_depth = 3;
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Contains("depth limit 3 reached: rest kept as one opaque part"));
  EXPECT_THAT(m.defects, Contains("depth_limit"));
  EXPECT_EQ(m.subject, "top");
  EXPECT_EQ(m.parts.front(), "message/rfc822");
  EXPECT_GT(OpaqueRestBytes(m), 100000u * 30);
}

TEST(Limits, BoundaryLinesAreMatchedAgainstAtMostTheOpenBoundaries) {
  // A nested multipart may reuse its parent's boundary; the innermost is matched first, as in
  // GMime, and lines that only look like boundaries start no part.
  std::string raw =
      "Content-Type: multipart/mixed; boundary=y\n\n--y\n"
      "Content-Type: multipart/mixed; boundary=y\n\n--y\n\na\n--y\n\nb\n--y--\n"
      "--y\n\nc\n";
  for (int i = 0; i < 100000; ++i) raw += "--y-\n--yy\n-- y\n";
  raw += "--y--\n";
  ParseLimits limits;
  limits.max_parts = 5;  // Exactly what GMime builds: 2 multiparts and 3 texts.
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Not(Contains("part_limit")));
  EXPECT_EQ(m.parts.size(), 5u);
  EXPECT_THAT(m.text_body, StartsWith("a\nb\nc\n--y-\n--yy\n-- y\n"));
  size_t lookalikes = 0;
  for (size_t p = m.text_body.find("--yy"); p != std::string::npos;
       p = m.text_body.find("--yy", p + 1)) {
    ++lookalikes;
  }
  EXPECT_EQ(lookalikes, 100000u);
}

TEST(Limits, ABoundaryEndingInABlankIsCountedAsGMimeMatchesIt) {
  std::string raw = "Content-Type: multipart/mixed; boundary=\"x \"\n\n";
  for (int i = 0; i < 100; ++i) raw += "--x \n\npart\n";
  ParseLimits limits;
  limits.max_parts = 10;
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Contains("parts limit 10 reached: rest kept as one opaque part"));
  EXPECT_EQ(m.parts.size(), 10u);
}

TEST(Limits, HeaderBytesOfOneBlockAreBounded) {
  ParseLimits limits;
  limits.max_header_bytes = 2000;
  std::string raw = "Subject: first\n";
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&raw, "X-Filler-", i, ": some value here\n");
  raw += "\nbody\n";
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Contains("header bytes limit 2000 reached: later fields dropped"));
  EXPECT_THAT(m.defects, Contains("header_limit"));
  EXPECT_EQ(m.subject, "first");
  EXPECT_LT(m.headers.size(), 100u);
  EXPECT_GT(m.headers.size(), 50u);
  EXPECT_EQ(m.text_body, "body\n");
}

TEST(Limits, HeaderBytesOfAllBlocksTogetherAreBounded) {
  ParseLimits limits;
  limits.max_header_bytes = 4096;
  limits.max_total_header_bytes = 20000;
  std::string raw = kFirstPart;
  for (int i = 0; i < 100; ++i) {
    absl::StrAppend(&raw, "--b\nContent-Type: text/plain\n");
    for (int j = 0; j < 10; ++j) absl::StrAppend(&raw, "X-Part-Field-", j, ": ", i, "\n");
    absl::StrAppend(&raw, "\npart ", i, "\n");
  }
  raw += "--b--\n";
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Contains("header bytes limit 20000 reached: later fields dropped"));
  EXPECT_THAT(m.text_body, StartsWith("read before the limit\npart 0\n"));
  EXPECT_EQ(m.parts.size(), 102u);  // Parts stay; only their later header fields go.
}

TEST(Limits, HeaderFieldsOfAllBlocksTogetherAreBounded) {
  ParseLimits limits;
  limits.max_header_fields = 50;
  std::string raw = "Subject: first\n";
  for (int i = 0; i < 100; ++i) absl::StrAppend(&raw, "X-", i, ": v\n");
  raw += "\nbody\n";
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Contains("header fields limit 50 reached: later fields dropped"));
  EXPECT_EQ(m.headers.size(), 50u);
  EXPECT_EQ(m.headers.back().name, "X-48");
}

TEST(Limits, AnOverlongHeaderLineIsCutAndTheNextFieldRead) {
  ParseLimits limits;
  limits.max_header_field_bytes = 1000;
  std::string raw = absl::StrCat("Subject: ", std::string(5'000'000, 'a'),
                                 "\nFrom: next@example.com\n\nbody\n");
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects,
              Contains("header field limit 1000 bytes reached: rest of the field dropped"));
  EXPECT_THAT(m.defects, Contains("header_too_long"));
  EXPECT_EQ(m.subject, std::string(1000, 'a'));
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].address, "next@example.com");
}

TEST(Limits, ACutFieldNeverEndsTheHeaderBlockEarly) {
  // Were the cut continuation line left empty, GMime would end the headers there and read the
  // first Content-Type, while the scan reads the last one and would not count the parts.
  ParseLimits limits;
  limits.max_header_field_bytes = 100;
  limits.max_parts = 10;
  std::string raw = absl::StrCat("Content-Type: multipart/mixed; boundary=b\nX-Long: ",
                                 std::string(100, 'a'), "\n ", std::string(50, 'c'), "\n",
                                 "Content-Type: text/plain\n\n");
  for (int i = 0; i < 1000; ++i) raw += "--b\n\npart\n";
  ParsedMessage m = Parse(raw, limits);
  EXPECT_THAT(m.defects, Contains("header_too_long"));
  EXPECT_LE(m.parts.size(), 10u);
  EXPECT_EQ(m.parts.front(), "text/plain");
}

TEST(Limits, EncodedWordsAreBoundedAcrossFields) {
  ParseLimits limits;
  limits.max_encoded_words = 5;
  ParsedMessage m = Parse(
      "Subject: =?utf-8?q?a?= =?utf-8?q?b?= =?utf-8?q?c?=\n"
      "X-One: =?utf-8?q?d?= =?utf-8?q?e?= =?utf-8?q?f?= =?utf-8?q?g?=\n"
      "X-Two: plain\n\nbody\n",
      limits);
  EXPECT_THAT(m.defects, Contains("encoded words limit 5 reached: rest of the field dropped"));
  EXPECT_EQ(m.subject, "abc");
  ASSERT_NE(m.FindHeader("X-One"), nullptr);
  EXPECT_EQ(m.FindHeader("X-One")->value, "de");
  ASSERT_NE(m.FindHeader("X-Two"), nullptr);
  EXPECT_EQ(m.FindHeader("X-Two")->value, "plain");
}

TEST(Limits, NormalMailIsNotTouched) {
  std::string raw = kFirstPart;
  raw += "--b\nContent-Type: application/pdf; name=\"a.pdf\"\nContent-Transfer-Encoding: base64\n\n"
         "QUJD\n--b--\n";
  ParsedMessage m = Parse(raw);
  EXPECT_THAT(m.defects, ::testing::IsEmpty());
  EXPECT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(OpaqueRestBytes(m), 0u);
}

// --- The whole hostile set under a CPU-time bound ------------------------------------------

TEST(HostileSet, ParsesEveryShapeAtFullSizeWithinTheCpuBound) {
  // Before the bounds, empty_parts alone took 12 s; now the whole set takes well under 1 s.
  // ASan runs the same code a few times slower: the bounds widen by 4 there.
  const double scale = postroom::testing::kUnderAddressSanitizer ? 4.0 : 1.0;
  double total = 0;
  for (const hostile::HostileMail& shape : hostile::HostileMails()) {
    std::string raw = shape.make(25 << 20);
    double start = CpuSeconds();
    absl::StatusOr<ParsedMessage> m = ParseMessage(raw);
    ASSERT_THAT(m, IsOk()) << shape.name;
    Classify(*m);
    BodyText(*m);
    double used = CpuSeconds() - start;
    total += used;
    EXPECT_LT(used, 2.0 * scale) << shape.name;
  }
  EXPECT_LT(total, 3.0 * scale);
}

}  // namespace
}  // namespace postroom::mime
