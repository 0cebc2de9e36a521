// ListAttachments and StreamAttachment: decoded bytes compared with what was encoded, the index
// order ParseMessage lists, names (RFC 2231 / 2047), chunk bounds, the rest past a parse limit.
#include "libs/mime/attachments.h"

#include <openssl/sha.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mime/parser.h"
#include "tests/support/status_matchers.h"

namespace postroom::mime {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::StatusIs;
using ::testing::HasSubstr;

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

// Every byte value, repeated: what a careless text conversion would change.
std::string BinaryBytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 256) & 0xff);
  return s;
}

std::string Base64Lines(std::string_view bytes) {
  std::string b64 = absl::Base64Escape(absl::string_view(bytes.data(), bytes.size()));
  std::string out;
  for (size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\r\n";
  return out;
}

struct Streamed {
  std::string bytes;
  std::vector<size_t> chunks;
  Attachment info;
};

Streamed Stream(std::string_view raw, size_t index, const ParseLimits& limits = {}) {
  Streamed s;
  absl::Status st = StreamAttachment(raw, index, limits,
                                     [&](const Attachment& a, std::string_view chunk) {
                                       s.info = a;
                                       s.chunks.push_back(chunk.size());
                                       s.bytes.append(chunk);
                                       return absl::OkStatus();
                                     });
  EXPECT_THAT(st, IsOk());
  return s;
}

std::string Mixed(const std::vector<std::string>& parts) {
  std::string m =
      "From: a@example.com\r\nTo: b@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
      "--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n";
  for (const std::string& p : parts) absl::StrAppend(&m, "--b1\r\n", p);
  return m + "--b1--\r\n";
}

TEST(ListAttachments, DecodesBase64QuotedPrintableAndUuencodeExactly) {
  const std::string bin = BinaryBytes(70000);
  // The line end before a boundary belongs to the boundary (RFC 2046), not to the content.
  const std::string qp_text = "caf\xc3\xa9 = 1\r\nline two with a long tail";
  const std::string raw = Mixed({
      "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
      "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.bin\r\n"
      "\r\n" + Base64Lines(bin),
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
      "Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\n"
      "caf=C3=A9 =3D 1\r\nline two with a =\r\nlong tail\r\n",
      "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n"
      "Content-Disposition: attachment; filename=\"u.txt\"\r\n\r\n"
      "begin 644 u.txt\r\n%:&5L;&\\`\r\n`\r\nend\r\n",
  });
  absl::StatusOr<std::vector<Attachment>> list = ListAttachments(raw);
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].filename, "a.bin");
  EXPECT_EQ((*list)[0].disposition, "attachment");
  EXPECT_EQ((*list)[0].size, bin.size());
  EXPECT_EQ((*list)[0].sha256, Sha256Hex(bin));
  EXPECT_EQ((*list)[1].sha256, Sha256Hex(qp_text));
  EXPECT_EQ((*list)[1].size, qp_text.size());
  EXPECT_EQ((*list)[2].sha256, Sha256Hex("hello"));

  EXPECT_EQ(Stream(raw, 0).bytes, bin);
  EXPECT_EQ(Stream(raw, 1).bytes, qp_text);
  EXPECT_EQ(Stream(raw, 2).bytes, "hello");
}

TEST(ListAttachments, IndexesFollowParseMessageDepthFirst) {
  const std::string raw =
      "From: a@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
      "--o\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
      "--r\r\nContent-Type: text/html\r\n\r\n<img src=cid:logo@x>\r\n"
      "--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" + Base64Lines("PNGDATA") +
      "--r--\r\n"
      "--o\r\nContent-Type: message/rfc822\r\n\r\n"
      "From: c@example.com\r\nSubject: inner\r\n\r\ninner body\r\n"
      "--o\r\nContent-Type: application/pdf; name=\"z.pdf\"\r\n\r\n%PDF-1\r\n"
      "--o--\r\n";
  absl::StatusOr<ParsedMessage> parsed = ParseMessage(raw);
  absl::StatusOr<std::vector<Attachment>> list = ListAttachments(raw);
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), parsed->attachments.size());
  ASSERT_EQ(list->size(), 3u);
  for (size_t i = 0; i < list->size(); ++i) {
    EXPECT_EQ((*list)[i].content_type, parsed->attachments[i].content_type) << i;
  }
  EXPECT_EQ((*list)[0].content_id, "logo@x");
  EXPECT_TRUE((*list)[0].is_inline);
  EXPECT_EQ(Stream(raw, 0).bytes, "PNGDATA");
  EXPECT_THAT(Stream(raw, 1).bytes, HasSubstr("inner body"));
  EXPECT_EQ((*list)[2].filename, "z.pdf");
  EXPECT_EQ(Stream(raw, 2).bytes, "%PDF-1");  // The line end belongs to the boundary.
}

TEST(ListAttachments, DecodesRfc2231AndRfc2047NamesAndKeepsHostileOnesAsSent) {
  const std::string raw = Mixed({
      "Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n"
      " filename*0*=UTF-8''Rechnung%20%E2%82%AC;\r\n filename*1=\".pdf\"\r\n\r\nx\r\n",
      "Content-Type: application/pdf; name=\"=?ISO-8859-1?Q?B=FCro.pdf?=\"\r\n\r\ny\r\n",
      "Content-Type: text/plain\r\n"
      "Content-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nz\r\n",
  });
  absl::StatusOr<std::vector<Attachment>> list = ListAttachments(raw);
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].filename, "Rechnung \xe2\x82\xac.pdf");
  EXPECT_EQ((*list)[1].filename, "B\xc3\xbcro.pdf");
  EXPECT_EQ((*list)[1].disposition, "");
  // The name is reported as sent; making it safe to save is the client's job (postroomctl).
  EXPECT_EQ((*list)[2].filename, "../../etc/passwd");
}

TEST(StreamAttachment, StreamsALargeAttachmentInBoundedChunks) {
  const std::string bin = BinaryBytes(9 << 20);
  const std::string raw = Mixed({"Content-Type: application/zip; name=big.zip\r\n"
                                 "Content-Transfer-Encoding: base64\r\n\r\n" +
                                 Base64Lines(bin)});
  Streamed s = Stream(raw, 0);
  EXPECT_EQ(s.bytes.size(), bin.size());
  EXPECT_TRUE(s.bytes == bin);
  EXPECT_GE(s.chunks.size(), bin.size() / kAttachmentChunkBytes);
  for (size_t n : s.chunks) EXPECT_LE(n, kAttachmentChunkBytes);
  EXPECT_EQ(s.info.filename, "big.zip");
}

TEST(StreamAttachment, UnknownIndexIsNotFound) {
  const std::string raw = Mixed({"Content-Type: application/pdf\r\n\r\nx\r\n"});
  auto ignore = [](const Attachment&, std::string_view) { return absl::OkStatus(); };
  EXPECT_THAT(StreamAttachment(raw, 1, {}, ignore),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("has 1 (indexes 0 to 0)")));
  EXPECT_THAT(StreamAttachment("Subject: none\r\n\r\nbody\r\n", 0, {}, ignore),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("has none")));
}

TEST(StreamAttachment, EmptyAttachmentGivesOneEmptyChunk) {
  const std::string raw = Mixed({"Content-Type: application/pdf; name=e.pdf\r\n\r\n"});
  Streamed s = Stream(raw, 0);
  EXPECT_EQ(s.chunks, std::vector<size_t>{0});
  EXPECT_EQ(s.info.filename, "e.pdf");
}

TEST(StreamAttachment, ASinkErrorStopsTheStream) {
  const std::string raw = Mixed({"Content-Type: application/zip\r\n"
                                 "Content-Transfer-Encoding: base64\r\n\r\n" +
                                 Base64Lines(BinaryBytes(1 << 20))});
  int calls = 0;
  absl::Status st = StreamAttachment(raw, 0, {}, [&](const Attachment&, std::string_view) {
    ++calls;
    return absl::CancelledError("client went away");
  });
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(calls, 1);
}

TEST(StreamAttachment, TheRestPastAPartLimitIsGivenAsSent) {
  std::vector<std::string> parts;
  for (int i = 0; i < 5; ++i) {
    parts.push_back(absl::StrCat("Content-Type: application/pdf; name=p", i, ".pdf\r\n\r\n", i,
                                 "\r\n"));
  }
  const std::string raw = Mixed(parts);
  ParseLimits limits;
  limits.max_parts = 4;
  absl::StatusOr<std::vector<Attachment>> list = ListAttachments(raw, limits);
  ASSERT_THAT(list, IsOk());
  ASSERT_FALSE(list->empty());
  const Attachment& rest = list->back();
  EXPECT_EQ(rest.content_type, "application/octet-stream");
  Streamed s = Stream(raw, list->size() - 1, limits);
  EXPECT_EQ(s.bytes.size(), rest.size);
  EXPECT_EQ(Sha256Hex(s.bytes), rest.sha256);
  EXPECT_TRUE(raw.size() >= s.bytes.size() &&
              raw.compare(raw.size() - s.bytes.size(), s.bytes.size(), s.bytes) == 0);
  EXPECT_THAT(s.bytes, HasSubstr("p4.pdf"));
}

}  // namespace
}  // namespace postroom::mime
