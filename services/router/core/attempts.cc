// Routing attempts of stored messages: counted before routing, a poison message decided failed
// once they are spent, and the background sweep of pending messages.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "services/router/core/internal.h"
#include "services/router/core/json.h"

namespace postroom::router {

namespace {

// Errors that say nothing about the message: the caller's request, a race another router won,
// a connector switched off meanwhile. They do not bring a message closer to failed.
bool ErrorOfTheMessage(const absl::Status& st) {
  return !absl::IsAborted(st) && !absl::IsInvalidArgument(st) && !absl::IsNotFound(st) &&
         !absl::IsFailedPrecondition(st);
}

}  // namespace

absl::StatusOr<v1::RouteEmailResponse> Router::RouteAttempt(
    const ConnectorConfig& cfg, int64_t id, const store::RouterStore::Attempt& attempt,
    absl::Time started, const std::function<absl::StatusOr<v1::RouteEmailResponse>()>& route) {
  if (attempt.route_attempts > cfg.max_attempts) {
    // Every earlier attempt started and none decided or recorded a final error: each ended
    // with the process (killed, out of memory, crashed). Trying again would repeat that.
    std::string reason =
        absl::StrCat("routing did not finish in ", attempt.route_attempts - 1,
                     " attempts (the router stopped while routing it)");
    if (!attempt.last_error.empty()) {
      absl::StrAppend(&reason, "; last error: ", attempt.last_error);
    }
    return DecideFailed(cfg, id, attempt, reason, started);
  }
  Watchdog::Guard watched;
  if (options_.watchdog != nullptr) {
    watched = options_.watchdog->Watch(
        absl::StrCat("message ", id, " of connector ", cfg.record.name, " (attempt ",
                     attempt.route_attempts, ")"));
  }
  absl::StatusOr<v1::RouteEmailResponse> r = route();
  if (r.ok() || !ErrorOfTheMessage(r.status())) return r;
  const std::string error(r.status().message());
  LogWarning("route_attempt_failed", {{"message", absl::StrCat(id)},
                                      {"attempt", absl::StrCat(attempt.route_attempts)},
                                      {"error", error}});
  (void)options_.store->RecordAttemptError(id, error);
  if (attempt.route_attempts < cfg.max_attempts) return r;
  absl::StatusOr<v1::RouteEmailResponse> failed = DecideFailed(
      cfg, id, attempt,
      absl::StrCat("routing did not finish in ", attempt.route_attempts,
                   " attempts; last error: ", error),
      started);
  return failed.ok() ? failed : r;
}

absl::StatusOr<v1::RouteEmailResponse> Router::DecideFailed(
    const ConnectorConfig& cfg, int64_t id, const store::RouterStore::Attempt& attempt,
    const std::string& reason, absl::Time started) {
  store::DecisionWrite w;
  w.message_id = id;
  w.decision.connector_id = cfg.record.id;
  w.decision.decision = "failed";
  w.decision.decision_step = "attempts";
  w.decision.decision_reason = reason;
  Decision d;
  d.Decide("failed", "attempts", reason);
  w.decision.trace_json = TraceJson(d.trace);
  // Decided without parsing: keep what the fetcher stored.
  w.decision.message_id = attempt.message_id;
  w.decision.content_sha256 = attempt.content_sha256;
  POSTROOM_ASSIGN_OR_RETURN(store::DecisionResult res, options_.store->CommitDecision(w));
  if (options_.metrics != nullptr) {
    options_.metrics->Decided(cfg.record.name, "failed", options_.clock->Now() - started);
    options_.metrics->Poisoned(cfg.record.name);
  }
  LogWarning("poison_message", {{"connector", cfg.record.name},
                                {"message", absl::StrCat(id)},
                                {"attempts", absl::StrCat(attempt.route_attempts)},
                                {"reason", reason}});
  v1::RouteEmailResponse out;
  out.set_message_id(res.message_id);
  out.set_decision(v1::DECISION_FAILED);
  out.set_step("attempts");
  out.set_reason(reason);
  *out.mutable_trace() = d.trace.steps();
  return out;
}

void Router::StallForTest(const std::string& subject) const {
  if (options_.test_stall_on_subject.empty() ||
      !absl::StrContains(subject, options_.test_stall_on_subject)) {
    return;
  }
  LogWarning("test_stall", {{"subject", subject}});
  absl::SleepFor(absl::Hours(1));
}

absl::StatusOr<int> Router::SweepPending(absl::Duration min_age, int limit) {
  absl::Time now = options_.clock->Now();
  // The claim counts an attempt of each message it returns (RouterStore::ClaimPending).
  POSTROOM_ASSIGN_OR_RETURN(
      std::vector<int64_t> ids,
      options_.store->ClaimPending(now - min_age, now - options_.claim_timeout, now, limit));
  int decided = 0;
  for (int64_t id : ids) {
    absl::StatusOr<store::MessageRecord> m = options_.store->GetMessage(id, true);
    if (!m.ok() || !m->decision.empty()) continue;
    absl::StatusOr<std::shared_ptr<const ConnectorConfig>> cfg = Config(m->connector);
    if (!cfg.ok()) {
      // Not the message's fault: it waits for the connector to be fixed, never failed.
      LogWarning("sweep_route_failed", {{"message", absl::StrCat(id)},
                                        {"error", std::string(cfg.status().message())}});
      (void)options_.store->RecordAttemptError(id, std::string(cfg.status().message()));
      continue;
    }
    // A connector disabled since the claim: its mail waits for it to be enabled again.
    if (!CheckRoutable(**cfg).ok()) continue;
    const store::RouterStore::Attempt attempt{.route_attempts = m->route_attempts,
                                              .last_error = m->last_error,
                                              .message_id = m->message_id,
                                              .content_sha256 = m->content_sha256};
    absl::StatusOr<v1::RouteEmailResponse> r =
        RouteAttempt(**cfg, id, attempt, now, [&] { return RouteStored(**cfg, *m, now); });
    if (r.ok()) ++decided;
  }
  return decided;
}

}  // namespace postroom::router
