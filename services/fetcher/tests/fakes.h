#pragma once

// Fakes for the fetcher core: a mailbox server (IMAP folders with UIDs and UIDVALIDITY, a POP3
// drop) with failures on demand, a router sink that records, and connector builders.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "libs/store/fetch_store.h"
#include "services/fetcher/core/ports.h"

namespace postroom::fetcher::testing {

struct FakeMessage {
  std::string bytes;
  absl::CivilDay date = absl::CivilDay(2026, 11, 1);
  bool seen = false;
  bool deleted = false;
};

struct FakeFolder {
  uint32_t uid_validity = 1;
  uint32_t next_uid = 1;
  std::map<uint32_t, FakeMessage> messages;
};

// Shared state of the fake server. Single-threaded use (the core tests poll from one thread).
struct FakeMailbox {
  std::map<std::string, FakeFolder> folders = {{"INBOX", FakeFolder()}};
  // POP3 maildrop: (uidl, bytes) in order; deleted ones vanish at QUIT.
  std::vector<std::pair<std::string, std::string>> pop3;

  // Failures: `connect_error` is returned by the next `connect_failures` opens (-1: all).
  absl::Status connect_error;
  int connect_failures = -1;
  // The fetch fails with `fetch_error` after delivering this many messages in total (-1: never).
  int fetch_fail_after = -1;
  absl::Status fetch_error;

  // IMAP IDLE: offered when `idle`; a wait returns `idle_error` if set, else true when
  // `idle_wakes` (new mail), else false (as if its time ran out). A wait whose stop() is
  // already true counts in `idle_stopped`.
  bool idle = false;
  bool idle_wakes = false;
  absl::Status idle_error;
  std::vector<absl::Duration> idle_waits;
  std::vector<std::string> idle_folders;
  int idle_stopped = 0;
  // Called as a folder is opened (EXAMINE/SELECT), e.g. to deliver mail mid-poll.
  std::function<void(const std::string& folder)> on_open;

  int opens = 0;
  int closes = 0;
  int fetched = 0;
  // Messages brought in by their start only (FetchHead, RetrieveHead), as for over-size ones.
  int head_fetches = 0;
  std::vector<std::string> actions;  // "seen 1,2", "move Done 1,2", "delete 3", "dele 1"

  uint32_t Add(const std::string& folder, std::string bytes,
               absl::CivilDay date = absl::CivilDay(2026, 11, 1));
  // A new UIDVALIDITY: the same messages renumbered from 1.
  void Renumber(const std::string& folder, uint32_t uid_validity);
};

class FakeMailConnector : public MailConnector {
 public:
  explicit FakeMailConnector(FakeMailbox& box) : box_(box) {}
  absl::StatusOr<std::unique_ptr<ImapSession>> OpenImap(const v1::Connector& c) override;
  absl::StatusOr<std::unique_ptr<Pop3Session>> OpenPop3(const v1::Connector& c) override;
  std::string last_password;

 private:
  absl::Status OpenError();
  FakeMailbox& box_;
};

// Keeps tasks until the test runs them, so a test decides when an IDLE "happens".
class FakeTaskRunner : public TaskRunner {
 public:
  void Run(std::function<void()> task) override { tasks.push_back(std::move(task)); }
  // Runs and forgets every task queued so far.
  void RunAll() {
    std::vector<std::function<void()>> now;
    now.swap(tasks);
    for (auto& t : now) t();
  }
  std::vector<std::function<void()>> tasks;
};

class RecordingRouteSink : public RouteSink {
 public:
  void Submit(RouteJob job) override { jobs.push_back(std::move(job)); }
  std::vector<RouteJob> jobs;
};

class PlainSecretOpener : public SecretOpener {
 public:
  // "sealed" values are "sealed:<plaintext>"; the owner must match `expect_owner_prefix`.
  absl::StatusOr<std::string> Open(const std::string& sealed, const std::string& owner) override;
};

// A message of about `body_bytes` with the given Message-ID.
std::string MakeMessage(const std::string& message_id, size_t body_bytes = 100);

// An active incoming connector record as the config service stores it.
store::IncomingConnectorRecord MakeConnector(int64_t id, const std::string& name,
                                             const std::string& protocol,
                                             const v1::Connector& extra = v1::Connector());

}  // namespace postroom::fetcher::testing
