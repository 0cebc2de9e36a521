#include "services/sender/core/policy.h"

#include <algorithm>
#include <cmath>

namespace postroom::sender {
namespace {

// SplitMix64: a well-mixed hash of the row and attempt, for the jitter.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

absl::Time NextAttemptAt(const RetryPolicy& p, int64_t id, int attempts, absl::Time now) {
  const int n = std::max(1, attempts);
  // Grow in doubles and cap before converting, so a large attempt count cannot overflow.
  double secs = absl::ToDoubleSeconds(p.initial) * std::pow(p.multiplier, n - 1);
  secs = std::min(secs, absl::ToDoubleSeconds(p.max));
  const double u = static_cast<double>(Mix(static_cast<uint64_t>(id) * 1000003u + n) >> 11) /
                   static_cast<double>(1ull << 53);  // [0, 1)
  secs *= 1.0 - std::clamp(p.jitter, 0.0, 1.0) * u;
  return now + absl::Milliseconds(std::max<int64_t>(1, std::llround(secs * 1000)));
}

Verdict Classify(const mail::SmtpResult& r) {
  using mail::MailErrorClass;
  using mail::SmtpStage;
  if (r.ok) return {RowVerdict::kSent, ConnectorVerdict::kSuccess, ""};
  const bool message_stage = r.stage == SmtpStage::kRcptTo || r.stage == SmtpStage::kData;
  if (r.code >= 500 && r.code < 600 && (message_stage || r.stage == SmtpStage::kMailFrom)) {
    return {RowVerdict::kFailed,
            message_stage ? ConnectorVerdict::kNone : ConnectorVerdict::kFailure, "rejected"};
  }
  if (r.code >= 400 && r.code < 500 && message_stage) {
    return {RowVerdict::kRetry, ConnectorVerdict::kNone, "throttled"};
  }
  std::string cls = r.error_class == MailErrorClass::kOther
                        ? "configuration"
                        : std::string(mail::MailErrorClassName(r.error_class));
  return {RowVerdict::kRetry, ConnectorVerdict::kFailure, cls};
}

}  // namespace postroom::sender
