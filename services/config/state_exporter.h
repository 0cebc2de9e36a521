#pragma once

#include <atomic>
#include <map>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/store/database.h"

namespace postroom::config {

// Exports the connectors' state from the database as gauges, every `interval`:
// postroom_connector_enabled / _consecutive_errors / _last_check_timestamp_seconds /
// _last_success_timestamp_seconds {connector,direction}, postroom_connector_auto_disabled
// {connector}, postroom_connector_lease_owned and postroom_messages_undecided {connector}
// (incoming), and postroom_outbox_depth / _oldest_due_age_seconds {connector} (outgoing).
// One exporter (the config service) rather than every fetcher replica, so a sum is a sum.
// Series of deleted connectors disappear on the next refresh.
class StateExporter {
 public:
  StateExporter(store::Database& db, absl::Duration interval);
  ~StateExporter();  // Stops the refresh thread.

  // One refresh now; what the thread runs. UNAVAILABLE when the database is unreachable.
  absl::Status Refresh();

 private:
  store::Database& db_;
  absl::Duration interval_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace postroom::config
