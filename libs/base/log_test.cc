#include "libs/base/log.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace postroom {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

TEST(FormatLogLine, LogfmtQuotesValuesWithSpacesAndEquals) {
  std::string line = FormatLogLine(LogLevel::kInfo, "route_done",
                                   {{"connector", "support"}, {"reason", "no match=1"}}, false);
  EXPECT_THAT(line, HasSubstr(" level=info event=route_done connector=support"));
  EXPECT_THAT(line, EndsWith("reason=\"no match=1\""));
}

TEST(FormatLogLine, JsonEscapesControlCharacters) {
  std::string line =
      FormatLogLine(LogLevel::kError, "poll_failed", {{"error", "a\"b\nc"}}, true);
  EXPECT_THAT(line, HasSubstr("\"level\":\"error\",\"event\":\"poll_failed\""));
  EXPECT_THAT(line, EndsWith(",\"error\":\"a\\\"b\\nc\"}"));
}

}  // namespace
}  // namespace postroom
