// SendReply over gRPC into real PostgreSQL (label pg): the row and its attachments as stored,
// the context read from work items and messages (first message's To/Cc, last Message-ID, the
// incoming connector's outgoing connector), and the NOT_FOUND, INVALID_ARGUMENT and repeated-key
// answers, with nothing half-written.
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/store/database.h"
#include "libs/store/pg_outbox_store.h"
#include "services/sender/grpc/sender_service.h"
#include "tests/support/pg_test_database.h"
#include "tests/support/status_matchers.h"

namespace postroom::sender {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::PgTestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ReplyPg : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tdb = PgTestDatabase::Create();
    ASSERT_TRUE(tdb.ok()) << tdb.status();
    tdb_ = std::move(*tdb);
    db_ = std::make_unique<store::Database>(
        store::DatabaseOptions{.uri = tdb_->Uri(), .pool_size = 4});
    store_ = std::make_unique<store::PgOutboxStore>(*db_);
    SenderOptions o;
    o.reply_token_key = "reply-key-0123456789";
    core_ = std::make_unique<SenderCore>(o, SenderDeps{.store = store_.get(), .clock = &clock_});
    service_ = std::make_unique<SenderService>(*store_, nullptr, clock_, core_.get());
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = v1::SenderService::NewStub(server_->InProcessChannel({}));

    Query("INSERT INTO connectors (name, protocol, direction, status, system_default, spec, "
          "modified_by) VALUES ('default-out', 'smtp', 'outgoing', 'active', true, "
          "'{\"primary_address\":\"noreply@example.com\"}', 't')");
    gateway_ = Query(
        "INSERT INTO connectors (name, protocol, direction, status, spec, modified_by) VALUES "
        "('gateway', 'smtp', 'outgoing', 'active', '{\"primary_address\":\"desk@example.com\","
        "\"settings\":{\"max_message_bytes\":\"2048\"}}', 't') RETURNING id");
    const std::string support = Query(
        "INSERT INTO connectors (name, protocol, direction, status, spec, modified_by) VALUES "
        "('support', 'imap', 'incoming', 'active', '{\"primary_address\":\"support@example.com\","
        "\"aliases\":[\"help@example.com\"],\"outgoing_connector\":\"gateway\"}', 't') "
        "RETURNING id");
    work_item_ = Query(
        "INSERT INTO work_items (connector_id, reference, queue, requester_address, subject) "
        "VALUES (" + support + ", 'SUP-1', 'q', 'alice@example.org', 'Printer') RETURNING id");
    AddMessage(support, "first@example.org",
               R"({"to":["Someone@example.org"],"cc":["HELP@example.com"]})", "created");
    AddMessage(support, "second@example.org", R"({"to":["support@example.com"]})", "appended");
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  void AddMessage(const std::string& connector, const std::string& message_id,
                  const std::string& summary, const std::string& role) {
    const std::string id = Query(
        "INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, message_id, summary, "
        "work_item_id) VALUES (" + connector + ", '" + message_id + "', 1, 'x', '" + message_id +
        "', '" + summary + "', " + work_item_ + ") RETURNING id");
    Query("INSERT INTO work_item_messages (work_item_id, message_id, role) VALUES (" +
          work_item_ + ", " + id + ", '" + role + "') RETURNING message_id");
    last_message_ = id;
  }

  std::string Query(const std::string& sql) {
    absl::StatusOr<std::string> r = postroom::testing::QueryFirst(*db_, sql);
    EXPECT_THAT(r, IsOk());
    return r.value_or("");
  }

  v1::SendReplyRequest Request() {
    v1::SendReplyRequest r;
    r.set_work_item_id(std::stoll(work_item_));
    r.set_text("We are on it.\n");
    return r;
  }
  grpc::Status Send(const v1::SendReplyRequest& req, v1::SendReplyResponse* resp) {
    grpc::ClientContext ctx;
    return stub_->SendReply(&ctx, req, resp);
  }

  FakeClock clock_;
  std::unique_ptr<PgTestDatabase> tdb_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::PgOutboxStore> store_;
  std::unique_ptr<SenderCore> core_;
  std::unique_ptr<SenderService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::SenderService::Stub> stub_;
  std::string gateway_, work_item_, last_message_;
};

TEST_F(ReplyPg, ReplyIsQueuedThreadedFromTheAliasUsedWithItsAttachments) {
  v1::SendReplyRequest req = Request();
  req.add_cc("boss@example.org");
  v1::ReplyAttachment* a = req.add_attachments();
  a->set_filename("log.txt");
  a->set_content_type("text/plain");
  a->set_content(std::string("line\0two", 8));
  v1::SendReplyResponse resp;
  grpc::Status st = Send(req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(resp.created());
  const v1::OutboxItem& o = resp.item();
  EXPECT_EQ(o.reason(), "reply");
  EXPECT_EQ(o.connector(), "gateway");  // The incoming connector's outgoing connector.
  EXPECT_EQ(o.to_address(), "alice@example.org");
  EXPECT_EQ(o.from_address(), "help@example.com");
  EXPECT_THAT(o.cc(), ElementsAre("boss@example.org"));
  EXPECT_EQ(o.subject(), "Re: Printer [#SUP-1]");
  EXPECT_EQ(o.work_item_id(), std::stoll(work_item_));
  EXPECT_EQ(o.source_message_id(), std::stoll(last_message_));
  EXPECT_EQ(o.attachments(), 1u);

  absl::StatusOr<store::OutboxItem> row = store_->Get(o.id());
  ASSERT_THAT(row, IsOk());
  EXPECT_THAT(row->headers_json, HasSubstr(R"("In-Reply-To": "<second@example.org>")"));
  EXPECT_THAT(row->headers_json,
              HasSubstr(R"("References": "<first@example.org> <second@example.org>")"));
  EXPECT_THAT(row->headers_json, HasSubstr("support+w" + work_item_ + "-"));
  auto files = store_->Attachments(o.id());
  ASSERT_THAT(files, IsOk());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].content, std::string("line\0two", 8));
  EXPECT_EQ((*files)[0].content_type, "text/plain");
}

// The router's stored sent_to (a Bcc'd alias, found in Delivered-To) decides over To and Cc.
TEST_F(ReplyPg, ReplyIsSentFromTheAddressTheRouterStoredAsSentTo) {
  Query("UPDATE messages SET summary = '{\"to\":[\"support@example.com\"],"
        "\"sent_to\":\"help@example.com\"}' WHERE message_id = 'first@example.org' "
        "RETURNING id");
  v1::SendReplyResponse resp;
  grpc::Status st = Send(Request(), &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.item().from_address(), "help@example.com");
}

TEST_F(ReplyPg, UnknownWorkItemIsNotFound) {
  v1::SendReplyRequest req = Request();
  req.set_work_item_id(987654);
  v1::SendReplyResponse resp;
  grpc::Status st = Send(req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(st.error_message(), HasSubstr("work item 987654 does not exist"));
}

TEST_F(ReplyPg, EmptyBodyAndOversizedAttachmentsAreInvalidAndWriteNothing) {
  v1::SendReplyRequest req = Request();
  req.clear_text();
  v1::SendReplyResponse resp;
  grpc::Status st = Send(req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("text:"));
  req = Request();
  req.add_attachments()->set_filename("big.bin");
  req.mutable_attachments(0)->set_content(std::string(3000, 'x'));  // Gateway allows 2048.
  st = Send(req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("max_message_bytes 2048"));
  EXPECT_EQ(Query("SELECT count(*) FROM outbox"), "0");
  EXPECT_EQ(Query("SELECT count(*) FROM outbox_attachments"), "0");
}

TEST_F(ReplyPg, RepeatedKeyReturnsTheFirstReplyAndStoresOneRow) {
  v1::SendReplyRequest req = Request();
  req.set_idempotency_key("ui-42");
  req.add_attachments()->set_filename("a.txt");
  v1::SendReplyResponse first, again;
  ASSERT_TRUE(Send(req, &first).ok());
  req.set_text("a different text\n");
  grpc::Status st = Send(req, &again);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.item().id(), first.item().id());
  EXPECT_EQ(Query("SELECT count(*) FROM outbox"), "1");
  EXPECT_EQ(Query("SELECT count(*) FROM outbox_attachments"), "1");
  EXPECT_EQ(Query("SELECT body_text FROM outbox"), "We are on it.\n");
  // The key is per work item: another work item's reply with the same key is its own.
  EXPECT_EQ(Query("SELECT dedupe_key FROM outbox"), "reply:" + work_item_ + ":ui-42");
}

TEST_F(ReplyPg, ClaimedReplyCarriesFromCcAndAttachmentCount) {
  v1::SendReplyRequest req = Request();
  req.add_cc("boss@example.org");
  req.add_cc("team@example.org");
  req.add_attachments()->set_filename("a.txt");
  v1::SendReplyResponse resp;
  ASSERT_TRUE(Send(req, &resp).ok());
  auto claimed = store_->ClaimDue("r1", clock_.Now() + absl::Seconds(1), absl::Minutes(1), 5);
  ASSERT_THAT(claimed, IsOk());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].from_address, "help@example.com");
  EXPECT_THAT((*claimed)[0].cc, ElementsAre("boss@example.org", "team@example.org"));
  EXPECT_EQ((*claimed)[0].attachment_count, 1);
}

}  // namespace
}  // namespace postroom::sender
