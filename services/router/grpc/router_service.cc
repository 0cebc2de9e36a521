#include "services/router/grpc/router_service.h"

#include <optional>
#include <thread>
#include <type_traits>

#include "libs/base/status_macros.h"
#include "libs/server/authorize.h"
#include "libs/server/status.h"

namespace postroom::router {

using auth::Role;

template <typename Fn>
grpc::Status RouterService::Call(grpc::ServerContext* ctx, Role role, std::string_view action,
                                 Fn fn) {
  absl::StatusOr<auth::Principal> principal = server::Authorize(*ctx, auth_, role, action);
  if (!principal.ok()) return server::ToGrpcStatus(principal.status());
  if constexpr (std::is_invocable_v<Fn, const auth::Principal&>) {
    return server::ToGrpcStatus(fn(*principal));
  } else {
    return server::ToGrpcStatus(fn());
  }
}

template <typename Fn>
grpc::Status RouterService::Stream(grpc::ServerContext* ctx, Role role, std::string_view action,
                                   std::string_view method, Fn fn) {
  absl::StatusOr<auth::Principal> principal = server::Authorize(*ctx, auth_, role, action);
  if (!principal.ok()) return server::ToGrpcStatus(principal.status());
  std::optional<server::StreamRegistry::Lease> lease;
  if (streams_ != nullptr) {
    absl::StatusOr<server::StreamRegistry::Lease> opened = streams_->Open(*ctx, *principal, method);
    if (!opened.ok()) return server::ToGrpcStatus(opened.status());
    lease.emplace(*std::move(opened));
  }
  return server::ToGrpcStatus(fn());
}

grpc::Status RouterService::RouteEmail(grpc::ServerContext* ctx, const v1::RouteEmailRequest* req,
                                       v1::RouteEmailResponse* resp) {
  return Call(ctx, Role::kOperator, "routing email", [&]() -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp, router_.RouteEmail(*req));
    return absl::OkStatus();
  });
}

grpc::Status RouterService::RouteStream(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::RouteStreamResult, v1::RouteEmailRequest>* stream) {
  return Stream(ctx, Role::kOperator, "routing email", "RouteStream", [&]() -> absl::Status {
    v1::RouteEmailRequest req;
    v1::RouteStreamResult result;
    while (stream->Read(&req)) {
      result.Clear();
      absl::StatusOr<v1::RouteEmailResponse> routed = router_.RouteEmail(req);
      if (routed.ok()) {
        *result.mutable_response() = *std::move(routed);
      } else {
        grpc::Status st = server::ToGrpcStatus(routed.status());
        result.set_code(st.error_code());
        result.set_error(st.error_message());
      }
      if (!stream->Write(result)) break;  // The client went away.
    }
    return absl::OkStatus();
  });
}

grpc::Status RouterService::ExplainRoute(grpc::ServerContext* ctx,
                                         const v1::ExplainRouteRequest* req,
                                         v1::ExplainRouteResponse* resp) {
  return Call(ctx, Role::kViewer, "explaining a route", [&]() -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp->mutable_decision(), router_.ExplainRoute(*req));
    return absl::OkStatus();
  });
}

grpc::Status RouterService::GetMessage(grpc::ServerContext* ctx, const v1::GetMessageRequest* req,
                                       v1::GetMessageResponse* resp) {
  return Call(ctx, Role::kViewer, "reading messages", [&]() -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp->mutable_message(),
                              router_.GetMessage(req->id(), req->include_raw()));
    return absl::OkStatus();
  });
}

grpc::Status RouterService::ListMessages(grpc::ServerContext* ctx,
                                         const v1::ListMessagesRequest* req,
                                         v1::ListMessagesResponse* resp) {
  return Call(ctx, Role::kViewer, "reading messages", [&]() -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp, router_.ListMessages(*req));
    return absl::OkStatus();
  });
}

grpc::Status RouterService::Reprocess(grpc::ServerContext* ctx, const v1::ReprocessRequest* req,
                                      v1::ReprocessResponse* resp) {
  return Call(ctx, Role::kOperator, "reprocessing messages", [&]() -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp, router_.Reprocess(*req));
    return absl::OkStatus();
  });
}

grpc::Status RouterService::SetSpamStatus(grpc::ServerContext* ctx,
                                          const v1::SetSpamStatusRequest* req,
                                          v1::SetSpamStatusResponse* resp) {
  return Call(ctx, Role::kOperator, "marking spam", [&]() -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp, router_.SetSpamStatus(*req));
    return absl::OkStatus();
  });
}

grpc::Status RouterService::GetWorkItem(grpc::ServerContext* ctx,
                                        const v1::GetWorkItemRequest* req,
                                        v1::GetWorkItemResponse* resp) {
  return Call(ctx, Role::kViewer, "reading work items", [&]() -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp, router_.GetWorkItem(*req));
    return absl::OkStatus();
  });
}

grpc::Status RouterService::ListWorkItems(grpc::ServerContext* ctx,
                                          const v1::ListWorkItemsRequest* req,
                                          v1::ListWorkItemsResponse* resp) {
  return Call(ctx, Role::kViewer, "reading work items", [&]() -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp, router_.ListWorkItems(*req));
    return absl::OkStatus();
  });
}

grpc::Status RouterService::ForgetAddress(grpc::ServerContext* ctx,
                                          const v1::ForgetAddressRequest* req,
                                          v1::ForgetAddressResponse* resp) {
  return Call(ctx, Role::kAdmin, "forgetting an address",
              [&](const auth::Principal& p) -> absl::Status {
                POSTROOM_ASSIGN_OR_RETURN(*resp, router_.ForgetAddress(*req, p.name));
                return absl::OkStatus();
              });
}

grpc::Status RouterService::WatchWorkItems(grpc::ServerContext* ctx,
                                           const v1::WatchWorkItemsRequest* req,
                                           grpc::ServerWriter<v1::WorkItemEvent>* writer) {
  return Stream(ctx, Role::kViewer, "watching work items", "WatchWorkItems", [&]() -> absl::Status {
    int64_t after = req->after_id();
    if (after == 0) {
      POSTROOM_ASSIGN_OR_RETURN(after, router_.LatestEventId());
    }
    // Polls the store: events come from every router replica, not only this one.
    while (!ctx->IsCancelled()) {
      POSTROOM_ASSIGN_OR_RETURN(std::vector<v1::WorkItemEvent> events,
                                router_.WorkItemEvents(after, req->queue(), 500));
      for (const v1::WorkItemEvent& e : events) {
        if (!writer->Write(e)) return absl::OkStatus();  // The client went away.
        after = e.event_id();
      }
      if (events.size() < 500) std::this_thread::sleep_for(absl::ToChronoNanoseconds(watch_poll_));
    }
    return absl::OkStatus();
  });
}

namespace {

// Writes each chunk; the client going away ends the download.
Router::ChunkSink WriteTo(grpc::ServerWriter<v1::DataChunk>* writer) {
  return [writer](const v1::DataChunk& chunk) {
    if (writer->Write(chunk)) return absl::OkStatus();
    return absl::CancelledError("the client stopped reading the download");
  };
}

}  // namespace

grpc::Status RouterService::ListAttachments(grpc::ServerContext* ctx,
                                            const v1::ListAttachmentsRequest* req,
                                            v1::ListAttachmentsResponse* resp) {
  return Call(ctx, Role::kViewer, "reading attachments", [&]() -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp, router_.ListAttachments(*req));
    return absl::OkStatus();
  });
}

grpc::Status RouterService::GetAttachment(grpc::ServerContext* ctx,
                                          const v1::GetAttachmentRequest* req,
                                          grpc::ServerWriter<v1::DataChunk>* writer) {
  return Stream(ctx, Role::kViewer, "reading attachments", "GetAttachment",
                [&] { return router_.GetAttachment(*req, WriteTo(writer)); });
}

grpc::Status RouterService::GetRawMessage(grpc::ServerContext* ctx,
                                          const v1::GetRawMessageRequest* req,
                                          grpc::ServerWriter<v1::DataChunk>* writer) {
  return Stream(ctx, Role::kViewer, "reading messages", "GetRawMessage",
                [&] { return router_.GetRawMessage(*req, WriteTo(writer)); });
}

}  // namespace postroom::router
