// The gRPC adapter over an in-process channel: roles, status mapping, streaming.
#include "services/router/grpc/router_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <cstdio>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/secrets/test_files.h"
#include "libs/server/token_watcher.h"
#include "libs/store/testing/in_memory_router_store.h"
#include "tests/support/eventually.h"
#include "tests/support/tokens.h"

namespace postroom::router {
namespace {

using ::testing::HasSubstr;

constexpr char kTokens[] =
    "olga operator olga-token-0123456789\n"
    "vic viewer vic-token-01234567890\n";

constexpr char kMail[] =
    "From: jane@client.example\r\nTo: support@desk.example\r\nSubject: Printer\r\n"
    "Message-ID: <svc-1@client.example>\r\n\r\nIt is broken.\r\n";

class RouterServiceTest : public ::testing::Test {
 protected:
  RouterServiceTest()
      : authenticator_(
            *auth::TokenAuthenticator::FromContents(postroom::testing::HashedTokens(kTokens))),
        router_({.store = &store_, .clock = &clock_, .reply_token_key = "k",
                 .config_recheck = absl::ZeroDuration()}),
        service_(router_, *authenticator_, absl::Milliseconds(5)) {
    store::ConnectorRecord c;
    c.name = "support";
    c.protocol = "imap";
    c.direction = "incoming";
    c.status = "active";
    c.spec_json = R"({"name":"support","subject_token_prefix":"SUP"})";
    store_.PutConnector(c);
    int64_t id = (*store_.LoadConfig("support"))->connector.id;
    store::RouteRecord r;
    r.connector_id = id;
    r.name = "fallback";
    r.position = 1;
    r.fallback = true;
    r.then_json = R"({"queue":"general"})";
    store_.PutRoute(r);
    c.name = "off";
    c.status = "disabled";
    c.id = 0;
    store_.PutConnector(c);
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::RouterService::NewStub(server_->InProcessChannel({}));
  }
  ~RouterServiceTest() override { server_->Shutdown(); }

  std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    return postroom::testing::ContextAs(token);
  }
  grpc::Status Route(const std::string& token, const std::string& connector,
                     v1::RouteEmailResponse* resp, const std::string& raw = kMail) {
    v1::RouteEmailRequest req;
    req.set_connector(connector);
    req.set_raw_message(raw);
    return stub_->RouteEmail(As(token).get(), req, resp);
  }

  FakeClock clock_;
  store::InMemoryRouterStore store_;
  std::unique_ptr<auth::TokenAuthenticator> authenticator_;
  Router router_;
  RouterService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::RouterService::Stub> stub_;
};

TEST_F(RouterServiceTest, MissingTokenIsUnauthenticated) {
  v1::RouteEmailResponse resp;
  EXPECT_EQ(Route("", "support", &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(RouterServiceTest, ViewerCannotRouteButCanExplainAndRead) {
  v1::RouteEmailResponse resp;
  grpc::Status st = Route("vic-token-01234567890", "support", &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("operator"));
  v1::ExplainRouteRequest ex;
  ex.set_connector("support");
  ex.set_raw_message(kMail);
  v1::ExplainRouteResponse exr;
  ASSERT_TRUE(stub_->ExplainRoute(As("vic-token-01234567890").get(), ex, &exr).ok());
  EXPECT_EQ(exr.decision().decision(), v1::DECISION_CREATED);
}

TEST_F(RouterServiceTest, OperatorRoutesAndReadsBack) {
  v1::RouteEmailResponse resp;
  ASSERT_TRUE(Route("olga-token-0123456789", "support", &resp).ok());
  EXPECT_EQ(resp.decision(), v1::DECISION_CREATED);
  EXPECT_EQ(resp.work_item_reference(), absl::StrCat("SUP-", resp.work_item_id()));
  v1::GetMessageRequest gm;
  gm.set_id(resp.message_id());
  v1::GetMessageResponse gmr;
  ASSERT_TRUE(stub_->GetMessage(As("vic-token-01234567890").get(), gm, &gmr).ok());
  EXPECT_EQ(gmr.message().subject(), "Printer");
  EXPECT_GT(gmr.message().trace_size(), 3);
  v1::GetWorkItemRequest gw;
  gw.set_reference(resp.work_item_reference());
  v1::GetWorkItemResponse gwr;
  ASSERT_TRUE(stub_->GetWorkItem(As("vic-token-01234567890").get(), gw, &gwr).ok());
  EXPECT_EQ(gwr.work_item().id(), resp.work_item_id());
}

TEST_F(RouterServiceTest, StatusCodesMapThrough) {
  v1::RouteEmailResponse resp;
  EXPECT_EQ(Route("olga-token-0123456789", "nope", &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Route("olga-token-0123456789", "off", &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Route("olga-token-0123456789", "", &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetMessageRequest gm;
  gm.set_id(4242);
  v1::GetMessageResponse gmr;
  EXPECT_EQ(stub_->GetMessage(As("vic-token-01234567890").get(), gm, &gmr).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(RouterServiceTest, RouteStreamAnswersEachMessageInOrderAndAnErrorDoesNotEndIt) {
  auto ctx = As("olga-token-0123456789");
  auto stream = stub_->RouteStream(ctx.get());
  auto request = [](const std::string& connector, const std::string& fetch_key) {
    v1::RouteEmailRequest req;
    req.set_connector(connector);
    req.set_raw_message(kMail);
    req.set_fetch_key(fetch_key);
    return req;
  };
  v1::RouteStreamResult first, unknown, replay;
  ASSERT_TRUE(stream->Write(request("support", "k1")));
  ASSERT_TRUE(stream->Read(&first));
  ASSERT_TRUE(stream->Write(request("nope", "k2")));
  ASSERT_TRUE(stream->Read(&unknown));
  ASSERT_TRUE(stream->Write(request("support", "k1")));
  ASSERT_TRUE(stream->Read(&replay));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  EXPECT_EQ(first.code(), 0);
  EXPECT_EQ(first.response().decision(), v1::DECISION_CREATED);
  EXPECT_EQ(unknown.code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.error(), HasSubstr("nope"));
  EXPECT_TRUE(replay.response().replayed()) << "same (connector, fetch key): no second item";
  EXPECT_EQ(replay.response().work_item_id(), first.response().work_item_id());
}

TEST_F(RouterServiceTest, RouteStreamNeedsAnOperator) {
  auto ctx = As("vic-token-01234567890");
  auto stream = stub_->RouteStream(ctx.get());
  v1::RouteEmailRequest req;
  req.set_connector("support");
  req.set_raw_message(kMail);
  stream->Write(req);
  v1::RouteStreamResult result;
  EXPECT_FALSE(stream->Read(&result));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(RouterServiceTest, WatchStreamsWorkItemsAfterTheGivenEvent) {
  v1::RouteEmailResponse before;
  ASSERT_TRUE(Route("olga-token-0123456789", "support", &before).ok());  // Event 1.
  v1::WatchWorkItemsRequest req;
  req.set_after_id(1);
  auto ctx = As("vic-token-01234567890");
  std::unique_ptr<grpc::ClientReader<v1::WorkItemEvent>> reader =
      stub_->WatchWorkItems(ctx.get(), req);
  v1::RouteEmailResponse resp;
  ASSERT_TRUE(Route("olga-token-0123456789", "support", &resp,
                    "From: bob@client.example\r\nSubject: Second\r\n\r\nx\r\n")
                  .ok());
  v1::WorkItemEvent ev;
  ASSERT_TRUE(reader->Read(&ev));
  EXPECT_EQ(ev.kind(), "created");
  EXPECT_EQ(ev.work_item().id(), resp.work_item_id());
  ctx->TryCancel();
  while (reader->Read(&ev)) {
  }
  (void)reader->Finish();
}

// --- Streams per token, and the streams of revoked tokens ---

using ::postroom::testing::Eventually;

class RouterStreamsTest : public RouterServiceTest {
 protected:
  RouterStreamsTest() : path_(dir_.File("tokens")) {
    WriteTokens(kTokens);
    file_auth_ = *auth::TokenAuthenticator::FromFile(path_);
    streams_ = std::make_unique<server::StreamRegistry>(*file_auth_, 2);
    limited_ = std::make_unique<RouterService>(router_, *file_auth_, absl::Milliseconds(5),
                                               streams_.get());
    grpc::ServerBuilder builder;
    builder.RegisterService(limited_.get());
    limited_server_ = builder.BuildAndStart();
    limited_stub_ = v1::RouterService::NewStub(limited_server_->InProcessChannel({}));
  }
  ~RouterStreamsTest() override { limited_server_->Shutdown(std::chrono::system_clock::now()); }

  void WriteTokens(std::string_view plaintext_lines) {
    secrets::testing::WriteFile(path_ + ".new", postroom::testing::HashedTokens(plaintext_lines),
                                0600);
    ASSERT_EQ(::rename((path_ + ".new").c_str(), path_.c_str()), 0);
  }

  struct Watch {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::WorkItemEvent>> reader;
  };
  Watch OpenWatch(const std::string& token) {
    Watch w{As(token), nullptr};
    v1::WatchWorkItemsRequest req;
    req.set_after_id(1000000);
    w.reader = limited_stub_->WatchWorkItems(w.ctx.get(), req);
    return w;
  }
  // An operator's RouteStream with one message routed: open, and idle in its next read.
  struct Route {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReaderWriter<v1::RouteEmailRequest, v1::RouteStreamResult>> stream;
  };
  Route OpenRoute() {
    Route r{As("olga-token-0123456789"), nullptr};
    r.stream = limited_stub_->RouteStream(r.ctx.get());
    v1::RouteStreamResult result;
    EXPECT_TRUE(r.stream->Write(Request("first")));
    EXPECT_TRUE(r.stream->Read(&result));
    EXPECT_EQ(result.code(), 0) << result.error();
    return r;
  }
  static v1::RouteEmailRequest Request(const std::string& fetch_key) {
    v1::RouteEmailRequest req;
    req.set_connector("support");
    req.set_raw_message(kMail);
    req.set_fetch_key(fetch_key);
    return req;
  }
  // Reads until the stream ends; its status.
  static grpc::Status Drain(Watch& w) {
    v1::WorkItemEvent ev;
    while (w.reader->Read(&ev)) {
    }
    return w.reader->Finish();
  }

  secrets::testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<auth::TokenAuthenticator> file_auth_;
  std::unique_ptr<server::StreamRegistry> streams_;
  std::unique_ptr<RouterService> limited_;
  std::unique_ptr<grpc::Server> limited_server_;
  std::unique_ptr<v1::RouterService::Stub> limited_stub_;
};

TEST_F(RouterStreamsTest, ATokenHoldsAtMostTheLimitOfStreams) {
  Watch a = OpenWatch("vic-token-01234567890");
  Watch b = OpenWatch("vic-token-01234567890");
  ASSERT_TRUE(Eventually([&] { return streams_->open_streams("vic") == 2; }));

  Watch over = OpenWatch("vic-token-01234567890");
  grpc::Status refused = Drain(over);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("token \"vic\" already has 2 streams open (WatchWorkItems, RouteStream)"));
  EXPECT_EQ(streams_->open_streams("vic"), 2);

  // Another token is not affected; a closed stream frees its place.
  Route olga = OpenRoute();
  a.ctx->TryCancel();
  Drain(a);
  ASSERT_TRUE(Eventually([&] { return streams_->open_streams("vic") == 1; }));
  Watch again = OpenWatch("vic-token-01234567890");
  EXPECT_TRUE(Eventually([&] { return streams_->open_streams("vic") == 2; }));
  olga.stream->WritesDone();
  EXPECT_TRUE(olga.stream->Finish().ok());
  b.ctx->TryCancel();
  again.ctx->TryCancel();
  Drain(b);
  Drain(again);
}

TEST_F(RouterStreamsTest, RevokedTokenEndsItsOpenStreamsWithinSeconds) {
  server::TokenFileWatcher watcher(*file_auth_, [this] { streams_->EndRevoked(); },
                                   absl::Milliseconds(200));
  Watch vic = OpenWatch("vic-token-01234567890");
  Route olga = OpenRoute();
  ASSERT_TRUE(Eventually([&] { return streams_->open_streams("vic") == 1; }));

  absl::Time revoked = absl::Now();
  WriteTokens("olga operator olga-token-0123456789\n");  // vic removed.
  grpc::Status vic_end = Drain(vic);
  EXPECT_LT(absl::Now() - revoked, absl::Seconds(2));
  EXPECT_EQ(vic_end.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(vic_end.error_message(), HasSubstr("token \"vic\" was revoked"));

  v1::RouteStreamResult result;
  ASSERT_TRUE(olga.stream->Write(Request("second")));  // olga's stream lives on.
  ASSERT_TRUE(olga.stream->Read(&result));
  EXPECT_EQ(result.code(), 0) << result.error();

  revoked = absl::Now();
  WriteTokens("ada admin ada-token-0123456789\n");  // olga's token revoked too.
  EXPECT_FALSE(olga.stream->Read(&result));
  grpc::Status olga_end = olga.stream->Finish();
  EXPECT_LT(absl::Now() - revoked, absl::Seconds(2));
  EXPECT_EQ(olga_end.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(olga_end.error_message(), HasSubstr("token \"olga\" was revoked"));
  // The registry lets go of the stream when its handler returns, which may be just after the
  // client saw the status.
  EXPECT_TRUE(postroom::testing::Eventually([&] { return streams_->open_streams("olga") == 0; }))
      << streams_->open_streams("olga") << " streams of olga still open";
}

}  // namespace
}  // namespace postroom::router
