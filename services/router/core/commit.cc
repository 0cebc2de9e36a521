// The commit: the decision, its work item and acknowledgement written in one store call, and the
// answer built from what was stored; a replay answers with the recorded decision.
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "services/router/core/addresses.h"
#include "services/router/core/internal.h"
#include "services/router/core/json.h"
#include "services/router/core/steps/step.h"

namespace postroom::router {

absl::StatusOr<v1::RouteEmailResponse> Router::Commit(const ConnectorConfig& cfg,
                                                      const Analysis& a, Decision d,
                                                      store::DecisionWrite w, absl::Time started) {
  w.decision.decision = d.decision;
  w.decision.decision_step = d.step;
  w.decision.decision_route = d.route;
  w.decision.decision_reason = d.reason;
  w.decision.trace_json = TraceJson(d.trace);
  // The bounce's row and suppression are written with the decision, handed over in the summary
  // (store::BounceWrite).
  if (d.bounce && d.decision == "bounce") w.bounce = d.bounce->write;
  w.decision.summary_json = SummaryJson(a, w.bounce ? &*w.bounce : nullptr);
  w.decision.duplicate_of = d.duplicate_of;
  w.decision.spam_status = d.spam_status;
  w.decision.message_id = a.parsed.message_id;
  w.decision.content_sha256 = a.sha256;
  w.decision.thread_root = a.thread_root;
  w.check_duplicate = d.check_duplicate;
  w.append_to = d.append_to;
  // Only mail that reaches a work item keeps its new text (the desk reads it there).
  if (d.actions || d.append_to != 0) w.decision.new_text = MessageNewText(a);
  if (d.actions) {
    // The work item's id is drawn first, so the acknowledgement is rendered before the commit
    // and the store only writes it.
    store::WorkItemRecord wi = NewWorkItem(cfg, a, *d.actions, d.test_mode);
    POSTROOM_ASSIGN_OR_RETURN(wi.id, options_.store->NextWorkItemId());
    wi.reference = store::WorkItemReference(cfg.prefix, wi.id);
    if (d.want_ack) {
      w.ack = AcknowledgementRequest(cfg, a, *d.actions, wi.id, wi.reference,
                                     options_.clock->Now());
    }
    w.create = std::move(wi);
  } else if (d.follow_up && d.want_ack) {
    w.ack = AcknowledgementRequest(cfg, a, d.follow_up->actions, d.append_to,
                                   d.follow_up->reference, options_.clock->Now());
  }
  if (!d.want_ack) {
    w.ack_suppressed = d.ack_suppressed;
    w.ack_suppressed_detail = d.ack_suppressed_detail;
  }
  POSTROOM_ASSIGN_OR_RETURN(store::DecisionResult res, options_.store->CommitDecision(w));
  if (res.replayed) return ReplayOf(*res.existing);
  steps::ApplyCommitDuplicateCheck(res, d);
  v1::RouteEmailResponse out;
  out.set_message_id(res.message_id);
  out.set_decision(DecisionFromName(d.decision));
  out.set_step(d.step);
  out.set_route(d.route);
  out.set_reason(d.reason);
  out.set_work_item_id(res.work_item_id);
  out.set_work_item_reference(res.reference);
  *out.mutable_trace() = d.trace.steps();
  out.set_classification(mime::MessageKindName(a.cls.kind));
  for (const std::string& r : a.cls.reasons) out.add_signals(r);
  out.set_sent_to(a.facts.sent_to);
  out.set_spam_status(SpamFromName(d.spam_status));
  if (d.actions) out.set_queue(d.actions->queue);
  out.set_acknowledgement_queued(res.ack_queued);
  std::string suppressed = !d.ack_suppressed.empty() ? d.ack_suppressed : res.ack_suppressed;
  out.set_acknowledgement_suppressed(suppressed);
  if (options_.metrics != nullptr) {
    options_.metrics->Decided(cfg.record.name, d.decision, options_.clock->Now() - started);
    if (res.ack_queued) options_.metrics->AckQueued(cfg.record.name);
    if (!suppressed.empty()) options_.metrics->AckSuppressed(cfg.record.name, suppressed);
    if (w.bounce) options_.metrics->BounceMatched(cfg.record.name, w.bounce->kind);
  }
  LogInfo("route_done", {{"connector", cfg.record.name},
                         {"message", absl::StrCat(res.message_id)},
                         {"decision", d.decision},
                         {"step", d.step},
                         {"work_item", absl::StrCat(res.work_item_id)}});
  return out;
}

absl::StatusOr<v1::RouteEmailResponse> Router::ReplayOf(const store::MessageRecord& m) {
  v1::RouteEmailResponse out;
  out.set_message_id(m.id);
  out.set_decision(DecisionFromName(m.decision));
  out.set_step(m.decision_step);
  out.set_route(m.decision_route);
  out.set_reason(m.decision_reason);
  out.set_work_item_id(m.work_item_id);
  out.set_replayed(true);
  out.set_spam_status(SpamFromName(m.spam_status));
  v1::DecisionTrace trace;
  if (FromJson(m.trace_json, &trace)) *out.mutable_trace() = trace.steps();
  google::protobuf::Struct summary;
  if (FromJson(m.summary_json, &summary)) {
    auto it = summary.fields().find("classification");
    if (it != summary.fields().end()) out.set_classification(it->second.string_value());
    it = summary.fields().find("sent_to");
    if (it != summary.fields().end()) out.set_sent_to(it->second.string_value());
  }
  if (m.work_item_id != 0) {
    absl::StatusOr<store::WorkItemRecord> wi = options_.store->GetWorkItem(m.work_item_id);
    if (wi.ok()) {
      out.set_work_item_reference(wi->reference);
      out.set_queue(wi->queue);
    }
  }
  return out;
}

}  // namespace postroom::router
