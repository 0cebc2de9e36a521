#pragma once

#include "libs/auth/token_authenticator.h"
#include "postroom/v1/config.grpc.pb.h"
#include "services/config/core/config_core.h"

namespace postroom::config {

// ConfigService over gRPC: checks the caller's token and role, then hands the request to the
// core. Viewers read; operators also enable, disable and test connectors; admins change
// everything. Nothing else happens here.
class ConfigService final : public v1::ConfigService::Service {
 public:
  ConfigService(ConfigCore& core, const auth::TokenAuthenticator& authenticator)
      : core_(core), auth_(authenticator) {}

  grpc::Status ApplyConnector(grpc::ServerContext* ctx, const v1::ApplyConnectorRequest* req,
                              v1::ApplyConnectorResponse* resp) override;
  grpc::Status GetConnector(grpc::ServerContext* ctx, const v1::GetConnectorRequest* req,
                            v1::GetConnectorResponse* resp) override;
  grpc::Status ListConnectors(grpc::ServerContext* ctx, const v1::ListConnectorsRequest* req,
                              v1::ListConnectorsResponse* resp) override;
  grpc::Status DeleteConnector(grpc::ServerContext* ctx, const v1::DeleteConnectorRequest* req,
                               v1::DeleteConnectorResponse* resp) override;
  grpc::Status EnableConnector(grpc::ServerContext* ctx, const v1::EnableConnectorRequest* req,
                               v1::EnableConnectorResponse* resp) override;
  grpc::Status DisableConnector(grpc::ServerContext* ctx, const v1::DisableConnectorRequest* req,
                                v1::DisableConnectorResponse* resp) override;
  grpc::Status TestConnector(grpc::ServerContext* ctx, const v1::TestConnectorRequest* req,
                             v1::TestConnectorResponse* resp) override;
  grpc::Status ApplyRoute(grpc::ServerContext* ctx, const v1::ApplyRouteRequest* req,
                          v1::ApplyRouteResponse* resp) override;
  grpc::Status GetRoute(grpc::ServerContext* ctx, const v1::GetRouteRequest* req,
                        v1::GetRouteResponse* resp) override;
  grpc::Status ListRoutes(grpc::ServerContext* ctx, const v1::ListRoutesRequest* req,
                          v1::ListRoutesResponse* resp) override;
  grpc::Status DeleteRoute(grpc::ServerContext* ctx, const v1::DeleteRouteRequest* req,
                           v1::DeleteRouteResponse* resp) override;
  grpc::Status MoveRoute(grpc::ServerContext* ctx, const v1::MoveRouteRequest* req,
                         v1::MoveRouteResponse* resp) override;
  grpc::Status ApplyTemplate(grpc::ServerContext* ctx, const v1::ApplyTemplateRequest* req,
                             v1::ApplyTemplateResponse* resp) override;
  grpc::Status GetTemplate(grpc::ServerContext* ctx, const v1::GetTemplateRequest* req,
                           v1::GetTemplateResponse* resp) override;
  grpc::Status ListTemplates(grpc::ServerContext* ctx, const v1::ListTemplatesRequest* req,
                             v1::ListTemplatesResponse* resp) override;
  grpc::Status DeleteTemplate(grpc::ServerContext* ctx, const v1::DeleteTemplateRequest* req,
                              v1::DeleteTemplateResponse* resp) override;
  grpc::Status ApplyBlockedAddress(grpc::ServerContext* ctx,
                                   const v1::ApplyBlockedAddressRequest* req,
                                   v1::ApplyBlockedAddressResponse* resp) override;
  grpc::Status ListBlockedAddresses(grpc::ServerContext* ctx,
                                    const v1::ListBlockedAddressesRequest* req,
                                    v1::ListBlockedAddressesResponse* resp) override;
  grpc::Status DeleteBlockedAddress(grpc::ServerContext* ctx,
                                    const v1::DeleteBlockedAddressRequest* req,
                                    v1::DeleteBlockedAddressResponse* resp) override;
  grpc::Status ApplySetting(grpc::ServerContext* ctx, const v1::ApplySettingRequest* req,
                            v1::ApplySettingResponse* resp) override;
  grpc::Status ListSettings(grpc::ServerContext* ctx, const v1::ListSettingsRequest* req,
                            v1::ListSettingsResponse* resp) override;
  grpc::Status GetHistory(grpc::ServerContext* ctx, const v1::GetHistoryRequest* req,
                          v1::GetHistoryResponse* resp) override;

  grpc::Status ApplyWebhook(grpc::ServerContext* ctx, const v1::ApplyWebhookRequest* req,
                            v1::ApplyWebhookResponse* resp) override;
  grpc::Status GetWebhook(grpc::ServerContext* ctx, const v1::GetWebhookRequest* req,
                          v1::GetWebhookResponse* resp) override;
  grpc::Status ListWebhooks(grpc::ServerContext* ctx, const v1::ListWebhooksRequest* req,
                            v1::ListWebhooksResponse* resp) override;
  grpc::Status DeleteWebhook(grpc::ServerContext* ctx, const v1::DeleteWebhookRequest* req,
                             v1::DeleteWebhookResponse* resp) override;

 private:
  // Authorizes, then runs fn with the caller as actor; maps its status.
  template <typename Fn>
  grpc::Status Call(grpc::ServerContext* ctx, auth::Role role, std::string_view action, Fn fn);

  ConfigCore& core_;
  const auth::TokenAuthenticator& auth_;
};

}  // namespace postroom::config
