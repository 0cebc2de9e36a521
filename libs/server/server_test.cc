// The gRPC port as Serve() sets it up (ConfigureServer) over real TCP on loopback: tokens are
// checked on the headers, before a request's bytes are taken in; receive limits; the health
// service stays open; the tokens file is re-read on change and on SIGHUP.
#include "libs/server/server.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/secrets/test_files.h"
#include "libs/server/token_watcher.h"
#include "postroom/v1/router.grpc.pb.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"
#include "tests/support/tokens.h"

namespace postroom::server {
namespace {

using ::postroom::testing::IsOk;
using ::testing::HasSubstr;

constexpr char kOlga[] = "olga-token-0123456789";
constexpr char kTokens[] = "olga operator olga-token-0123456789\n";

// Forwards one TCP connection to `upstream_port` and counts the bytes the client sent, which is
// all the server can have read of a request.
class CountingProxy {
 public:
  explicit CountingProxy(int upstream_port) : upstream_port_(upstream_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(listener_, 4) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::abort();
    }
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { Accept(); });
  }
  ~CountingProxy() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    accept_thread_.join();
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : pumps_) t.join();
    for (int fd : fds_) ::close(fd);
  }
  int port() const { return port_; }
  size_t client_bytes() const { return client_bytes_.load(); }

 private:
  void Accept() {
    int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) return;
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(upstream_port_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
    fds_ = {client, server};
    pumps_.emplace_back([this, client, server] { Pump(client, server, &client_bytes_); });
    pumps_.emplace_back([this, client, server] { Pump(server, client, nullptr); });
  }
  static void Pump(int from, int to, std::atomic<size_t>* count) {
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(from, buf, sizeof buf);
      if (n <= 0) break;
      if (count != nullptr) count->fetch_add(static_cast<size_t>(n));
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) return;
        off += w;
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  int upstream_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<size_t> client_bytes_{0};
  std::thread accept_thread_;
  std::vector<int> fds_;
  std::vector<std::thread> pumps_;
};

class CountingRouter final : public v1::RouterService::Service {
 public:
  grpc::Status RouteEmail(grpc::ServerContext*, const v1::RouteEmailRequest* req,
                          v1::RouteEmailResponse* resp) override {
    ++calls;
    resp->set_message_id(static_cast<int64_t>(req->raw_message().size()));
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
};

class ServerLimitsTest : public ::testing::Test {
 protected:
  void Start(int max_receive_bytes) {
    authenticator_ = *auth::TokenAuthenticator::FromContents(testing::HashedTokens(kTokens));
    grpc::EnableDefaultHealthCheckService(true);
    ServerOptions options;
    options.service_name = "test";
    options.listen = "127.0.0.1:0";
    options.authenticator = authenticator_.get();
    options.max_receive_bytes = max_receive_bytes;
    grpc::ServerBuilder builder;
    ASSERT_THAT(ConfigureServer(options, builder, &port_), IsOk());
    builder.RegisterService(&router_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  ~ServerLimitsTest() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  std::unique_ptr<v1::RouterService::Stub> Stub(int port) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    return v1::RouterService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
  }

  grpc::Status Route(v1::RouterService::Stub& stub, size_t bytes, const std::string& token) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    v1::RouteEmailRequest req;
    req.set_connector("support");
    req.set_raw_message(std::string(bytes, 'x'));
    v1::RouteEmailResponse resp;
    return stub.RouteEmail(&ctx, req, &resp);
  }

  std::unique_ptr<auth::TokenAuthenticator> authenticator_;
  CountingRouter router_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(ServerLimitsTest, UnauthenticatedLargeRequestIsRefusedBeforeItsBytesAreRead) {
  Start(26 << 20);
  CountingProxy proxy(port_);
  auto stub = Stub(proxy.port());
  constexpr size_t k20MiB = size_t{20} << 20;

  grpc::Status none = Route(*stub, k20MiB, "");
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << none.error_message();
  EXPECT_THAT(none.error_message(), HasSubstr("missing bearer token"));
  const size_t first_bytes = proxy.client_bytes();
  grpc::Status wrong = Route(*stub, k20MiB, "wrong-token-0123456789");
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED) << wrong.error_message();
  EXPECT_THAT(wrong.error_message(), HasSubstr("unknown or revoked"));
  EXPECT_EQ(router_.calls.load(), 0);
  // Two refused 20 MiB requests: the server took in at most flow-control windows' worth.
  const size_t refused_bytes = proxy.client_bytes();
  std::printf("client bytes for refused 20 MiB requests: first %zu, both %zu\n", first_bytes,
              refused_bytes);
  EXPECT_LT(refused_bytes, size_t{1} << 20);

  // The same request with a token does cross the wire: what the proxy counts is real.
  grpc::Status ok = Route(*stub, k20MiB, kOlga);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(router_.calls.load(), 1);
  EXPECT_GT(proxy.client_bytes() - refused_bytes, k20MiB);
}

TEST_F(ServerLimitsTest, RequestOverTheReceiveLimitIsResourceExhausted) {
  Start(1 << 20);
  auto stub = Stub(port_);
  EXPECT_TRUE(Route(*stub, 512 << 10, kOlga).ok());
  grpc::Status big = Route(*stub, 2 << 20, kOlga);
  EXPECT_EQ(big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << big.error_message();
  EXPECT_EQ(router_.calls.load(), 1);
}

TEST_F(ServerLimitsTest, HealthNeedsNoTokenButOtherServicesDo) {
  Start(4 << 20);
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status st = health->Check(&ctx, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(Route(*Stub(port_), 10, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// --- Reloading the tokens file ---

using ::postroom::testing::Eventually;

class TokenFileWatcherTest : public ::testing::Test {
 protected:
  TokenFileWatcherTest() : path_(dir_.File("tokens")) {
    Write("olga operator olga-token-0123456789\n");
    authenticator_ = *auth::TokenAuthenticator::FromFile(path_);
  }
  void Write(std::string_view plaintext_lines) {
    // Replaced as editors and Kubernetes do: a new file renamed over the old.
    secrets::testing::WriteFile(path_ + ".new", testing::HashedTokens(plaintext_lines), 0600);
    ASSERT_EQ(::rename((path_ + ".new").c_str(), path_.c_str()), 0);
  }
  void WriteRaw(const std::string& text) {
    secrets::testing::WriteFile(path_ + ".new", text, 0600);
    ASSERT_EQ(::rename((path_ + ".new").c_str(), path_.c_str()), 0);
  }
  bool Accepts(const std::string& token) {
    return authenticator_->Authenticate("Bearer " + token).ok();
  }

  secrets::testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<auth::TokenAuthenticator> authenticator_;
  std::atomic<int> reloads_{0};
};

TEST_F(TokenFileWatcherTest, ChangedFileIsReadWithinSecondsAndABadOneKeepsTheTokens) {
  TokenFileWatcher watcher(
      *authenticator_, [this] { ++reloads_; }, absl::Milliseconds(100));
  Write("vic viewer vic-token-01234567890\n");
  EXPECT_TRUE(Eventually([&] { return Accepts("vic-token-01234567890"); }));
  EXPECT_FALSE(Accepts(kOlga));
  EXPECT_TRUE(Eventually([&] { return reloads_.load() == 1; }));

  WriteRaw("vic viewer vic-token-01234567890\n");  // Plaintext: refused.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_TRUE(Accepts("vic-token-01234567890"));
  EXPECT_EQ(reloads_.load(), 1);

  Write("olga operator olga-token-0123456789\n");  // Fixed: read again.
  EXPECT_TRUE(Eventually([&] { return Accepts(kOlga); }));
  EXPECT_TRUE(Eventually([&] { return reloads_.load() == 2; }));
}

TEST_F(TokenFileWatcherTest, SighupReloadsAtOnce) {
  InstallSighupReload();
  TokenFileWatcher watcher(
      *authenticator_, [this] { ++reloads_; }, absl::Hours(1));
  Write("vic viewer vic-token-01234567890\n");
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(Accepts("vic-token-01234567890"));  // Not looked at for an hour...
  std::raise(SIGHUP);                              // ...unless asked.
  EXPECT_TRUE(Eventually([&] { return Accepts("vic-token-01234567890"); }, absl::Seconds(2)));
  EXPECT_TRUE(Eventually([&] { return reloads_.load() == 1; }));
}

}  // namespace
}  // namespace postroom::server
