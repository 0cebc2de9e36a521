#include "services/fetcher/core/settings.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace postroom::fetcher {
namespace {

bool ParseWindow(const std::string& w, SkipWindow* out) {
  int h1, m1, h2, m2;
  char tail;
  if (std::sscanf(w.c_str(), "%d:%d-%d:%d%c", &h1, &m1, &h2, &m2, &tail) != 4) return false;
  if (h1 < 0 || h1 > 24 || h2 < 0 || h2 > 24 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59) {
    return false;
  }
  out->start_minute = (h1 * 60 + m1) % 1440;
  out->end_minute = (h2 * 60 + m2) % 1440;
  return out->start_minute != out->end_minute;
}

}  // namespace

absl::StatusOr<FetchSettings> SettingsOf(const v1::Connector& c) {
  FetchSettings s;
  const v1::ConnectionSettings& cs = c.settings();
  if (cs.poll_interval_s() > 0) s.poll_interval = absl::Seconds(cs.poll_interval_s());
  if (cs.timeout_ms() > 0) s.timeout = absl::Milliseconds(cs.timeout_ms());
  if (cs.max_tries() > 0) s.max_tries = static_cast<int>(cs.max_tries());
  if (cs.cool_off_min() > 0) s.cool_off = absl::Minutes(cs.cool_off_min());
  if (cs.max_message_bytes() > 0) s.max_message_bytes = cs.max_message_bytes();
  if (cs.error_threshold() > 0) s.error_threshold = static_cast<int>(cs.error_threshold());
  for (const std::string& w : cs.skip_windows()) {
    SkipWindow sw;
    if (!ParseWindow(w, &sw)) {
      return absl::InvalidArgumentError(absl::StrCat("connector \"", c.name(), "\": skip window \"",
                                                     w,
                                                     "\" is not HH:MM-HH:MM; fix the connector"));
    }
    s.skip_windows.push_back(sw);
  }
  if (!cs.time_zone().empty() && !absl::LoadTimeZone(cs.time_zone(), &s.time_zone)) {
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
    bool in = w.start_minute < w.end_minute ? (minute >= w.start_minute && minute < w.end_minute)
                                            : (minute >= w.start_minute || minute < w.end_minute);
    if (in) return true;
  }
  return false;
}

absl::StatusOr<v1::Connector> ConnectorFromSpec(const std::string& spec_json) {
  v1::Connector c;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(spec_json, &c, o);
  if (!st.ok()) {
    return absl::InternalError(
        absl::StrCat("stored connector spec does not parse: ", std::string(st.message())));
  }
  return c;
}

}  // namespace postroom::fetcher
