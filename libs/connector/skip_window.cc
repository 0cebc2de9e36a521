#include "libs/connector/skip_window.h"

#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace postroom::connector {
namespace {

// "HH:MM" with two digits each, 00:00-24:00; minutes of the day.
std::optional<int> ParseClock(absl::string_view t) {
  t = absl::StripAsciiWhitespace(t);
  if (t.size() != 5 || t[2] != ':') return std::nullopt;
  for (size_t i : {0, 1, 3, 4}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(t[i]))) return std::nullopt;
  }
  int h = (t[0] - '0') * 10 + (t[1] - '0');
  int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

}  // namespace

bool SkipWindow::Contains(int minute) const {
  return start_minute < end_minute ? (minute >= start_minute && minute < end_minute)
                                   : (minute >= start_minute || minute < end_minute);
}

absl::StatusOr<SkipWindow> ParseSkipWindow(absl::string_view window) {
  std::vector<absl::string_view> ends = absl::StrSplit(window, '-');
  std::optional<int> start, end;
  if (ends.size() == 2) {
    start = ParseClock(ends[0]);
    end = ParseClock(ends[1]);
  }
  if (!start || !end || *start == *end) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", window, "\" is not a window: use \"HH:MM-HH:MM\" (24h; may cross midnight)"));
  }
  return SkipWindow{*start, *end};
}

}  // namespace postroom::connector
