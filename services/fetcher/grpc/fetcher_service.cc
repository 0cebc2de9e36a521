#include "services/fetcher/grpc/fetcher_service.h"

#include "absl/strings/str_cat.h"
#include "libs/server/authorize.h"
#include "libs/server/status.h"

namespace postroom::fetcher {
namespace {

int64_t MsOrZero(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return 0;
  return absl::ToUnixMillis(t);
}

}  // namespace

grpc::Status FetcherService::ListOwners(grpc::ServerContext* ctx, const v1::ListOwnersRequest*,
                                        v1::ListOwnersResponse* resp) {
  if (auth_ != nullptr) {
    auto p = server::Authorize(*ctx, *auth_, auth::Role::kViewer, "list fetcher owners");
    if (!p.ok()) return server::ToGrpcStatus(p.status());
  }
  absl::StatusOr<std::vector<store::LeaseView>> leases = store_.ListLeases();
  if (!leases.ok()) return server::ToGrpcStatus(leases.status());
  std::vector<OwnedConnector> mine = core_.Owned();
  const absl::Time now = clock_.Now();
  resp->set_replica(core_.replica());
  for (const store::LeaseView& l : *leases) {
    v1::ConnectorOwner* o = resp->add_owners();
    o->set_connector(l.connector);
    o->set_owner(l.owner);
    o->set_fencing_token(l.fencing_token);
    o->set_expires_at_unix_ms(MsOrZero(l.expires_at));
    o->set_live(l.expires_at > now);
    for (const OwnedConnector& m : mine) {
      if (m.connector != l.connector || l.owner != core_.replica()) continue;
      o->set_next_poll_unix_ms(MsOrZero(m.next_poll));
      o->set_cool_off_until_unix_ms(MsOrZero(m.cool_off_until));
      o->set_polling(m.polling);
      o->set_consecutive_errors(static_cast<uint32_t>(m.consecutive_errors));
    }
  }
  return grpc::Status::OK;
}

grpc::Status FetcherService::PollNow(grpc::ServerContext* ctx, const v1::PollNowRequest* req,
                                     v1::PollNowResponse* resp) {
  if (auth_ != nullptr) {
    auto p = server::Authorize(*ctx, *auth_, auth::Role::kOperator, "poll a connector now");
    if (!p.ok()) return server::ToGrpcStatus(p.status());
  }
  if (req->connector().empty()) {
    return server::ToGrpcStatus(absl::InvalidArgumentError("connector: required"));
  }
  absl::Status st = core_.PollNow(req->connector());
  if (st.ok()) {
    resp->set_replica(core_.replica());
    return grpc::Status::OK;
  }
  absl::StatusOr<std::vector<store::LeaseView>> leases = store_.ListLeases();
  if (leases.ok()) {
    for (const store::LeaseView& l : *leases) {
      if (l.connector == req->connector() && l.expires_at > clock_.Now()) {
        return server::ToGrpcStatus(absl::FailedPreconditionError(
            absl::StrCat("connector \"", l.connector, "\" is polled by replica ", l.owner,
                         ", not by ", core_.replica(), "; send PollNow to that replica")));
      }
    }
  }
  return server::ToGrpcStatus(absl::NotFoundError(absl::StrCat(
      "connector \"", req->connector(),
      "\" is not leased by any fetcher replica: is it active and incoming? (leases are taken "
      "within a few seconds of enabling)")));
}

}  // namespace postroom::fetcher
