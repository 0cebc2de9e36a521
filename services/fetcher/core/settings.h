#pragma once

// A connector's fetch settings with the documented defaults filled in, and the pure rules on
// them: skip windows in the connector's time zone, the sync start date.
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "postroom/v1/config.pb.h"

namespace postroom::fetcher {

struct SkipWindow {
  int start_minute = 0;  // minutes of the day, [0, 1440)
  int end_minute = 0;    // may be below start: the window crosses midnight
};

struct FolderPlan {
  std::string folder;
  std::string queue_hint;
};

struct FetchSettings {
  absl::Duration poll_interval = absl::Seconds(60);
  absl::Duration timeout = absl::Seconds(30);
  int max_tries = 3;
  absl::Duration cool_off = absl::Minutes(15);
  std::vector<SkipWindow> skip_windows;
  absl::TimeZone time_zone = absl::UTCTimeZone();
  std::optional<absl::CivilDay> sync_start;
  uint64_t max_message_bytes = 26214400;
  int error_threshold = 5;
  std::vector<FolderPlan> folders;  // default INBOX
  v1::ProcessedAction processed_action = v1::PROCESSED_ACTION_LEAVE;
  std::string processed_folder;
};

// INVALID_ARGUMENT for a bad skip window, time zone or date (config validates these first, so
// this only happens for hand-edited rows).
absl::StatusOr<FetchSettings> SettingsOf(const v1::Connector& c);

// True when `now` falls in one of the windows, in the settings' time zone.
bool InSkipWindow(const FetchSettings& s, absl::Time now);

// Parses the JSON the config service stores in connectors.spec (proto field names).
absl::StatusOr<v1::Connector> ConnectorFromSpec(const std::string& spec_json);

}  // namespace postroom::fetcher
