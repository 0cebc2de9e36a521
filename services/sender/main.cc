// postroom-sender: delivers the email queued in the outbox (acknowledgements from the router,
// admin notifications) through the outgoing connectors over SMTP, and the webhook posts queued
// there (docs/webhooks.md), with retries and backoff. Any number of replicas may run: each
// claims rows with FOR UPDATE SKIP LOCKED and a lease (docs/sender.md).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "libs/auth/token_authenticator.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "libs/base/wakeup.h"
#include "libs/secrets/reply_token.h"
#include "libs/secrets/secret_opener.h"
#include "libs/server/server.h"
#include "libs/server/service_flags.h"
#include "libs/store/database.h"
#include "libs/store/listen.h"
#include "libs/store/migrations.h"
#include "libs/store/migrator.h"
#include "libs/store/pg_outbox_store.h"
#include "libs/store/pg_secret_writer.h"
#include "services/sender/core/sender_core.h"
#include "services/sender/grpc/sender_service.h"
#include "services/sender/sender_metrics.h"
#include "services/sender/smtp_transport.h"
#include "services/sender/webhook_poster.h"

ABSL_FLAG(std::string, replica, "",
          "claim owner name, unique per replica (default $POSTROOM_SENDER_REPLICA, else "
          "$HOSTNAME-<pid>)");
ABSL_FLAG(int, workers, 0, "rows sent at once (default $POSTROOM_SENDER_WORKERS or 2)");
ABSL_FLAG(int, batch, 0, "rows one worker claims at once (default $POSTROOM_SENDER_BATCH or 4)");
ABSL_FLAG(int, poll_ms, 0,
          "longest sleep between outbox checks; NOTIFY wakes earlier (default "
          "$POSTROOM_SENDER_POLL_MS or 2000)");
ABSL_FLAG(int, claim_lease_s, 0,
          "how long a claim keeps other replicas off a row (default "
          "$POSTROOM_SENDER_CLAIM_LEASE_S or 600)");
ABSL_FLAG(int, max_attempts, 0,
          "attempts before a temporarily failing row is failed (default "
          "$POSTROOM_SENDER_MAX_ATTEMPTS or 10)");
ABSL_FLAG(int, backoff_initial_ms, 0,
          "wait after the first failed attempt, doubling each time (default "
          "$POSTROOM_SENDER_BACKOFF_INITIAL_MS or 30000)");
ABSL_FLAG(std::string, reply_token_key_file, "",
          "file with the key that signs the reply token in a reply's Reply-To; the router's key "
          "(default $POSTROOM_REPLY_TOKEN_KEY, else the file $POSTROOM_REPLY_TOKEN_KEY_FILE, "
          "else derived from the secrets key, as the router does)");
ABSL_FLAG(std::string, webhook_ca_file, "",
          "CA bundle that webhook receivers' certificates must chain to, instead of the system's "
          "(default $POSTROOM_SENDER_WEBHOOK_CA_FILE)");
ABSL_FLAG(int, webhook_timeout_ms, 0,
          "time limit of one webhook post, connect included (default "
          "$POSTROOM_SENDER_WEBHOOK_TIMEOUT_MS or 10000)");
ABSL_FLAG(int, backoff_max_ms, 0,
          "cap on one wait (default $POSTROOM_SENDER_BACKOFF_MAX_MS or 3600000)");

namespace postroom {
namespace {

int Fail(const absl::Status& st) { return server::ExitWith("postroom-sender", st); }

int Serve(const server::CommonSettings& s) {
  if (absl::Status st = server::RequireDatabase(s); !st.ok()) return Fail(st);
  absl::StatusOr<std::unique_ptr<auth::TokenAuthenticator>> authenticator =
      server::LoadAuthenticator();
  if (!authenticator.ok()) return Fail(authenticator.status());
  absl::StatusOr<secrets::Keyring> keyring = server::LoadKeyring();
  if (!keyring.ok()) return Fail(keyring.status());

  const std::string replica =
      server::ReplicaName(absl::GetFlag(FLAGS_replica), "POSTROOM_SENDER_REPLICA", "sender");
  const int workers =
      server::IntSetting(absl::GetFlag(FLAGS_workers), "POSTROOM_SENDER_WORKERS", 2);
  const absl::Duration poll = absl::Milliseconds(
      server::IntSetting(absl::GetFlag(FLAGS_poll_ms), "POSTROOM_SENDER_POLL_MS", 2000));
  sender::SenderOptions options;
  options.replica = replica;
  options.batch = server::IntSetting(absl::GetFlag(FLAGS_batch), "POSTROOM_SENDER_BATCH", 4);
  options.claim_lease = absl::Seconds(
      server::IntSetting(absl::GetFlag(FLAGS_claim_lease_s), "POSTROOM_SENDER_CLAIM_LEASE_S", 600));
  options.retry.max_attempts =
      server::IntSetting(absl::GetFlag(FLAGS_max_attempts), "POSTROOM_SENDER_MAX_ATTEMPTS", 10);
  options.retry.initial = absl::Milliseconds(server::IntSetting(
      absl::GetFlag(FLAGS_backoff_initial_ms), "POSTROOM_SENDER_BACKOFF_INITIAL_MS", 30000));
  options.retry.max = absl::Milliseconds(server::IntSetting(
      absl::GetFlag(FLAGS_backoff_max_ms), "POSTROOM_SENDER_BACKOFF_MAX_MS", 3600000));

  // The router verifies what this signs: both load the key the same way (libs/secrets).
  absl::StatusOr<std::string> reply_token_key =
      secrets::ReplyTokenKeyFromEnvironment(absl::GetFlag(FLAGS_reply_token_key_file));
  if (!reply_token_key.ok()) return Fail(reply_token_key.status());
  options.reply_token_key = *reply_token_key;

  store::Database db(
      {.uri = s.database, .pool_size = workers + 2, .application_name = "postroom-sender"});
  if (absl::Status st = store::RequireSchemaVersion(db, store::LatestSchemaVersion()); !st.ok()) {
    return Fail(st);
  }
  store::PgOutboxStore store(db);
  // A rotated refresh token is sealed and kept before the access token that came with it is
  // used, as the fetcher and config do.
  store::PgSecretWriter secret_writer(db);
  mail::OAuthTokens oauth({.persist = [&](const std::string& connector, const std::string& rt) {
    return secret_writer.WriteRefreshToken(*keyring, connector, rt);
  }});
  sender::ConnectorTransport transport(&oauth);
  secrets::KeyringSecretOpener opener(*keyring);
  sender::PrometheusObserver observer;
  sender::SenderCore core(options, {.store = &store,
                                    .transport = &transport,
                                    .secrets = &opener,
                                    .observer = &observer,
                                    .clock = &RealClock()});
  if (absl::Status st = core.AnnounceConnectors(); !st.ok()) {
    LogWarning("announce_failed", {{"error", std::string(st.message())}});
  }
  sender::CurlWebhookPoster poster(
      {.timeout = absl::Milliseconds(server::IntSetting(absl::GetFlag(FLAGS_webhook_timeout_ms),
                                                        "POSTROOM_SENDER_WEBHOOK_TIMEOUT_MS",
                                                        10000)),
       .ca_file = absl::GetFlag(FLAGS_webhook_ca_file).empty()
                      ? server::EnvOr("POSTROOM_SENDER_WEBHOOK_CA_FILE", "")
                      : absl::GetFlag(FLAGS_webhook_ca_file)});
  sender::WebhookSender webhooks(options, {.store = &store,
                                           .poster = &poster,
                                           .secrets = &opener,
                                           .observer = &observer,
                                           .clock = &RealClock()});
  sender::SenderService service(store, authenticator->get(), RealClock(), &core);

  Wakeup wake;
  std::thread listen_thread(
      [&] { store::ListenUntilStopped(s.database, "postroom_outbox", wake); });
  std::vector<std::thread> pool;
  for (int i = 0; i < workers; ++i) {
    pool.emplace_back([&, i] {
      absl::Time last_announce = absl::Now();
      while (!wake.stopping()) {
        sender::DrainReport r = core.DrainOnce();
        if (!r.status.ok()) {
          LogWarning("drain_failed",
                     {{"replica", replica}, {"error", std::string(r.status.message())}});
        }
        // Webhooks share the workers: each round takes a batch of each kind.
        sender::DrainReport w = webhooks.DrainOnce();
        if (!w.status.ok()) {
          LogWarning("webhook_drain_failed",
                     {{"replica", replica}, {"error", std::string(w.status.message())}});
          if (r.status.ok()) r.status = w.status;
        }
        r.claimed += w.claimed;
        if (i == 0 && absl::Now() - last_announce > absl::Seconds(5)) {
          (void)core.AnnounceConnectors();  // New connectors' series start at 0.
          last_announce = absl::Now();
        }
        if (r.claimed > 0 && r.status.ok()) continue;  // Maybe more due: drain on.
        absl::Duration wait =
            std::clamp(core.NextWake(poll) - absl::Now(), absl::Milliseconds(10), poll);
        if (!r.status.ok()) wait = poll;
        // Every worker may be woken; the claims keep them from sending a row twice.
        wake.Wait(wait);
      }
    });
  }
  LogInfo("sender_started", {{"replica", replica}, {"workers", std::to_string(workers)}});

  server::ServerOptions server_options = server::ServerOptionsFor("sender", s, &db, authenticator->get());
  server_options.readiness = [&]() -> absl::Status {
    return store::RequireSchemaVersion(db, store::LatestSchemaVersion());
  };
  absl::Status st = server::Serve(server_options, {&service});
  wake.Stop();
  listen_thread.join();
  for (auto& t : pool) t.join();
  LogInfo("sender_stopped", {{"replica", replica}});
  if (!st.ok()) return Fail(st);
  return 0;
}

}  // namespace
}  // namespace postroom

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "postroom-sender: delivers queued email from the outbox over SMTP through the outgoing "
      "connectors, with retries and backoff.\n"
      "Usage: postroom-sender [flags]   (gRPC 50054: ListOutbox, GetOutboxItem, RetryNow, "
      "SendReply; "
      "metrics 9104)");
  postroom::server::ParseFlags(argc, argv);
  postroom::server::CommonSettings settings =
      // Replies carry attachments up to a connector's max_message_bytes (25 MiB by default).
      postroom::server::ResolveCommonSettings("sender", 50054, 9104, 27);
  return postroom::Serve(settings);
}
