#include "libs/secrets/reply_token.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"

namespace postroom::secrets {
namespace {

using ::testing::MatchesRegex;
using ::testing::Optional;

constexpr char kKey[] = "a-reply-token-key";

absl::Time Utc(int y, int m, int d, int h = 0, int min = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, h, min), absl::UTCTimeZone());
}

TEST(ReplyTokenTest, CarriesItsIssueDayUnderTheSignature) {
  FakeClock clock(Utc(2026, 1, 2, 17, 45));
  const std::string token = MakeReplyToken(kKey, 12, clock.Now());
  EXPECT_THAT(token, MatchesRegex("w12-[0-9]+-[a-z2-7]{10}"));
  ReplyTokenClaims c = CheckReplyToken(kKey, token);
  EXPECT_EQ(c.work_item_id, 12);
  EXPECT_THAT(c.issued, Optional(Utc(2026, 1, 2)));
  EXPECT_EQ(VerifyReplyToken(kKey, token), 12);
  EXPECT_EQ(VerifyReplyToken("another-key", token), 0);
}

TEST(ReplyTokenTest, AnEditedDayOrIdIsRefused) {
  const absl::Time issued = Utc(2026, 1, 2);
  const std::string token = MakeReplyToken(kKey, 12, issued);
  const std::string day = absl::StrCat(absl::ToUnixSeconds(issued) / 86400);
  const std::string sig = token.substr(token.rfind('-') + 1);
  // Moving the day forward would make an old token young again.
  const std::string later = absl::StrCat(absl::ToUnixSeconds(issued) / 86400 + 100);
  EXPECT_EQ(VerifyReplyToken(kKey, absl::StrCat("w12-", later, "-", sig)), 0);
  EXPECT_EQ(VerifyReplyToken(kKey, absl::StrCat("w12-0", day, "-", sig)), 0);
  EXPECT_EQ(VerifyReplyToken(kKey, absl::StrCat("w13-", day, "-", sig)), 0);
  // The day dropped: the undated signature differs.
  EXPECT_EQ(VerifyReplyToken(kKey, absl::StrCat("w12-", sig)), 0);
  EXPECT_EQ(VerifyReplyToken(kKey, absl::StrCat("w12-1234567-", sig)), 0);
  EXPECT_EQ(VerifyReplyToken("", token), 0);
}

TEST(ReplyTokenTest, UndatedTokensOfOldMailStillVerifyWithoutADay) {
  const std::string token = MakeUndatedReplyToken(kKey, 12);
  EXPECT_THAT(token, MatchesRegex("w12-[a-z2-7]{10}"));
  ReplyTokenClaims c = CheckReplyToken(kKey, token);
  EXPECT_EQ(c.work_item_id, 12);
  EXPECT_EQ(c.issued, std::nullopt);
}

TEST(ReplyTokenTest, ExpiresAfterWholeDaysOnTheInjectedClock) {
  FakeClock clock(Utc(2026, 1, 2, 23, 59));
  const ReplyTokenClaims c = CheckReplyToken(kKey, MakeReplyToken(kKey, 5, clock.Now()));
  ASSERT_TRUE(c.issued.has_value());
  clock.Set(Utc(2026, 4, 2, 23, 59));  // 90 days later.
  EXPECT_FALSE(ReplyTokenExpired(*c.issued, 90, clock.Now()));
  clock.Advance(absl::Minutes(1));  // The 91st day.
  EXPECT_TRUE(ReplyTokenExpired(*c.issued, 90, clock.Now()));
  EXPECT_FALSE(ReplyTokenExpired(*c.issued, 91, clock.Now()));
  EXPECT_FALSE(ReplyTokenExpired(*c.issued, 0, clock.Now() + absl::Hours(24 * 3650)));
  // Issued "tomorrow" by a replica whose clock runs ahead: not expired.
  EXPECT_FALSE(ReplyTokenExpired(clock.Now() + absl::Hours(24), 1, clock.Now()));
}

}  // namespace
}  // namespace postroom::secrets
