// services/config/connection_tester.cc against a private Dovecot (label e2e, root).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/config/connection_tester.h"
#include "tests/support/status_matchers.h"

namespace postroom::config {
namespace {

using ::postroom::testing::IsOk;
using ::testing::HasSubstr;

int Shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

class ConnectionTesterDovecot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    const char* src = std::getenv("POSTROOM_SOURCE_DIR");
    script_ = std::string(src != nullptr ? src : POSTROOM_SOURCE_DIR_DEFAULT) + "/scripts/dovecot";
    char tmpl[] = "/tmp/postroom-tester-XXXXXX";
    dir_ = mkdtemp(tmpl);
    if (Shell(absl::StrCat(script_, " start ", dir_)) != 0 ||
        Shell(absl::StrCat(script_, " add-user ", dir_, " alice pw-alice")) != 0) {
      dir_.clear();
      return;
    }
    std::ifstream f(dir_ + "/ports.env");
    std::string line;
    while (std::getline(f, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) Shell(absl::StrCat(script_, " stop ", dir_));
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void SetUp() override {
    if (dir_.empty()) GTEST_SKIP() << "needs root and dovecot (scripts/dovecot)";
  }
  v1::Connector Imap(const std::string& password, v1::TlsMode tls, const std::string& port_var) {
    v1::Connector c;
    c.set_name("support");
    c.set_protocol(v1::PROTOCOL_IMAP);
    c.mutable_server()->set_host("127.0.0.1");
    c.mutable_server()->set_port(std::stoi(env_[port_var]));
    c.mutable_server()->set_tls(tls);
    c.mutable_server()->set_ca_file(env_["DOVECOT_CA_FILE"]);
    c.mutable_auth()->set_username("alice");
    c.mutable_auth()->set_password(password);
    return c;
  }
  static std::string script_, dir_;
  static std::map<std::string, std::string> env_;
};
std::string ConnectionTesterDovecot::script_;
std::string ConnectionTesterDovecot::dir_;
std::map<std::string, std::string> ConnectionTesterDovecot::env_;

TEST_F(ConnectionTesterDovecot, ImplicitTlsPassesEveryStep) {
  MailConnectionTester t;
  auto r = t.Test(Imap("pw-alice", v1::TLS_MODE_IMPLICIT, "IMAPS_PORT"));
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->passed()) << r->DebugString();
  std::vector<std::string> names;
  for (const auto& s : r->steps()) names.push_back(s.name());
  EXPECT_THAT(names,
              ::testing::ElementsAre("dns", "tcp", "tls", "greeting", "auth", "folder", "count"));
}

TEST_F(ConnectionTesterDovecot, Pop3PlainPasses) {
  MailConnectionTester t;
  v1::Connector c = Imap("pw-alice", v1::TLS_MODE_NONE, "POP3_PORT");
  c.set_protocol(v1::PROTOCOL_POP3);
  auto r = t.Test(c);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->passed()) << r->DebugString();
}

TEST_F(ConnectionTesterDovecot, WrongPasswordFailsAtAuthWithTheServersWords) {
  MailConnectionTester t;
  auto r = t.Test(Imap("wrong", v1::TLS_MODE_NONE, "IMAP_PORT"));
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->passed());
  EXPECT_EQ(r->failed_step(), "auth");
  EXPECT_THAT(r->steps(r->steps_size() - 1).detail(), HasSubstr("AUTHENTICATIONFAILED"));
}

// Graph is tested against tests/fakes/graph_fake.py in tests/e2e/graph_e2e.sh; here only that
// a Graph connector reaches the Graph steps and stops at the first with the reason.
TEST_F(ConnectionTesterDovecot, GraphWithoutTokenEndpointFailsAtAuth) {
  MailConnectionTester t;
  v1::Connector c;
  c.set_protocol(v1::PROTOCOL_GRAPH);
  auto r = t.Test(c);
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->passed());
  EXPECT_EQ(r->failed_step(), "auth");
  EXPECT_THAT(r->steps(0).detail(), HasSubstr("token endpoint"));
}

}  // namespace
}  // namespace postroom::config
