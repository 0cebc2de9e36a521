#pragma once

// The router's domain core: parses and classifies each email, decides in one explainable
// pipeline what becomes of it, and writes the decision, the work item and the acknowledgement
// in one store transaction (docs/router.md). One file per concern in this folder, one per
// pipeline step in steps/ (steps/step.h lists them in order).
//
//   blocked sender -> duplicate -> spam -> auto-reply / bounce (list mail is marked) ->
//   allowed sender domains -> follow-up (reply token, subject token, In-Reply-To/References,
//   Thread-Index) -> routes in order, first match wins -> fallback route
//
// Requests and answers are the API's protos (postroom/v1/router.pb.h): the core is the API's
// behaviour, the gRPC adapter only authorizes and maps statuses. The store, the clock and the
// metrics come in as interfaces, so the unit tests run without a network or a database.
// Thread-safe: one Router serves every RPC thread; compiled configuration is shared and
// immutable, re-read when the connector's configuration fingerprint changes.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/base/watchdog.h"
#include "libs/mime/message.h"
#include "libs/secrets/reply_token.h"
#include "libs/store/router_store.h"
#include "postroom/v1/router.pb.h"

namespace postroom::router {

// Where the metrics go (docs/metrics.md names). Implementations are thread-safe.
// Every reason RouterMetrics::AckSuppressed() is given (acknowledgement.cc and the stores).
inline constexpr const char* kAckSuppressionReasons[] = {
    "list",           "no_sender",   "no_reply_address", "automated_emails_off",
    "template_missing", "rate_limited", "already_queued", "suppressed_address"};
// Every kind RouterMetrics::BounceMatched() is given (bounce.cc).
inline constexpr const char* kBounceKinds[] = {"permanent", "transient", "unknown"};

class RouterMetrics {
 public:
  virtual ~RouterMetrics() = default;
  // decision: "created", "appended", ... as stored.
  virtual void Decided(const std::string& connector, const std::string& decision,
                       absl::Duration latency) = 0;
  virtual void AckQueued(const std::string& connector) = 0;
  virtual void AckSuppressed(const std::string& connector, const std::string& reason) = 0;
  // A bounce tied to the outbox row it answers; kind as in kBounceKinds.
  virtual void BounceMatched(const std::string& connector, const std::string& kind) {}
  // A message decided failed because router_max_attempts routing attempts did not finish.
  virtual void Poisoned(const std::string& connector) = 0;
  // The connector's stored spec could not be read (libs/connector); its mail waits.
  virtual void SpecUnreadable(const std::string& connector) {}
};

struct RouterOptions {
  store::RouterStore* store = nullptr;  // Not owned; required.
  Clock* clock = nullptr;               // Not owned; required.
  RouterMetrics* metrics = nullptr;     // Not owned; may be null.
  // HMAC-SHA256 key of the reply tokens (POSTROOM_REPLY_TOKEN_KEY or derived from the secrets
  // key file). Empty: no reply tokens are issued or accepted.
  std::string reply_token_key;
  // How long a connector's compiled configuration is used before its fingerprint is checked
  // again (one short query). Zero: on every message.
  absl::Duration config_recheck = absl::Seconds(1);
  mime::ParseLimits parse_limits;
  // Routing attempts of a stored message (each counted when it starts, whether it then
  // fails, or never finishes because the process died) after which it is decided failed;
  // the system setting router_max_attempts overrides it.
  int max_route_attempts = 3;
  // A sweep claim older than this may be taken by another replica.
  absl::Duration claim_timeout = absl::Minutes(1);
  // Watches each routing attempt of a stored message (RouteAttempt) against the routing
  // deadline; may be null (not watched).
  Watchdog* watchdog = nullptr;
  // Tests only (the router's hidden --test_stall_on_subject): routing a stored message whose
  // subject contains this sleeps for an hour after parsing, so a test can kill the process
  // while it holds the message. Empty (production): never.
  std::string test_stall_on_subject;
};

// Reply tokens are minted and verified by libs/secrets (the sender signs replies with them too).
using secrets::MakeReplyToken;
using secrets::VerifyReplyToken;

class Router {
 public:
  explicit Router(RouterOptions options);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // INVALID_ARGUMENT: no connector, neither or both of raw_message/stored_message_id, empty or
  // oversized message, a stored message of another connector. NOT_FOUND: unknown connector or
  // stored message. FAILED_PRECONDITION: connector disabled or not incoming. UNAVAILABLE: the
  // store is unreachable (retry: the call is idempotent).
  absl::StatusOr<v1::RouteEmailResponse> RouteEmail(const v1::RouteEmailRequest& request);
  // The same decision without writing anything. Errors as RouteEmail.
  absl::StatusOr<v1::RouteEmailResponse> ExplainRoute(const v1::ExplainRouteRequest& request);

  absl::StatusOr<v1::StoredMessage> GetMessage(int64_t id, bool include_raw);
  absl::StatusOr<v1::ListMessagesResponse> ListMessages(const v1::ListMessagesRequest& request);
  // Re-routes messages that have no work item (unhandled, failed, spam, blocked, auto-reply,
  // bounce, pending). Messages on a work item and duplicates come back unchanged with
  // replayed=true, so repeating a call changes nothing.
  absl::StatusOr<v1::ReprocessResponse> Reprocess(const v1::ReprocessRequest& request);
  absl::StatusOr<v1::SetSpamStatusResponse> SetSpamStatus(
      const v1::SetSpamStatusRequest& request);
  absl::StatusOr<v1::GetWorkItemResponse> GetWorkItem(const v1::GetWorkItemRequest& request);
  absl::StatusOr<v1::ListWorkItemsResponse> ListWorkItems(
      const v1::ListWorkItemsRequest& request);
  // Work item events after `after_event_id`, oldest first, at most `limit`.
  absl::StatusOr<std::vector<v1::WorkItemEvent>> WorkItemEvents(int64_t after_event_id,
                                                                const std::string& queue,
                                                                int limit);
  absl::StatusOr<int64_t> LatestEventId();

  // Erasure on request (forget.cc, docs/privacy.md): one batch; `actor` is named in the audit
  // entry. INVALID_ARGUMENT ("address: ...") for anything but one email address.
  absl::StatusOr<v1::ForgetAddressResponse> ForgetAddress(const v1::ForgetAddressRequest& request,
                                                          const std::string& actor);

  // Attachments (attachments.cc). The message is read once, with its bytes; the chunks
  // (at most 64 KiB) go to `sink` in order, and a sink error stops the stream and is
  // returned. NOT_FOUND: unknown message or index. FAILED_PRECONDITION: the message was stored
  // truncated or its bytes were removed.
  using ChunkSink = std::function<absl::Status(const v1::DataChunk&)>;
  absl::StatusOr<v1::ListAttachmentsResponse> ListAttachments(
      const v1::ListAttachmentsRequest& request);
  absl::Status GetAttachment(const v1::GetAttachmentRequest& request, const ChunkSink& sink);
  absl::Status GetRawMessage(const v1::GetRawMessageRequest& request, const ChunkSink& sink);

  // Routes pending messages stored more than `min_age` ago that no replica is working on.
  // Returns how many it decided. Each claim counts an attempt; a message whose attempts reach
  // the maximum without a decision (errors, or the router dying while routing it) is recorded
  // as failed, with the attempts and the last error in its reason.
  absl::StatusOr<int> SweepPending(absl::Duration min_age, int limit);

  // Defined in internal.h.
  struct ConnectorConfig;  // Compiled configuration of one connector (connector_config.cc).
  struct Analysis;         // One parsed and classified message (analysis.cc).
  struct Decision;         // What the pipeline's steps decided (steps/, decide.cc).

 private:
  absl::StatusOr<std::shared_ptr<const ConnectorConfig>> Config(const std::string& connector);
  // Checks a RouteEmail/ExplainRoute request's connector and message source (a stored id or
  // raw bytes; both only where raw_may_come_with_id), then returns the connector's config if it
  // may be routed.
  absl::StatusOr<std::shared_ptr<const ConnectorConfig>> RoutableConfig(
      const std::string& connector, bool stored, bool raw_empty, bool raw_may_come_with_id);
  // A stored message with its bytes: `sent_raw` when the caller sent them and they hash to the
  // stored content (no read of the bytes), else read from the store.
  absl::StatusOr<store::MessageRecord> StoredMessage(int64_t id, const std::string& sent_raw);
  // Decides a stored message from the bytes sent along, without reading its row: the commit
  // checks the row is as assumed (store::DecisionWrite::verify_stored); ABORTED when it is not.
  absl::StatusOr<v1::RouteEmailResponse> RouteSentBytes(const ConnectorConfig& config,
                                                        const v1::RouteEmailRequest& request,
                                                        absl::Time started);
  // `verify_stored`: `message` was built from the request, not read (see RouteSentBytes).
  absl::StatusOr<v1::RouteEmailResponse> RouteStored(const ConnectorConfig& config,
                                                     const store::MessageRecord& message,
                                                     absl::Time started,
                                                     bool verify_stored = false);
  absl::StatusOr<Decision> Decide(const ConnectorConfig& config, const Analysis& analysis,
                                  const std::string& spam_status, int64_t message_id,
                                  bool dry_run);
  absl::StatusOr<v1::RouteEmailResponse> Commit(const ConnectorConfig& config,
                                                const Analysis& analysis, Decision decision,
                                                store::DecisionWrite write, absl::Time started);
  absl::StatusOr<v1::RouteEmailResponse> ReplayOf(const store::MessageRecord& message);
  // RouteEmail of a stored message once its attempt is counted.
  absl::StatusOr<v1::RouteEmailResponse> RouteStoredRequest(const ConnectorConfig& config,
                                                            const v1::RouteEmailRequest& request,
                                                            absl::Time started);
  // One counted attempt of the pending message `id`: decided failed at once when the attempts
  // before it were all spent, else `route` runs; an error of the message's own (not the
  // caller's, not a race) is recorded and, on the last attempt, decides it failed.
  absl::StatusOr<v1::RouteEmailResponse> RouteAttempt(
      const ConnectorConfig& config, int64_t id, const store::RouterStore::Attempt& attempt,
      absl::Time started, const std::function<absl::StatusOr<v1::RouteEmailResponse>()>& route);
  absl::StatusOr<v1::RouteEmailResponse> DecideFailed(const ConnectorConfig& config, int64_t id,
                                                      const store::RouterStore::Attempt& attempt,
                                                      const std::string& reason,
                                                      absl::Time started);
  // A stored message whose raw bytes are kept, with the parse limits of its connector.
  struct KeptMessage {
    store::MessageRecord record;
    mime::ParseLimits limits;
  };
  absl::StatusOr<KeptMessage> ReadKeptMessage(int64_t id);
  // Sleeps when `subject` matches options_.test_stall_on_subject (tests only).
  void StallForTest(const std::string& subject) const;
  absl::StatusOr<v1::RouteEmailResponse> Reroute(int64_t id);

  RouterOptions options_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const ConnectorConfig>> cache_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> checked_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace postroom::router
