#pragma once

// What the fetcher core needs from the world, as small interfaces: mailbox sessions (IMAP,
// POP3), the router, secrets, and metrics. main.cc wires libs/mail, gRPC, the keyring and
// Prometheus; tests use fakes (tests/fakes.h).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/secrets/secret_opener.h"
#include "postroom/v1/config.pb.h"

namespace postroom::fetcher {

struct FolderStatus {
  uint32_t uid_validity = 0;
  uint32_t uid_next = 0;  // 0: the server did not say
  uint32_t exists = 0;
};

struct SizedUid {
  uint32_t uid = 0;
  uint64_t size = 0;
};

// Receives one message; `bytes` is valid only during the call. An error stops the fetch.
using ImapMessageSink =
    std::function<absl::Status(uint32_t uid, uint64_t size, absl::string_view bytes)>;

// One logged-in IMAP connection. Errors carry a libs/mail MailErrorClass payload. Not
// thread-safe; the core uses one per poll.
class ImapSession {
 public:
  virtual ~ImapSession() = default;
  // EXAMINE when read_only (nothing in the mailbox changes), else SELECT.
  virtual absl::StatusOr<FolderStatus> Open(const std::string& folder, bool read_only) = 0;
  virtual absl::StatusOr<std::vector<uint32_t>> UidsAfter(uint32_t last_uid) = 0;
  virtual absl::StatusOr<std::vector<uint32_t>> UidsSince(absl::CivilDay day) = 0;
  virtual absl::StatusOr<std::vector<SizedUid>> Sizes(const std::vector<uint32_t>& uids) = 0;
  // BODY.PEEK[] of each UID in ascending order (never sets \Seen), streamed to `sink`.
  virtual absl::Status Fetch(const std::vector<uint32_t>& uids, const ImapMessageSink& sink) = 0;
  // Only the first `max_bytes` of each message (BODY.PEEK[]<0.max_bytes>): enough for the
  // headers of one over the size limit, which the client's response limit would refuse whole.
  // `size` in the sink is still the whole message's.
  virtual absl::Status FetchHead(const std::vector<uint32_t>& uids, uint64_t max_bytes,
                                 const ImapMessageSink& sink) {
    return Fetch(uids, sink);
  }
  virtual absl::Status MarkRead(const std::vector<uint32_t>& uids) = 0;
  virtual absl::Status Move(const std::vector<uint32_t>& uids, const std::string& folder) = 0;
  // Gone from the folder: \Deleted, then expunged (see LibImapSession for the UIDPLUS case).
  virtual absl::Status Delete(const std::vector<uint32_t>& uids) = 0;
  virtual void Close() = 0;  // LOGOUT, best effort

  // True when the server offers IDLE (RFC 2177) on this connection.
  virtual bool CanIdle() const { return false; }
  // Waits on the folder opened last until mail may have arrived since it was opened or last
  // searched (true; also at once when the server already reported such mail during a later
  // command), until `max_wait` passes (false) or `stop()` returns true (false; asked several
  // times a second). Errors as elsewhere; the session is unusable afterwards.
  virtual absl::StatusOr<bool> WaitForNewMail(absl::Duration max_wait,
                                              const std::function<bool()>& stop) {
    return absl::UnimplementedError("this session cannot IDLE");
  }
};

struct Pop3Entry {
  uint32_t number = 0;
  std::string uidl;
  uint64_t size = 0;
};

class Pop3Session {
 public:
  virtual ~Pop3Session() = default;
  virtual absl::StatusOr<std::vector<Pop3Entry>> List() = 0;  // UIDL + LIST
  virtual absl::StatusOr<std::string> Retrieve(uint32_t number) = 0;
  // The header block only (TOP n 0), for a message over the size limit.
  virtual absl::StatusOr<std::string> RetrieveHead(uint32_t number) { return Retrieve(number); }
  virtual absl::Status Delete(uint32_t number) = 0;  // takes effect at Close
  virtual absl::Status Close() = 0;                  // QUIT
};

struct GraphItem {
  std::string id;        // immutable message id
  bool removed = false;  // gone from the folder since the last round
};

struct GraphPage {
  std::vector<GraphItem> items;
  std::string next_link;   // more pages: fetch this next
  std::string delta_link;  // last page: the cursor for the next round
};

// One Microsoft Graph mailbox (the connector's shared mailbox or its own), with its OAuth2
// token. Errors carry a MailErrorClass. Not thread-safe; the core uses one per poll.
class GraphSession {
 public:
  virtual ~GraphSession() = default;
  // `link` empty: a full sync of `folder` (from `since` when set: the sync start date); else a
  // next or delta link from an earlier page.
  virtual absl::StatusOr<GraphPage> Delta(const std::string& folder, const std::string& link,
                                          std::optional<absl::Time> since) = 0;
  virtual absl::StatusOr<std::string> Mime(const std::string& id) = 0;
  virtual absl::Status MarkRead(const std::string& id) = 0;
  virtual absl::Status Move(const std::string& id, const std::string& folder) = 0;
  virtual absl::Status Delete(const std::string& id) = 0;
};

// Connects and logs in with the connector's settings (secrets filled in). Errors carry a
// MailErrorClass (authentication, network, tls ...). Thread-safe.
class MailConnector {
 public:
  virtual ~MailConnector() = default;
  virtual absl::StatusOr<std::unique_ptr<ImapSession>> OpenImap(const v1::Connector& c) = 0;
  virtual absl::StatusOr<std::unique_ptr<Pop3Session>> OpenPop3(const v1::Connector& c) = 0;
  // UNIMPLEMENTED unless overridden (fakes that only speak IMAP/POP3).
  virtual absl::StatusOr<std::unique_ptr<GraphSession>> OpenGraph(const v1::Connector& c);
};

// Opens a connector's sealed secret. `owner` is "connector:<name>:<field>". Thread-safe.
using SecretOpener = secrets::SecretOpener;

// A stored message the router should route.
struct RouteJob {
  std::string connector;
  int64_t message_id = 0;
  std::string fetch_key;
  std::string folder;
  std::string queue_hint;
  // The stored bytes, when the sink may pass them along (saves the router reading them back);
  // empty for a truncated message.
  std::string raw;
};

// Asks the router to route stored messages. Submit never blocks for long: an implementation
// may drop jobs when the router is away (the message stays pending; the router sweeps pending
// messages itself). Thread-safe.
class RouteSink {
 public:
  virtual ~RouteSink() = default;
  virtual void Submit(RouteJob job) = 0;
};

// Runs long blocking work (an IMAP IDLE waiting for new mail) on a thread of its own, so the
// poll workers stay free. Thread-safe. The core ends every task it started promptly once
// ReleaseAll() is called; an implementation joins them before it is destroyed.
class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  virtual void Run(std::function<void()> task) = 0;
};

// Metrics, named in docs/metrics.md. Thread-safe. Every method has an empty default.
class FetcherObserver {
 public:
  virtual ~FetcherObserver() = default;
  virtual void Stored(const std::string& connector, int64_t messages, int64_t bytes) {}
  // outcome: "success", "error", "skipped" (skip window), "lease_lost".
  virtual void Polled(const std::string& connector, const std::string& outcome,
                      absl::Duration duration) {}
  virtual void BackfillRemaining(const std::string& connector, int64_t remaining) {}
  virtual void LeasesHeld(int64_t count) {}
  // An incoming connector exists (any status, held here or not): its series start at 0, so the
  // metrics exist before the first event and a sum over replicas stays right.
  virtual void Known(const std::string& connector) {}
  virtual void Forget(const std::string& connector) {}
};

}  // namespace postroom::fetcher
