#pragma once

// RouterService over gRPC: authorizes each call, hands it to the core, maps the status.
// Roles: viewer reads (GetMessage, ListMessages, GetWorkItem, ListWorkItems, WatchWorkItems,
// ExplainRoute, ListAttachments, GetAttachment, GetRawMessage); operator writes (RouteEmail,
// RouteStream, Reprocess, SetSpamStatus); admin: ForgetAddress.
// Thread-safe.
#include <atomic>

#include <grpcpp/grpcpp.h>

#include "libs/auth/token_authenticator.h"
#include "libs/server/stream_registry.h"
#include "postroom/v1/router.grpc.pb.h"
#include "services/router/core/router_core.h"

namespace postroom::router {

class RouterService final : public v1::RouterService::Service {
 public:
  // `watch_poll`: how often WatchWorkItems looks for new events. `streams` (may be null: no
  // bound) counts the RouteStream and WatchWorkItems streams open per token.
  RouterService(Router& router, const auth::TokenAuthenticator& auth,
                absl::Duration watch_poll = absl::Milliseconds(250),
                server::StreamRegistry* streams = nullptr)
      : router_(router), auth_(auth), watch_poll_(watch_poll), streams_(streams) {}

  grpc::Status RouteEmail(grpc::ServerContext* ctx, const v1::RouteEmailRequest* req,
                          v1::RouteEmailResponse* resp) override;
  grpc::Status RouteStream(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::RouteStreamResult, v1::RouteEmailRequest>* stream) override;
  grpc::Status ExplainRoute(grpc::ServerContext* ctx, const v1::ExplainRouteRequest* req,
                            v1::ExplainRouteResponse* resp) override;
  grpc::Status GetMessage(grpc::ServerContext* ctx, const v1::GetMessageRequest* req,
                          v1::GetMessageResponse* resp) override;
  grpc::Status ListMessages(grpc::ServerContext* ctx, const v1::ListMessagesRequest* req,
                            v1::ListMessagesResponse* resp) override;
  grpc::Status Reprocess(grpc::ServerContext* ctx, const v1::ReprocessRequest* req,
                         v1::ReprocessResponse* resp) override;
  grpc::Status SetSpamStatus(grpc::ServerContext* ctx, const v1::SetSpamStatusRequest* req,
                             v1::SetSpamStatusResponse* resp) override;
  grpc::Status GetWorkItem(grpc::ServerContext* ctx, const v1::GetWorkItemRequest* req,
                           v1::GetWorkItemResponse* resp) override;
  grpc::Status ListWorkItems(grpc::ServerContext* ctx, const v1::ListWorkItemsRequest* req,
                             v1::ListWorkItemsResponse* resp) override;
  grpc::Status WatchWorkItems(grpc::ServerContext* ctx, const v1::WatchWorkItemsRequest* req,
                              grpc::ServerWriter<v1::WorkItemEvent>* writer) override;
  // Admin: erasure on request, audited under the caller's name.
  grpc::Status ForgetAddress(grpc::ServerContext* ctx, const v1::ForgetAddressRequest* req,
                             v1::ForgetAddressResponse* resp) override;
  // Attachments: the downloads hold a place in `streams` like the other streams, since each
  // holds a message's bytes while it runs.
  grpc::Status ListAttachments(grpc::ServerContext* ctx, const v1::ListAttachmentsRequest* req,
                               v1::ListAttachmentsResponse* resp) override;
  grpc::Status GetAttachment(grpc::ServerContext* ctx, const v1::GetAttachmentRequest* req,
                             grpc::ServerWriter<v1::DataChunk>* writer) override;
  grpc::Status GetRawMessage(grpc::ServerContext* ctx, const v1::GetRawMessageRequest* req,
                             grpc::ServerWriter<v1::DataChunk>* writer) override;

 private:
  template <typename Fn>
  grpc::Status Call(grpc::ServerContext* ctx, auth::Role role, std::string_view action, Fn fn);
  // As Call, holding a place in streams_ while fn runs.
  template <typename Fn>
  grpc::Status Stream(grpc::ServerContext* ctx, auth::Role role, std::string_view action,
                      std::string_view method, Fn fn);

  Router& router_;
  const auth::TokenAuthenticator& auth_;
  absl::Duration watch_poll_;
  server::StreamRegistry* streams_;
};

}  // namespace postroom::router
