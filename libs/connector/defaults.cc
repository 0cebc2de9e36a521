#include "libs/connector/defaults.h"

namespace postroom::connector {

void ApplySettingDefaults(v1::ConnectionSettings& s) {
  if (!s.has_poll_interval_s()) s.set_poll_interval_s(kDefaults.poll_interval_s);
  if (!s.has_timeout_ms()) s.set_timeout_ms(kDefaults.timeout_ms);
  if (!s.has_max_tries()) s.set_max_tries(kDefaults.max_tries);
  if (!s.has_cool_off_min()) s.set_cool_off_min(kDefaults.cool_off_min);
  if (!s.has_max_message_bytes()) s.set_max_message_bytes(kDefaults.max_message_bytes);
  if (!s.has_error_threshold()) s.set_error_threshold(kDefaults.error_threshold);
  if (s.time_zone().empty()) s.set_time_zone(kDefaults.time_zone);
  if (!s.has_save_to_sent_items()) s.set_save_to_sent_items(kDefaults.save_to_sent_items);
}

v1::ConnectionSettings WithDefaults(const v1::ConnectionSettings& s) {
  v1::ConnectionSettings out = s;
  ApplySettingDefaults(out);
  return out;
}

}  // namespace postroom::connector
