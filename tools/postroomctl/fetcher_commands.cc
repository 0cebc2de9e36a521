// The fetcher commands: `owners` (which replica polls which connector) and `poll connector
// NAME` (poll now, on the replica that holds the lease).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "postroom/v1/fetcher.grpc.pb.h"
#include "tools/postroomctl/command.h"
#include "tools/postroomctl/printers.h"

namespace postroom::ctl {

void AddFetcherCommands(std::vector<Command>& commands);

namespace {

using Stub = v1::FetcherService::StubInterface;

template <typename Request, typename Response>
absl::StatusOr<Response> CallFetcher(Context& ctx,
                                     grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                                  const Request&, Response*),
                                     const Request& request) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelInterface>> channel =
      ctx.env().open_channel(ctx.connection().fetcher_addr, ctx.connection());
  if (!channel.ok()) return channel.status();
  std::unique_ptr<Stub> stub = v1::FetcherService::NewStub(*channel);
  return Call(*stub, method, request, ctx.call_options());
}

int FetcherError(Context& ctx, const absl::Status& status) {
  ctx.err() << FormatError(status, "fetcher", ctx.connection().fetcher_addr) << "\n";
  return ExitCodeFor(status);
}

std::string In(int64_t unix_ms, absl::Time now) {
  if (unix_ms == 0) return "-";
  absl::Duration d = absl::FromUnixMillis(unix_ms) - now;
  return d < absl::ZeroDuration() ? absl::StrCat(FormatAge(-d), " ago")
                                  : absl::StrCat("in ", FormatAge(d));
}

int RunOwners(Context& ctx) {
  auto r = CallFetcher(ctx, &Stub::ListOwners, v1::ListOwnersRequest());
  if (!r.ok()) return FetcherError(ctx, r.status());
  std::vector<std::vector<std::string>> rows;
  for (const v1::ConnectorOwner& o : r->owners()) {
    rows.push_back({o.connector(), o.owner().empty() ? "<none>" : o.owner(),
                    o.live() ? "yes" : "NO", absl::StrCat(o.fencing_token()),
                    In(o.expires_at_unix_ms(), ctx.Now()), In(o.next_poll_unix_ms(), ctx.Now()),
                    absl::StrCat(o.consecutive_errors())});
  }
  ctx.out() << "answered by replica " << r->replica() << "\n"
            << FormatTable({"CONNECTOR", "OWNER", "LIVE", "TOKEN", "LEASE-EXPIRES", "NEXT-POLL",
                            "ERRORS"},
                           rows);
  return kExitOk;
}

int RunPoll(Context& ctx) {
  const auto& pos = ctx.positionals();
  if (pos.size() != 2 || pos[0] != "connector") {
    return ctx.UsageError("usage: poll connector NAME");
  }
  v1::PollNowRequest req;
  req.set_connector(pos[1]);
  auto r = CallFetcher(ctx, &Stub::PollNow, req);
  if (!r.ok()) return FetcherError(ctx, r.status());
  ctx.out() << "connector/" << pos[1] << " will be polled now by replica " << r->replica() << "\n";
  return kExitOk;
}

}  // namespace

absl::StatusOr<v1::ListOwnersResponse> FetcherOwners(Context& ctx) {
  return CallFetcher(ctx, &Stub::ListOwners, v1::ListOwnersRequest());
}

void AddFetcherCommands(std::vector<Command>& commands) {
  commands.push_back(Command{
      .name = "owners",
      .usage = "owners",
      .summary = "which fetcher replica polls which connector",
      .help = "Lists every incoming connector with the replica holding its lease, the fencing\n"
              "token, when the lease expires, the next poll and the error count.\n"
              "Example: postroomctl owners",
      .run = RunOwners});
  commands.push_back(Command{
      .name = "poll",
      .usage = "poll connector NAME",
      .summary = "poll a connector now (ignores cool-off and skip windows)",
      .help = "Asks the fetcher to poll the connector at once. FAILED_PRECONDITION names the\n"
              "replica that holds the lease when the answering one does not.\n"
              "Example: postroomctl poll connector support",
      .run = RunPoll,
      .kinds = {"connector"}});
}

}  // namespace postroom::ctl
