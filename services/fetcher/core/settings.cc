#include "services/fetcher/core/settings.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace postroom::fetcher {
namespace {

// Settings where 0 means nothing (a poll loop without pause, a poll without tries ...).
absl::Status RefuseZeros(const v1::Connector& c, const v1::ConnectionSettings& cs) {
  const std::pair<const char*, uint64_t> must_not_be_zero[] = {
      {"poll_interval_s", cs.poll_interval_s()},
      {"timeout_ms", cs.timeout_ms()},
      {"max_tries", cs.max_tries()},
      {"max_message_bytes", cs.max_message_bytes()},
      {"error_threshold", cs.error_threshold()},
  };
  for (const auto& [name, value] : must_not_be_zero) {
    if (value == 0) {
      return absl::InvalidArgumentError(absl::StrCat("connector \"", c.name(), "\": settings.",
                                                     name, " is 0; fix the connector"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FetchSettings> SettingsOf(const v1::Connector& c) {
  FetchSettings s;
  const v1::ConnectionSettings cs = connector::WithDefaults(c.settings());
  if (absl::Status st = RefuseZeros(c, cs); !st.ok()) return st;
  s.poll_interval = absl::Seconds(cs.poll_interval_s());
  s.timeout = absl::Milliseconds(cs.timeout_ms());
  s.max_tries = static_cast<int>(cs.max_tries());
  s.cool_off = absl::Minutes(cs.cool_off_min());
  s.max_message_bytes = cs.max_message_bytes();
  s.error_threshold = static_cast<int>(cs.error_threshold());
  for (const std::string& w : cs.skip_windows()) {
    absl::StatusOr<SkipWindow> sw = connector::ParseSkipWindow(w);
    if (!sw.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("connector \"", c.name(), "\": skip window ",
                                                     sw.status().message(), "; fix the connector"));
    }
    s.skip_windows.push_back(*sw);
  }
  if (!absl::LoadTimeZone(cs.time_zone(), &s.time_zone)) {
    return absl::InvalidArgumentError(absl::StrCat("connector \"", c.name(), "\": time zone \"",
                                                   cs.time_zone(), "\" is unknown"));
  }
  if (!cs.sync_start_date().empty()) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(cs.sync_start_date(), &day)) {
      return absl::InvalidArgumentError(absl::StrCat("connector \"", c.name(),
                                                     "\": sync_start_date \"", cs.sync_start_date(),
                                                     "\" is not YYYY-MM-DD"));
    }
    s.sync_start = day;
  }
  for (const v1::FolderMapping& f : c.folders()) {
    if (!f.folder().empty()) s.folders.push_back({f.folder(), f.queue()});
  }
  if (s.folders.empty()) s.folders.push_back({"INBOX", ""});
  if (c.processed_action() != v1::PROCESSED_ACTION_UNSPECIFIED) {
    s.processed_action = c.processed_action();
  }
  s.processed_folder = c.processed_folder();
  return s;
}

bool InSkipWindow(const FetchSettings& s, absl::Time now) {
  if (s.skip_windows.empty()) return false;
  absl::CivilMinute m = absl::ToCivilMinute(now, s.time_zone);
  int minute = m.hour() * 60 + m.minute();
  for (const SkipWindow& w : s.skip_windows) {
    if (w.Contains(minute)) return true;
  }
  return false;
}

absl::Status CheckLeaseTiming(absl::Duration period, absl::Duration round) {
  if (round * 2 < period) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--lease_round_ms (", absl::ToInt64Milliseconds(round),
      " ms) must be less than half of --lease_period_s (", absl::ToInt64Milliseconds(period),
      " ms): leases are renewed once a round, so with a longer round one late or failed round "
      "lets them expire and another replica takes them while this one still polls"));
}

}  // namespace postroom::fetcher
