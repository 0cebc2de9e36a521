#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace postroom {

// One structured line per event on stderr: `ts=... level=info event=route_done connector=x`,
// or one JSON object per line after SetLogJson(true). Values are quoted when they hold spaces,
// quotes or '='. Never pass a secret or a message body. Thread-safe.
enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogField = std::pair<absl::string_view, std::string>;

void SetLogJson(bool json);
void SetLogLevel(LogLevel level);
void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, event, fields);
}
inline void LogWarning(absl::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kWarning, event, fields);
}
inline void LogError(absl::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, event, fields);
}

// Formats one line without writing it; what Log() prints, for tests.
std::string FormatLogLine(LogLevel level, absl::string_view event,
                          std::initializer_list<LogField> fields, bool json);

}  // namespace postroom
