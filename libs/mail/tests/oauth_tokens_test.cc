// OAuthTokens keeps one token client per connector while its OAuth settings stay, and starts a
// new one when an administrator writes other credentials. No token is fetched here.
#include "libs/mail/oauth_tokens.h"

#include "gtest/gtest.h"

namespace postroom::mail {
namespace {

v1::Connector Graph(const std::string& secret, const std::string& refresh) {
  v1::Connector c;
  c.set_name("support");
  c.set_protocol(v1::PROTOCOL_GRAPH);
  c.mutable_auth()->set_tenant_id("contoso");
  c.mutable_auth()->set_client_id("app");
  c.mutable_auth()->set_client_secret(secret);
  c.mutable_auth()->set_refresh_token(refresh);
  return c;
}

TEST(OAuthTokens, SameSettingsShareOneTokenClient) {
  OAuthTokens tokens({});
  auto a = tokens.For(Graph("s1", "r1"));
  EXPECT_EQ(tokens.For(Graph("s1", "r1")).get(), a.get());
}

TEST(OAuthTokens, NewClientSecretStartsANewTokenClient) {
  OAuthTokens tokens({});
  auto a = tokens.For(Graph("s1", "r1"));
  EXPECT_NE(tokens.For(Graph("s2", "r1")).get(), a.get());
}

TEST(OAuthTokens, RefreshTokenWrittenByAnAdministratorStartsANewTokenClient) {
  OAuthTokens tokens({});
  auto a = tokens.For(Graph("s1", "r1"));
  EXPECT_NE(tokens.For(Graph("s1", "r-new")).get(), a.get());
}

TEST(OAuthTokens, ConnectorsDoNotShareTokens) {
  OAuthTokens tokens({});
  v1::Connector other = Graph("s1", "r1");
  other.set_name("billing");
  EXPECT_NE(tokens.For(other).get(), tokens.For(Graph("s1", "r1")).get());
}

}  // namespace
}  // namespace postroom::mail
