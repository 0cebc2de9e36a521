#include "services/sender/grpc/sender_service.h"

#include <algorithm>

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
    default:
      return server::ToGrpcStatus(absl::InvalidArgumentError(
          "state: one of queued, sent, failed, cancelled (items being sent are queued)"));
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

}  // namespace postroom::sender
