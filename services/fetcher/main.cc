// postroom-fetcher: polls the enabled incoming connectors this replica holds leases for, stores
// every new message in PostgreSQL before the mailbox is told anything, and asks the router to
// route it. Any number of replicas share the connectors through leases (docs/fetcher.md).
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "libs/auth/token_authenticator.h"
#include "libs/base/log.h"
#include "libs/connector/fields.h"
#include "libs/base/status_macros.h"
#include "libs/base/wakeup.h"
#include "libs/secrets/keyring.h"
#include "libs/secrets/secret_opener.h"
#include "libs/server/server.h"
#include "libs/server/service_flags.h"
#include "libs/store/database.h"
#include "libs/store/listen.h"
#include "libs/store/migrations.h"
#include "libs/store/migrator.h"
#include "libs/store/pg_fetch_store.h"
#include "libs/store/pg_secret_writer.h"
#include "services/fetcher/core/fetcher_core.h"
#include "services/fetcher/fetcher_metrics.h"
#include "services/fetcher/grpc/fetcher_service.h"
#include "services/fetcher/mail_adapters.h"
#include "services/fetcher/router_client.h"
#include "services/fetcher/thread_runner.h"

ABSL_FLAG(std::string, replica, "",
          "lease owner name, unique per replica (default $POSTROOM_FETCHER_REPLICA, else "
          "$HOSTNAME-<pid>)");
ABSL_FLAG(int, lease_period_s, 0, "lease period (default $POSTROOM_FETCHER_LEASE_PERIOD_S or 30)");
ABSL_FLAG(int, lease_round_ms, 0,
          "time between lease rounds (default $POSTROOM_FETCHER_LEASE_ROUND_MS or 3000)");
ABSL_FLAG(int, workers, 0, "connectors polled at once (default $POSTROOM_FETCHER_WORKERS or 4)");
// 16: with 4, routing 10,000 fresh messages finished 30 s after storing them (48 s vs 18 s,
// bench/fetcher/run.sh); with 16 it kept pace (24.5 s vs 23.8 s, same box, busier).
ABSL_FLAG(int, route_threads, 16, "concurrent RouteEmail calls");
ABSL_FLAG(int, route_stream_window, 2,
          "RouteEmail requests in flight on one routing thread's stream (1: wait for each answer)");
ABSL_FLAG(int, route_queue_raw_mib, 32,
          "MiB of stored bytes queued and in-flight RouteEmail calls may hold to hand the router "
          "(past it the router reads them back from PostgreSQL)");
ABSL_FLAG(int, try_backoff_ms, 1000,
          "pause after a poll's first failed try, doubling after each next one (at most 30 s): "
          "the settings' max_tries are spaced, not back to back (0: no pause)");
ABSL_FLAG(int, route_inline_max_mib, 4,
          "messages larger than this many MiB go to the router by id alone (it reads them from "
          "PostgreSQL), never over its receive limit");
ABSL_FLAG(int, route_raw_wait_ms, 1000,
          "how long storing may wait for room under --route_queue_raw_mib while the router "
          "answers (0: never wait; the bytes are dropped and the router reads them back)");
ABSL_FLAG(std::string, router_ca_file, "",
          "PEM roots to verify the router's TLS certificate with; set, the fetcher calls the "
          "router over TLS (default $POSTROOM_CA_FILE; empty: plaintext)");
ABSL_FLAG(int, batch_messages, 200, "messages per stored batch (one transaction)");
ABSL_FLAG(int, fetch_batch, 200, "UIDs per pipelined IMAP UID FETCH command");
ABSL_FLAG(bool, imap_idle, true,
          "after a poll, wait in IMAP IDLE (when the server offers it) so new mail is fetched at "
          "once; the poll interval stays as the safety net");

namespace postroom {
namespace {

int Fail(const absl::Status& st) { return server::ExitWith("postroom-fetcher", st); }

using server::IntSetting;

int Serve(const server::CommonSettings& s) {
  const absl::Duration lease_period = absl::Seconds(
      IntSetting(absl::GetFlag(FLAGS_lease_period_s), "POSTROOM_FETCHER_LEASE_PERIOD_S", 30));
  const absl::Duration lease_round = absl::Milliseconds(
      IntSetting(absl::GetFlag(FLAGS_lease_round_ms), "POSTROOM_FETCHER_LEASE_ROUND_MS", 3000));
  if (absl::Status st = fetcher::CheckLeaseTiming(lease_period, lease_round); !st.ok()) {
    return Fail(st);
  }
  if (absl::Status st = server::RequireDatabase(s); !st.ok()) return Fail(st);
  absl::StatusOr<std::unique_ptr<auth::TokenAuthenticator>> authenticator =
      server::LoadAuthenticator();
  if (!authenticator.ok()) return Fail(authenticator.status());

  absl::StatusOr<secrets::Keyring> keyring = server::LoadKeyring();
  if (!keyring.ok()) return Fail(keyring.status());

  const std::string replica =
      server::ReplicaName(absl::GetFlag(FLAGS_replica), "POSTROOM_FETCHER_REPLICA", "fetcher");
  const int workers = IntSetting(absl::GetFlag(FLAGS_workers), "POSTROOM_FETCHER_WORKERS", 4);

  store::Database db({.uri = s.database,
                      .pool_size = workers + 3,
                      // pg_stat_activity tells the replicas' connections apart.
                      .application_name = "postroom-fetcher/" + replica,
                      .idle_in_transaction_timeout = lease_period});
  if (absl::Status st = store::RequireSchemaVersion(db, store::LatestSchemaVersion()); !st.ok()) {
    return Fail(st);
  }
  store::PgFetchStore store(db);
  mail::FetchOptions fetch;
  fetch.batch_size = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_fetch_batch)));
  fetcher::PrometheusObserver observer(replica);
  // A rotated refresh token is sealed like config seals it (same key file, same associated
  // data) and written before its access token is used.
  store::PgSecretWriter secret_writer(db);
  mail::OAuthTokens oauth({
      .persist = [&](const std::string& connector, const std::string& rt) {
        return secret_writer.WriteRefreshToken(*keyring, connector, rt);
      },
      .issued = [&](const std::string& c, absl::Time at) { observer.TokenIssued(c, at); },
      .failed = [&](const std::string& c, const absl::Status&) { observer.TokenFailed(c); },
  });
  fetcher::LibMailConnector mail_connector(fetch, &oauth);
  secrets::KeyringSecretOpener opener(*keyring);
  server::ClientTls router_tls;
  router_tls.ca_file = absl::GetFlag(FLAGS_router_ca_file);
  if (router_tls.ca_file.empty()) router_tls.ca_file = server::EnvOr("POSTROOM_CA_FILE", "");
  if (absl::Status st = server::ClientCredentials(router_tls).status(); !st.ok()) return Fail(st);
  fetcher::GrpcRouteSink router(
      {.address = server::EnvOr("POSTROOM_ROUTER_ADDR", "127.0.0.1:50052"),
       .token = server::EnvOr("POSTROOM_TOKEN", ""),
       .tls = router_tls,
       .threads = std::max(1, absl::GetFlag(FLAGS_route_threads)),
       .max_queued_raw_bytes =
           static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_route_queue_raw_mib))) << 20,
       .max_inline_raw_bytes =
           static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_route_inline_max_mib))) << 20,
       .raw_room_wait = absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_route_raw_wait_ms))),
       .stream_window = std::max(1, absl::GetFlag(FLAGS_route_stream_window))});
  fetcher::CoreOptions core_options;
  core_options.replica = replica;
  core_options.lease_period = lease_period;
  core_options.batch_messages =
      static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_batch_messages)));
  core_options.imap_idle = absl::GetFlag(FLAGS_imap_idle);
  core_options.try_backoff = absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_try_backoff_ms)));
  core_options.sleep = [](absl::Duration d) { absl::SleepFor(d); };
  fetcher::ThreadRunner idle_threads;
  fetcher::FetcherCore core(core_options, {.store = &store,
                                           .mail = &mail_connector,
                                           .secrets = &opener,
                                           .router = &router,
                                           .observer = &observer,
                                           .clock = &RealClock(),
                                           .idle_runner = &idle_threads});
  fetcher::FetcherService service(core, store, authenticator->get(), RealClock());

  Wakeup lease_wake, work_wake;
  std::atomic<int64_t> last_round_ok_ms{0};
  std::thread lease_thread([&] {
    do {
      absl::Status st = core.RunLeaseRound();
      if (st.ok()) {
        last_round_ok_ms = absl::ToUnixMillis(absl::Now());
        work_wake.Notify();
      } else {
        LogWarning("lease_round_failed",
                   {{"replica", replica}, {"error", std::string(st.message())}});
      }
    } while (lease_wake.Wait(lease_round));
  });
  // A NOTIFY from the connectors trigger (migration 0004) wakes the lease loop and the workers,
  // so new, changed and disabled connectors are picked up at once, not at the next round.
  std::thread listen_thread([&] {
    store::ListenUntilStopped(s.database, "postroom_connectors", lease_wake, {&work_wake});
  });
  std::vector<std::thread> pool;
  for (int i = 0; i < workers; ++i) {
    pool.emplace_back([&] {
      while (!work_wake.stopping()) {
        fetcher::PollReport r = core.RunOneDue();
        if (r.outcome != fetcher::PollOutcome::kNothingDue) continue;
        absl::Duration wait = std::clamp(core.NextDue() - absl::Now(), absl::Milliseconds(1),
                                         absl::Milliseconds(500));
        work_wake.Wait(wait);
      }
    });
  }
  LogInfo("fetcher_started", {{"replica", replica}, {"workers", std::to_string(workers)}});

  server::ServerOptions options = server::ServerOptionsFor("fetcher", s, &db, authenticator->get());
  options.readiness = [&]() -> absl::Status {
    POSTROOM_RETURN_IF_ERROR(store::RequireSchemaVersion(db, store::LatestSchemaVersion()));
    if (last_round_ok_ms.load() == 0) return absl::UnavailableError("no lease round yet");
    int64_t age_ms = absl::ToUnixMillis(absl::Now()) - last_round_ok_ms.load();
    if (age_ms > absl::ToInt64Milliseconds(lease_period)) {
      return absl::UnavailableError(
          absl::StrCat("no successful lease round for ", age_ms, " ms; leases may have expired"));
    }
    return absl::OkStatus();
  };
  absl::Status st = server::Serve(options, {&service});
  lease_wake.Stop();
  work_wake.Stop();
  lease_thread.join();
  listen_thread.join();
  for (auto& t : pool) t.join();
  if (absl::Status rel = core.ReleaseAll(); !rel.ok()) {
    LogWarning("release_failed", {{"error", std::string(rel.message())}});
  }
  idle_threads.JoinAll();  // ReleaseAll told every IDLE to stop
  LogInfo("fetcher_stopped", {{"replica", replica}});
  if (!st.ok()) return Fail(st);
  return 0;
}

}  // namespace
}  // namespace postroom

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "postroom-fetcher: polls IMAP and POP3 mailboxes of the active incoming connectors, stores "
      "each message in PostgreSQL, then asks the router to route it.\n"
      "Usage: postroom-fetcher [flags]   (gRPC 50053: ListOwners, PollNow; metrics 9103)");
  postroom::server::ParseFlags(argc, argv);
  postroom::server::CommonSettings settings =
      postroom::server::ResolveCommonSettings("fetcher", 50053, 9103);
  return postroom::Serve(settings);
}
