// postroom-router: parses, classifies and routes every email into work items, over gRPC
// (RouterService, port 50052; metrics 9102). A background sweep routes messages the fetcher
// stored but could not hand over, so no stored message stays undecided; another removes the
// raw bytes and bodies of decided mail past its retention (retention.h).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "libs/auth/token_authenticator.h"
#include "libs/base/clock.h"
#include "libs/base/log.h"
#include "libs/base/watchdog.h"
#include "libs/connector/defaults.h"
#include "libs/secrets/reply_token.h"
#include "libs/server/server.h"
#include "libs/server/service_flags.h"
#include "libs/server/stream_registry.h"
#include "libs/store/database.h"
#include "libs/store/migrations.h"
#include "libs/store/migrator.h"
#include "libs/store/pg_router_store.h"
#include "services/router/connector_series.h"
#include "services/router/core/router_core.h"
#include "services/router/grpc/router_service.h"
#include "services/router/prometheus_metrics.h"
#include "services/router/retention.h"
#include "services/router/retention_metrics.h"

ABSL_FLAG(int, sweep_interval_ms, -1,
          "how often pending messages are swept (default $POSTROOM_ROUTER_SWEEP_INTERVAL_MS or "
          "2000; 0 turns the sweep off)");
ABSL_FLAG(int, sweep_min_age_s, -1,
          "a pending message is swept once it is this old (default "
          "$POSTROOM_ROUTER_SWEEP_MIN_AGE_S or 5)");
ABSL_FLAG(int, sweep_claim_timeout_s, -1,
          "a swept message whose routing has not finished this long after its claim may be "
          "claimed again, as a new attempt (default $POSTROOM_ROUTER_SWEEP_CLAIM_TIMEOUT_S or 60)");
// Tests only (tests/e2e/poison_e2e.sh), not among the documented flags: see
// RouterOptions::test_stall_on_subject.
ABSL_FLAG(std::string, test_stall_on_subject, "",
          "tests only: routing a stored message whose subject contains this sleeps for an hour");
ABSL_FLAG(int, routing_deadline_s, -1,
          "a stored message's routing attempt still running after this many seconds ends the "
          "process (exit 70), so the attempt counts and a message that hangs the router is "
          "decided failed after router_max_attempts restarts (default "
          "$POSTROOM_ROUTER_ROUTING_DEADLINE_S or 30; 0: off)");
ABSL_FLAG(int, retention_interval_s, -1,
          "how often the retention sweep runs (default $POSTROOM_ROUTER_RETENTION_INTERVAL_S or "
          "600; 0 turns it off)");
ABSL_FLAG(int, retention_batch, -1,
          "messages per retention sweep transaction (default $POSTROOM_ROUTER_RETENTION_BATCH or "
          "500; 1-10000)");
ABSL_FLAG(int, db_pool_size, 0, "database connections (default $POSTROOM_ROUTER_DB_POOL or 16)");

namespace postroom {
namespace {

int Fail(const absl::Status& st) { return server::ExitWith("postroom-router", st); }

// RouteEmail's receive limit when --max-receive-mib is not given: the largest incoming
// connector's max_message_bytes (validated at most 150 MiB; 25 MiB by default, and at least
// that so a connector applied later with the default fits) plus 1 MiB for the request's other
// fields, in whole MiB. Read once at start: a connector raised later needs a restart for
// `postroomctl route` of such mail, while the fetcher sends any message over 4 MiB by id alone
// and is never refused.
absl::StatusOr<int> ReceiveLimitMibFromConnectors(store::Database& db) {
  uint64_t largest = connector::kDefaults.max_message_bytes;
  absl::Status st = db.Transact([&](pqxx::work& t) {
    pqxx::row r = t.exec1(
        "SELECT coalesce(max((spec #>> '{settings,max_message_bytes}')::bigint), 0) "
        "FROM connectors WHERE direction IN ('incoming', 'both')");
    largest = std::max(largest, r[0].as<uint64_t>());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return static_cast<int>(std::min<uint64_t>(2047, (largest + (1 << 20) + (1 << 20) - 1) >> 20));
}

int IntSetting(int flag, const char* env, int fallback) {
  if (flag >= 0) return flag;
  return std::atoi(server::EnvOr(env, std::to_string(fallback)).c_str());
}

int Serve(const server::CommonSettings& s) {
  if (absl::Status st = server::RequireDatabase(s); !st.ok()) return Fail(st);
  absl::StatusOr<std::unique_ptr<auth::TokenAuthenticator>> authenticator =
      server::LoadAuthenticator();
  if (!authenticator.ok()) return Fail(authenticator.status());

  int pool = absl::GetFlag(FLAGS_db_pool_size);
  if (pool <= 0) pool = std::atoi(server::EnvOr("POSTROOM_ROUTER_DB_POOL", "16").c_str());
  store::Database db({.uri = s.database, .pool_size = pool,
                      .application_name = "postroom-router"});
  if (absl::Status st = store::RequireSchemaVersion(db, store::LatestSchemaVersion()); !st.ok()) {
    return Fail(st);
  }
  server::CommonSettings settings = s;
  if (settings.max_receive_mib == 0) {
    absl::StatusOr<int> mib = ReceiveLimitMibFromConnectors(db);
    if (!mib.ok()) return Fail(mib.status());
    settings.max_receive_mib = *mib;
  }
  LogInfo("receive_limit", {{"max_receive_mib", absl::StrCat(settings.max_receive_mib)},
                            {"from", s.max_receive_mib == 0 ? "connectors" : "setting"}});
  absl::StatusOr<std::string> reply_token_key = secrets::ReplyTokenKeyFromEnvironment();
  if (!reply_token_key.ok()) return Fail(reply_token_key.status());
  store::PgRouterStore store(db);
  router::PrometheusRouterMetrics metrics;
  const int sweep_ms = IntSetting(absl::GetFlag(FLAGS_sweep_interval_ms),
                                  "POSTROOM_ROUTER_SWEEP_INTERVAL_MS", 2000);
  const int min_age_s = IntSetting(absl::GetFlag(FLAGS_sweep_min_age_s),
                                   "POSTROOM_ROUTER_SWEEP_MIN_AGE_S", 5);
  const int claim_timeout_s = IntSetting(absl::GetFlag(FLAGS_sweep_claim_timeout_s),
                                         "POSTROOM_ROUTER_SWEEP_CLAIM_TIMEOUT_S", 60);
  const int deadline_s = IntSetting(absl::GetFlag(FLAGS_routing_deadline_s),
                                    "POSTROOM_ROUTER_ROUTING_DEADLINE_S", 30);
  // A thread cannot be stopped mid-parse: a routing past its deadline ends the process, whose
  // restart (Kubernetes, run-local) finds the attempt counted. Shorter than the claim timeout,
  // so no other replica takes the message while this one still holds it.
  Watchdog watchdog(absl::Seconds(deadline_s), [&](const std::string& what, absl::Duration age) {
    LogError("routing_deadline_exceeded",
             {{"routing", what},
              {"seconds", absl::StrCat(absl::ToInt64Seconds(age))},
              {"action", "exiting: the attempt is counted, the message is decided failed after "
                         "router_max_attempts"}});
    std::_Exit(70);
  });
  router::Router core({.store = &store, .clock = &RealClock(), .metrics = &metrics,
                       .reply_token_key = *reply_token_key,
                       .claim_timeout = absl::Seconds(std::max(claim_timeout_s, 1)),
                       .watchdog = &watchdog,
                       .test_stall_on_subject = absl::GetFlag(FLAGS_test_stall_on_subject)});
  // RouteStream and WatchWorkItems hold a thread each for as long as they are open.
  server::StreamRegistry streams(**authenticator, s.max_streams_per_token);
  router::RouterService service(core, **authenticator, absl::Milliseconds(250), &streams);
  absl::Notification stop;
  // Zero series for every incoming connector, so decisions are visible before the first message.
  auto init_series = [&] {
    absl::Status st = router::InitConnectorSeries(
        db, [&](const std::string& connector) { metrics.InitConnector(connector); });
    if (!st.ok()) {
      LogWarning("sweep_failed", {{"step", "connector_series"},
                                  {"error", std::string(st.message())}});
    }
  };
  std::thread sweeper([&] {
    init_series();
    if (sweep_ms <= 0) return;
    while (!stop.WaitForNotificationWithTimeout(absl::Milliseconds(sweep_ms))) {
      init_series();
      absl::StatusOr<int> n = core.SweepPending(absl::Seconds(min_age_s), 100);
      if (!n.ok()) {
        LogWarning("sweep_failed", {{"error", std::string(n.status().message())}});
      } else if (*n > 0) {
        LogInfo("sweep_done", {{"decided", std::to_string(*n)}});
      }
    }
  });

  const int retention_s = IntSetting(absl::GetFlag(FLAGS_retention_interval_s),
                                     "POSTROOM_ROUTER_RETENTION_INTERVAL_S", 600);
  router::PrometheusRetentionMetrics retention_metrics;
  const router::RetentionOptions retention{
      .batch = std::clamp(IntSetting(absl::GetFlag(FLAGS_retention_batch),
                                     "POSTROOM_ROUTER_RETENTION_BATCH", 500),
                          1, 10000),
      .metrics = &retention_metrics};
  // Its own thread: a long run must not delay the routing of pending mail.
  std::thread retainer([&] {
    if (retention_s <= 0) return;
    do {
      absl::StatusOr<router::RetentionRun> run = router::SweepRetention(db, retention, &stop);
      if (!run.ok()) {
        LogWarning("retention_sweep_failed", {{"error", std::string(run.status().message())}});
      } else if (run->total > 0) {
        LogInfo("retention_sweep_done", {{"removed", std::to_string(run->total)},
                                         {"batches", std::to_string(run->batches)}});
      }
    } while (!stop.WaitForNotificationWithTimeout(absl::Seconds(retention_s)));
  });

  server::ServerOptions options =
      server::ServerOptionsFor("router", settings, &db, authenticator->get());
  options.streams = &streams;
  options.readiness = [&db] {
    return store::RequireSchemaVersion(db, store::LatestSchemaVersion());
  };
  absl::Status st = server::Serve(options, {&service});
  stop.Notify();
  sweeper.join();
  retainer.join();
  if (!st.ok()) return Fail(st);
  return 0;
}

}  // namespace
}  // namespace postroom

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "postroom-router: routes each email to a work item over gRPC (RouterService).\n"
      "Usage: postroom-router [serve] [flags]");
  std::vector<char*> args = postroom::server::ParseFlags(argc, argv);
  postroom::server::CommonSettings settings =
      postroom::server::ResolveCommonSettings("router", 50052, 9102, /*max_receive_mib=*/0);
  std::string command = args.size() > 1 ? args[1] : "serve";
  if (command == "serve") return postroom::Serve(settings);
  std::fprintf(stderr, "postroom-router: unknown command \"%s\": use serve\n", command.c_str());
  return 2;
}
