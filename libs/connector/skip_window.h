#pragma once

// The one grammar of a skip window: "HH:MM-HH:MM" on a 24-hour clock, in the connector's time
// zone. Two digits each; 24:00 is the end of the day, 24:xx is no time at all; start and end
// differ; a window whose end is before its start crosses midnight.
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace postroom::connector {

struct SkipWindow {
  int start_minute = 0;  // [0, 1440]
  int end_minute = 0;    // [0, 1440]; below start: the window crosses midnight

  // True when `minute_of_day` ([0, 1440)) falls in the window (start inclusive, end exclusive).
  bool Contains(int minute_of_day) const;
};

// INVALID_ARGUMENT "\"<window>\" is not a window: use \"HH:MM-HH:MM\" (24h; may cross
// midnight)".
absl::StatusOr<SkipWindow> ParseSkipWindow(absl::string_view window);

}  // namespace postroom::connector
