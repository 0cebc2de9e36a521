// The gRPC adapter over an in-process channel: authentication, roles, status mapping.
#include "services/config/grpc/config_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/store/testing/in_memory_config_store.h"
#include "services/config/tests/fakes.h"
#include "tests/support/tokens.h"

namespace postroom::config {
namespace {

using ::testing::HasSubstr;

constexpr char kTokens[] =
    "alice admin alice-token-0123456789\n"
    "olga operator olga-token-0123456789\n"
    "vic viewer vic-token-01234567890\n";

class ConfigServiceTest : public ::testing::Test {
 protected:
  ConfigServiceTest()
      : authenticator_(
            *auth::TokenAuthenticator::FromContents(postroom::testing::HashedTokens(kTokens))),
        core_({.store = &store_, .sealer = &sealer_, .tester = &tester_, .routes = &routes_,
               .templates = &templates_, .clock = &clock_}),
        service_(core_, *authenticator_) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::ConfigService::NewStub(server_->InProcessChannel({}));
  }
  ~ConfigServiceTest() override { server_->Shutdown(); }

  std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    return postroom::testing::ContextAs(token);
  }

  grpc::Status Apply(const std::string& token, v1::ApplyConnectorResponse* resp) {
    v1::ApplyConnectorRequest req;
    v1::Connector& c = *req.mutable_connector();
    c.set_name("support");
    c.set_protocol(v1::PROTOCOL_IMAP);
    c.set_direction(v1::DIRECTION_INCOMING);
    c.mutable_server()->set_host("127.0.0.1");
    c.mutable_auth()->set_username("support");
    c.mutable_auth()->set_password("hunter2-secret");
    return stub_->ApplyConnector(As(token).get(), req, resp);
  }

  FakeClock clock_;
  store::InMemoryConfigStore store_;
  testing::FakeSealer sealer_;
  testing::FakeTester tester_;
  testing::FakeRouteValidator routes_;
  testing::FakeTemplateValidator templates_;
  std::unique_ptr<auth::TokenAuthenticator> authenticator_;
  ConfigCore core_;
  ConfigService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ConfigService::Stub> stub_;
};

TEST_F(ConfigServiceTest, MissingTokenIsUnauthenticated) {
  v1::ApplyConnectorResponse resp;
  EXPECT_EQ(Apply("", &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ConfigServiceTest, UnknownTokenIsUnauthenticated) {
  v1::ApplyConnectorResponse resp;
  EXPECT_EQ(Apply("not-a-known-token-at-all", &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ConfigServiceTest, ViewerCannotChangeButCanRead) {
  v1::ApplyConnectorResponse resp;
  grpc::Status st = Apply("vic-token-01234567890", &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("viewer"));
  v1::ListConnectorsResponse list;
  EXPECT_TRUE(stub_->ListConnectors(As("vic-token-01234567890").get(), {}, &list).ok());
}

TEST_F(ConfigServiceTest, OperatorCanTestButNotApply) {
  v1::ApplyConnectorResponse resp;
  ASSERT_TRUE(Apply("alice-token-0123456789", &resp).ok());
  EXPECT_EQ(Apply("olga-token-0123456789", &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::TestConnectorRequest req;
  req.set_name("support");
  v1::TestConnectorResponse report;
  EXPECT_TRUE(stub_->TestConnector(As("olga-token-0123456789").get(), req, &report).ok());
  EXPECT_TRUE(report.passed());
}

TEST_F(ConfigServiceTest, TokenNameIsTheAuditActorAndSecretStaysHidden) {
  v1::ApplyConnectorResponse resp;
  ASSERT_TRUE(Apply("alice-token-0123456789", &resp).ok());
  EXPECT_TRUE(resp.created());
  EXPECT_EQ(resp.connector().modified_by(), "alice");
  EXPECT_EQ(resp.connector().auth().password(), "");
  EXPECT_TRUE(resp.connector().auth().has_password());
}

TEST_F(ConfigServiceTest, CoreErrorsKeepTheirCode) {
  v1::GetConnectorRequest req;
  req.set_name("nope");
  v1::GetConnectorResponse resp;
  grpc::Status st = stub_->GetConnector(As("vic-token-01234567890").get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(st.error_message(), HasSubstr("connector \"nope\" does not exist"));
}

}  // namespace
}  // namespace postroom::config
