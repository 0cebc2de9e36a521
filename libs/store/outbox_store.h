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
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/store/fetch_store.h"
#include "libs/store/suppression.h"

namespace postroom::store {

struct OutboxItem {
  int64_t id = 0;
  int64_t connector_id = 0;  // The outgoing connector; 0: none (and no system default yet).
  std::string connector;     // Its name; "" when none.
  std::string kind = "email";
  std::string reason;             // "ack", "notification" ...
  // queued, sent, failed, cancelled, bounced (sent, then a bounce answered it), suppressed
  // (automatic mail to a suppressed address: never sent)
  std::string status = "queued";
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
  std::string bounce_status;  // bounced: the DSN's status code and diagnostic.
  std::string bounce_diagnostic;
  // Replies from the desk (migration 0014): the From address ("" : the connector's primary
  // address), Cc recipients, and how many attachments are stored with the row.
  std::string from_address;
  std::vector<std::string> cc;
  int attachment_count = 0;
  std::string webhook;  // kind "webhook": the webhook's name ...
  std::string event;    // ... and the event (docs/webhooks.md); "" for email.
};

// A file sent with a reply, stored in outbox_attachments.
struct OutboxAttachment {
  std::string filename;
  std::string content_type;  // "type/subtype".
  std::string content;
};

// What a reply from the desk to a work item is made from (LoadReplyContext).
struct ReplyContext {
  int64_t work_item_id = 0;
  std::string reference;  // "SUP-1042".
  std::string subject;
  std::string requester_address;
  std::string connector;       // The work item's incoming connector; "" when it was deleted.
  std::string connector_spec;  // Its spec JSON (secrets stripped); "" when none.
  // The outgoing connector its replies go through: the incoming connector's
  // outgoing_connector, else the system default; 0 and "" when there is neither yet.
  int64_t outgoing_connector_id = 0;
  std::string outgoing_connector;
  std::string outgoing_spec;
  // Of the work item's first message, as the router summarised it: the address it was sent to
  // (the router's SentTo; absent in messages stored before it), then its To and Cc addresses.
  std::vector<std::string> first_recipients;
  // Message-IDs (no angle brackets) of the work item's messages, oldest first: at most the
  // first and the last `kMaxReplyReferences - 1`.
  std::vector<std::string> message_ids;
  int64_t last_message_id = 0;  // The stored message the reply answers; 0: none.
};
inline constexpr int kMaxReplyReferences = 10;

// The result of QueueReply: the row, and whether this call made it (false: the same
// idempotency key queued it before, and this is that first row).
struct QueuedReply {
  OutboxItem item;
  bool created = false;
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
  // A counted failure pauses the connector's sends (connector_errors.h: OutgoingPause).
  absl::Duration pause_initial = absl::ZeroDuration();
  absl::Duration pause_max = absl::ZeroDuration();
  // False: the row was not sent at all (its connector failed just before in the same batch);
  // the attempt its claim took is given back.
  bool tried = true;
};

// How long an outgoing connector pauses its sends after its `errors`-th consecutive counted
// failure: initial x 2^(errors - 1), capped at max.
inline absl::Duration OutgoingPause(absl::Duration initial, absl::Duration max, int errors) {
  absl::Duration pause = initial;
  for (int i = 1; i < errors && pause < max; ++i) pause *= 2;
  return std::min(pause, max);
}

struct AttemptResult {
  bool applied = false;  // False: the claim was lost (expired and re-claimed); nothing written.
  int consecutive_errors = 0;
  bool auto_disabled = false;
  bool counted = true;  // The failure counted (the connector was not already paused).
  absl::Time paused_until = absl::InfinitePast();  // A failure: the connector sends again then.
};

struct OutboxFilter {
  std::string status;     // "" any; "queued", "sent", "failed", "cancelled", "bounced", "suppressed"
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
  // A due automatic row (reason "ack") whose address is suppressed for its connector is not
  // claimed but becomes `suppressed`, with the reason in last_error (postroom_address_suppressed).
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
  // A failed or suppressed row becomes queued and due at `now` with attempts reset to 0; a
  // queued row is made due at `now` (idempotent). NOT_FOUND: no such row. FAILED_PRECONDITION:
  // sent, bounced or cancelled.
  virtual absl::StatusOr<OutboxItem> RetryNow(int64_t id, absl::Time now) = 0;

  // Newest first. NOT_FOUND for an unknown connector name.
  virtual absl::StatusOr<std::vector<SuppressionRecord>> ListSuppressions(
      const SuppressionFilter& filter) = 0;
  // Deletes `address` (compared lowercase and trimmed) from `connector`'s list and records it in
  // the audit log (actor, kind "suppression", object "<connector>/<address>", action "delete",
  // the entry as `before`), in one transaction. Returns the entry deleted. NOT_FOUND: unknown
  // connector, or the address is not on its list.
  virtual absl::StatusOr<SuppressionRecord> DeleteSuppression(const std::string& connector,
                                                              const std::string& address,
                                                              const std::string& actor,
                                                              absl::Time now) = 0;
  // NOT_FOUND when there is no such work item.
  virtual absl::StatusOr<ReplyContext> LoadReplyContext(int64_t work_item_id) = 0;
  // Queues `row` (reason "reply") and its attachments in one transaction. When a row with the
  // same dedupe_key exists, nothing is written and that row is returned (created false).
  virtual absl::StatusOr<QueuedReply> QueueReply(const OutboxItem& row,
                                                 const std::vector<OutboxAttachment>& files) = 0;
  // The row's attachments in order; empty when it has none.
  virtual absl::StatusOr<std::vector<OutboxAttachment>> Attachments(int64_t outbox_id) = 0;
};

}  // namespace postroom::store
