// Authentication-Results as the acknowledgement's backscatter guard reads them: trusted ids
// only, the topmost group only, and DMARC alignment.
#include "libs/mime/authentication_results.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mime/parser.h"

namespace postroom::mime {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kTrusted = {"mx.desk.example"};

SenderAuthentication Check(const std::string& headers,
                           const std::vector<std::string>& trusted = kTrusted) {
  std::string raw = headers + "From: Jane <jane@client.example>\r\nSubject: hi\r\n\r\nbody\r\n";
  absl::StatusOr<ParsedMessage> m = ParseMessage(raw);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? CheckSenderAuthentication(*m, trusted) : SenderAuthentication{};
}

TEST(SenderAuthentication, DmarcPassFromTheTrustedServer) {
  SenderAuthentication a = Check(
      "Authentication-Results: mx.desk.example; dkim=pass header.d=client.example;\r\n"
      " spf=pass smtp.mailfrom=jane@client.example; dmarc=pass (p=reject) header.from=client.example\r\n"
      "Received: from mail.client.example by mx.desk.example\r\n");
  EXPECT_TRUE(a.passed) << a.detail;
}

TEST(SenderAuthentication, AlignedSpfOrDkimWithoutDmarcResult) {
  EXPECT_TRUE(Check("Authentication-Results: mx.desk.example; spf=pass "
                    "smtp.mailfrom=bounces@mail.client.example\r\n")
                  .passed);
  EXPECT_TRUE(Check("Authentication-Results: MX.Desk.Example 1; dkim=pass (2048-bit key) "
                    "header.d=client.example header.s=s1\r\n")
                  .passed);
  // Passing for another domain proves nothing about From.
  SenderAuthentication other = Check(
      "Authentication-Results: mx.desk.example; spf=pass smtp.mailfrom=x@bulk.example;\r\n"
      " dkim=pass header.d=bulk.example\r\n");
  EXPECT_FALSE(other.passed);
  EXPECT_THAT(other.detail, HasSubstr("not aligned with From client.example"));
}

TEST(SenderAuthentication, FailuresAndNoneFail) {
  SenderAuthentication a = Check(
      "Authentication-Results: mx.desk.example; spf=fail smtp.mailfrom=client.example;\r\n"
      " dkim=none; dmarc=fail header.from=client.example\r\n");
  EXPECT_FALSE(a.passed);
  EXPECT_EQ(a.detail, "spf=fail dkim=none dmarc=fail");
  EXPECT_FALSE(Check("Authentication-Results: mx.desk.example; none\r\n").passed);
}

TEST(SenderAuthentication, UntrustedOrForgedHeadersNeverCount) {
  // Written by the sender (another authserv-id), or no trusted id configured.
  SenderAuthentication untrusted =
      Check("Authentication-Results: mx.client.example; dmarc=pass\r\n");
  EXPECT_FALSE(untrusted.passed);
  EXPECT_THAT(untrusted.detail, HasSubstr("no Authentication-Results from a trusted server"));
  EXPECT_FALSE(Check("Authentication-Results: mx.desk.example; dmarc=pass\r\n", {}).passed);
  // Our server's own verdict on top; a "pass" with our id below its Received line was in the
  // mail before our server saw it.
  SenderAuthentication forged = Check(
      "Authentication-Results: mx.desk.example; spf=fail smtp.mailfrom=client.example\r\n"
      "Received: from evil.example by mx.desk.example\r\n"
      "Authentication-Results: mx.desk.example; dmarc=pass\r\n");
  EXPECT_FALSE(forged.passed);
  EXPECT_EQ(forged.detail, "spf=fail");
  // A comment that looks like a result is a comment.
  EXPECT_FALSE(Check("Authentication-Results: mx.desk.example; spf=fail (dmarc=pass) "
                     "smtp.mailfrom=client.example\r\n")
                   .passed);
}

TEST(SenderAuthentication, HostileValuesStayBounded) {
  std::string many = "Authentication-Results: mx.desk.example";
  for (int i = 0; i < 5000; ++i) many += "; spf=fail";
  many += "; dmarc=pass\r\n";
  // Only the first results of a header are read.
  EXPECT_FALSE(Check(many).passed);
  EXPECT_FALSE(Check("Authentication-Results: mx.desk.example; (((((((( dmarc=pass\r\n").passed);
}

}  // namespace
}  // namespace postroom::mime
