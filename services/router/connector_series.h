#pragma once

// The router's metric series of every incoming connector, created at zero before the first
// message (main.cc's sweep runs this every round, so a connector added later appears too).
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "libs/store/database.h"

namespace postroom::router {

// Calls `init` with the name of every incoming (or both-ways) connector. The database's error
// when the connectors cannot be read, so the sweep says so instead of silently showing none.
absl::Status InitConnectorSeries(store::Database& db,
                                 const std::function<void(const std::string&)>& init);

}  // namespace postroom::router
