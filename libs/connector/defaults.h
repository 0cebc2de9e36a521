#pragma once

// What an absent connection setting means: the one table of defaults (docs/connectors.md).
// Absent is not zero: the settings are proto3 `optional`, so an explicit 0 is kept (and
// validation refuses it where it means nothing).
#include <cstdint>

#include "postroom/v1/config.pb.h"

namespace postroom::connector {

struct SettingDefaults {
  uint32_t poll_interval_s = 60;
  uint32_t timeout_ms = 30000;
  uint32_t max_tries = 3;
  uint32_t cool_off_min = 15;
  uint64_t max_message_bytes = 25ull << 20;
  uint32_t error_threshold = 5;
  const char* time_zone = "UTC";
  bool save_to_sent_items = true;
};
inline constexpr SettingDefaults kDefaults;

// Fills every absent setting from kDefaults; never changes one that is present.
void ApplySettingDefaults(v1::ConnectionSettings& s);

// The settings with the defaults filled in, `s` left as it is.
v1::ConnectionSettings WithDefaults(const v1::ConnectionSettings& s);

}  // namespace postroom::connector
