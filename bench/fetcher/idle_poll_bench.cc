// The fetcher's poll of a mailbox with nothing new, through the real core: FetcherCore with
// PgFetchStore and the libs/mail session (what postroom-fetcher runs), against the connector
// `--connector` that bench/fetcher/idle_poll.sh put into the database. It first points the
// connector's INBOX cursor at the mailbox's last UID (as if it had been synced), then polls
// `--polls` times and prints per poll: milliseconds (p50, p95, mean), IMAP commands (each one
// round trip: none is pipelined in an idle poll), and the same poll's IMAP part alone
// (connect, LOGIN, EXAMINE, LOGOUT with the client) to show where the time goes.
//
// fetcher_idle_poll_bench --database URI --port N [--user bench] [--password benchpass]
//   [--connector bench] [--polls 50]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/percentile.h"
#include "libs/base/clock.h"
#include "libs/mail/imap_client.h"
#include "libs/store/database.h"
#include "libs/store/pg_fetch_store.h"
#include "services/fetcher/core/fetcher_core.h"
#include "services/fetcher/mail_adapters.h"

namespace postroom {
namespace {

int Fail(const absl::Status& st, const std::string& what) {
  fprintf(stderr, "fetcher_idle_poll_bench: %s: %s\n", what.c_str(),
          std::string(st.message()).c_str());
  return 1;
}

using ::postroom::bench::Percentile;

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

int Main(int argc, char** argv) {
  std::string uri, user = "bench", password = "benchpass", connector = "bench";
  int port = 0, polls = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--database") {
      uri = v;
    } else if (k == "--port") {
      port = std::atoi(v.c_str());
    } else if (k == "--user") {
      user = v;
    } else if (k == "--password") {
      password = v;
    } else if (k == "--connector") {
      connector = v;
    } else if (k == "--polls") {
      polls = std::max(1, std::atoi(v.c_str()));
    } else {
      fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (uri.empty() || port == 0) {
    fprintf(stderr, "usage: fetcher_idle_poll_bench --database URI --port N [--polls 50]\n");
    return 2;
  }
  mail::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.security = mail::Security::kPlain;

  // The mailbox's state, for the cursor.
  absl::StatusOr<std::unique_ptr<mail::ImapClient>> c = mail::ImapClient::Connect(o);
  if (!c.ok()) return Fail(c.status(), "connect");
  if (absl::Status st = (*c)->Login(user, password); !st.ok()) return Fail(st, "login");
  absl::StatusOr<mail::ImapMailbox> box = (*c)->Examine("INBOX");
  if (!box.ok()) return Fail(box.status(), "examine");
  (void)(*c)->Logout();

  store::Database db({.uri = uri, .pool_size = 2, .application_name = "idle-poll-bench"});
  store::PgFetchStore store(db);
  const std::string replica = "idle-poll-bench";
  absl::StatusOr<std::vector<store::LeaseRecord>> leases =
      store.RenewLeases(replica, absl::Now(), absl::Minutes(5), {});
  if (!leases.ok()) return Fail(leases.status(), "lease");
  auto lease = std::find_if(leases->begin(), leases->end(),
                            [&](const store::LeaseRecord& l) { return l.connector == connector; });
  if (lease == leases->end()) {
    return Fail(absl::NotFoundError(absl::StrCat("connector ", connector, " not active")), "lease");
  }
  store::FolderCursorRecord cursor;
  cursor.folder = "INBOX";
  cursor.uid_validity = box->uid_validity;
  cursor.last_uid = box->uid_next - 1;
  cursor.backfill_done = cursor.backfill_total = box->exists;
  store::BatchWrite synced;
  synced.cursor = cursor;
  if (absl::StatusOr<store::BatchResult> r = store.SaveBatch(*lease, synced); !r.ok()) {
    return Fail(r.status(), "cursor");
  }

  fetcher::LibMailConnector mail_connector;
  fetcher::FetcherCore core({.replica = replica, .lease_period = absl::Minutes(5)},
                            {.store = &store,
                             .mail = &mail_connector,
                             .secrets = nullptr,
                             .router = nullptr,
                             .observer = nullptr,
                             .clock = &RealClock()});
  if (absl::Status st = core.RunLeaseRound(); !st.ok()) return Fail(st, "lease round");
  std::vector<double> poll_ms, imap_ms, connect_ms, login_ms, examine_ms, logout_ms;
  std::vector<double> commands;
  for (int i = 0; i < polls; ++i) {
    if (absl::Status st = core.PollNow(connector); !st.ok()) return Fail(st, "poll now");
    const uint64_t before = mail_connector.imap_commands();
    absl::Time t = absl::Now();
    fetcher::PollReport r = core.RunOneDue();
    poll_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
    if (r.outcome != fetcher::PollOutcome::kSuccess) return Fail(r.status, "poll");
    if (r.stored != 0) {
      return Fail(absl::InternalError(absl::StrCat(r.stored, " stored")), "mailbox not idle");
    }
    commands.push_back(static_cast<double>(mail_connector.imap_commands() - before));

    // The same IMAP conversation alone, step by step.
    t = absl::Now();
    absl::StatusOr<std::unique_ptr<mail::ImapClient>> ic = mail::ImapClient::Connect(o);
    if (!ic.ok()) return Fail(ic.status(), "connect");
    absl::Time t_connected = absl::Now();
    if (absl::Status st = (*ic)->Login(user, password); !st.ok()) return Fail(st, "login");
    absl::Time t_login = absl::Now();
    if (absl::StatusOr<mail::ImapMailbox> b = (*ic)->Examine("INBOX"); !b.ok()) {
      return Fail(b.status(), "examine");
    }
    absl::Time t_examine = absl::Now();
    (void)(*ic)->Logout();
    absl::Time t_end = absl::Now();
    imap_ms.push_back(absl::ToDoubleMilliseconds(t_end - t));
    connect_ms.push_back(absl::ToDoubleMilliseconds(t_connected - t));
    login_ms.push_back(absl::ToDoubleMilliseconds(t_login - t_connected));
    examine_ms.push_back(absl::ToDoubleMilliseconds(t_examine - t_login));
    logout_ms.push_back(absl::ToDoubleMilliseconds(t_end - t_examine));
  }
  (void)store.ReleaseAll(replica);
  printf(
      "messages=%u polls=%d poll_p50_ms=%.2f poll_p95_ms=%.2f poll_mean_ms=%.2f "
      "imap_commands_per_poll=%.1f imap_only_p50_ms=%.2f imap_only_mean_ms=%.2f "
      "(p50: connect+greeting=%.2f login=%.2f examine=%.2f logout=%.2f)\n",
      box->exists, polls, Percentile(poll_ms, 0.5), Percentile(poll_ms, 0.95), Mean(poll_ms),
      Mean(commands), Percentile(imap_ms, 0.5), Mean(imap_ms), Percentile(connect_ms, 0.5),
      Percentile(login_ms, 0.5), Percentile(examine_ms, 0.5), Percentile(logout_ms, 0.5));
  return 0;
}

}  // namespace
}  // namespace postroom

int main(int argc, char** argv) { return postroom::Main(argc, argv); }
