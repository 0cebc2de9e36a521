#pragma once

// The fetcher's domain core: lease rounds, the per-connector poll schedule (interval, tries,
// cool-off, skip windows, PollNow), IMAP, POP3 and Microsoft Graph ingestion into the FetchStore,
// error counters and auto-disable. Pure: the world comes in through ports.h and
// libs/store/fetch_store.h.
//
// Lossless by construction: a message is committed (with the cursor or UIDL that covers it, in
// one transaction, conditional on the lease's fencing token) before the mail server is told
// anything (the processed-mail action runs after the commit) and before the router is asked.
// A crash between any two steps re-fetches at most an uncommitted batch; its fetch keys are
// unique per connector, so nothing is stored twice.
//
// Threading: RunLeaseRound and RunOneDue may be called from different threads at once; several
// threads may call RunOneDue (one connector is never polled by two of them at a time).
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/store/fetch_store.h"
#include "services/fetcher/core/ports.h"
#include "services/fetcher/core/settings.h"

namespace postroom::fetcher {

struct CoreOptions {
  std::string replica;  // lease owner name: unique per replica (pod name + random)
  absl::Duration lease_period = absl::Seconds(30);
  // A batch commits at whichever comes first.
  size_t batch_messages = 200;
  size_t batch_bytes = 16 << 20;
  // UIDs per IMAP fetch call; each call's UIDs are sized first (max message size check).
  size_t fetch_chunk = 2000;
  // After a successful IMAP poll, keep the session and IDLE on the first folder (when the
  // server offers IDLE and CoreDeps::idle_runner is set): new mail makes the connector due at
  // once instead of at the end of its poll interval, which stays as the safety net.
  bool imap_idle = true;
  // The tries of one poll (settings.max_tries) are spaced: try_backoff after the first failed
  // try, doubling after each next one, at most 30 s (a server that is restarting gets time to
  // come back). Zero, or no `sleep`: back to back (tests).
  absl::Duration try_backoff = absl::ZeroDuration();
  std::function<void(absl::Duration)> sleep;
};

struct CoreDeps {
  store::FetchStore* store;
  MailConnector* mail;
  SecretOpener* secrets;      // may be null: connectors then poll without secrets
  RouteSink* router;          // may be null: messages stay pending for the router's sweep
  FetcherObserver* observer;  // may be null
  Clock* clock;
  TaskRunner* idle_runner = nullptr;  // may be null: no IMAP IDLE
};

enum class PollOutcome { kSuccess, kError, kSkipped, kLeaseLost, kNothingDue };

struct PollReport {
  std::string connector;
  PollOutcome outcome = PollOutcome::kNothingDue;
  absl::Status status;  // the last error for kError / kLeaseLost
  int64_t stored = 0;   // messages newly stored
  int64_t already_stored = 0;
  int tries = 0;
  bool auto_disabled = false;
};

struct OwnedConnector {
  std::string connector;
  std::string protocol;
  int64_t fencing_token = 0;
  absl::Time expires_at;
  absl::Time next_poll;
  absl::Time cool_off_until;
  bool polling = false;
  int consecutive_errors = 0;  // as this replica saw them since it took the lease
  bool shedding = false;       // over the fair share: handed over once its session has ended
};

// Shared by an entry and its IDLE task (imap_idle.cc).
struct IdleControl;

class FetcherCore {
 public:
  FetcherCore(CoreOptions options, CoreDeps deps);

  // Renews and takes leases, re-reads the active connectors (settings changes, new and
  // disabled connectors are picked up here). UNAVAILABLE when the database is away: the
  // connectors held so far keep their schedule until their leases would have expired.
  absl::Status RunLeaseRound();

  // Polls the connector that is due first, if any is due now; kNothingDue otherwise.
  PollReport RunOneDue();

  // When the next connector is due (InfiniteFuture when none is held).
  absl::Time NextDue();

  // Makes `connector` due now, ignoring cool-off and skip windows. NOT_FOUND when this replica
  // does not hold its lease.
  absl::Status PollNow(const std::string& connector);

  std::vector<OwnedConnector> Owned();
  const std::string& replica() const { return options_.replica; }

  // Gives every lease back (clean shutdown), so other replicas take over at once. Ends every
  // IDLE this core started and waits until they and any running poll have returned (at most
  // one lease period: after that the leases would expire anyway), so the next owner never
  // logs in while this replica is still in the mailbox.
  absl::Status ReleaseAll();

  // Connectors whose session is waiting in IMAP IDLE now.
  std::vector<std::string> Idling();

 private:
  struct Entry {
    store::LeaseRecord lease;
    store::IncomingConnectorRecord record;
    v1::Connector connector;  // secrets filled in
    absl::Status settings_error;
    FetchSettings settings;
    absl::Time next_poll;
    absl::Time cool_off_until = absl::InfinitePast();
    absl::Time failed_at = absl::InfinitePast();  // the last failed poll
    bool polling = false;
    bool poll_now = false;
    int consecutive_errors = 0;
    // The IDLE waiting for this connector's new mail, if any (imap_idle.cc).
    std::shared_ptr<IdleControl> idle;
  };
  struct Counters {
    int64_t stored = 0;
    int64_t already_stored = 0;
    int64_t backfill_done = 0;
    int64_t backfill_total = 0;
  };

  absl::Status PollOnce(const Entry& e, Counters& counters);
  absl::Status PollImap(const Entry& e, Counters& counters);
  // The stored cursor of `folder`, or a fresh one named for it.
  static store::FolderCursorRecord CursorFor(const std::vector<store::FolderCursorRecord>& cursors,
                                             const std::string& folder);
  absl::Status PollPop3(const Entry& e, Counters& counters);
  absl::Status PollGraph(const Entry& e, Counters& counters);  // core/graph_poll.cc
  // Commits one batch and hands its pending messages to the router.
  absl::Status Commit(const Entry& e, const store::BatchWrite& write, Counters& counters);
  store::NewMessage Oversized(const Entry& e, std::string fetch_key, const std::string& folder,
                              const std::string& queue_hint, uint64_t size, absl::string_view bytes,
                              std::vector<store::AdminNotice>& notices);
  void Finish(Entry& e, const PollReport& report, absl::Time started);
  // IMAP IDLE (imap_idle.cc): after a successful poll, either hands the session to an IDLE on
  // the idle runner or logs it out.
  void IdleOrClose(const Entry& e, std::unique_ptr<ImapSession> session);
  void RunIdle(const std::string& connector, std::shared_ptr<IdleControl> control,
               std::shared_ptr<ImapSession> session, absl::Duration max_wait);
  // Ends the entry's IDLE (poll starting, lease lost, settings changed, shutdown).
  static void StopIdle(Entry& e);
  // Ends the IDLEs of `entries_` that `next` does not carry over with the same lease (or
  // carries over shedding).
  void StopIdlesNotIn(std::map<std::string, Entry>& next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A session (a poll, an IDLE task) on connector `id` starts or has ended.
  void SessionStarted(int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SessionEnded(int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // No poll may start on `e` now: running already, shedding its lease, or quiet in the lease
  // round that is deciding which leases to give back.
  bool Blocked(const Entry& e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  CoreOptions options_;
  CoreDeps deps_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Open sessions per connector id: polls from start to Finish, IDLE tasks from hand-over until
  // they have logged out. Kept apart from entries_, which a lease round or ReleaseAll replaces
  // while sessions still run.
  std::map<int64_t, int> sessions_ ABSL_GUARDED_BY(mu_);
  // Connectors reported quiet to the lease round in flight: the round may release them, so no
  // poll starts on them until it has returned.
  std::set<int64_t> deciding_ ABSL_GUARDED_BY(mu_);
};

// "Message-ID" header value without angle brackets, or "" (first header block only).
std::string ExtractMessageId(absl::string_view raw);
// The header block (up to and including the empty line), or all of `raw` if it has none.
absl::string_view HeaderBlock(absl::string_view raw);

}  // namespace postroom::fetcher
