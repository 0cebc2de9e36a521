#include "libs/connector/defaults.h"

#include "gtest/gtest.h"

namespace postroom::connector {
namespace {

TEST(Defaults, FillEveryAbsentSetting) {
  v1::ConnectionSettings s;
  ApplySettingDefaults(s);
  EXPECT_EQ(s.poll_interval_s(), 60u);
  EXPECT_EQ(s.timeout_ms(), 30000u);
  EXPECT_EQ(s.max_tries(), 3u);
  EXPECT_EQ(s.cool_off_min(), 15u);
  EXPECT_EQ(s.max_message_bytes(), 26214400u);
  EXPECT_EQ(s.error_threshold(), 5u);
  EXPECT_EQ(s.time_zone(), "UTC");
  EXPECT_TRUE(s.save_to_sent_items());
}

// Absent is not zero: `cool_off_min: 0` means no cool-off, and other zeros stay for validation
// to refuse with their field path.
TEST(Defaults, KeepAnExplicitZero) {
  v1::ConnectionSettings s;
  s.set_cool_off_min(0);
  s.set_poll_interval_s(0);
  s.set_max_message_bytes(0);
  ApplySettingDefaults(s);
  EXPECT_TRUE(s.has_cool_off_min());
  EXPECT_EQ(s.cool_off_min(), 0u);
  EXPECT_EQ(s.poll_interval_s(), 0u);
  EXPECT_EQ(s.max_message_bytes(), 0u);
  EXPECT_EQ(s.timeout_ms(), 30000u);
}

TEST(Defaults, NeverOverrideAGivenValue) {
  v1::ConnectionSettings s;
  s.set_poll_interval_s(600);
  s.set_time_zone("Europe/Berlin");
  s.set_error_threshold(1);
  s.set_save_to_sent_items(false);
  v1::ConnectionSettings out = WithDefaults(s);
  EXPECT_FALSE(out.save_to_sent_items());
  EXPECT_EQ(out.poll_interval_s(), 600u);
  EXPECT_EQ(out.time_zone(), "Europe/Berlin");
  EXPECT_EQ(out.error_threshold(), 1u);
  EXPECT_FALSE(s.has_timeout_ms());  // The copy, not the argument, got the defaults.
}

}  // namespace
}  // namespace postroom::connector
