#pragma once

#include "libs/auth/token_authenticator.h"
#include "libs/base/clock.h"
#include "libs/store/outbox_store.h"
#include "services/sender/core/sender_core.h"
#include "postroom/v1/sender.grpc.pb.h"

namespace postroom::sender {

// SenderService over gRPC: viewers list and read the outbox and the suppression list,
// operators retry, reply and delete suppressions. Proto <-> store
// records and status mapping; nothing else happens here.
class SenderService final : public v1::SenderService::Service {
 public:
  // `authenticator` null: no token checks (in-process tests only). `core` null: SendReply is
  // UNIMPLEMENTED (tests of the outbox views only).
  SenderService(store::OutboxStore& store, const auth::TokenAuthenticator* authenticator,
                Clock& clock, SenderCore* core = nullptr)
      : store_(store), auth_(authenticator), clock_(clock), core_(core) {}

  grpc::Status ListOutbox(grpc::ServerContext* ctx, const v1::ListOutboxRequest* req,
                          v1::ListOutboxResponse* resp) override;
  grpc::Status GetOutboxItem(grpc::ServerContext* ctx, const v1::GetOutboxItemRequest* req,
                             v1::GetOutboxItemResponse* resp) override;
  grpc::Status RetryNow(grpc::ServerContext* ctx, const v1::RetryNowRequest* req,
                        v1::RetryNowResponse* resp) override;
  grpc::Status ListSuppressions(grpc::ServerContext* ctx, const v1::ListSuppressionsRequest* req,
                                v1::ListSuppressionsResponse* resp) override;
  grpc::Status DeleteSuppression(grpc::ServerContext* ctx,
                                 const v1::DeleteSuppressionRequest* req,
                                 v1::DeleteSuppressionResponse* resp) override;
  grpc::Status SendReply(grpc::ServerContext* ctx, const v1::SendReplyRequest* req,
                         v1::SendReplyResponse* resp) override;

  // The item as the API shows it; `full` adds bodies and headers. SENDING while claimed.
  static void ToProto(const store::OutboxItem& item, absl::Time now, bool full,
                      v1::OutboxItem* out);
  static void ToProto(const store::SuppressionRecord& s, v1::Suppression* out);

 private:
  store::OutboxStore& store_;
  const auth::TokenAuthenticator* auth_;
  Clock& clock_;
  SenderCore* core_;
};

}  // namespace postroom::sender
