#pragma once

// What the fetcher keeps in the database: leases (which replica polls which connector), folder
// cursors, POP3 seen sets, raw messages, connector state and error counters, auto-disable.
// Plain records and one interface; PgFetchStore and InMemoryFetchStore implement it.
//
// Fencing: every write that belongs to a poll (SaveBatch, RecordSuccess, RecordFailure) carries
// the LeaseRecord it was granted and happens only while (connector, owner, fencing_token) is
// still the lease row; otherwise it returns ABORTED and writes nothing. A replica that was paused
// past its lease, and whose connector another replica took over (token + 1), cannot write.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace postroom::store {

// An active incoming connector (status active, direction incoming/both, protocol imap, pop3 or
// graph) as the config service stored it.
struct IncomingConnectorRecord {
  int64_t id = 0;
  std::string name;
  std::string protocol;   // "imap", "pop3", "graph"
  std::string spec_json;  // v1::Connector as JSON with proto field names, secrets stripped
  int64_t version = 0;
  // (field, sealed) from `secrets`: "password", "client_secret", "refresh_token".
  std::vector<std::pair<std::string, std::string>> sealed_secrets;
  // When its last connection test passed (connector_state); InfinitePast when it never did or
  // the last one failed. A pass after a failed poll ends the cool-off: the fix is proven.
  absl::Time test_passed_at = absl::InfinitePast();
};

struct LeaseRecord {
  int64_t connector_id = 0;
  std::string connector;
  std::string owner;
  int64_t fencing_token = 0;
  absl::Time expires_at;
  // Over the fair share but still in use by this replica (a poll running, an IDLE not yet
  // returned): kept and renewed until its session has ended, then released by a later round,
  // so the next owner never logs in while this replica is still in the mailbox.
  bool shedding = false;
};

// Flags as shedding the `count` highest-id leases of `held` that are in `busy` (the surplus a
// round could not release because this replica still has a session on it).
inline void MarkShedding(std::vector<LeaseRecord>& held, const std::set<int64_t>& busy,
                         int64_t count) {
  std::vector<LeaseRecord*> in_use;
  for (LeaseRecord& l : held) {
    if (busy.count(l.connector_id) > 0) in_use.push_back(&l);
  }
  std::sort(in_use.begin(), in_use.end(),
            [](const LeaseRecord* a, const LeaseRecord* b) { return a->connector_id > b->connector_id; });
  for (int64_t i = 0; i < count && i < static_cast<int64_t>(in_use.size()); ++i) {
    in_use[i]->shedding = true;
  }
}

struct FolderCursorRecord {
  std::string folder;
  int64_t uid_validity = 0;
  int64_t last_uid = 0;
  std::string delta_link;
  int64_t backfill_done = 0;
  int64_t backfill_total = 0;
};

struct NewMessage {
  // IMAP "<folder>:<uidvalidity>:<uid>", POP3 "uidl:<uidl>", Graph "graph:<immutable id>"
  std::string fetch_key;
  std::string folder;
  std::string queue_hint;
  std::optional<absl::Time> received_at;  // default: now
  int64_t size_bytes = 0;                 // the size at the server, even when truncated
  std::string raw;                        // the bytes, or the header block when truncated
  bool truncated = false;
  std::string message_id;
  // Non-empty: stored already decided `failed` with this reason (e.g. over the size limit).
  std::string failed_reason;
};

// An email to the admin address (setting admin_notification_address) through the system
// default outgoing connector, queued in `outbox` once per dedupe_key. Dropped silently when no
// admin address is set (the log and the metrics still tell).
struct AdminNotice {
  std::string dedupe_key;
  std::string subject;
  std::string body;
};

// One transaction: the messages (a fetch key already stored is skipped), the cursor (IMAP) or
// the UIDLs (POP3) that cover them, and the notices.
struct BatchWrite {
  std::optional<FolderCursorRecord> cursor;
  std::vector<std::string> pop3_uidls;
  // POP3 UIDLs a complete UIDL listing no longer shows: dropped from the seen set, which would
  // otherwise grow forever on a maildrop that is emptied (DELE, or another client).
  std::vector<std::string> pop3_forget;
  std::vector<NewMessage> messages;
  std::vector<AdminNotice> notices;
};

struct StoredRef {
  int64_t id = 0;
  std::string fetch_key;
  bool pending = true;  // decision NULL: the router still has to route it
};

struct BatchResult {
  std::vector<StoredRef> inserted;  // newly stored, in input order
  int64_t bytes = 0;                // raw bytes newly stored
  size_t already_stored = 0;
};

struct PollFailure {
  absl::Time at;
  std::string error;
  std::string error_class;  // "network", "tls", "authentication", ...
  int threshold = 5;        // consecutive errors that auto-disable; 0: never
  AdminNotice notice;       // queued when this failure auto-disables the connector
};

struct PollFailureResult {
  int consecutive_errors = 0;
  bool auto_disabled = false;
};

struct LeaseView {
  std::string connector;
  std::string owner;
  int64_t fencing_token = 0;
  absl::Time expires_at;
};

// Thread-safe.
class FetchStore {
 public:
  virtual ~FetchStore() = default;

  // Every active incoming connector. UNAVAILABLE: database unreachable.
  virtual absl::StatusOr<std::vector<IncomingConnectorRecord>> ListActiveIncoming() = 0;
  // Names of every incoming connector, whatever its status (metrics start their series at 0).
  virtual absl::StatusOr<std::vector<std::string>> ListIncomingNames() = 0;

  // One lease round for `owner`, in one transaction: announce the replica (alive until now +
  // period), drop its leases of connectors no longer active, renew the rest, give back those
  // over its fair share ceil(active / live replicas), and take free or expired ones (FOR UPDATE
  // SKIP LOCKED; each take increments the fencing token) up to that share. Returns what it holds.
  // Hand-over: `busy` are the connector ids this replica has a session on now (a poll running,
  // an IDLE not yet returned). The surplus is released among the others first (highest ids
  // first); what is still over the share is kept, renewed and returned `shedding` (highest
  // busy ids first) until a later round finds it quiet.
  virtual absl::StatusOr<std::vector<LeaseRecord>> RenewLeases(const std::string& owner,
                                                               absl::Time now,
                                                               absl::Duration period,
                                                               const std::set<int64_t>& busy) = 0;
  // Gives up every lease of `owner` and its replica row (clean shutdown).
  virtual absl::Status ReleaseAll(const std::string& owner) = 0;
  // Every lease row with an owner, live or not.
  virtual absl::StatusOr<std::vector<LeaseView>> ListLeases() = 0;

  virtual absl::StatusOr<std::vector<FolderCursorRecord>> GetCursors(int64_t connector_id) = 0;
  virtual absl::StatusOr<std::vector<std::string>> GetPop3Seen(int64_t connector_id) = 0;

  // ABORTED: the lease is no longer (owner, token); nothing was written.
  virtual absl::StatusOr<BatchResult> SaveBatch(const LeaseRecord& lease,
                                                const BatchWrite& write) = 0;
  // A poll that succeeded: last check, last success, counters reset, backfill progress.
  virtual absl::Status RecordSuccess(const LeaseRecord& lease, absl::Time at, int64_t backfill_done,
                                     int64_t backfill_total) = 0;
  // A poll that failed: counter + 1, last error; at the threshold, in the same transaction,
  // status disabled_by_system with the reason, audit entry (actor "system"), admin notice.
  virtual absl::StatusOr<PollFailureResult> RecordFailure(const LeaseRecord& lease,
                                                          const PollFailure& failure) = 0;
};

}  // namespace postroom::store
