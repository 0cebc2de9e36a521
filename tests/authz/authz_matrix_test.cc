// Every RPC of every service, as the descriptors list them (each `service` of the .proto files
// in proto/postroom/v1, plus grpc.health.v1.Health), called with no token, an unknown token and
// each role, against the real gRPC adapters of the four services over their PostgreSQL stores
// (a private schema of $POSTROOM_TEST_DATABASE, migrated), so an allowed call runs its real
// queries and a refused one must not reach them: the
// status is UNAUTHENTICATED, PERMISSION_DENIED or anything else (allowed) as the table below
// says. A new RPC fails this test until its role is added to Required(). It runs twice: through a
// port set up like Serve() does (tokens checked on the headers, call_auth.h) and through an
// in-process channel, where only the adapters' own checks (authorize.h) stand.
#include <dirent.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/server/server.h"
#include "libs/store/database.h"
#include "libs/store/pg_config_store.h"
#include "libs/store/pg_fetch_store.h"
#include "libs/store/pg_outbox_store.h"
#include "libs/store/pg_router_store.h"
#include "services/config/grpc/config_service.h"
#include "services/config/tests/fakes.h"
#include "services/fetcher/grpc/fetcher_service.h"
#include "services/fetcher/tests/fakes.h"
#include "services/router/grpc/router_service.h"
#include "services/sender/grpc/sender_service.h"
#include "services/sender/tests/fakes.h"
#include "tests/support/pg_test_database.h"
#include "tests/support/status_matchers.h"
#include "tests/support/tokens.h"

namespace postroom {
namespace {

using auth::Role;

// The least role each method needs; nullopt: anyone, no token (health probes).
const std::map<std::string, std::optional<Role>>& Required() {
  static const auto* required = new std::map<std::string, std::optional<Role>>{
      {"/postroom.v1.ConfigService/ApplyConnector", Role::kAdmin},
      {"/postroom.v1.ConfigService/GetConnector", Role::kViewer},
      {"/postroom.v1.ConfigService/ListConnectors", Role::kViewer},
      {"/postroom.v1.ConfigService/DeleteConnector", Role::kAdmin},
      {"/postroom.v1.ConfigService/EnableConnector", Role::kOperator},
      {"/postroom.v1.ConfigService/DisableConnector", Role::kOperator},
      {"/postroom.v1.ConfigService/TestConnector", Role::kOperator},
      {"/postroom.v1.ConfigService/ApplyRoute", Role::kAdmin},
      {"/postroom.v1.ConfigService/GetRoute", Role::kViewer},
      {"/postroom.v1.ConfigService/ListRoutes", Role::kViewer},
      {"/postroom.v1.ConfigService/DeleteRoute", Role::kAdmin},
      {"/postroom.v1.ConfigService/MoveRoute", Role::kAdmin},
      {"/postroom.v1.ConfigService/ApplyTemplate", Role::kAdmin},
      {"/postroom.v1.ConfigService/GetTemplate", Role::kViewer},
      {"/postroom.v1.ConfigService/ListTemplates", Role::kViewer},
      {"/postroom.v1.ConfigService/DeleteTemplate", Role::kAdmin},
      {"/postroom.v1.ConfigService/ApplyBlockedAddress", Role::kAdmin},
      {"/postroom.v1.ConfigService/ListBlockedAddresses", Role::kViewer},
      {"/postroom.v1.ConfigService/DeleteBlockedAddress", Role::kAdmin},
      {"/postroom.v1.ConfigService/ApplySetting", Role::kAdmin},
      {"/postroom.v1.ConfigService/ListSettings", Role::kViewer},
      {"/postroom.v1.ConfigService/GetHistory", Role::kViewer},
      {"/postroom.v1.ConfigService/ApplyWebhook", Role::kAdmin},
      {"/postroom.v1.ConfigService/GetWebhook", Role::kViewer},
      {"/postroom.v1.ConfigService/ListWebhooks", Role::kViewer},
      {"/postroom.v1.ConfigService/DeleteWebhook", Role::kAdmin},
      {"/postroom.v1.RouterService/RouteEmail", Role::kOperator},
      {"/postroom.v1.RouterService/RouteStream", Role::kOperator},
      {"/postroom.v1.RouterService/ExplainRoute", Role::kViewer},
      {"/postroom.v1.RouterService/GetMessage", Role::kViewer},
      {"/postroom.v1.RouterService/ListMessages", Role::kViewer},
      {"/postroom.v1.RouterService/Reprocess", Role::kOperator},
      {"/postroom.v1.RouterService/SetSpamStatus", Role::kOperator},
      {"/postroom.v1.RouterService/GetWorkItem", Role::kViewer},
      {"/postroom.v1.RouterService/ListWorkItems", Role::kViewer},
      {"/postroom.v1.RouterService/WatchWorkItems", Role::kViewer},
      {"/postroom.v1.RouterService/ListAttachments", Role::kViewer},
      {"/postroom.v1.RouterService/GetAttachment", Role::kViewer},
      {"/postroom.v1.RouterService/GetRawMessage", Role::kViewer},
      {"/postroom.v1.RouterService/ForgetAddress", Role::kAdmin},
      {"/postroom.v1.FetcherService/ListOwners", Role::kViewer},
      {"/postroom.v1.FetcherService/PollNow", Role::kOperator},
      {"/postroom.v1.SenderService/ListOutbox", Role::kViewer},
      {"/postroom.v1.SenderService/GetOutboxItem", Role::kViewer},
      {"/postroom.v1.SenderService/RetryNow", Role::kOperator},
      {"/postroom.v1.SenderService/ListSuppressions", Role::kViewer},
      {"/postroom.v1.SenderService/DeleteSuppression", Role::kOperator},
      {"/postroom.v1.SenderService/SendReply", Role::kOperator},
      {"/grpc.health.v1.Health/Check", std::nullopt},
      {"/grpc.health.v1.Health/Watch", std::nullopt},
  };
  return *required;
}

constexpr char kTokens[] =
    "ada admin ada-token-0123456789\n"
    "olga operator olga-token-0123456789\n"
    "vic viewer vic-token-01234567890\n";

struct Caller {
  const char* label;
  std::string token;         // "" : no authorization header.
  std::optional<Role> role;  // nullopt: not a known token.
};

std::vector<Caller> Callers() {
  return {{"no token", "", std::nullopt},
          {"unknown token", "unknown-token-0123456789", std::nullopt},
          {"viewer", "vic-token-01234567890", Role::kViewer},
          {"operator", "olga-token-0123456789", Role::kOperator},
          {"admin", "ada-token-0123456789", Role::kAdmin}};
}

// "/package.Service/Method" of every method of every service in the .proto files under
// proto/postroom/v1 (read from the source tree, so a new file is not missed) and health.
std::vector<std::string> AllMethods() {
  // A generated file's descriptor is in the pool only when its code is linked in.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  std::vector<std::string> files = {"grpc/health/v1/health.proto"};
  const char* src = std::getenv("POSTROOM_SOURCE_DIR");
  EXPECT_NE(src, nullptr) << "run through ctest (it sets POSTROOM_SOURCE_DIR)";
  if (src != nullptr) {
    const std::string dir = absl::StrCat(src, "/proto/postroom/v1");
    if (DIR* d = ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.size() > 6 && name.substr(name.size() - 6) == ".proto") {
          files.push_back("postroom/v1/" + name);
        }
      }
      ::closedir(d);
    }
  }
  std::vector<std::string> methods;
  for (const std::string& f : files) {
    const google::protobuf::FileDescriptor* fd =
        google::protobuf::DescriptorPool::generated_pool()->FindFileByName(f);
    EXPECT_NE(fd, nullptr) << f << " is not linked into this test";
    if (fd == nullptr) continue;
    for (int s = 0; s < fd->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* sd = fd->service(s);
      for (int m = 0; m < sd->method_count(); ++m) {
        methods.push_back(absl::StrCat("/", sd->full_name(), "/", sd->method(m)->name()));
      }
    }
  }
  return methods;
}

// Calls `path` with one empty request message, whatever its kind (a bidi call carries unary and
// streaming methods alike); a stream that stays open ends at the deadline.
grpc::Status CallAny(grpc::ChannelInterface* channel, const std::string& path,
                     const std::string& token) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::internal::RpcMethod method(path.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> call(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel, method, &ctx));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  call->Write(request);
  call->WritesDone();
  grpc::ByteBuffer response;
  while (call->Read(&response)) {
  }
  return call->Finish();
}

// Allowed: the call reached the method (whatever it then answered an empty request).
void ExpectAllowed(const grpc::Status& st, const std::string& what) {
  EXPECT_NE(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << what;
  EXPECT_NE(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << what;
}

class AuthzMatrixTest : public ::testing::Test {
 protected:
  static std::unique_ptr<testing::PgTestDatabase> MigratedDatabase() {
    absl::StatusOr<std::unique_ptr<testing::PgTestDatabase>> db = testing::PgTestDatabase::Create();
    if (!db.ok()) {
      ADD_FAILURE() << db.status();
      std::abort();
    }
    return std::move(*db);
  }

  AuthzMatrixTest()
      : test_db_(MigratedDatabase()),
        db_({.uri = test_db_->Uri(), .pool_size = 4}),
        config_store_(db_),
        router_store_(db_),
        fetch_store_(db_),
        outbox_(db_),
        authenticator_(*auth::TokenAuthenticator::FromContents(testing::HashedTokens(kTokens))),
        config_core_({.store = &config_store_,
                      .sealer = &sealer_,
                      .tester = &tester_,
                      .routes = &routes_,
                      .templates = &templates_,
                      .clock = &clock_}),
        config_(config_core_, *authenticator_),
        router_core_({.store = &router_store_,
                      .clock = &clock_,
                      .reply_token_key = "k",
                      .config_recheck = absl::ZeroDuration()}),
        router_(router_core_, *authenticator_, absl::Milliseconds(5)),
        mail_(box_),
        fetcher_core_({.replica = "a"}, {.store = &fetch_store_,
                                         .mail = &mail_,
                                         .secrets = &secrets_,
                                         .router = nullptr,
                                         .observer = nullptr,
                                         .clock = &clock_}),
        fetcher_(fetcher_core_, fetch_store_, authenticator_.get(), clock_),
        sender_core_({}, {.store = &outbox_, .clock = &clock_}),
        sender_(outbox_, authenticator_.get(), clock_, &sender_core_) {
    grpc::EnableDefaultHealthCheckService(true);
    server::ServerOptions options;
    options.service_name = "authz";
    options.listen = "127.0.0.1:0";
    options.authenticator = authenticator_.get();
    grpc::ServerBuilder builder;
    int port = 0;
    EXPECT_THAT(server::ConfigureServer(options, builder, &port), testing::IsOk());
    for (grpc::Service* s : std::vector<grpc::Service*>{&config_, &router_, &fetcher_, &sender_}) {
      builder.RegisterService(s);
    }
    server_ = builder.BuildAndStart();
    tcp_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    in_process_ = server_->InProcessChannel({});
  }
  ~AuthzMatrixTest() override { server_->Shutdown(std::chrono::system_clock::now()); }

  void CheckEveryMethod(grpc::ChannelInterface* channel) {
    const std::vector<std::string> methods = AllMethods();
    EXPECT_GE(methods.size(), Required().size());
    for (const std::string& path : methods) {
      auto it = Required().find(path);
      if (it == Required().end()) {
        ADD_FAILURE() << path << " is not in the table of Required(): say which role it needs";
        continue;
      }
      for (const Caller& c : Callers()) {
        grpc::Status st = CallAny(channel, path, c.token);
        std::string got = absl::StrCat(st.error_code(), " ", st.error_message());
        if (!it->second) {
          ExpectAllowed(st, absl::StrCat(path, " as ", c.label, ": ", got));
        } else if (!c.role) {
          EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED)
              << path << " as " << c.label << ": " << got;
        } else if (!auth::RoleAtLeast(*c.role, *it->second)) {
          EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
              << path << " as " << c.label << ": " << got;
        } else {
          ExpectAllowed(st, absl::StrCat(path, " as ", c.label, ": ", got));
          EXPECT_NE(st.error_code(), grpc::StatusCode::UNIMPLEMENTED)
              << path << " is not served: " << got;
        }
      }
    }
  }

  std::unique_ptr<testing::PgTestDatabase> test_db_;
  store::Database db_;
  store::PgConfigStore config_store_;
  store::PgRouterStore router_store_;
  store::PgFetchStore fetch_store_;
  store::PgOutboxStore outbox_;
  FakeClock clock_;
  std::unique_ptr<auth::TokenAuthenticator> authenticator_;
  config::testing::FakeSealer sealer_;
  config::testing::FakeTester tester_;
  config::testing::FakeRouteValidator routes_;
  config::testing::FakeTemplateValidator templates_;
  config::ConfigCore config_core_;
  config::ConfigService config_;
  router::Router router_core_;
  router::RouterService router_;
  fetcher::testing::FakeMailbox box_;
  fetcher::testing::PlainSecretOpener secrets_;
  fetcher::testing::FakeMailConnector mail_;
  fetcher::FetcherCore fetcher_core_;
  fetcher::FetcherService fetcher_;
  sender::SenderCore sender_core_;
  sender::SenderService sender_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> tcp_;
  std::shared_ptr<grpc::Channel> in_process_;
};

TEST_F(AuthzMatrixTest, EveryRpcOverTheServedPortAnswersEachCallerAsItsRoleAllows) {
  CheckEveryMethod(tcp_.get());
}

TEST_F(AuthzMatrixTest, EveryAdapterMethodChecksTheTokenAndRoleItself) {
  CheckEveryMethod(in_process_.get());
}

}  // namespace
}  // namespace postroom
