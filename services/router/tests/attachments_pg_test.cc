// ListAttachments, GetAttachment and GetRawMessage over gRPC against PostgreSQL: a 9 MiB file
// streamed in bounded chunks, exact raw bytes, NOT_FOUND / FAILED_PRECONDITION, roles, and the
// work item listing the same fields.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "services/router/tests/attachments_fixture.h"

namespace postroom::router::testing {
namespace {

using ::testing::HasSubstr;

std::string Binary(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + (i >> 9)) & 0xff);
  return s;
}

std::string Base64Lines(const std::string& bytes) {
  std::string b64 = absl::Base64Escape(bytes), out;
  out.reserve(b64.size() + b64.size() / 38);
  for (size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\r\n";
  return out;
}

std::string MailWith(const std::string& big) {
  return "From: Jane <jane@client.example>\r\nTo: support@desk.example\r\nSubject: logs\r\n"
         "Message-ID: <att-1@client.example>\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=xx\r\n\r\n"
         "--xx\r\nContent-Type: multipart/related; boundary=rr\r\n\r\n"
         "--rr\r\nContent-Type: text/html\r\n\r\n<p>see <img src=cid:logo@c></p>\r\n"
         "--rr\r\nContent-Type: image/gif\r\nContent-ID: <logo@c>\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAAAAACw=\r\n--rr--\r\n"
         "--xx\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment;\r\n filename*=UTF-8''r%C3%A9sum%C3%A9.zip\r\n\r\n" +
         Base64Lines(big) + "--xx--\r\n";
}

class AttachmentsPgTest : public AttachmentsFixture {};

TEST_F(AttachmentsPgTest, StreamsA9MiBAttachmentInBoundedChunksWithTheListedHash) {
  const std::string big = Binary(9 << 20);
  const std::string raw = MailWith(big);
  int64_t id = Store(raw, "big");

  v1::ListAttachmentsResponse list;
  ASSERT_TRUE(List(id, &list).ok());
  ASSERT_EQ(list.attachments_size(), 2);
  const v1::Attachment& zip = list.attachments(1);
  EXPECT_EQ(zip.index(), 1u);
  EXPECT_EQ(zip.filename(), "r\xc3\xa9sum\xc3\xa9.zip");
  EXPECT_EQ(zip.content_type(), "application/zip");
  EXPECT_EQ(zip.disposition(), "attachment");
  EXPECT_EQ(zip.size(), big.size());
  EXPECT_EQ(zip.sha256(), Sha256Hex(big));
  EXPECT_EQ(zip.message_id(), id);
  EXPECT_TRUE(list.attachments(0).is_inline());
  EXPECT_EQ(list.attachments(0).content_id(), "logo@c");

  Download d = GetAttachment(id, 1);
  ASSERT_TRUE(d.status.ok()) << d.status.error_message();
  EXPECT_EQ(d.bytes.size(), big.size());
  EXPECT_TRUE(d.bytes == big);
  EXPECT_GE(d.chunk_sizes.size(), big.size() / (64 << 10));
  for (size_t n : d.chunk_sizes) EXPECT_LE(n, size_t{64 << 10});
  EXPECT_EQ(d.first.attachment().filename(), zip.filename());

  Download r = GetRaw(id);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(r.bytes == raw);
  EXPECT_EQ(r.first.total_size(), raw.size());
  for (size_t n : r.chunk_sizes) EXPECT_LE(n, size_t{64 << 10});
}

TEST_F(AttachmentsPgTest, UnknownMessageOrIndexIsNotFound) {
  int64_t id = Store(MailWith("abc"), "small");
  v1::ListAttachmentsResponse list;
  EXPECT_EQ(List(id + 1000, &list).error_code(), grpc::StatusCode::NOT_FOUND);
  Download d = GetAttachment(id, 2);
  EXPECT_EQ(d.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(d.status.error_message(), HasSubstr("index: message"));
  EXPECT_THAT(d.status.error_message(), HasSubstr("has 2 (indexes 0 to 1)"));
  EXPECT_TRUE(d.bytes.empty());
  EXPECT_EQ(GetAttachment(id + 1000, 0).status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetRaw(id + 1000).status.error_code(), grpc::StatusCode::NOT_FOUND);
  Download zero = GetRaw(0);
  EXPECT_EQ(zero.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(zero.status.error_message(), HasSubstr("message_id"));
}

TEST_F(AttachmentsPgTest, TruncatedOrRemovedBytesAreFailedPrecondition) {
  int64_t truncated = Store("From: a@b.example\r\nSubject: huge\r\n\r\n", "t", true);
  int64_t removed = Store("", "r");
  v1::ListAttachmentsResponse list;
  grpc::Status st = List(truncated, &list);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("only its header block"));
  st = List(removed, &list);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("no longer stored"));
  EXPECT_EQ(GetAttachment(removed, 0).status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(GetRaw(truncated).status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(AttachmentsPgTest, ReadingNeedsAToken) {
  int64_t id = Store(MailWith("abc"), "auth");
  v1::ListAttachmentsResponse list;
  EXPECT_EQ(List(id, &list, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetAttachment(id, 0, "").status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetRaw(id, "nope-token-000000000000").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AttachmentsPgTest, WorkItemListsItsAttachmentsWithTheSameFieldsAndTheOriginal) {
  const std::string raw = MailWith(Binary(100000));
  v1::RouteEmailRequest req;
  req.set_connector("support");
  req.set_raw_message(raw);
  v1::RouteEmailResponse routed;
  grpc::Status st = stub_->RouteEmail(As(kOperator).get(), req, &routed);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_NE(routed.work_item_id(), 0);

  v1::GetWorkItemRequest wreq;
  wreq.set_id(routed.work_item_id());
  v1::GetWorkItemResponse item;
  st = stub_->GetWorkItem(As(kViewer).get(), wreq, &item);
  ASSERT_TRUE(st.ok()) << st.error_message();
  v1::ListAttachmentsResponse list;
  ASSERT_TRUE(List(routed.message_id(), &list).ok());

  // The inline logo is not a work item attachment; the zip and the original .eml are.
  ASSERT_EQ(item.work_item().attachments_size(), 2);
  const v1::Attachment& file = item.work_item().attachments(0);
  const v1::Attachment& listed = list.attachments(static_cast<int>(file.index()));
  EXPECT_EQ(file.index(), 1u);
  EXPECT_EQ(file.filename(), listed.filename());
  EXPECT_EQ(file.content_type(), listed.content_type());
  EXPECT_EQ(file.size(), listed.size());
  EXPECT_EQ(file.sha256(), listed.sha256());
  EXPECT_EQ(file.disposition(), "attachment");
  EXPECT_EQ(file.message_id(), routed.message_id());
  const v1::Attachment& eml = item.work_item().attachments(1);
  EXPECT_TRUE(eml.original_eml());
  EXPECT_EQ(eml.size(), raw.size());
  Download original = GetRaw(eml.message_id());
  ASSERT_TRUE(original.status.ok());
  EXPECT_TRUE(original.bytes == raw);
}

}  // namespace
}  // namespace postroom::router::testing
