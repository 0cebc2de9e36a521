#pragma once

// A connector's fetch settings with the documented defaults filled in, and the pure rules on
// them: skip windows in the connector's time zone, the sync start date.
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/connector/defaults.h"
#include "libs/connector/skip_window.h"
#include "postroom/v1/config.pb.h"

namespace postroom::fetcher {

using connector::SkipWindow;

struct FolderPlan {
  std::string folder;
  std::string queue_hint;
};

// Defaults from libs/connector's table; these initial values also stand for a connector whose
// stored settings could not be read.
struct FetchSettings {
  absl::Duration poll_interval = absl::Seconds(connector::kDefaults.poll_interval_s);
  absl::Duration timeout = absl::Milliseconds(connector::kDefaults.timeout_ms);
  int max_tries = static_cast<int>(connector::kDefaults.max_tries);
  absl::Duration cool_off = absl::Minutes(connector::kDefaults.cool_off_min);  // Zero: none.
  std::vector<SkipWindow> skip_windows;
  absl::TimeZone time_zone = absl::UTCTimeZone();
  std::optional<absl::CivilDay> sync_start;
  uint64_t max_message_bytes = connector::kDefaults.max_message_bytes;
  int error_threshold = static_cast<int>(connector::kDefaults.error_threshold);
  std::vector<FolderPlan> folders;  // default INBOX
  v1::ProcessedAction processed_action = v1::PROCESSED_ACTION_LEAVE;
  std::string processed_folder;
};

// Absent settings take the defaults, an explicit cool_off_min of 0 is no cool-off.
// INVALID_ARGUMENT for a bad skip window, time zone or date, or a 0 where 0 means nothing (config
// validates these first, so this only happens for hand-edited rows).
absl::StatusOr<FetchSettings> SettingsOf(const v1::Connector& c);

// True when `now` falls in one of the windows, in the settings' time zone.
bool InSkipWindow(const FetchSettings& s, absl::Time now);

// The replica's lease timing (--lease_period_s, --lease_round_ms). INVALID_ARGUMENT unless the
// round is shorter than half the period: leases are renewed once a round, and a round of half
// the period or more lets one late or failed round expire them (another replica takes them
// while this one still polls), or never lets them settle when the round exceeds the period.
absl::Status CheckLeaseTiming(absl::Duration period, absl::Duration round);

}  // namespace postroom::fetcher
