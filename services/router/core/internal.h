#pragma once

// Types shared by the router core's files and nothing else (router_core.h is the API). The
// pipeline's steps are in steps/, one file each; decide.cc runs them in order.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libs/mime/auto_response.h"
#include "libs/mime/classify.h"
#include "libs/mime/message.h"
#include "libs/rules/route.h"
#include "libs/templates/template.h"
#include "postroom/v1/config.pb.h"
#include "postroom/v1/router.pb.h"
#include "re2/re2.h"
#include "services/router/core/router_core.h"

namespace postroom::router {

// Compiled configuration of one connector (connector_config.cc builds it).
struct Router::ConnectorConfig {
  store::ConnectorRecord record;
  v1::Connector spec;
  struct Route {
    rules::CompiledRoute compiled;
    bool test_mode_only = false;
  };
  std::vector<Route> routes;  // Without the fallback, in order.
  std::optional<rules::CompiledRoute> fallback;
  std::vector<std::string> route_errors;  // Stored routes that no longer compile.
  std::map<std::string, templates::CompiledTemplate> templates;
  std::vector<std::string> blocked;  // Lowercase patterns.
  std::map<std::string, std::string> settings;
  int64_t outgoing_connector_id = 0;
  mime::ClassifyOptions classify;
  mime::AutoResponseOptions auto_response;  // Every connector's addresses are ours.
  // This connector's primary address (may be ""), then its aliases; lowercase (SentTo).
  std::vector<std::string> own;
  mime::ParseLimits parse_limits;  // The router's options, then the mime_* settings.
  // Some route puts the files on its work item ({from: attachments}): Analyze hashes them in
  // its one parse, so the work item lists their SHA-256 without a second one.
  bool lists_attachments = false;
  std::string prefix;     // Subject token / reference prefix.
  std::shared_ptr<const RE2> subject_token;  // Finds "[#<prefix>-123]"; compiled once.
  std::string reply_key;  // "" : no reply tokens.
  int reply_token_days = 0;  // The setting; 0 (unset): reply tokens never expire.
  // Acknowledgement limits (settings, connector_config.cc): per normalised sender in a window,
  // and per incoming connector per hour (-1: no cap).
  int ack_rate_limit = 5;
  absl::Duration ack_sender_window = absl::Hours(1);
  int ack_connector_limit = -1;
  int ack_work_item_limit = 3;  // Automatic mails per work item in ack_sender_window; 0: any.
  int max_attempts = 3;  // RouterOptions::max_route_attempts, then router_max_attempts.
  std::string fingerprint;
};

// One parsed and classified message (analysis.cc).
struct Router::Analysis {
  mime::ParsedMessage parsed;
  mime::Classification cls;
  rules::MessageFacts facts;
  std::string sender;  // Lowercase address; may be empty.
  std::string sender_name;
  std::string sha256;  // Raw 32 bytes.
  std::string thread_root;
  // Why an automatic answer would be unsafe (mime::AutoResponseSuppressedReasons); empty: safe.
  std::vector<std::string> auto_response;
  size_t raw_size = 0;
  bool have_raw = false;
  // The bytes analysed, while the caller routing them holds them (through the commit); empty
  // when !have_raw.
  std::string_view raw;
};

// A bounce tied to the outbox row it answers (bounce.cc).
struct BounceLink {
  store::BounceWrite write;
  store::OutboxRecord row;  // As found: its address, reason and connector.
};

// The acknowledgement of a message appended to a work item (acknowledge_follow_ups): the work
// item's reference and its values for the template (acknowledgement.cc).
struct FollowUpAck {
  rules::Actions actions;
  std::string reference;
};

// What the pipeline decided, with the trace its steps wrote.
struct Router::Decision {
  std::string decision;
  std::string step;
  std::string route;
  std::string reason;
  v1::DecisionTrace trace;
  std::optional<rules::Actions> actions;  // Set when a work item is created.
  std::string queue;
  bool test_mode = false;
  int64_t append_to = 0;
  int64_t duplicate_of = 0;
  std::string spam_status;
  bool check_duplicate = false;
  bool want_ack = false;
  std::string ack_suppressed;  // Why not, decided before the commit (a metric label) ...
  std::string ack_suppressed_detail;  // ... and the specifics (the message's ack outcome).
  std::optional<BounceLink> bounce;  // A bounce of mail we sent (automatic_mail step).
  std::optional<FollowUpAck> follow_up;  // Set when an appended message may be acknowledged.

  // A step that looked and let the message through.
  void Pass(std::string step_name, std::string why) {
    v1::TraceStep* s = trace.add_steps();
    s->set_step(std::move(step_name));
    s->set_decided(false);
    s->set_reason(std::move(why));
  }
  // A step that decided: its trace entry and the decision.
  void Decide(std::string what, std::string step_name, std::string why) {
    v1::TraceStep* s = trace.add_steps();
    s->set_step(step_name);
    s->set_decided(true);
    s->set_reason(why);
    decision = std::move(what);
    step = std::move(step_name);
    reason = std::move(why);
  }
};

// Parses and classifies; never fails for a non-empty message. `known_sha256`: the SHA-256 of
// `raw` when the caller has it already (a stored message's content hash), else empty.
absl::StatusOr<Router::Analysis> Analyze(const Router::ConnectorConfig& cfg,
                                         const std::string& raw, const std::string& folder,
                                         const std::string& queue_hint,
                                         const std::string& known_sha256 = "");
// messages.summary of an analysed message; a bounce's summary has a "bounce" object
// (BounceSummaryJson) with the outbox row it is tied to, if any.
std::string SummaryJson(const Router::Analysis& a, const store::BounceWrite* bounce = nullptr);

// bounce.cc: the outbox row id in a Message-ID the sender made
// ("postroom.outbox.ID.CREATED_MS@DOMAIN", no angle brackets); 0 when it is not one.
int64_t OutboxIdOfMessageId(absl::string_view message_id);
// "permanent" (status 5.x.x), "transient" (4.x.x, or a delay), "unknown" (a failure without a
// code); "" for reports that are no failure (success DSNs, feedback reports).
std::string BounceKind(const mime::BounceInfo& b);
// The outbox row a bounce answers: the first of the report's original Message-ID, the bounce's
// In-Reply-To and References that is one of ours and names a sent row (at most 4 lookups);
// nullopt for mail that is no failure or delay report, or not about mail we sent.
absl::StatusOr<std::optional<BounceLink>> LinkBounce(store::RouterStore& store,
                                                     const Router::Analysis& a);
// The summary's "bounce" object: the report's type, original Message-ID, status and
// diagnostic, and with `link` the row's id, Message-ID and the bounce's kind (what
// postroom_record_bounce reads).
std::string BounceSummaryJson(const mime::BounceInfo& b, const store::BounceWrite* link);

// FAILED_PRECONDITION when the connector's mail may not be routed (disabled, outgoing only).
absl::Status CheckRoutable(const Router::ConnectorConfig& c);
// The connector's max_message_bytes, or the default.
uint64_t MaxMessageBytes(const v1::Connector& spec);

// acknowledgement.cc: whether a created work item is acknowledged (want_ack, or why not in
// ack_suppressed), and the email, rendered before the commit (the store adds its dedupe key).
void DecideAcknowledgement(const Router::ConnectorConfig& cfg, const Router::Analysis& a,
                           Router::Decision& d);
// The same for a message appended to work item d.append_to, where the connector sets
// acknowledge_follow_ups (sets d.follow_up); the store's error reading the work item.
absl::Status DecideFollowUpAcknowledgement(const Router::ConnectorConfig& cfg,
                                           const Router::Analysis& a, store::RouterStore& store,
                                           Router::Decision& d);
store::OutboxRecord RenderAcknowledgement(const Router::ConnectorConfig& cfg,
                                          const Router::Analysis& a,
                                          const rules::Actions& actions, int64_t wi_id,
                                          const std::string& reference, absl::Time now);
// The commit's request: the rendered email with the connector's limits, at `now`.
store::AckRequest AcknowledgementRequest(const Router::ConnectorConfig& cfg,
                                         const Router::Analysis& a, const rules::Actions& actions,
                                         int64_t wi_id, const std::string& reference,
                                         absl::Time now);

// attachments.cc: one entry of a message's attachments as the API lists it.
v1::Attachment AttachmentProto(const mime::Attachment& a, size_t index, int64_t message_id);

// work_item.cc: the work item a route's actions make of the message.
store::WorkItemRecord NewWorkItem(const Router::ConnectorConfig& cfg, const Router::Analysis& a,
                                  const rules::Actions& act, bool test_mode);
// What the sender wrote in the message (mime::NewText), cut to store::kMaxNewTextBytes at a
// character boundary: the new text of a message that creates or joins a work item.
std::string MessageNewText(const Router::Analysis& a);

// names.cc: the proto enums by the names the store keeps.
std::string DecisionName(v1::Decision d);
v1::Decision DecisionFromName(const std::string& name);
v1::SpamStatus SpamFromName(const std::string& s);

}  // namespace postroom::router
