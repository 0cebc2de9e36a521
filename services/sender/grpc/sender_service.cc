#include "services/sender/grpc/sender_service.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/server/authorize.h"
#include "libs/server/status.h"

namespace postroom::sender {
namespace {

int64_t Ms(const std::optional<absl::Time>& t) { return t ? absl::ToUnixMillis(*t) : 0; }

v1::OutboxState StateOf(const store::OutboxItem& o, absl::Time now) {
  if (o.status == "sent") return v1::OUTBOX_STATE_SENT;
  if (o.status == "failed") return v1::OUTBOX_STATE_FAILED;
  if (o.status == "cancelled") return v1::OUTBOX_STATE_CANCELLED;
  if (o.status == "bounced") return v1::OUTBOX_STATE_BOUNCED;
  if (o.status == "suppressed") return v1::OUTBOX_STATE_SUPPRESSED;
  if (!o.claimed_by.empty() && o.claimed_until && *o.claimed_until > now) {
    return v1::OUTBOX_STATE_SENDING;
  }
  return v1::OUTBOX_STATE_QUEUED;
}

absl::Status CheckId(int64_t id) {
  if (id <= 0) return absl::InvalidArgumentError("id: required, a positive outbox item id");
  return absl::OkStatus();
}

}  // namespace

void SenderService::ToProto(const store::OutboxItem& o, absl::Time now, bool full,
                            v1::OutboxItem* out) {
  out->set_id(o.id);
  out->set_connector(o.connector);
  out->set_reason(o.reason);
  out->set_state(StateOf(o, now));
  out->set_to_address(o.to_address);
  out->set_subject(o.subject);
  out->set_attempts(static_cast<uint32_t>(std::max(0, o.attempts)));
  out->set_due_at_unix_ms(absl::ToUnixMillis(o.due_at));
  out->set_created_at_unix_ms(absl::ToUnixMillis(o.created_at));
  out->set_sent_at_unix_ms(Ms(o.sent_at));
  out->set_last_attempt_at_unix_ms(Ms(o.last_attempt_at));
  out->set_last_error(o.last_error);
  out->set_last_error_class(o.last_error_class);
  if (out->state() == v1::OUTBOX_STATE_SENDING) {
    out->set_claimed_by(o.claimed_by);
    out->set_claimed_until_unix_ms(Ms(o.claimed_until));
  }
  out->set_message_id(o.smtp_message_id);
  out->set_work_item_id(o.work_item_id);
  out->set_source_message_id(o.message_id);
  out->set_dedupe_key(o.dedupe_key);
  out->set_bounce_status(o.bounce_status);
  out->set_bounce_diagnostic(o.bounce_diagnostic);
  for (const std::string& cc : o.cc) out->add_cc(cc);
  out->set_from_address(o.from_address);
  out->set_attachments(static_cast<uint32_t>(std::max(0, o.attachment_count)));
  out->set_webhook(o.webhook);
  if (full) {
    out->set_body_text(o.body_text);
    out->set_body_html(o.body_html);
    out->set_headers_json(o.headers_json);
  }
}

grpc::Status SenderService::ListOutbox(grpc::ServerContext* ctx, const v1::ListOutboxRequest* req,
                                       v1::ListOutboxResponse* resp) {
  if (auth_ != nullptr) {
    auto p = server::Authorize(*ctx, *auth_, auth::Role::kViewer, "list the outbox");
    if (!p.ok()) return server::ToGrpcStatus(p.status());
  }
  store::OutboxFilter f;
  switch (req->state()) {
    case v1::OUTBOX_STATE_UNSPECIFIED:
      break;
    case v1::OUTBOX_STATE_QUEUED:
      f.status = "queued";
      break;
    case v1::OUTBOX_STATE_SENT:
      f.status = "sent";
      break;
    case v1::OUTBOX_STATE_FAILED:
      f.status = "failed";
      break;
    case v1::OUTBOX_STATE_CANCELLED:
      f.status = "cancelled";
      break;
    case v1::OUTBOX_STATE_BOUNCED:
      f.status = "bounced";
      break;
    case v1::OUTBOX_STATE_SUPPRESSED:
      f.status = "suppressed";
      break;
    default:
      return server::ToGrpcStatus(absl::InvalidArgumentError(
          "state: one of queued, sent, failed, cancelled, bounced, suppressed (items being sent "
          "are queued)"));
  }
  f.connector = req->connector();
  f.before_id = req->before_id();
  f.limit = req->limit() == 0 ? 50 : static_cast<int>(std::min<uint32_t>(req->limit(), 1000));
  absl::StatusOr<std::vector<store::OutboxItem>> items = store_.List(f);
  if (!items.ok()) return server::ToGrpcStatus(items.status());
  const absl::Time now = clock_.Now();
  for (const store::OutboxItem& o : *items) ToProto(o, now, false, resp->add_items());
  return grpc::Status::OK;
}

grpc::Status SenderService::GetOutboxItem(grpc::ServerContext* ctx,
                                          const v1::GetOutboxItemRequest* req,
                                          v1::GetOutboxItemResponse* resp) {
  if (auth_ != nullptr) {
    auto p = server::Authorize(*ctx, *auth_, auth::Role::kViewer, "read an outbox item");
    if (!p.ok()) return server::ToGrpcStatus(p.status());
  }
  if (absl::Status st = CheckId(req->id()); !st.ok()) return server::ToGrpcStatus(st);
  absl::StatusOr<store::OutboxItem> item = store_.Get(req->id());
  if (!item.ok()) return server::ToGrpcStatus(item.status());
  ToProto(*item, clock_.Now(), true, resp->mutable_item());
  return grpc::Status::OK;
}

grpc::Status SenderService::RetryNow(grpc::ServerContext* ctx, const v1::RetryNowRequest* req,
                                     v1::RetryNowResponse* resp) {
  if (auth_ != nullptr) {
    auto p = server::Authorize(*ctx, *auth_, auth::Role::kOperator, "retry an outbox item");
    if (!p.ok()) return server::ToGrpcStatus(p.status());
  }
  if (absl::Status st = CheckId(req->id()); !st.ok()) return server::ToGrpcStatus(st);
  absl::StatusOr<store::OutboxItem> item = store_.RetryNow(req->id(), clock_.Now());
  if (!item.ok()) return server::ToGrpcStatus(item.status());
  ToProto(*item, clock_.Now(), false, resp->mutable_item());
  return grpc::Status::OK;
}

grpc::Status SenderService::ListSuppressions(grpc::ServerContext* ctx,
                                             const v1::ListSuppressionsRequest* req,
                                             v1::ListSuppressionsResponse* resp) {
  if (auth_ != nullptr) {
    auto p = server::Authorize(*ctx, *auth_, auth::Role::kViewer, "list suppressed addresses");
    if (!p.ok()) return server::ToGrpcStatus(p.status());
  }
  store::SuppressionFilter f;
  f.connector = req->connector();
  f.before_id = req->before_id();
  f.limit = req->limit() == 0 ? 100 : static_cast<int>(std::min<uint32_t>(req->limit(), 1000));
  absl::StatusOr<std::vector<store::SuppressionRecord>> list = store_.ListSuppressions(f);
  if (!list.ok()) return server::ToGrpcStatus(list.status());
  for (const store::SuppressionRecord& s : *list) ToProto(s, resp->add_suppressions());
  if (static_cast<int>(list->size()) == f.limit) resp->set_next_before_id(list->back().id);
  return grpc::Status::OK;
}

grpc::Status SenderService::DeleteSuppression(grpc::ServerContext* ctx,
                                              const v1::DeleteSuppressionRequest* req,
                                              v1::DeleteSuppressionResponse* resp) {
  std::string actor = "unauthenticated";
  if (auth_ != nullptr) {
    auto p = server::Authorize(*ctx, *auth_, auth::Role::kOperator, "delete a suppression");
    if (!p.ok()) return server::ToGrpcStatus(p.status());
    actor = p->name;
  }
  if (req->connector().empty()) {
    return server::ToGrpcStatus(
        absl::InvalidArgumentError("connector: required, the outgoing connector's name"));
  }
  if (absl::StripAsciiWhitespace(req->address()).empty()) {
    return server::ToGrpcStatus(
        absl::InvalidArgumentError("address: required, the suppressed address"));
  }
  if (req->address().size() > 320) {
    return server::ToGrpcStatus(
        absl::InvalidArgumentError("address: at most 320 bytes, an email address"));
  }
  absl::StatusOr<store::SuppressionRecord> deleted =
      store_.DeleteSuppression(req->connector(), req->address(), actor, clock_.Now());
  if (!deleted.ok()) return server::ToGrpcStatus(deleted.status());
  ToProto(*deleted, resp->mutable_deleted());
  return grpc::Status::OK;
}

void SenderService::ToProto(const store::SuppressionRecord& s, v1::Suppression* out) {
  out->set_connector(s.connector);
  out->set_address(s.address);
  out->set_reason(s.reason);
  out->set_dsn_status(s.dsn_status);
  out->set_diagnostic(s.diagnostic);
  out->set_created_at_unix_ms(absl::ToUnixMillis(s.created_at));
  out->set_source_outbox_id(s.source_outbox_id);
  out->set_source_message_id(s.source_message_id);
}

grpc::Status SenderService::SendReply(grpc::ServerContext* ctx, const v1::SendReplyRequest* req,
                                      v1::SendReplyResponse* resp) {
  if (auth_ != nullptr) {
    auto p = server::Authorize(*ctx, *auth_, auth::Role::kOperator, "send a reply");
    if (!p.ok()) return server::ToGrpcStatus(p.status());
  }
  if (core_ == nullptr) {
    return server::ToGrpcStatus(absl::UnimplementedError("SendReply: no sender core"));
  }
  ReplyRequest r;
  r.work_item_id = req->work_item_id();
  r.text = req->text();
  r.html = req->html();
  r.cc.assign(req->cc().begin(), req->cc().end());
  r.idempotency_key = req->idempotency_key();
  for (const v1::ReplyAttachment& a : req->attachments()) {
    r.attachments.push_back({a.filename(), a.content_type(), a.content()});
  }
  absl::StatusOr<store::QueuedReply> queued = core_->SendReply(r);
  if (!queued.ok()) return server::ToGrpcStatus(queued.status());
  ToProto(queued->item, clock_.Now(), false, resp->mutable_item());
  resp->set_created(queued->created);
  return grpc::Status::OK;
}

}  // namespace postroom::sender
