// The acknowledgement of a new work item: whether one is sent (only where the route asks for one
// and it is safe), and the email rendered from the route's template. A message appended to a
// work item is acknowledged too where the connector sets acknowledge_follow_ups, by the same
// rules.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "libs/connector/names.h"
#include "libs/mime/authentication_results.h"
#include "services/router/core/addresses.h"
#include "services/router/core/internal.h"
#include "services/router/core/json.h"

namespace postroom::router {

namespace {

// Why the work item `d` made gets no acknowledgement, as (reason, detail); {"", ""} when it
// may have one. The order is the table's in docs/router.md.
std::pair<std::string, std::string> WhyNoAcknowledgement(const Router::ConnectorConfig& cfg,
                                                         const Router::Analysis& a,
                                                         const std::string& ack_template,
                                                         bool test_mode) {
  const v1::Connector& spec = cfg.spec;
  if (a.cls.kind == mime::MessageKind::kList) return {"list", absl::StrJoin(a.cls.reasons, ", ")};
  if (!a.auto_response.empty()) {
    std::vector<std::string> signals;
    for (const std::string& r : a.auto_response) {
      signals.push_back(std::string(absl::StripPrefix(r, "auto_response_suppressed:")));
    }
    return {"auto_response_suppressed", absl::StrJoin(signals, ", ")};
  }
  if (a.sender.empty()) return {"no_sender", ""};
  if (!connector::IsValidEmailAddress(a.sender)) {
    return {"invalid_address", absl::StrCat("\"", a.sender, "\" is not an address with a domain")};
  }
  if (IsNoReplyAddress(a.sender)) return {"no_reply_address", a.sender};
  if (spec.has_send_automated_emails() && !spec.send_automated_emails()) {
    return {"automated_emails_off", ""};
  }
  if (test_mode) return {"test_mode", "the work item was made in test mode"};
  if (spec.ack_requires_authentication()) {
    std::vector<std::string> ids(spec.authserv_ids().begin(), spec.authserv_ids().end());
    mime::SenderAuthentication auth = mime::CheckSenderAuthentication(a.parsed, ids);
    if (!auth.passed) return {"unauthenticated", auth.detail};
  }
  if (!cfg.templates.count(ack_template)) return {"template_missing", ack_template};
  if (cfg.ack_rate_limit == 0) return {"rate_limited", "ack_rate_limit_per_hour is 0"};
  if (cfg.ack_connector_limit == 0) {
    return {"connector_rate_limited", "ack_connector_limit_per_hour is 0"};
  }
  return {"", ""};
}

void SetAcknowledgement(const Router::ConnectorConfig& cfg, const Router::Analysis& a,
                        const std::string& ack_template, bool test_mode, Router::Decision& d) {
  auto [reason, detail] = WhyNoAcknowledgement(cfg, a, ack_template, test_mode);
  d.want_ack = reason.empty();
  d.ack_suppressed = std::move(reason);
  d.ack_suppressed_detail = std::move(detail);
}

// The work item's own values, for the follow-up's template.
rules::Actions FollowUpActions(const Router::ConnectorConfig& cfg,
                               const store::WorkItemRecord& wi) {
  rules::Actions act;
  act.queue = wi.queue;
  act.work_item_type = wi.type;
  for (rules::Priority p :
       {rules::Priority::kLow, rules::Priority::kHigh, rules::Priority::kUrgent}) {
    if (wi.priority == rules::PriorityName(p)) act.priority = p;
  }
  act.ack_template = cfg.spec.follow_up_template();
  if (act.ack_template.empty() && cfg.fallback) {
    act.ack_template = cfg.fallback->actions().ack_template;
  }
  return act;
}

}  // namespace

void DecideAcknowledgement(const Router::ConnectorConfig& cfg, const Router::Analysis& a,
                           Router::Decision& d) {
  if (d.actions->ack_template.empty()) return;
  SetAcknowledgement(cfg, a, d.actions->ack_template, d.test_mode, d);
}

absl::Status DecideFollowUpAcknowledgement(const Router::ConnectorConfig& cfg,
                                           const Router::Analysis& a, store::RouterStore& store,
                                           Router::Decision& d) {
  if (!cfg.spec.acknowledge_follow_ups()) return absl::OkStatus();
  absl::StatusOr<store::WorkItemRecord> wi = store.GetWorkItem(d.append_to);
  if (!wi.ok()) return wi.status();
  d.follow_up = FollowUpAck{FollowUpActions(cfg, *wi), wi->reference};
  if (d.follow_up->actions.ack_template.empty()) {
    d.ack_suppressed = "template_missing";
    d.ack_suppressed_detail = "acknowledge_follow_ups without a follow_up_template or a fallback "
                              "route's ack_template";
    return absl::OkStatus();
  }
  SetAcknowledgement(cfg, a, d.follow_up->actions.ack_template, wi->test_mode, d);
  return absl::OkStatus();
}

store::AckRequest AcknowledgementRequest(const Router::ConnectorConfig& cfg,
                                         const Router::Analysis& a, const rules::Actions& actions,
                                         int64_t wi_id, const std::string& reference,
                                         absl::Time now) {
  return store::AckRequest{
      .to_address = a.sender,
      .sender_key = NormalizedSender(a.sender),
      .limit_per_hour = cfg.ack_rate_limit,
      .sender_window = cfg.ack_sender_window,
      .connector_limit_per_hour = cfg.ack_connector_limit,
      .work_item_limit = cfg.ack_work_item_limit,
      .now = now,
      .email = RenderAcknowledgement(cfg, a, actions, wi_id, reference, now)};
}

store::OutboxRecord RenderAcknowledgement(const Router::ConnectorConfig& cfg,
                                          const Router::Analysis& a,
                                          const rules::Actions& actions, int64_t wi_id,
                                          const std::string& reference, absl::Time now) {
  const templates::CompiledTemplate& tpl = cfg.templates.at(actions.ack_template);
  const std::string primary = Lower(cfg.spec.primary_address());
  std::string token = cfg.reply_key.empty() ? "" : MakeReplyToken(cfg.reply_key, wi_id, now);
  templates::Values v;
  v[templates::placeholder::kWorkItemId] = absl::StrCat(wi_id);
  v[templates::placeholder::kWorkItemReference] = reference;
  v[templates::placeholder::kWorkItemSubject] = a.parsed.subject;
  v[templates::placeholder::kWorkItemQueue] = actions.queue;
  v[templates::placeholder::kWorkItemType] = actions.work_item_type;
  v[templates::placeholder::kWorkItemPriority] = rules::PriorityName(actions.priority);
  v[templates::placeholder::kSenderName] = a.sender_name;
  v[templates::placeholder::kSenderAddress] = a.sender;
  v[templates::placeholder::kConnectorName] = cfg.record.name;
  v[templates::placeholder::kConnectorAddress] = primary;
  v[templates::placeholder::kMessageSubject] = a.parsed.subject;
  v[templates::placeholder::kMessageId] = a.parsed.message_id;
  if (a.parsed.date) {
    v[templates::placeholder::kMessageDate] =
        absl::FormatTime("%Y-%m-%d %H:%M UTC", *a.parsed.date, absl::UTCTimeZone());
  }
  // The signed token travels in the Reply-To plus address (below); templates get the
  // subject token, as docs/templates.md says.
  const std::string subject_token = absl::StrCat("[#", reference, "]");
  v[templates::placeholder::kReplyToken] = subject_token;
  templates::RenderedMessage r = tpl.Render(v);
  store::OutboxRecord o;
  o.connector_id = cfg.outgoing_connector_id;
  o.reason = "ack";
  o.to_address = a.sender;
  // From the alias the customer wrote to; mail to the primary address keeps the outgoing
  // connector's own From, as before aliases were used.
  if (!cfg.own.empty() && a.facts.sent_to != cfg.own.front()) o.from_address = a.facts.sent_to;
  o.subject = r.subject;
  if (!absl::StrContains(o.subject, subject_token)) {
    o.subject = absl::StrCat(o.subject, " ", subject_token);
  }
  o.body_text = r.body_text;
  o.body_html = r.body_html;
  JsonObject h;
  h.Str("Auto-Submitted", "auto-replied");
  h.Str("X-Auto-Response-Suppress", "All");
  // RFC 3834 section 5: a responder that sees its own X-Loop (ours does, see
  // auto_response.h) stops the loop.
  if (!primary.empty()) h.Str("X-Loop", primary);
  if (!a.parsed.message_id.empty()) {
    h.Str("In-Reply-To", absl::StrCat("<", a.parsed.message_id, ">"));
    h.Str("References", absl::StrCat("<", a.parsed.message_id, ">"));
  }
  if (std::string reply_to = secrets::ReplyTokenAddress(primary, token); !reply_to.empty()) {
    h.Str("Reply-To", reply_to);
  }
  h.Str("X-Postroom-Work-Item", reference);
  o.headers_json = h.Done();
  return o;
}

}  // namespace postroom::router
