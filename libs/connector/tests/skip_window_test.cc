#include "libs/connector/skip_window.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace postroom::connector {
namespace {

using ::testing::HasSubstr;
using postroom::testing::IsOk;
using postroom::testing::StatusIs;

TEST(SkipWindow, ParsesMinutesOfTheDay) {
  absl::StatusOr<SkipWindow> w = ParseSkipWindow("02:00-04:30");
  ASSERT_THAT(w.status(), IsOk());
  EXPECT_EQ(w->start_minute, 120);
  EXPECT_EQ(w->end_minute, 270);
  EXPECT_TRUE(w->Contains(120));
  EXPECT_TRUE(w->Contains(269));
  EXPECT_FALSE(w->Contains(270));
  EXPECT_FALSE(w->Contains(119));
}

TEST(SkipWindow, CrossesMidnight) {
  absl::StatusOr<SkipWindow> w = ParseSkipWindow("22:00-06:00");
  ASSERT_THAT(w.status(), IsOk());
  EXPECT_TRUE(w->Contains(23 * 60));
  EXPECT_TRUE(w->Contains(0));
  EXPECT_TRUE(w->Contains(5 * 60 + 59));
  EXPECT_FALSE(w->Contains(6 * 60));
  EXPECT_FALSE(w->Contains(12 * 60));
}

TEST(SkipWindow, TwentyFourHundredEndsTheDay) {
  absl::StatusOr<SkipWindow> w = ParseSkipWindow("00:00-24:00");
  ASSERT_THAT(w.status(), IsOk());
  EXPECT_TRUE(w->Contains(0));
  EXPECT_TRUE(w->Contains(1439));
  EXPECT_THAT(ParseSkipWindow("20:00 - 24:00").status(), IsOk());
}

// The fetcher's sscanf once took 24:59 (and wrapped it to 00:59): there is no such time.
TEST(SkipWindow, RefusesTwentyFourFiftyNine) {
  EXPECT_THAT(ParseSkipWindow("24:59-02:00"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSkipWindow("01:00-24:59"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSkipWindow("24:01-02:00"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SkipWindow, RefusesWhatIsNotHhMm) {
  for (const char* bad :
       {"", "-", "02:00", "02:00-", "-04:00", "2:00-4:00", "02:00-04:00-06:00", "25:00-04:00",
        "02:60-04:00", "2am-4am", "+1:00-02:00", "01:+1-02:00", "0x:00-02:00", "02:00-02:00",
        "02:00-04:00x", "02.00-04.00", "02:00--04:00", "-1:00-02:00"}) {
    EXPECT_THAT(ParseSkipWindow(bad),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("is not a window: use \"HH:MM-HH:MM\" (24h; may cross "
                                   "midnight)")))
        << bad;
  }
}

TEST(SkipWindow, ErrorQuotesTheWindow) {
  EXPECT_THAT(ParseSkipWindow("2am-4am"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"2am-4am\"")));
}

}  // namespace
}  // namespace postroom::connector
