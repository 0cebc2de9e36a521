// ClientCredentials / OpenClientChannel: a TLS server on loopback is reached with its CA file
// (and the certificate's name when the address is an IP), refused without them, and a CA file
// that cannot serve as roots is a clear error before any connection.
#include "libs/server/client_credentials.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace postroom::server {
namespace {

using ::testing::HasSubstr;

const std::string kTlsDir = POSTROOM_TEST_TLS_DIR;  // tests/support/tls: CA, cert for
                                                    // postroom-router, localhost, 127.0.0.1

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Answers SERVING: something to call over the channel under test.
class ServingHealth : public grpc::health::v1::Health::Service {
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse* resp) override {
    resp->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
};

class TlsServer {
 public:
  TlsServer() {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({Slurp(kTlsDir + "/tls.key"), Slurp(kTlsDir + "/tls.crt")});
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port_);
    b.RegisterService(&health_);
    server_ = b.BuildAndStart();
  }
  ~TlsServer() { server_->Shutdown(std::chrono::system_clock::now()); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  ServingHealth health_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

ClientTls Tls(std::string ca_file, std::string server_name = "", bool enabled = false) {
  ClientTls tls;
  tls.enabled = enabled;
  tls.ca_file = std::move(ca_file);
  tls.server_name = std::move(server_name);
  return tls;
}

grpc::Status Check(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  return stub->Check(&ctx, req, &resp);
}

TEST(ClientCredentials, ReachesATlsServerWithItsCaAndTheCertificatesName) {
  TlsServer server;
  auto channel = OpenClientChannel(server.address(),
                                   Tls(kTlsDir + "/ca.crt", "postroom-router"));
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_TRUE(Check(*channel).ok());
}

TEST(ClientCredentials, TheCaFileAloneVerifiesAnIpTheCertificateNames) {
  TlsServer server;
  auto channel = OpenClientChannel(server.address(), Tls(kTlsDir + "/ca.crt"));
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_TRUE(Check(*channel).ok());
}

TEST(ClientCredentials, IsRefusedByATlsServerWithoutItsRootsOrWithAnotherName) {
  TlsServer server;
  auto plaintext = OpenClientChannel(server.address(), {});
  ASSERT_TRUE(plaintext.ok());
  EXPECT_EQ(Check(*plaintext).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto system_roots = OpenClientChannel(server.address(), Tls("", "", /*enabled=*/true));
  ASSERT_TRUE(system_roots.ok());
  EXPECT_EQ(Check(*system_roots).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto other_name = OpenClientChannel(
      server.address(), Tls(kTlsDir + "/ca.crt", "postroom-sender"));
  ASSERT_TRUE(other_name.ok());
  EXPECT_EQ(Check(*other_name).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(ClientCredentials, ACaFileThatCannotServeIsAnErrorNamingIt) {
  EXPECT_THAT(ClientCredentials(Tls("/nonexistent/ca.crt")),
              testing::StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/ca.crt")));
  EXPECT_THAT(ClientCredentials(Tls(kTlsDir + "/tls.key")),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no PEM certificate")));
  const std::string big = ::testing::TempDir() + "/big-ca.crt";
  {
    std::ofstream out(big);
    out << "-----BEGIN CERTIFICATE-----\n" << std::string(2 << 20, 'A');
  }
  EXPECT_THAT(ClientCredentials(Tls(big)),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("larger than 1 MiB")));
}

TEST(ClientCredentials, NoTlsAndNoCaFileIsPlaintextAndTlsCannotTalkToIt) {
  ServingHealth health;
  int port = 0;
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterService(&health);
  std::unique_ptr<grpc::Server> plain = b.BuildAndStart();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  auto channel = OpenClientChannel(address, {});
  ASSERT_TRUE(channel.ok());
  EXPECT_TRUE(Check(*channel).ok());
  auto tls = OpenClientChannel(address, Tls(kTlsDir + "/ca.crt"));
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(Check(*tls).error_code(), grpc::StatusCode::UNAVAILABLE);
  plain->Shutdown(std::chrono::system_clock::now());
}

}  // namespace
}  // namespace postroom::server
