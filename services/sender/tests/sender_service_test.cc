// The gRPC adapter over an in-process channel: roles, list filters, item details, RetryNow and
// its status codes.
#include "services/sender/grpc/sender_service.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/sender/tests/fakes.h"
#include "tests/support/tokens.h"

namespace postroom::sender {
namespace {

using ::testing::HasSubstr;

constexpr char kTokens[] =
    "olga operator olga-token-0123456789\n"
    "vic viewer vic-token-01234567890\n";
constexpr char kViewer[] = "vic-token-01234567890";
constexpr char kOperator[] = "olga-token-0123456789";

class SenderServiceTest : public ::testing::Test {
 protected:
  SenderServiceTest()
      : authenticator_(
            *auth::TokenAuthenticator::FromContents(postroom::testing::HashedTokens(kTokens))),
        service_(store_, authenticator_.get(), clock_) {
    gateway_ = store_.AddConnector("gateway", R"({"primary_address":"desk@example.com"})", true);
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::SenderService::NewStub(server_->InProcessChannel({}));
  }
  ~SenderServiceTest() override { server_->Shutdown(); }

  std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    return postroom::testing::ContextAs(token);
  }
  int64_t Queue(const std::string& to) {
    store::OutboxItem o;
    o.connector_id = gateway_;
    o.connector = "gateway";
    o.to_address = to;
    o.subject = "s";
    o.body_text = "body";
    o.due_at = clock_.Now();
    return store_.Queue(o);
  }
  void Fail(int64_t id) {
    auto c = store_.ClaimDue("r", clock_.Now(), absl::Minutes(1), 10);
    ASSERT_TRUE(c.ok());
    for (const auto& o : *c) {
      if (o.id != id) continue;
      store::AttemptOutcome out{.id = id,
                                .owner = "r",
                                .claim_token = o.claim_token,
                                .kind = store::AttemptKind::kFailed,
                                .at = clock_.Now(),
                                .error = "RCPT TO refused: 550 5.1.1 unknown",
                                .error_class = "rejected"};
      ASSERT_TRUE(store_.FinishAttempt(out).ok());
    }
  }

  FakeClock clock_;
  InMemoryOutboxStore store_;
  std::unique_ptr<auth::TokenAuthenticator> authenticator_;
  SenderService service_;
  int64_t gateway_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::SenderService::Stub> stub_;
};

TEST_F(SenderServiceTest, ListNeedsAToken) {
  v1::ListOutboxResponse resp;
  EXPECT_EQ(stub_->ListOutbox(As("").get(), {}, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SenderServiceTest, ListFiltersByStateAndShowsSending) {
  int64_t a = Queue("a@example.org");
  Fail(a);
  int64_t b = Queue("b@example.org");
  ASSERT_TRUE(store_.ClaimDue("replica-1", clock_.Now(), absl::Minutes(5), 10).ok());
  v1::ListOutboxRequest req;
  v1::ListOutboxResponse resp;
  ASSERT_TRUE(stub_->ListOutbox(As(kViewer).get(), req, &resp).ok());
  ASSERT_EQ(resp.items_size(), 2);
  EXPECT_EQ(resp.items(0).id(), b);  // Newest first.
  EXPECT_EQ(resp.items(0).state(), v1::OUTBOX_STATE_SENDING);
  EXPECT_EQ(resp.items(0).claimed_by(), "replica-1");
  EXPECT_EQ(resp.items(0).body_text(), "");  // Bodies only in GetOutboxItem.
  req.set_state(v1::OUTBOX_STATE_FAILED);
  resp.Clear();
  ASSERT_TRUE(stub_->ListOutbox(As(kViewer).get(), req, &resp).ok());
  ASSERT_EQ(resp.items_size(), 1);
  EXPECT_EQ(resp.items(0).id(), a);
  EXPECT_THAT(resp.items(0).last_error(), HasSubstr("550 5.1.1"));
  req.set_state(v1::OUTBOX_STATE_SENDING);
  EXPECT_EQ(stub_->ListOutbox(As(kViewer).get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SenderServiceTest, GetShowsBodyOrNotFound) {
  int64_t a = Queue("a@example.org");
  v1::GetOutboxItemRequest req;
  req.set_id(a);
  v1::GetOutboxItemResponse resp;
  ASSERT_TRUE(stub_->GetOutboxItem(As(kViewer).get(), req, &resp).ok());
  EXPECT_EQ(resp.item().body_text(), "body");
  EXPECT_EQ(resp.item().state(), v1::OUTBOX_STATE_QUEUED);
  req.set_id(4242);
  EXPECT_EQ(stub_->GetOutboxItem(As(kViewer).get(), req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  req.set_id(0);
  EXPECT_EQ(stub_->GetOutboxItem(As(kViewer).get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SenderServiceTest, RetryNowNeedsOperatorAndIsIdempotent) {
  int64_t a = Queue("a@example.org");
  Fail(a);
  v1::RetryNowRequest req;
  req.set_id(a);
  v1::RetryNowResponse resp;
  EXPECT_EQ(stub_->RetryNow(As(kViewer).get(), req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(stub_->RetryNow(As(kOperator).get(), req, &resp).ok());
  EXPECT_EQ(resp.item().state(), v1::OUTBOX_STATE_QUEUED);
  EXPECT_EQ(resp.item().attempts(), 0u);
  ASSERT_TRUE(stub_->RetryNow(As(kOperator).get(), req, &resp).ok());
  req.set_id(999);
  EXPECT_EQ(stub_->RetryNow(As(kOperator).get(), req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SenderServiceTest, RetryNowOfSentItemIsFailedPrecondition) {
  int64_t a = Queue("a@example.org");
  auto c = store_.ClaimDue("r", clock_.Now(), absl::Minutes(1), 10);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(store_
                  .FinishAttempt({.id = a,
                                  .owner = "r",
                                  .claim_token = 1,
                                  .kind = store::AttemptKind::kSent,
                                  .at = clock_.Now()})
                  .ok());
  v1::RetryNowRequest req;
  req.set_id(a);
  v1::RetryNowResponse resp;
  grpc::Status st = stub_->RetryNow(As(kOperator).get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("is sent"));
}

TEST_F(SenderServiceTest, SuppressionsViewerListsOperatorDeletesAudited) {
  store_.AddSuppression({.connector_id = gateway_, .address = "gone@example.org",
                         .dsn_status = "5.1.1", .diagnostic = "550 5.1.1 no such user"});
  v1::ListSuppressionsRequest list;
  v1::ListSuppressionsResponse listed;
  EXPECT_EQ(stub_->ListSuppressions(As("").get(), list, &listed).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(stub_->ListSuppressions(As(kViewer).get(), list, &listed).ok());
  ASSERT_EQ(listed.suppressions_size(), 1);
  EXPECT_EQ(listed.suppressions(0).connector(), "gateway");
  EXPECT_EQ(listed.suppressions(0).address(), "gone@example.org");
  EXPECT_EQ(listed.suppressions(0).dsn_status(), "5.1.1");
  list.set_connector("nope");
  EXPECT_EQ(stub_->ListSuppressions(As(kViewer).get(), list, &listed).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::DeleteSuppressionRequest del;
  v1::DeleteSuppressionResponse deleted;
  del.set_connector("gateway");
  EXPECT_EQ(stub_->DeleteSuppression(As(kOperator).get(), del, &deleted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // No address.
  del.set_address(std::string(400, 'a'));
  EXPECT_EQ(stub_->DeleteSuppression(As(kOperator).get(), del, &deleted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  del.set_address("Gone@Example.org");
  EXPECT_EQ(stub_->DeleteSuppression(As(kViewer).get(), del, &deleted).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(store_.Audit().empty());
  ASSERT_TRUE(stub_->DeleteSuppression(As(kOperator).get(), del, &deleted).ok());
  EXPECT_EQ(deleted.deleted().address(), "gone@example.org");
  EXPECT_EQ(store_.Audit(), std::vector<std::string>{"olga gateway/gone@example.org"});
  grpc::Status again = stub_->DeleteSuppression(As(kOperator).get(), del, &deleted);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(again.error_message(), HasSubstr("is not suppressed"));
  del.clear_connector();
  EXPECT_EQ(stub_->DeleteSuppression(As(kOperator).get(), del, &deleted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace postroom::sender
