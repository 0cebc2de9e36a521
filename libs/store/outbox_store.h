#pragma once

// What the sender keeps in the database: the outbox rows it claims, sends and finishes, the
// outgoing connectors it sends through, and their error counters. Plain records and one
// interface; PgOutboxStore implements it over PostgreSQL, the sender's tests keep an in-memory
// fake.
//
// Claims: a sender replica claims due rows for a lease period (claimed_by, claimed_until,
// claim_token + 1). A row stays `queued` while claimed; a claim that is neither finished nor
// renewed expires and the row is claimed again (a crashed replica loses nothing). Finishing
// carries the claim token; once another replica re-claimed the row, the old claim's result is
// refused, so two replicas never both record a result for one row.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/store/fetch_store.h"

namespace postroom::store {

struct OutboxItem {
  int64_t id = 0;
  int64_t connector_id = 0;  // The outgoing connector; 0: none (and no system default yet).
  std::string connector;     // Its name; "" when none.
  std::string kind = "email";
  std::string reason;             // "ack", "notification" ...
  std::string status = "queued";  // queued, sent, failed, cancelled
  std::string to_address;
  std::string subject;
  std::string body_text;
  std::string body_html;
  std::string headers_json = "{}";  // Extra headers as one JSON object of strings.
  int attempts = 0;                 // Claims so far, i.e. attempts started.
  absl::Time due_at = absl::UnixEpoch();
  absl::Time created_at = absl::UnixEpoch();
  std::optional<absl::Time> sent_at;
  std::optional<absl::Time> last_attempt_at;
  std::string last_error;
  std::string last_error_class;
  std::string claimed_by;  // "" when not claimed.
  std::optional<absl::Time> claimed_until;
  int64_t claim_token = 0;
  int64_t work_item_id = 0;
  int64_t message_id = 0;
  std::string dedupe_key;
  std::string smtp_message_id;
  std::string webhook;  // kind "webhook": the webhook's name ...
  std::string event;    // ... and the event (docs/webhooks.md); "" for email.
};

// A webhook delivery the sender claimed, with its webhook as stored now: the row's body_text
// is the JSON body, posted to the webhook's current URL and signed with its secret.
struct WebhookDelivery {
  OutboxItem item;
  std::string url;
  std::string sealed_secret;  // "" when the webhook has no secret stored.
};

// An outgoing connector as the config service stored it.
struct OutgoingConnectorRecord {
  int64_t id = 0;
  std::string name;
  std::string protocol;  // "smtp", "graph"
  std::string status;    // "active", "disabled", "disabled_by_system", "draft"
  bool system_default = false;
  std::string spec_json;  // v1::Connector as JSON with proto field names, secrets stripped
  int64_t version = 0;
  // (field, sealed) from `secrets`: "password", "client_secret", "refresh_token".
  std::vector<std::pair<std::string, std::string>> sealed_secrets;
};

enum class AttemptKind { kSent, kRetry, kFailed };

// How a claimed row's attempt ended, and what it means for its connector.
struct AttemptOutcome {
  int64_t id = 0;
  std::string owner;        // The claim: replica ...
  int64_t claim_token = 0;  // ... and token.
  AttemptKind kind = AttemptKind::kSent;
  absl::Time at;
  absl::Time next_due;  // kRetry: when to try again.
  std::string error;    // kRetry/kFailed: what happened, with the server's own words.
  std::string error_class;
  std::string smtp_message_id;
  // The connector's counters: a success resets them, a failure counts (and may auto-disable
  // at `failure.threshold`), kNone leaves them (e.g. a recipient the server refused: the
  // connector works).
  enum class ConnectorEffect {
    kNone,
    kSuccess,
    kFailure
  } connector_effect = ConnectorEffect::kNone;
  int64_t connector_id = 0;
  int threshold = 5;
  AdminNotice notice;  // Queued when this failure auto-disables the connector.
};

struct AttemptResult {
  bool applied = false;  // False: the claim was lost (expired and re-claimed); nothing written.
  int consecutive_errors = 0;
  bool auto_disabled = false;
};

struct OutboxFilter {
  std::string status;     // "" any; "queued", "sent", "failed", "cancelled"
  std::string connector;  // "" any
  int64_t before_id = 0;  // Paging: rows with id < before_id; 0 from the newest.
  int limit = 100;
};

// Thread-safe.
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  // Claims up to `limit` due email rows (queued, due_at <= now, not claimed or claim expired)
  // whose connector (the row's, else the system default) is an active outgoing SMTP connector,
  // oldest due first, for `lease` (FOR UPDATE SKIP LOCKED: replicas never claim the same row).
  // A row without a connector is bound to the system default here. Each claim counts an attempt.
  virtual absl::StatusOr<std::vector<OutboxItem>> ClaimDue(const std::string& owner, absl::Time now,
                                                           absl::Duration lease, int limit) = 0;
  // Claims up to `limit` due webhook rows of enabled webhooks, like ClaimDue, but never a row
  // while an earlier row of the same (webhook, work item) is still queued: a work item's
  // events reach each webhook in order.
  virtual absl::StatusOr<std::vector<WebhookDelivery>> ClaimDueWebhooks(const std::string& owner,
                                                                        absl::Time now,
                                                                        absl::Duration lease,
                                                                        int limit) = 0;
  // Active outgoing connectors with their sealed secrets.
  virtual absl::StatusOr<std::vector<OutgoingConnectorRecord>> ListOutgoing() = 0;
  // Names of every outgoing connector, whatever its status (metrics start their series at 0).
  virtual absl::StatusOr<std::vector<std::string>> ListOutgoingNames() = 0;
  // One transaction: the row's new state (only while the claim is held) and the connector's
  // counters with auto-disable (connector_errors.h).
  virtual absl::StatusOr<AttemptResult> FinishAttempt(const AttemptOutcome& outcome) = 0;
  // The earliest instant a row (email or webhook) may become claimable (due, or its claim
  // expiring); nullopt when nothing is queued. Sleepers wake at min(this, their poll interval).
  virtual absl::StatusOr<std::optional<absl::Time>> NextDue() = 0;

  // Newest first. INVALID_ARGUMENT for an unknown status.
  virtual absl::StatusOr<std::vector<OutboxItem>> List(const OutboxFilter& filter) = 0;
  // NOT_FOUND when there is no such row.
  virtual absl::StatusOr<OutboxItem> Get(int64_t id) = 0;
  // A failed row becomes queued and due at `now` with attempts reset to 0; a queued row is made
  // due at `now` (idempotent). NOT_FOUND: no such row. FAILED_PRECONDITION: sent or cancelled.
  virtual absl::StatusOr<OutboxItem> RetryNow(int64_t id, absl::Time now) = 0;
};

}  // namespace postroom::store
