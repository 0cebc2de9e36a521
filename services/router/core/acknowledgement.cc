// The acknowledgement of a new work item: whether one is sent (only where the route asks for one
// and it is safe), and the email rendered from the route's template.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/router/core/addresses.h"
#include "services/router/core/internal.h"
#include "services/router/core/json.h"

namespace postroom::router {

void DecideAcknowledgement(const Router::ConnectorConfig& cfg, const Router::Analysis& a,
                           Router::Decision& d) {
  const std::string& tpl = d.actions->ack_template;
  if (tpl.empty()) return;
  const v1::Connector& spec = cfg.spec;
  if (a.cls.kind == mime::MessageKind::kList) {
    d.ack_suppressed = "list";
  } else if (a.sender.empty()) {
    d.ack_suppressed = "no_sender";
  } else if (IsNoReplyAddress(a.sender)) {
    d.ack_suppressed = "no_reply_address";
  } else if (spec.has_send_automated_emails() && !spec.send_automated_emails()) {
    d.ack_suppressed = "automated_emails_off";
  } else if (!cfg.templates.count(tpl)) {
    d.ack_suppressed = "template_missing";
  } else if (cfg.ack_rate_limit == 0) {
    d.ack_suppressed = "rate_limited";
  } else {
    d.want_ack = true;
  }
}

store::OutboxRecord RenderAcknowledgement(const Router::ConnectorConfig& cfg,
                                          const Router::Analysis& a,
                                          const rules::Actions& actions, int64_t wi_id,
                                          const std::string& reference) {
  const templates::CompiledTemplate& tpl = cfg.templates.at(actions.ack_template);
  const std::string primary = Lower(cfg.spec.primary_address());
  std::string token = cfg.reply_key.empty() ? "" : MakeReplyToken(cfg.reply_key, wi_id);
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
  o.subject = r.subject;
  if (!absl::StrContains(o.subject, subject_token)) {
    o.subject = absl::StrCat(o.subject, " ", subject_token);
  }
  o.body_text = r.body_text;
  o.body_html = r.body_html;
  JsonObject h;
  h.Str("Auto-Submitted", "auto-replied");
  h.Str("X-Auto-Response-Suppress", "All");
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
