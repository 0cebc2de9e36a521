#pragma once

// What the router keeps: stored messages, work items, the acknowledgement outbox, and the
// read-only view of configuration it routes with. Plain records and one interface; no libpqxx.
// PgRouterStore implements it over PostgreSQL (migrations 0001-0003), InMemoryRouterStore for
// core unit tests. Both give the same guarantees, listed per method.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/store/config_store.h"
#include "libs/store/suppression.h"

namespace postroom::store {

// Everything the router needs to route for one connector, read in one go.
struct RouterConfigRecord {
  ConnectorRecord connector;
  std::vector<RouteRecord> routes;               // By position; the fallback last.
  std::vector<DocumentRecord> templates;         // All of them.
  std::vector<DocumentRecord> blocked_addresses; // All of them.
  std::vector<DocumentRecord> settings;          // All of them.
  // Ids of outgoing-capable connectors by name, and the system default's id (0: none).
  std::vector<std::pair<std::string, int64_t>> outgoing_connectors;
  int64_t system_default_outgoing_id = 0;
  // Every connector's primary address and aliases, lowercase: mail from them is ours and is
  // never acknowledged.
  std::vector<std::string> own_addresses;
  std::string fingerprint;  // As ConfigFingerprint returned when this was read.
};

struct MessageRecord {
  int64_t id = 0;
  int64_t connector_id = 0;
  std::string connector;  // Name; filled on reads.
  std::string fetch_key;
  std::string folder;
  std::string queue_hint;
  absl::Time received_at = absl::UnixEpoch();
  absl::Time stored_at = absl::UnixEpoch();
  int64_t size_bytes = 0;
  std::string raw;  // Empty on list reads.
  bool truncated = false;
  bool forgotten = false;  // Erased on request (forgotten_at): no raw bytes, scrubbed summary.
  std::string message_id;      // Message-ID without angle brackets.
  std::string content_sha256;  // 32 raw bytes; empty: unknown.
  std::string thread_root;     // Outlook conversation root (hex), or "".
  std::string summary_json;    // "" or a JSON object.
  std::string decision;        // "" while pending.
  absl::Time decided_at = absl::InfinitePast();
  std::string decision_step;
  std::string decision_route;
  std::string decision_reason;
  std::string trace_json;  // "" or a JSON object.
  int64_t work_item_id = 0;
  int64_t duplicate_of = 0;
  std::string spam_status;  // "" | auto_spam | manual_spam | manual_clean
  int route_attempts = 0;
  std::string last_error;
  // What became of the acknowledgement (migration 0012): "" when none was asked for, else
  // {"state":"queued","outbox_id":N} or {"state":"suppressed","reason":R,"detail":D}.
  std::string ack_outcome_json;
  // What the sender wrote, without the quoted history and signature (libs/mime/new_text.h),
  // at most kMaxNewTextBytes: kept for a message that created or was appended to a work item,
  // "" otherwise. In a DecisionWrite's `decision`: the message's, which a created work item
  // takes too. List reads give NewTextPreview of it.
  std::string new_text;
};

struct WorkItemRecord {
  int64_t id = 0;
  int64_t connector_id = 0;
  std::string connector;  // Name; filled on reads.
  std::string reference;  // Set by the store on insert: "<prefix>-<id>".
  std::string source = "email";
  std::string queue;
  std::string type;
  std::string priority = "normal";
  std::string requester_address;
  std::string requester_name;
  std::string subject;
  std::string body;
  std::string fields_json = "{}";
  std::string attachments_json = "[]";
  bool test_mode = false;
  absl::Time created_at = absl::UnixEpoch();
  absl::Time updated_at = absl::UnixEpoch();
  std::vector<int64_t> message_ids;  // Filled by GetWorkItem, in the order added.
  // The first message's new text (MessageRecord::new_text; the store writes the decision's);
  // list reads and events give NewTextPreview of it.
  std::string new_text;
  std::string template_name;  // The route's `template` (a desk form); "": none.
};

// Bounds of the new text (migration 0021 checks the first): a work item is read by people, the
// message keeps every byte. Lists and events carry a preview so that a page of 1,000 stays
// well inside a gRPC message; GetWorkItem and GetMessage give it whole.
inline constexpr size_t kMaxNewTextBytes = 256 << 10;
inline constexpr size_t kNewTextPreviewChars = 2048;
// The first kNewTextPreviewChars code points of valid UTF-8, as PostgreSQL's left() cuts.
inline std::string NewTextPreview(const std::string& text) {
  size_t chars = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && chars++ == kNewTextPreviewChars) {
      break;
    }
  }
  return text.substr(0, i);
}

struct OutboxRecord {
  int64_t id = 0;
  int64_t connector_id = 0;  // Outgoing connector; 0: none known.
  std::string outgoing_connector;  // Name; filled on reads.
  std::string reason = "ack";
  std::string status = "queued";
  std::string to_address;
  // "" : the outgoing connector's primary address; an ack of mail sent to an alias: the alias.
  std::string from_address;
  std::string subject;
  std::string body_text;
  std::string body_html;
  std::string headers_json = "{}";
  int64_t work_item_id = 0;
  int64_t message_id = 0;
  std::string dedupe_key;
  absl::Time created_at = absl::UnixEpoch();
  std::string smtp_message_id;  // "postroom.outbox.ID.MS@DOMAIN" once the sender rendered it.
  std::string bounce_status;    // Of a `bounced` row: the DSN's status code ...
  std::string bounce_diagnostic;  // ... and diagnostic.
  std::string ack_sender;        // An ack's AckRequest::sender_key (the store sets it).
  int64_t ack_connector_id = 0;  // An ack's incoming connector (the store sets it).
};

// A bounce tied to the outbox row it answers (services/router/core/bounce.cc). Written with the
// bounce's decision: the row (sent or bounced, its stored smtp_message_id equal to this one)
// becomes `bounced` with status and diagnostic (a permanent bounce is never replaced by a later
// transient one), and a permanent bounce adds the row's own address to its connector's
// suppressions once (postroom_record_bounce.sql; InMemoryRouterStore mirrors it). The same
// object is the "bounce" of the decision's summary_json, which is how PgRouterStore hands it to
// postroom_commit_decision.
struct BounceWrite {
  int64_t outbox_id = 0;
  std::string smtp_message_id;  // Without angle brackets, as the outbox row keeps it.
  std::string kind;             // permanent (5.x.x) | transient (4.x.x) | unknown (no code)
  std::string status;
  std::string diagnostic;
};


// The acknowledgement of a created work item, or of a message appended to one (the connector's
// acknowledge_follow_ups), rendered by the caller before the commit (the work item's id and
// reference are the caller's, see NextWorkItemId), queued if the sender and the work item are
// below their limits.
struct AckRequest {
  std::string to_address;  // Lowercase.
  // The per-sender limit counts (and locks) the normalised address (NormalizedSender): at
  // most `limit_per_hour` acks to it in `sender_window` before `now`; 0: none at all.
  std::string sender_key;
  int limit_per_hour = 5;
  absl::Duration sender_window = absl::Hours(1);
  // At most this many acks of the incoming connector in the hour before `now`; -1: no cap.
  int connector_limit_per_hour = -1;
  // At most this many acks about one work item in `sender_window` before `now` (counted under
  // the work item's row lock); 0: no limit.
  int work_item_limit = 0;
  absl::Time now = absl::UnixEpoch();
  // The email. The store sets message_id, work_item_id and dedupe_key ("ack:<message id>"):
  // one acknowledgement per message, whatever retries and reprocessing happen.
  OutboxRecord email;
};

// A work item's reference: "<subject token prefix>-<id>".
inline std::string WorkItemReference(const std::string& prefix, int64_t id) {
  return prefix + "-" + std::to_string(id);
}

// One routing decision, written atomically: the message (inserted, or updated if still in the
// expected state), the work item created or appended to, and the acknowledgement.
struct DecisionWrite {
  // Exactly one: a new message to insert with its decision (RouteEmail with raw bytes) or the
  // id of a stored one. For a stored one, `expected_decision` is the decision it must still
  // have ("" = pending), or the write is refused with ABORTED (another router got there first).
  std::optional<MessageRecord> insert;
  int64_t message_id = 0;
  std::string expected_decision;
  // For a stored message decided from bytes the caller sent instead of from its row: the row
  // must have decision's connector_id, folder and queue_hint, a content hash equal to
  // decision.content_sha256, not be truncated and carry no manual spam status; else nothing is
  // written and the write is refused with ABORTED (read the message and decide again).
  bool verify_stored = false;

  // The decision. Fields of MessageRecord used: decision, decision_step, decision_route,
  // decision_reason, trace_json, summary_json, spam_status (kept when the stored one is
  // manual_*), duplicate_of, message_id, content_sha256, thread_root.
  MessageRecord decision;

  // When set, the store applies the duplicate rule (see DuplicateCheck) under a lock on
  // (connector, Message-ID), so two copies routed at once make one work item: a duplicate is
  // written instead (decision "duplicate", duplicate_of set, no work item, no ack), and the
  // trace's duplicate step says what the check found (DecisionResult::duplicate_step).
  bool check_duplicate = false;

  // A new work item, with the id NextWorkItemId gave and its reference (WorkItemReference).
  std::optional<WorkItemRecord> create;
  int64_t append_to = 0;  // Or an existing work item.
  std::optional<AckRequest> ack;  // Only with `create` or `append_to`.
  std::optional<BounceWrite> bounce;  // Only with decision "bounce".
  // With `create` (or `append_to`) and no `ack`: why the router asked for none (the work item's
  // route has an ack_template, or the connector acknowledges follow-ups); recorded as the
  // message's suppressed ack outcome. Empty: none was asked.
  std::string ack_suppressed;
  std::string ack_suppressed_detail;
};

// The pipeline's duplicate step as the store's rule decides it (one rule, in
// libs/store/sql/functions/postroom_duplicate_step.sql; InMemoryRouterStore mirrors it).
struct DuplicateCheck {
  // The first decided, non-duplicate message of the connector with the same Message-ID and the
  // same bytes; 0: none.
  int64_t duplicate_of = 0;
  // The step's trace reason: no earlier copy, the copy it duplicates, or the message with that
  // Message-ID whose other bytes keep it from counting.
  std::string reason;
};

struct DecisionResult {
  int64_t message_id = 0;
  // The message had been decided already (an insert hit the unique (connector, fetch key)):
  // nothing was written; `existing` is the stored record.
  bool replayed = false;
  std::optional<MessageRecord> existing;
  // The duplicate check fired: the message was recorded as a duplicate of this id.
  int64_t duplicate_of = 0;
  // Non-empty when the commit's duplicate check (check_duplicate) found other than the trace
  // of the write says: its reason. The stored trace then has the step named "duplicate"
  // replaced by {duplicate, decided = duplicate_of != 0, this reason}, and the steps after it
  // dropped when it decided; the stored decision, step, route and reason are the duplicate's.
  std::string duplicate_step;
  int64_t work_item_id = 0;
  std::string reference;
  bool ack_queued = false;
  // "rate_limited" / "connector_rate_limited" when a limit stopped it, "suppressed_address"
  // when the address is on the suppression list of the ack's connector
  // (IsAddressSuppressed), "already_queued".
  std::string ack_suppressed;
};

struct MessageFilter {
  int64_t connector_id = 0;  // 0: all.
  std::string decision;      // "": any.
  bool pending = false;
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfiniteFuture();
  int64_t before_id = 0;
  int limit = 100;
};

struct WorkItemFilter {
  std::string queue;
  int64_t connector_id = 0;
  int64_t before_id = 0;
  int limit = 100;
};

struct WorkItemEventRecord {
  int64_t event_id = 0;
  std::string kind;  // created | appended
  int64_t message_id = 0;
  WorkItemRecord work_item;  // Without body; new_text as NewTextPreview.
};

// One batch of an erasure on request (postroom_forget_address, docs/privacy.md).
struct ForgetBatch {
  std::string address;
  bool dry_run = false;
  int64_t after_id = 0;
  int limit = 200;
  std::string actor;  // Named in the audit entry.
};
struct ForgetCounts {
  int64_t messages = 0, messages_sent = 0, messages_named = 0, work_items = 0, outbox = 0,
          webhook_deliveries = 0, outbox_attachments = 0, suppressions = 0;
};
struct ForgetResult {
  ForgetCounts counts;
  int64_t remaining = 0;
  int64_t next_after_id = 0;  // 0: done.
  std::string hash;
};

// Thread-safe. Errors: UNAVAILABLE when the database is unreachable (retry), INTERNAL
// otherwise; per method below.
class RouterStore {
 public:
  virtual ~RouterStore() = default;

  // A short string that changes whenever the connector, its routes, any template, blocked
  // address or setting changes (versions, counts and modification times). nullopt: no such
  // connector. One cheap query; the router's config cache compares it.
  virtual absl::StatusOr<std::optional<std::string>> ConfigFingerprint(
      const std::string& connector) = 0;
  // nullopt: no such connector.
  virtual absl::StatusOr<std::optional<RouterConfigRecord>> LoadConfig(
      const std::string& connector) = 0;

  // NOT_FOUND for an unknown id.
  virtual absl::StatusOr<MessageRecord> GetMessage(int64_t id, bool include_raw) = 0;
  virtual absl::StatusOr<std::optional<MessageRecord>> FindMessageByFetchKey(
      int64_t connector_id, const std::string& fetch_key) = 0;
  // Newest first, without raw and trace.
  virtual absl::StatusOr<std::vector<MessageRecord>> ListMessages(const MessageFilter& f) = 0;

  // Read-only lookups for the pipeline (and ExplainRoute).
  // The duplicate rule (postroom_duplicate_step.sql) for a message with this Message-ID and
  // hash, other than `exclude_id`: what the commit's own check would find now.
  virtual absl::StatusOr<DuplicateCheck> CheckDuplicate(int64_t connector_id,
                                                        const std::string& message_id,
                                                        const std::string& content_sha256,
                                                        int64_t exclude_id) = 0;
  // The most recent work item id of a message of the connector whose Message-ID is one of
  // `message_ids`; 0: none.
  virtual absl::StatusOr<int64_t> FindWorkItemByMessageIds(
      int64_t connector_id, const std::vector<std::string>& message_ids) = 0;
  virtual absl::StatusOr<int64_t> FindWorkItemByThreadRoot(int64_t connector_id,
                                                           const std::string& thread_root) = 0;
  // 0: no work item has this reference (exact match).
  virtual absl::StatusOr<int64_t> FindWorkItemByReference(const std::string& reference) = 0;
  // The work item a subject token in mail to `connector_id` may name: one of that connector's,
  // or of a connector with the same non-empty subject_token_prefix; 0: none. Never global, so
  // mail to one mailbox cannot attach itself to another mailbox's work items (the default
  // prefix "WI" is shared by every connector without one, so it scopes to the connector).
  virtual absl::StatusOr<int64_t> FindFollowUpByReference(int64_t connector_id,
                                                          const std::string& reference) = 0;
  // Acks to the sender with this normalised address (AckRequest::sender_key) since `since`.
  virtual absl::StatusOr<int> CountAcksSince(const std::string& sender_key, absl::Time since) = 0;
  // Acks of the incoming connector since `since` (AckRequest::connector_limit_per_hour).
  virtual absl::StatusOr<int> CountConnectorAcksSince(int64_t connector_id, absl::Time since) = 0;
  // Acks about the work item since `since` (AckRequest::work_item_limit).
  virtual absl::StatusOr<int> CountWorkItemAcksSince(int64_t work_item_id, absl::Time since) = 0;
  // The outbox row a bounce names: `outbox_id` with exactly this stored smtp_message_id, sent
  // or bounced already; nullopt otherwise (another row's id, a forged or foreign Message-ID).
  virtual absl::StatusOr<std::optional<OutboxRecord>> FindOutboxForBounce(
      int64_t outbox_id, const std::string& smtp_message_id) = 0;
  // Whether `address` is suppressed for outgoing connector `connector_id` (0: the system
  // default), as the commit's acknowledgement check decides it (postroom_address_suppressed).
  virtual absl::StatusOr<bool> IsAddressSuppressed(int64_t connector_id,
                                                   const std::string& address) = 0;

  // A work item id for DecisionWrite::create, drawn before the commit so that the
  // acknowledgement can be rendered first. Unused ids are gaps, never reused.
  virtual absl::StatusOr<int64_t> NextWorkItemId() = 0;
  // Writes one decision (see DecisionWrite). ABORTED: a stored message is no longer in the
  // expected state. NOT_FOUND: no such message or work item to append to.
  virtual absl::StatusOr<DecisionResult> CommitDecision(const DecisionWrite& write) = 0;

  // Sets spam_status; returns the updated record. NOT_FOUND for an unknown id.
  virtual absl::StatusOr<MessageRecord> SetSpamStatus(int64_t id, const std::string& status) = 0;
  // Records why a routing attempt failed (last_error) on a pending message. The attempt was
  // counted when it started (ClaimPending, StartAttempt), so route_attempts stays as it is.
  virtual absl::Status RecordAttemptError(int64_t id, const std::string& error) = 0;

  // Takes up to `limit` pending messages stored before `stored_before` and not claimed since
  // `claimed_before`, marking them claimed at `now` (FOR UPDATE SKIP LOCKED: replicas never
  // take the same one at once; never mail of a disabled or outgoing connector, which waits
  // without using up attempts) and counting a routing attempt (route_attempts + 1), in one
  // statement, committed before the caller routes: an attempt that never finishes (the process
  // killed while parsing) still counts. Returns their ids, oldest first.
  virtual absl::StatusOr<std::vector<int64_t>> ClaimPending(absl::Time stored_before,
                                                            absl::Time claimed_before,
                                                            absl::Time now, int limit) = 0;
  // What StartAttempt found on the row.
  struct Attempt {
    int route_attempts = 0;  // Including the one just started.
    std::string last_error;
    std::string message_id;      // As stored, so a decision made without parsing keeps them.
    std::string content_sha256;
  };
  // Counts a routing attempt of the pending message `id` of connector `connector_id` and marks
  // it claimed at `now` (the sweep leaves it alone meanwhile), committed before the caller
  // routes. nullopt: no such pending message of that connector (decided, unknown, another
  // connector's); nothing is written.
  virtual absl::StatusOr<std::optional<Attempt>> StartAttempt(int64_t id, int64_t connector_id,
                                                              absl::Time now) = 0;

  // NOT_FOUND for an unknown id or reference.
  virtual absl::StatusOr<WorkItemRecord> GetWorkItem(int64_t id) = 0;
  virtual absl::StatusOr<int64_t> WorkItemIdByReference(const std::string& reference) = 0;
  virtual absl::StatusOr<std::vector<WorkItemRecord>> ListWorkItems(const WorkItemFilter& f) = 0;
  virtual absl::StatusOr<std::vector<OutboxRecord>> ListOutboxForWorkItem(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<MessageRecord>> ListMessagesOfWorkItem(int64_t id) = 0;
  // Events after `after_event_id`, oldest first; `queue` "" for all. LatestEventId for "now".
  virtual absl::StatusOr<std::vector<WorkItemEventRecord>> ListWorkItemEvents(
      int64_t after_event_id, const std::string& queue, int limit) = 0;
  virtual absl::StatusOr<int64_t> LatestEventId() = 0;

  // Forgets one batch of the address's messages, and at the end its work items, outbox rows
  // and suppressions, in one transaction. INVALID_ARGUMENT for a malformed address.
  virtual absl::StatusOr<ForgetResult> ForgetAddress(const ForgetBatch& batch) = 0;
};

}  // namespace postroom::store
