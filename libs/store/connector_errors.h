#pragma once

// Consecutive-error counters and auto-disable of a connector, for both directions, inside the
// caller's transaction. The fetcher (incoming polls) and the sender (outgoing sends) share it
// so that an auto-disable means the same thing whichever side tripped it: status
// disabled_by_system, the reason in connector_state, an audit entry by actor "system" and one
// admin notice.
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "libs/store/database.h"
#include "libs/store/fetch_store.h"
#include "libs/store/outbox_store.h"

namespace postroom::store {

enum class Direction { kIncoming, kOutgoing };

struct ConnectorFailure {
  int64_t connector_id = 0;
  Direction direction = Direction::kIncoming;
  absl::Time at;
  std::string error;        // the server's own words where it gave any
  std::string error_class;  // "network", "tls", "authentication", ...
  int threshold = 5;        // consecutive errors that auto-disable; 0: never
  AdminNotice notice;       // queued when this failure auto-disables the connector
  // Outgoing only: a counted failure pauses the connector's sends for
  // pause_initial x 2^(errors - 1), capped at pause_max (see OutgoingPause).
  absl::Duration pause_initial = absl::ZeroDuration();
  absl::Duration pause_max = absl::ZeroDuration();
};

struct ConnectorFailureResult {
  int consecutive_errors = 0;
  bool auto_disabled = false;
  // Outgoing: false when the connector was already paused by an earlier failure (a send that
  // was under way when the server went away): the error is kept, not counted.
  bool counted = true;
  absl::Time paused_until = absl::InfinitePast();  // Outgoing: sends resume at this time.
};

// Registers the statements below on `db`; call from the store's constructor (idempotent).
void PrepareConnectorErrorStatements(Database& db);

// Counter + 1 and the last error of the direction; at the threshold, in the same transaction,
// the auto-disable described above (only when the connector is still active). Outgoing
// failures count once per pause: one outage with a backlog is one error, not one per row; the
// connector's row is locked first so concurrent senders agree on which failure counted.
// Throws what libpqxx throws; the caller's Transact turns it into a status.
ConnectorFailureResult RecordConnectorFailure(pqxx::work& t, const ConnectorFailure& failure);

// Outgoing success: last check and last outgoing success at `at`, outgoing counter reset and
// the pause ended.
// (Incoming success also carries backfill progress and stays with the fetch store.)
void RecordOutgoingSuccess(pqxx::work& t, int64_t connector_id, absl::Time at);

// Queues `notice` to the admin address through the system default outgoing connector, once per
// dedupe_key; nothing when no admin address is set.
void QueueAdminNotice(pqxx::work& t, const AdminNotice& notice);

}  // namespace postroom::store
