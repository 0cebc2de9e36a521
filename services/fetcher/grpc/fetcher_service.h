#pragma once

#include "libs/auth/token_authenticator.h"
#include "libs/store/fetch_store.h"
#include "postroom/v1/fetcher.grpc.pb.h"
#include "services/fetcher/core/fetcher_core.h"

namespace postroom::fetcher {

// FetcherService over gRPC: viewers list owners, operators poll now. Nothing else happens here.
class FetcherService final : public v1::FetcherService::Service {
 public:
  // `authenticator` null: no token checks (in-process tests only).
  FetcherService(FetcherCore& core, store::FetchStore& store,
                 const auth::TokenAuthenticator* authenticator, Clock& clock)
      : core_(core), store_(store), auth_(authenticator), clock_(clock) {}

  grpc::Status ListOwners(grpc::ServerContext* ctx, const v1::ListOwnersRequest* req,
                          v1::ListOwnersResponse* resp) override;
  grpc::Status PollNow(grpc::ServerContext* ctx, const v1::PollNowRequest* req,
                       v1::PollNowResponse* resp) override;

 private:
  FetcherCore& core_;
  store::FetchStore& store_;
  const auth::TokenAuthenticator* auth_;
  Clock& clock_;
};

}  // namespace postroom::fetcher
