#pragma once

// The suppression list: addresses automatic mail (acknowledgements) no longer goes to, per
// outgoing connector, each added by a permanent bounce of mail sent through that connector
// (postroom_record_bounce.sql). The router checks it before queuing an acknowledgement, the
// sender before sending one queued earlier; the sender's API lists and deletes entries.
#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace postroom::store {

struct SuppressionRecord {
  int64_t id = 0;
  int64_t connector_id = 0;
  std::string connector;  // Name; filled on reads.
  std::string address;    // Lowercase, trimmed.
  std::string reason = "bounce";
  std::string dsn_status;
  std::string diagnostic;
  absl::Time created_at = absl::UnixEpoch();
  int64_t source_outbox_id = 0;   // The row that bounced; 0 once deleted.
  int64_t source_message_id = 0;  // The bounce; 0 once deleted.
};

struct SuppressionFilter {
  std::string connector;  // "" every connector.
  int64_t before_id = 0;  // Paging: entries with id < before_id; 0 from the newest.
  int limit = 100;
};

}  // namespace postroom::store
