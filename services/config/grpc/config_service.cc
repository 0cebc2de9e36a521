#include "services/config/grpc/config_service.h"

#include "libs/base/status_macros.h"
#include "libs/server/authorize.h"
#include "libs/server/status.h"

namespace postroom::config {
namespace {

using auth::Role;

template <typename Response, typename T>
void SetApplied(Response* resp, const Applied<T>& applied, T* (Response::*mutable_object)()) {
  *(resp->*mutable_object)() = applied.object;
  resp->set_created(applied.created);
  for (const std::string& f : applied.changed_fields) resp->add_changed_fields(f);
}

template <typename Repeated, typename Items>
void CopyAll(Repeated* out, const Items& items) {
  for (const auto& item : items) *out->Add() = item;
}

}  // namespace

template <typename Fn>
grpc::Status ConfigService::Call(grpc::ServerContext* ctx, Role role, std::string_view action,
                                 Fn fn) {
  absl::StatusOr<auth::Principal> principal = server::Authorize(*ctx, auth_, role, action);
  if (!principal.ok()) return server::ToGrpcStatus(principal.status());
  return server::ToGrpcStatus(fn(Actor{principal->name}));
}

grpc::Status ConfigService::ApplyConnector(grpc::ServerContext* ctx,
                                           const v1::ApplyConnectorRequest* req,
                                           v1::ApplyConnectorResponse* resp) {
  return Call(ctx, Role::kAdmin, "changing a connector", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto applied,
                              core_.ApplyConnector(a, req->connector(), req->expected_version()));
    SetApplied(resp, applied, &v1::ApplyConnectorResponse::mutable_connector);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::GetConnector(grpc::ServerContext* ctx,
                                         const v1::GetConnectorRequest* req,
                                         v1::GetConnectorResponse* resp) {
  return Call(ctx, Role::kViewer, "reading connectors", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto got, core_.GetConnector(req->name()));
    *resp->mutable_connector() = got.first;
    CopyAll(resp->mutable_routes(), got.second);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::ListConnectors(grpc::ServerContext* ctx,
                                           const v1::ListConnectorsRequest*,
                                           v1::ListConnectorsResponse* resp) {
  return Call(ctx, Role::kViewer, "reading connectors", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto all, core_.ListConnectors());
    CopyAll(resp->mutable_connectors(), all);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::DeleteConnector(grpc::ServerContext* ctx,
                                            const v1::DeleteConnectorRequest* req,
                                            v1::DeleteConnectorResponse* resp) {
  return Call(ctx, Role::kAdmin, "deleting a connector", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(store::StoredMail removed,
                              core_.DeleteConnector(a, req->name(), req->expected_version(),
                                                    req->purge()));
    resp->set_purged_messages(removed.messages);
    resp->set_purged_work_items(removed.work_items);
    resp->set_purged_outbox(removed.outbox);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::EnableConnector(grpc::ServerContext* ctx,
                                            const v1::EnableConnectorRequest* req,
                                            v1::EnableConnectorResponse* resp) {
  return Call(ctx, Role::kOperator, "enabling a connector", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp->mutable_connector(), core_.EnableConnector(a, req->name()));
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::DisableConnector(grpc::ServerContext* ctx,
                                             const v1::DisableConnectorRequest* req,
                                             v1::DisableConnectorResponse* resp) {
  return Call(ctx, Role::kOperator, "disabling a connector", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp->mutable_connector(), core_.DisableConnector(a, req->name()));
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::TestConnector(grpc::ServerContext* ctx,
                                          const v1::TestConnectorRequest* req,
                                          v1::TestConnectorResponse* resp) {
  return Call(ctx, Role::kOperator, "testing a connector", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp, core_.TestConnector(a, req->name()));
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::ApplyRoute(grpc::ServerContext* ctx, const v1::ApplyRouteRequest* req,
                                       v1::ApplyRouteResponse* resp) {
  return Call(ctx, Role::kAdmin, "changing a route", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto applied,
                              core_.ApplyRoute(a, req->route(), req->expected_version()));
    SetApplied(resp, applied, &v1::ApplyRouteResponse::mutable_route);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::GetRoute(grpc::ServerContext* ctx, const v1::GetRouteRequest* req,
                                     v1::GetRouteResponse* resp) {
  return Call(ctx, Role::kViewer, "reading routes", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp->mutable_route(), core_.GetRoute(req->connector(), req->name()));
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::ListRoutes(grpc::ServerContext* ctx, const v1::ListRoutesRequest* req,
                                       v1::ListRoutesResponse* resp) {
  return Call(ctx, Role::kViewer, "reading routes", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto routes, core_.ListRoutes(req->connector()));
    CopyAll(resp->mutable_routes(), routes);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::DeleteRoute(grpc::ServerContext* ctx,
                                        const v1::DeleteRouteRequest* req,
                                        v1::DeleteRouteResponse*) {
  return Call(ctx, Role::kAdmin, "deleting a route", [&](const Actor& a) {
    return core_.DeleteRoute(a, req->connector(), req->name(), req->expected_version());
  });
}

grpc::Status ConfigService::MoveRoute(grpc::ServerContext* ctx, const v1::MoveRouteRequest* req,
                                      v1::MoveRouteResponse* resp) {
  return Call(ctx, Role::kAdmin, "moving a route", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(
        auto routes, core_.MoveRoute(a, req->connector(), req->name(), req->before(), req->after()));
    CopyAll(resp->mutable_routes(), routes);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::ApplyTemplate(grpc::ServerContext* ctx,
                                          const v1::ApplyTemplateRequest* req,
                                          v1::ApplyTemplateResponse* resp) {
  return Call(ctx, Role::kAdmin, "changing a template", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto applied,
                              core_.ApplyTemplate(a, req->template_(), req->expected_version()));
    SetApplied(resp, applied, &v1::ApplyTemplateResponse::mutable_template_);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::GetTemplate(grpc::ServerContext* ctx,
                                        const v1::GetTemplateRequest* req,
                                        v1::GetTemplateResponse* resp) {
  return Call(ctx, Role::kViewer, "reading templates", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp->mutable_template_(), core_.GetTemplate(req->name()));
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::ListTemplates(grpc::ServerContext* ctx,
                                          const v1::ListTemplatesRequest*,
                                          v1::ListTemplatesResponse* resp) {
  return Call(ctx, Role::kViewer, "reading templates", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto all, core_.ListTemplates());
    CopyAll(resp->mutable_templates(), all);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::DeleteTemplate(grpc::ServerContext* ctx,
                                           const v1::DeleteTemplateRequest* req,
                                           v1::DeleteTemplateResponse*) {
  return Call(ctx, Role::kAdmin, "deleting a template", [&](const Actor& a) {
    return core_.DeleteTemplate(a, req->name(), req->expected_version());
  });
}

grpc::Status ConfigService::ApplyBlockedAddress(grpc::ServerContext* ctx,
                                                const v1::ApplyBlockedAddressRequest* req,
                                                v1::ApplyBlockedAddressResponse* resp) {
  return Call(ctx, Role::kAdmin, "blocking an address", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(
        auto applied, core_.ApplyBlockedAddress(a, req->blocked_address(), req->expected_version()));
    SetApplied(resp, applied, &v1::ApplyBlockedAddressResponse::mutable_blocked_address);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::ListBlockedAddresses(grpc::ServerContext* ctx,
                                                 const v1::ListBlockedAddressesRequest*,
                                                 v1::ListBlockedAddressesResponse* resp) {
  return Call(ctx, Role::kViewer, "reading blocked addresses", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto all, core_.ListBlockedAddresses());
    CopyAll(resp->mutable_blocked_addresses(), all);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::DeleteBlockedAddress(grpc::ServerContext* ctx,
                                                 const v1::DeleteBlockedAddressRequest* req,
                                                 v1::DeleteBlockedAddressResponse*) {
  return Call(ctx, Role::kAdmin, "unblocking an address",
              [&](const Actor& a) { return core_.DeleteBlockedAddress(a, req->pattern()); });
}

grpc::Status ConfigService::ApplySetting(grpc::ServerContext* ctx,
                                         const v1::ApplySettingRequest* req,
                                         v1::ApplySettingResponse* resp) {
  return Call(ctx, Role::kAdmin, "changing a setting", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto applied,
                              core_.ApplySetting(a, req->setting(), req->expected_version()));
    SetApplied(resp, applied, &v1::ApplySettingResponse::mutable_setting);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::ListSettings(grpc::ServerContext* ctx, const v1::ListSettingsRequest*,
                                         v1::ListSettingsResponse* resp) {
  return Call(ctx, Role::kViewer, "reading settings", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto all, core_.ListSettings());
    CopyAll(resp->mutable_settings(), all);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::GetHistory(grpc::ServerContext* ctx, const v1::GetHistoryRequest* req,
                                       v1::GetHistoryResponse* resp) {
  return Call(ctx, Role::kViewer, "reading history", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(
        auto entries, core_.GetHistory(req->kind(), req->object(), static_cast<int>(req->limit())));
    CopyAll(resp->mutable_entries(), entries);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::ApplyWebhook(grpc::ServerContext* ctx,
                                         const v1::ApplyWebhookRequest* req,
                                         v1::ApplyWebhookResponse* resp) {
  return Call(ctx, Role::kAdmin, "changing a webhook", [&](const Actor& a) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto applied,
                              core_.ApplyWebhook(a, req->webhook(), req->expected_version()));
    SetApplied(resp, applied, &v1::ApplyWebhookResponse::mutable_webhook);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::GetWebhook(grpc::ServerContext* ctx, const v1::GetWebhookRequest* req,
                                       v1::GetWebhookResponse* resp) {
  return Call(ctx, Role::kViewer, "reading webhooks", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(*resp->mutable_webhook(), core_.GetWebhook(req->name()));
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::ListWebhooks(grpc::ServerContext* ctx, const v1::ListWebhooksRequest*,
                                         v1::ListWebhooksResponse* resp) {
  return Call(ctx, Role::kViewer, "reading webhooks", [&](const Actor&) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto all, core_.ListWebhooks());
    CopyAll(resp->mutable_webhooks(), all);
    return absl::OkStatus();
  });
}

grpc::Status ConfigService::DeleteWebhook(grpc::ServerContext* ctx,
                                          const v1::DeleteWebhookRequest* req,
                                          v1::DeleteWebhookResponse*) {
  return Call(ctx, Role::kAdmin, "deleting a webhook", [&](const Actor& a) {
    return core_.DeleteWebhook(a, req->name(), req->expected_version());
  });
}

}  // namespace postroom::config
