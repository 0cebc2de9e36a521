// The gRPC adapter over an in-process channel: roles, owners, PollNow status mapping.
#include "services/fetcher/grpc/fetcher_service.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/store/testing/in_memory_fetch_store.h"
#include "services/fetcher/tests/fakes.h"
#include "tests/support/tokens.h"

namespace postroom::fetcher {
namespace {

using ::testing::HasSubstr;

constexpr char kTokens[] =
    "olga operator olga-token-0123456789\n"
    "vic viewer vic-token-01234567890\n";

class FetcherServiceTest : public ::testing::Test {
 protected:
  FetcherServiceTest()
      : authenticator_(
            *auth::TokenAuthenticator::FromContents(postroom::testing::HashedTokens(kTokens))),
        mail_(box_),
        core_({.replica = "a"}, {.store = &store_,
                                 .mail = &mail_,
                                 .secrets = &secrets_,
                                 .router = nullptr,
                                 .observer = nullptr,
                                 .clock = &clock_}),
        other_({.replica = "b"}, {.store = &store_,
                                  .mail = &mail_,
                                  .secrets = &secrets_,
                                  .router = nullptr,
                                  .observer = nullptr,
                                  .clock = &clock_}),
        service_(core_, store_, authenticator_.get(), clock_) {
    store_.PutConnector(testing::MakeConnector(1, "mine", "imap"));
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::FetcherService::NewStub(server_->InProcessChannel({}));
  }
  ~FetcherServiceTest() override { server_->Shutdown(); }

  std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    return postroom::testing::ContextAs(token);
  }

  FakeClock clock_;
  store::InMemoryFetchStore store_;
  testing::FakeMailbox box_;
  testing::PlainSecretOpener secrets_;
  std::unique_ptr<auth::TokenAuthenticator> authenticator_;
  testing::FakeMailConnector mail_;
  FetcherCore core_;
  FetcherCore other_;
  FetcherService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::FetcherService::Stub> stub_;
};

TEST_F(FetcherServiceTest, ListOwnersShowsTheLeaseAndThisReplicasSchedule) {
  ASSERT_TRUE(core_.RunLeaseRound().ok());
  v1::ListOwnersResponse resp;
  ASSERT_TRUE(stub_->ListOwners(As("vic-token-01234567890").get(), {}, &resp).ok());
  EXPECT_EQ(resp.replica(), "a");
  ASSERT_EQ(resp.owners_size(), 1);
  EXPECT_EQ(resp.owners(0).connector(), "mine");
  EXPECT_EQ(resp.owners(0).owner(), "a");
  EXPECT_TRUE(resp.owners(0).live());
  EXPECT_EQ(resp.owners(0).fencing_token(), 1);
  EXPECT_GT(resp.owners(0).next_poll_unix_ms(), 0);
}

TEST_F(FetcherServiceTest, ListOwnersNeedsAToken) {
  v1::ListOwnersResponse resp;
  EXPECT_EQ(stub_->ListOwners(As("").get(), {}, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(FetcherServiceTest, PollNowNeedsOperatorAndNamesTheOwnerElsewhere) {
  ASSERT_TRUE(other_.RunLeaseRound().ok());  // b holds it
  v1::PollNowRequest req;
  req.set_connector("mine");
  v1::PollNowResponse resp;
  EXPECT_EQ(stub_->PollNow(As("vic-token-01234567890").get(), req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status st = stub_->PollNow(As("olga-token-0123456789").get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("replica b"));
  req.set_connector("nobody");
  EXPECT_EQ(stub_->PollNow(As("olga-token-0123456789").get(), req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(FetcherServiceTest, PollNowOnTheOwnerMakesItDue) {
  ASSERT_TRUE(core_.RunLeaseRound().ok());
  ASSERT_EQ(core_.RunOneDue().outcome, PollOutcome::kSuccess);
  EXPECT_GT(core_.NextDue(), clock_.Now());
  v1::PollNowRequest req;
  req.set_connector("mine");
  v1::PollNowResponse resp;
  ASSERT_TRUE(stub_->PollNow(As("olga-token-0123456789").get(), req, &resp).ok());
  EXPECT_EQ(resp.replica(), "a");
  EXPECT_LE(core_.NextDue(), clock_.Now());
}

}  // namespace
}  // namespace postroom::fetcher
