#include "libs/net/secret_url.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace postroom::net {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::StatusIs;
using ::testing::HasSubstr;

TEST(SecretUrlTest, HttpsGoesAnywhere) {
  EXPECT_THAT(CheckSecretUrl("https://login.microsoftonline.com/t/oauth2/v2.0/token"), IsOk());
  EXPECT_THAT(CheckSecretUrl("HTTPS://oauth2.googleapis.com/token"), IsOk());
}

TEST(SecretUrlTest, HttpOnlyToLoopback) {
  for (const char* url : {"http://localhost/token", "http://LOCALHOST:8080/token",
                          "http://127.0.0.1:5000/t", "http://127.200.3.4/t", "http://[::1]:9/t",
                          "http://[0:0:0:0:0:0:0:1]/t"}) {
    EXPECT_THAT(CheckSecretUrl(url), IsOk()) << url;
  }
}

TEST(SecretUrlTest, LookalikeHostsAreRefused) {
  for (const char* url :
       {"http://localhost.evil.example/t", "http://127.0.0.1.evil.example/t",
        "http://user@127.0.0.1@evil.example/t", "http://127.0.0.1@evil.example/t",
        "http://[::1].evil/t", "http://evil.example/http://127.0.0.1/",
        "http://evil.example#@127.0.0.1/", "http://evil.example?@localhost/",
        "http://localhost:80@evil.example/", "http://[::ffff:127.0.0.1]/t", "http://10.0.0.1/t",
        "http://128.0.0.1/t", "http://0x7f000001.evil/t", "ftp://127.0.0.1/t", "127.0.0.1/t",
        "", "http://", "javascript:alert(1)", "http://local\nhost/t"}) {
    EXPECT_THAT(CheckSecretUrl(url), StatusIs(absl::StatusCode::kInvalidArgument)) << url;
  }
}

TEST(SecretUrlTest, UserInfoIsRefusedEvenOverHttps) {
  EXPECT_THAT(CheckSecretUrl("https://user:pw@login.example/token"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a valid URL")));
}

TEST(SecretUrlTest, OverlongUrlIsRefusedBeforeParsing) {
  EXPECT_THAT(CheckSecretUrl("https://example.com/" + std::string(5000, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("longer than 2048")));
}

TEST(SecretUrlTest, LoopbackHostIsExact) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("127.1"));
  EXPECT_FALSE(IsLoopbackHost("localhost."));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1 "));
  EXPECT_FALSE(IsLoopbackHost("[::1"));
  EXPECT_FALSE(IsLoopbackHost(""));
}

}  // namespace
}  // namespace postroom::net
