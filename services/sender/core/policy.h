#pragma once

// The sender's pure decisions: when a failed attempt is tried again (exponential backoff with
// jitter and a cap), and what an SMTP result means for the row and for its connector.
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "libs/mail/smtp_client.h"

namespace postroom::sender {

struct RetryPolicy {
  absl::Duration initial = absl::Seconds(30);  // Wait after the first failed attempt.
  double multiplier = 2;
  absl::Duration max = absl::Hours(1);  // Cap on one wait.
  // Each wait is shortened by up to this fraction, so rows that failed together (a server
  // outage) do not all come back in the same second.
  double jitter = 0.2;
  int max_attempts = 10;  // Attempts before a temporarily failing row is given up: failed.
};

// When to try row `id` again after its attempt number `attempts` (1-based) failed. The jitter
// is a hash of (id, attempts), so it is the same on every replica and in tests.
absl::Time NextAttemptAt(const RetryPolicy& policy, int64_t id, int attempts, absl::Time now);

enum class RowVerdict { kSent, kRetry, kFailed };
enum class ConnectorVerdict { kNone, kSuccess, kFailure };

struct Verdict {
  RowVerdict row = RowVerdict::kRetry;
  ConnectorVerdict connector = ConnectorVerdict::kFailure;
  std::string error_class;  // "" on success; else "network", "tls", "authentication",
                            // "server", "throttled", "protocol", "rejected", "configuration"
};

// - success: sent; the connector works.
// - 5xx to MAIL FROM, RCPT TO or DATA: failed at once (the server will not take this message).
//   A refused recipient or message is the message's problem: the connector's counters stay as
//   they are (a mistyped requester address must not auto-disable a desk's connector); a refused
//   MAIL FROM is the connector's (its sender address) and counts.
// - 4xx to RCPT TO or DATA (greylisting, mailbox full): retry; the counters stay.
// - everything else (network, TLS, timeout, refused login, 4xx/5xx at greeting or MAIL FROM,
//   protocol errors, a connector that cannot be used as configured): retry, and the connector
//   counts an error.
Verdict Classify(const mail::SmtpResult& result);

}  // namespace postroom::sender
