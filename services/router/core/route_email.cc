// RouteEmail and ExplainRoute: which message (new bytes, a stored one, a stored one with its
// bytes sent along), its analysis, the pipeline, and the commit or the dry run's answer.
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/base/log.h"
#include "libs/base/sha256.h"
#include "libs/base/status_macros.h"
#include "services/router/core/addresses.h"
#include "services/router/core/internal.h"

namespace postroom::router {

absl::StatusOr<std::shared_ptr<const Router::ConnectorConfig>> Router::RoutableConfig(
    const std::string& connector, bool stored, bool raw_empty, bool raw_may_come_with_id) {
  if (connector.empty()) {
    return absl::InvalidArgumentError("connector is required: the incoming connector's name");
  }
  if ((!stored && raw_empty) || (stored && !raw_empty && !raw_may_come_with_id)) {
    return absl::InvalidArgumentError(
        "give either raw_message (the RFC 5322 bytes) or stored_message_id, not both or neither");
  }
  POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg, Config(connector));
  POSTROOM_RETURN_IF_ERROR(CheckRoutable(*cfg));
  return cfg;
}

absl::StatusOr<v1::RouteEmailResponse> Router::RouteEmail(const v1::RouteEmailRequest& req) {
  absl::Time started = options_.clock->Now();
  const bool stored = req.stored_message_id() != 0;
  POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg,
                            RoutableConfig(req.connector(), stored, req.raw_message().empty(),
                                           /*raw_may_come_with_id=*/true));
  if (stored) {
    // Counted (and committed) before anything is parsed: a message that kills the router
    // while it is routed still uses up its attempts.
    POSTROOM_ASSIGN_OR_RETURN(
        std::optional<store::RouterStore::Attempt> attempt,
        options_.store->StartAttempt(req.stored_message_id(), cfg->record.id, started));
    // Not pending (decided, unknown, another connector's): the long way says which.
    if (!attempt) return RouteStoredRequest(*cfg, req, started);
    return RouteAttempt(*cfg, req.stored_message_id(), *attempt, started,
                        [&] { return RouteStoredRequest(*cfg, req, started); });
  }
  const std::string& raw = req.raw_message();
  if (raw.size() > MaxMessageBytes(cfg->spec)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message of ", raw.size(), " bytes is over connector \"", req.connector(),
        "\"'s max_message_bytes (", MaxMessageBytes(cfg->spec), ")"));
  }
  POSTROOM_ASSIGN_OR_RETURN(Analysis a, Analyze(*cfg, raw, req.folder(), req.queue_hint()));
  store::MessageRecord row;
  row.connector_id = cfg->record.id;
  row.fetch_key = !req.fetch_key().empty()
                      ? req.fetch_key()
                      : absl::StrCat("sha256:", absl::BytesToHexString(a.sha256));
  row.folder = req.folder();
  row.queue_hint = req.queue_hint();
  row.received_at = req.has_received_at()
                        ? absl::FromUnixSeconds(req.received_at().seconds()) +
                              absl::Nanoseconds(req.received_at().nanos())
                        : options_.clock->Now();
  row.size_bytes = static_cast<int64_t>(raw.size());
  row.raw = raw;
  POSTROOM_ASSIGN_OR_RETURN(Decision d, Decide(*cfg, a, "", 0, /*dry_run=*/false));
  store::DecisionWrite w;
  w.insert = std::move(row);
  return Commit(*cfg, a, std::move(d), std::move(w), started);
}

absl::StatusOr<v1::RouteEmailResponse> Router::RouteStoredRequest(
    const ConnectorConfig& cfg, const v1::RouteEmailRequest& req, absl::Time started) {
  if (!req.raw_message().empty()) {
    absl::StatusOr<v1::RouteEmailResponse> routed = RouteSentBytes(cfg, req, started);
    // ABORTED: the row is not what the bytes suggested (decided already, another connector,
    // folder or content, truncated, a manual spam status): read it and go the long way.
    if (!absl::IsAborted(routed.status())) return routed;
  }
  POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m,
                            StoredMessage(req.stored_message_id(), req.raw_message()));
  if (m.connector_id != cfg.record.id) {
    return absl::InvalidArgumentError(absl::StrCat("message ", m.id, " belongs to connector \"",
                                                   m.connector, "\", not \"", req.connector(),
                                                   "\""));
  }
  if (!m.decision.empty()) return ReplayOf(m);
  return RouteStored(cfg, m, started);
}

absl::StatusOr<store::MessageRecord> Router::StoredMessage(int64_t id,
                                                          const std::string& sent_raw) {
  if (sent_raw.empty()) return options_.store->GetMessage(id, true);
  POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m, options_.store->GetMessage(id, false));
  if (m.truncated || m.content_sha256.empty()) return options_.store->GetMessage(id, true);
  if (Sha256(sent_raw) != m.content_sha256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raw_message is not the stored message ", id,
        " (its SHA-256 differs from the stored one): send the stored bytes or only the id"));
  }
  m.raw = sent_raw;
  return m;
}

absl::StatusOr<v1::RouteEmailResponse> Router::RouteSentBytes(const ConnectorConfig& cfg,
                                                              const v1::RouteEmailRequest& req,
                                                              absl::Time started) {
  store::MessageRecord m;
  m.id = req.stored_message_id();
  m.connector_id = cfg.record.id;
  m.connector = cfg.record.name;
  m.fetch_key = req.fetch_key();
  m.folder = req.folder();
  m.queue_hint = req.queue_hint();
  m.raw = req.raw_message();
  m.content_sha256 = Sha256(m.raw);
  return RouteStored(cfg, m, started, /*verify_stored=*/true);
}

absl::StatusOr<v1::RouteEmailResponse> Router::RouteStored(const ConnectorConfig& cfg,
                                                           const store::MessageRecord& m,
                                                           absl::Time started,
                                                           bool verify_stored) {
  store::DecisionWrite w;
  w.message_id = m.id;
  w.expected_decision = m.decision;
  w.verify_stored = verify_stored;
  w.decision.connector_id = m.connector_id;
  w.decision.folder = m.folder;
  w.decision.queue_hint = m.queue_hint;
  if (m.truncated) {
    Decision d;
    d.Decide("failed", "size",
             "over the connector's max message size: only the header block was stored");
    absl::StatusOr<Analysis> a = Analyze(cfg, m.raw.empty() ? " " : m.raw, m.folder,
                                         m.queue_hint);
    if (!a.ok()) return a.status();
    a->have_raw = false;
    a->raw = {};  // A temporary's, and only the header block.
    return Commit(cfg, *a, std::move(d), std::move(w), started);
  }
  absl::StatusOr<Analysis> a = Analyze(cfg, m.raw, m.folder, m.queue_hint, m.content_sha256);
  if (a.ok()) StallForTest(a->parsed.subject);
  if (!a.ok()) {
    // Nothing to parse (an empty stored message): record failed, never leave it pending.
    Analysis empty;
    Decision d;
    d.Decide("failed", "parse", std::string(a.status().message()));
    return Commit(cfg, empty, std::move(d), std::move(w), started);
  }
  POSTROOM_ASSIGN_OR_RETURN(Decision d, Decide(cfg, *a, m.spam_status, m.id, false));
  return Commit(cfg, *a, std::move(d), std::move(w), started);
}

absl::StatusOr<v1::RouteEmailResponse> Router::ExplainRoute(const v1::ExplainRouteRequest& req) {
  const bool stored = req.stored_message_id() != 0;
  POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg,
                            RoutableConfig(req.connector(), stored, req.raw_message().empty(),
                                           /*raw_may_come_with_id=*/false));
  std::string raw = req.raw_message();
  std::string spam_status;
  int64_t id = 0;
  std::string folder = req.folder(), hint = req.queue_hint();
  if (stored) {
    POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m,
                              options_.store->GetMessage(req.stored_message_id(), true));
    if (m.connector_id != cfg->record.id) {
      return absl::InvalidArgumentError(absl::StrCat("message ", m.id, " belongs to connector \"",
                                                     m.connector, "\", not \"", req.connector(),
                                                     "\""));
    }
    raw = std::move(m.raw);
    spam_status = m.spam_status;
    id = m.id;
    if (folder.empty()) folder = m.folder;
    if (hint.empty()) hint = m.queue_hint;
  }
  POSTROOM_ASSIGN_OR_RETURN(Analysis a, Analyze(*cfg, raw, folder, hint));
  POSTROOM_ASSIGN_OR_RETURN(Decision d, Decide(*cfg, a, spam_status, id, /*dry_run=*/true));
  v1::RouteEmailResponse out;
  out.set_decision(DecisionFromName(d.decision));
  out.set_step(d.step);
  out.set_route(d.route);
  out.set_reason(d.reason);
  out.set_work_item_id(d.append_to);
  *out.mutable_trace() = d.trace.steps();
  out.set_classification(mime::MessageKindName(a.cls.kind));
  for (const std::string& r : a.cls.reasons) out.add_signals(r);
  out.set_sent_to(a.facts.sent_to);
  out.set_spam_status(SpamFromName(!spam_status.empty() ? spam_status : d.spam_status));
  if (d.actions) out.set_queue(d.actions->queue);
  std::string suppressed = d.ack_suppressed;
  if (d.want_ack) {
    // The commit's own checks, in its order: a suppressed address, then the rate limits.
    POSTROOM_ASSIGN_OR_RETURN(bool blocked, options_.store->IsAddressSuppressed(
                                                cfg->outgoing_connector_id, a.sender));
    POSTROOM_ASSIGN_OR_RETURN(
        int sent, options_.store->CountAcksSince(NormalizedSender(a.sender),
                                                 options_.clock->Now() - cfg->ack_sender_window));
    // A follow-up's work item (acknowledge_follow_ups); a new one has sent nothing yet.
    absl::StatusOr<int> work_item_sent = 0;
    if (d.follow_up && cfg->ack_work_item_limit > 0) {
      work_item_sent = options_.store->CountWorkItemAcksSince(
          d.append_to, options_.clock->Now() - cfg->ack_sender_window);
      if (!work_item_sent.ok()) return work_item_sent.status();
    }
    absl::StatusOr<int> connector_sent = 0;
    if (cfg->ack_connector_limit >= 0) {
      connector_sent = options_.store->CountConnectorAcksSince(
          cfg->record.id, options_.clock->Now() - absl::Hours(1));
      if (!connector_sent.ok()) return connector_sent.status();
    }
    if (blocked) {
      suppressed = "suppressed_address";
    } else if (sent >= cfg->ack_rate_limit) {
      suppressed = "rate_limited";
    } else if (cfg->ack_work_item_limit > 0 && *work_item_sent >= cfg->ack_work_item_limit) {
      suppressed = "work_item_rate_limited";
    } else if (cfg->ack_connector_limit >= 0 && *connector_sent >= cfg->ack_connector_limit) {
      suppressed = "connector_rate_limited";
    } else {
      out.set_acknowledgement_queued(true);  // Would be.
    }
  }
  out.set_acknowledgement_suppressed(suppressed);
  return out;
}

}  // namespace postroom::router
