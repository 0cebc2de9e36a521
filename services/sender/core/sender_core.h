#pragma once

// The sender's domain core: claims due outbox rows, sends each through its outgoing connector,
// and records the result: sent, retry later (backoff), or failed with the reason. Every claimed
// row ends in one of these (or, if this process dies mid-send, its claim expires and another
// drain sends it again: delivery is at-least-once, see docs/sender.md). Pure: the store, the
// transport, the secrets and the clock come in as interfaces. Thread-safe: several threads may
// call DrainOnce at once (each claims its own rows).
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/store/outbox_store.h"
#include "services/sender/core/policy.h"
#include "services/sender/core/ports.h"
#include "services/sender/core/reply.h"

namespace postroom::sender {

struct SenderOptions {
  std::string replica = "sender";  // Claim owner; unique per process.
  // How long a claim keeps other replicas off a row. Longer than the slowest batch: `batch` x
  // the SMTP time limit (4 x the connector's timeout, 30 s by default).
  absl::Duration claim_lease = absl::Minutes(10);
  int batch = 4;  // Rows claimed at once by one DrainOnce.
  RetryPolicy retry;
  // Signs the Reply-To of replies from the desk; the router's key (libs/secrets/reply_token.h).
  std::string reply_token_key;
  ReplyLimits reply_limits;
};

struct SenderDeps {
  store::OutboxStore* store = nullptr;
  MailTransport* transport = nullptr;
  SecretOpener* secrets = nullptr;
  SenderObserver* observer = nullptr;  // May be null.
  Clock* clock = nullptr;
};

struct DrainReport {
  int claimed = 0;
  int sent = 0;
  int retried = 0;
  int failed = 0;
  int lost = 0;  // Claims that expired before the result was written (another replica has it).
  absl::Status status;  // Store errors; rows already claimed are retried when the claim expires.
};

// "sent", "retry" or "failed": the outcome label of metrics and logs.
const char* OutcomeName(store::AttemptKind k);

class SenderCore {
 public:
  SenderCore(SenderOptions options, SenderDeps deps);

  // One round: claim up to `batch` due rows, send them one by one, record each result.
  DrainReport DrainOnce();

  // When to drain next: the next due row or expiring claim, at most `poll` from now.
  absl::Time NextWake(absl::Duration poll);

  // Queues a reply from the desk to a work item's requester (reply.h). A repeated idempotency
  // key returns the first row (created false) whatever the rest of the request says.
  // INVALID_ARGUMENT with the field path (ValidateReply, the total size); NOT_FOUND: no such
  // work item; FAILED_PRECONDITION: it has no requester address; UNAVAILABLE: the database.
  absl::StatusOr<store::QueuedReply> SendReply(const ReplyRequest& request);

  // Starts the metric series of every outgoing connector at 0.
  absl::Status AnnounceConnectors();

  // The Message-ID the row is sent with: the same for every attempt of the row, so a copy
  // sent twice (a crash between the server's OK and our commit) is recognisable as one
  // message by the recipient's mail system and by people.
  static std::string MessageIdFor(const store::OutboxItem& item, const std::string& from);

  const SenderOptions& options() const { return options_; }

 private:
  SenderOptions options_;
  SenderDeps deps_;
};

}  // namespace postroom::sender
