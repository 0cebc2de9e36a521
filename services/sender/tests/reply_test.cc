// Replies from the desk through the sender core with fakes: the row SendReply queues (threading,
// From, Reply-To token, idempotency), how it is rendered and sent, and every refusal.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/secrets/reply_token.h"
#include "services/sender/core/sender_core.h"
#include "services/sender/tests/fakes.h"
#include "tests/support/status_matchers.h"

namespace postroom::sender {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using postroom::testing::IsOk;
using postroom::testing::IsOkAndHolds;
using postroom::testing::StatusIs;

constexpr char kKey[] = "reply-key-0123456789";
constexpr char kGateway[] =
    R"({"name":"gateway","protocol":"PROTOCOL_SMTP","primary_address":"desk@example.com",)"
    R"("server":{"host":"127.0.0.1","port":2525},"settings":{"max_message_bytes":4096}})";
constexpr char kSupport[] =
    R"({"name":"support","protocol":"PROTOCOL_IMAP","primary_address":"Support@Example.com",)"
    R"("aliases":["help@example.com"]})";

class ReplyTest : public ::testing::Test {
 protected:
  ReplyTest() {
    gateway_ = store_.AddConnector("gateway", kGateway, /*system_default=*/true);
    SenderOptions o;
    o.replica = "r1";
    o.reply_token_key = kKey;
    core_ = std::make_unique<SenderCore>(o, SenderDeps{.store = &store_,
                                                       .transport = &transport_,
                                                       .secrets = &secrets_,
                                                       .observer = nullptr,
                                                       .clock = &clock_});
    store_.AddWorkItem(Context({"someone@example.org", "help@example.com"}));
  }

  store::ReplyContext Context(std::vector<std::string> first_recipients) {
    store::ReplyContext c;
    c.work_item_id = 7;
    c.reference = "SUP-7";
    c.subject = "Printer on fire";
    c.requester_address = "alice@example.org";
    c.connector = "support";
    c.connector_spec = kSupport;
    c.outgoing_connector_id = gateway_;
    c.outgoing_connector = "gateway";
    c.outgoing_spec = kGateway;
    c.first_recipients = std::move(first_recipients);
    c.message_ids = {"first@example.org", "last@example.org"};
    c.last_message_id = 42;
    return c;
  }

  ReplyRequest Request(const std::string& text = "We are on it.\n") {
    ReplyRequest r;
    r.work_item_id = 7;
    r.text = text;
    return r;
  }

  FakeClock clock_;
  InMemoryOutboxStore store_;
  FakeTransport transport_;
  FakeSecrets secrets_;
  int64_t gateway_ = 0;
  std::unique_ptr<SenderCore> core_;
};

TEST_F(ReplyTest, QueuedReplyIsThreadedSignedAndSentFromTheAliasTheRequesterUsed) {
  ReplyRequest r = Request();
  r.cc = {"boss@example.org"};
  absl::StatusOr<store::QueuedReply> q = core_->SendReply(r);
  ASSERT_THAT(q, IsOk());
  EXPECT_TRUE(q->created);
  EXPECT_EQ(q->item.reason, "reply");
  EXPECT_THAT(q->item.headers_json, HasSubstr("X-Postroom-Work-Item"));
  EXPECT_EQ(q->item.work_item_id, 7);
  EXPECT_EQ(q->item.message_id, 42);
  EXPECT_EQ(q->item.connector_id, gateway_);

  EXPECT_EQ(core_->DrainOnce().sent, 1);
  ASSERT_EQ(transport_.sent().size(), 1u);
  const mail::OutgoingEmail e = transport_.sent()[0];
  EXPECT_EQ(e.from, "help@example.com");
  EXPECT_EQ(e.to, "alice@example.org");
  EXPECT_THAT(e.cc, ElementsAre("boss@example.org"));
  EXPECT_EQ(e.subject, "Re: Printer on fire [#SUP-7]");
  EXPECT_THAT(e.headers, Contains(Pair("In-Reply-To", "<last@example.org>")));
  EXPECT_THAT(e.headers,
              Contains(Pair("References", "<first@example.org> <last@example.org>")));
  EXPECT_THAT(e.headers, Not(Contains(Pair("Auto-Submitted", ::testing::_))));
  // The token in Reply-To is the one the router verifies (libs/secrets), for this work item.
  const std::string prefix = "support+";
  ASSERT_THAT(e.reply_to, ::testing::StartsWith(prefix));
  const std::string token =
      e.reply_to.substr(prefix.size(), e.reply_to.find('@') - prefix.size());
  EXPECT_EQ(secrets::VerifyReplyToken(kKey, token), 7);
  EXPECT_THAT(transport_.raws()[0], HasSubstr("Cc: boss@example.org"));
}

TEST_F(ReplyTest, FromIsThePrimaryAddressWhenTheFirstMessageNamedNoOwnAddress) {
  store_.AddWorkItem(Context({"list@lists.example.net"}));
  ASSERT_THAT(core_->SendReply(Request()), IsOk());
  EXPECT_EQ(core_->DrainOnce().sent, 1);
  EXPECT_EQ(transport_.sent()[0].from, "support@example.com");
}

TEST_F(ReplyTest, AttachmentsAreSentAsMultipartMixedAfterTheBody) {
  ReplyRequest r = Request();
  r.html = "<p>We are on it.</p>";
  r.attachments = {{"report.pdf", "application/pdf", std::string("%PDF-1.4\0\x01", 10)},
                   {"notes.txt", "", "plain notes"}};
  ASSERT_THAT(core_->SendReply(r), IsOk());
  EXPECT_EQ(core_->DrainOnce().sent, 1);
  const std::string raw = transport_.raws()[0];
  EXPECT_THAT(raw, HasSubstr("Content-Type: multipart/mixed"));
  EXPECT_THAT(raw, HasSubstr("Content-Type: multipart/alternative"));
  EXPECT_THAT(raw, HasSubstr("Content-Type: application/pdf"));
  EXPECT_THAT(raw, HasSubstr("filename=report.pdf"));
  EXPECT_THAT(raw, HasSubstr("Content-Type: application/octet-stream"));
  EXPECT_THAT(raw, HasSubstr("Content-Transfer-Encoding: base64"));
  EXPECT_LT(raw.find("multipart/alternative"), raw.find("application/pdf"));
}

TEST_F(ReplyTest, RepeatedIdempotencyKeyReturnsTheFirstReplyAndQueuesNothing) {
  ReplyRequest r = Request("first\n");
  r.idempotency_key = "ticket-ui-123";
  absl::StatusOr<store::QueuedReply> first = core_->SendReply(r);
  ASSERT_THAT(first, IsOk());
  r.text = "second\n";
  absl::StatusOr<store::QueuedReply> again = core_->SendReply(r);
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->item.id, first->item.id);
  EXPECT_EQ(again->item.body_text, "first\n");
  EXPECT_EQ(first->item.dedupe_key, "reply:7:ticket-ui-123");
  EXPECT_EQ(core_->DrainOnce().sent, 1);
}

TEST_F(ReplyTest, UnknownWorkItemIsNotFound) {
  ReplyRequest r = Request();
  r.work_item_id = 8;
  EXPECT_THAT(core_->SendReply(r), StatusIs(absl::StatusCode::kNotFound, HasSubstr("work item 8")));
}

TEST_F(ReplyTest, EmptyOrBlankBodyIsInvalidArgument) {
  EXPECT_THAT(core_->SendReply(Request(" \n\t")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("text:")));
}

TEST_F(ReplyTest, BadRequestsNameTheField) {
  ReplyRequest r = Request();
  r.cc = {"ok@example.org", "whomever"};
  EXPECT_THAT(core_->SendReply(r), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cc[1]")));
  r = Request();
  r.attachments = {{"a.txt", "", "x"}, {"evil\r\nBcc: x@y.z", "", "x"}};
  EXPECT_THAT(core_->SendReply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("attachments[1].filename")));
  r = Request();
  r.attachments = {{"a.txt", "text/plain; charset=utf-8\r\nX: y", "x"}};
  EXPECT_THAT(core_->SendReply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("attachments[0].content_type")));
  r = Request();
  r.idempotency_key = std::string(201, 'k');
  EXPECT_THAT(core_->SendReply(r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("idempotency_key")));
  r = Request();
  r.work_item_id = 0;
  EXPECT_THAT(core_->SendReply(r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("work_item_id")));
  EXPECT_THAT(store_.List({}), IsOkAndHolds(::testing::IsEmpty()));
}

TEST_F(ReplyTest, AttachmentsAreBoundedByCountAndByTheConnectorsMaxMessageBytes) {
  ReplyRequest r = Request();
  for (int i = 0; i < 21; ++i) r.attachments.push_back({"f.txt", "", "x"});
  EXPECT_THAT(core_->SendReply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("attachments: 21 files; at most 20")));
  r = Request();
  r.attachments = {{"a.bin", "", std::string(3000, 'a')}, {"b.bin", "", std::string(1100, 'b')}};
  EXPECT_THAT(core_->SendReply(r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_message_bytes 4096")));
  r.attachments.pop_back();
  EXPECT_THAT(core_->SendReply(r), IsOk());
}

TEST_F(ReplyTest, WorkItemWithoutRequesterIsAFailedPrecondition) {
  store::ReplyContext c = Context({});
  c.requester_address = "";
  store_.AddWorkItem(c);
  EXPECT_THAT(core_->SendReply(Request()), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace postroom::sender
