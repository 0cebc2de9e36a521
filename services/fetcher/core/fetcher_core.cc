#include "services/fetcher/core/fetcher_core.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "libs/connector/decode.h"
#include "libs/connector/defaults.h"
#include "libs/mail/mail_error.h"

namespace postroom::fetcher {
namespace {

constexpr absl::Duration kMaxTryBackoff = absl::Seconds(30);

std::string OutcomeName(PollOutcome o) {
  switch (o) {
    case PollOutcome::kSuccess:
      return "success";
    case PollOutcome::kError:
      return "error";
    case PollOutcome::kSkipped:
      return "skipped";
    case PollOutcome::kLeaseLost:
      return "lease_lost";
    case PollOutcome::kNothingDue:
      return "nothing_due";
  }
  return "error";
}

// Retrying within one poll helps only where the next try may meet a different server state.
bool Retryable(const absl::Status& st) {
  switch (mail::ClassifyMailError(st)) {
    case mail::MailErrorClass::kNetwork:
    case mail::MailErrorClass::kThrottled:
    case mail::MailErrorClass::kProtocol:
      return true;
    default:
      return st.code() == absl::StatusCode::kUnavailable;
  }
}

std::string ClassName(const absl::Status& st) {
  mail::MailErrorClass c = mail::ClassifyMailError(st);
  if (c == mail::MailErrorClass::kOther || c == mail::MailErrorClass::kNone) return "other";
  return std::string(mail::MailErrorClassName(c));
}

}  // namespace

absl::string_view HeaderBlock(absl::string_view raw) {
  size_t crlf = raw.find("\r\n\r\n");
  size_t lf = raw.find("\n\n");
  size_t end = absl::string_view::npos;
  if (crlf != absl::string_view::npos) end = crlf + 4;
  if (lf != absl::string_view::npos && (end == absl::string_view::npos || lf + 2 < end)) {
    end = lf + 2;
  }
  return end == absl::string_view::npos ? raw : raw.substr(0, end);
}

std::string ExtractMessageId(absl::string_view raw) {
  absl::string_view headers = HeaderBlock(raw);
  size_t pos = 0;
  while (pos < headers.size()) {
    size_t eol = headers.find('\n', pos);
    if (eol == absl::string_view::npos) eol = headers.size();
    absl::string_view line = headers.substr(pos, eol - pos);
    if (line.size() > 11 && absl::EqualsIgnoreCase(line.substr(0, 11), "message-id:")) {
      std::string value(line.substr(11));
      // Folded onto the next line(s).
      size_t next = eol + 1;
      while (next < headers.size() && (headers[next] == ' ' || headers[next] == '\t')) {
        size_t e2 = headers.find('\n', next);
        if (e2 == absl::string_view::npos) e2 = headers.size();
        value += std::string(headers.substr(next, e2 - next));
        next = e2 + 1;
      }
      size_t lt = value.find('<');
      size_t gt = value.find('>', lt == std::string::npos ? 0 : lt);
      if (lt != std::string::npos && gt != std::string::npos) {
        return value.substr(lt + 1, gt - lt - 1);
      }
      return std::string(absl::StripAsciiWhitespace(value));
    }
    pos = eol + 1;
  }
  return "";
}

FetcherCore::FetcherCore(CoreOptions options, CoreDeps deps)
    : options_(std::move(options)), deps_(deps) {}

absl::Status FetcherCore::RunLeaseRound() {
  const absl::Time now = deps_.clock->Now();
  std::set<int64_t> busy;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [id, n] : sessions_) busy.insert(id);
    for (const auto& [name, e] : entries_) {
      if (busy.count(e.lease.connector_id) == 0) deciding_.insert(e.lease.connector_id);
    }
  }
  absl::StatusOr<std::vector<store::LeaseRecord>> leases =
      deps_.store->RenewLeases(options_.replica, now, options_.lease_period, busy);
  if (!leases.ok()) {
    absl::MutexLock l(&mu_);
    deciding_.clear();
    return leases.status();
  }
  absl::StatusOr<std::vector<store::IncomingConnectorRecord>> records =
      deps_.store->ListActiveIncoming();
  if (!records.ok()) {
    absl::MutexLock l(&mu_);
    deciding_.clear();
    return records.status();
  }

  if (deps_.observer != nullptr) {
    // Best effort: only the metrics' zero series depend on it.
    absl::StatusOr<std::vector<std::string>> names = deps_.store->ListIncomingNames();
    if (names.ok()) {
      for (const std::string& n : *names) deps_.observer->Known(n);
    }
  }
  absl::MutexLock l(&mu_);
  std::map<std::string, Entry> next;
  for (const store::LeaseRecord& lease : *leases) {
    auto rec = std::find_if(records->begin(), records->end(),
                            [&](const auto& r) { return r.id == lease.connector_id; });
    if (rec == records->end()) continue;  // disabled between the two reads
    Entry e;
    auto old = entries_.find(lease.connector);
    bool same = old != entries_.end() && old->second.record.version == rec->version &&
                old->second.record.sealed_secrets == rec->sealed_secrets;
    if (same) {
      e = old->second;
      e.record.test_passed_at = rec->test_passed_at;
      if (e.cool_off_until > now && rec->test_passed_at > e.failed_at) {
        // A connection test passed since the failed poll: the fix is proven, poll now.
        e.cool_off_until = absl::InfinitePast();
        e.next_poll = now;
        LogInfo("cool_off_ended", {{"connector", lease.connector},
                                   {"why", "a connection test passed after the failed poll"}});
      }
    } else {
      e.record = *rec;
      e.next_poll = now;
      if (old != entries_.end()) {
        // Settings or secrets changed: keep the error count (auto-disable still counts), end
        // any cool-off and poll with the new ones now: the change may be the fix.
        e.polling = old->second.polling;
        e.consecutive_errors = old->second.consecutive_errors;
        e.failed_at = old->second.failed_at;
        if (old->second.cool_off_until > now) {
          LogInfo("cool_off_ended", {{"connector", lease.connector},
                                     {"why", "its settings or secrets changed"}});
        }
      }
      absl::StatusOr<v1::Connector> c = connector::DecodeSpec(rec->name, rec->spec_json);
      if (c.ok()) {
        e.connector = *std::move(c);
        if (deps_.secrets != nullptr) {
          e.settings_error = connector::OpenSecrets(
              rec->sealed_secrets, connector::OpenWith(deps_.secrets), e.connector);
        }
        absl::StatusOr<FetchSettings> s = SettingsOf(e.connector);
        if (s.ok()) {
          e.settings = *std::move(s);
        } else if (e.settings_error.ok()) {
          e.settings_error = s.status();
        }
      } else {
        e.settings_error = c.status();
      }
    }
    if (old != entries_.end() && old->second.lease.fencing_token != lease.fencing_token) {
      // Lost and re-taken: whatever we knew may be stale.
      e.consecutive_errors = 0;
    }
    e.lease = lease;
    next.emplace(lease.connector, std::move(e));
  }
  for (const auto& [name, e] : entries_) {
    if (next.count(name) == 0) {
      LogInfo("lease_dropped", {{"connector", name}, {"replica", options_.replica}});
      if (deps_.observer != nullptr) deps_.observer->Forget(name);
    }
  }
  for (const auto& [name, e] : next) {
    auto old = entries_.find(name);
    if (old == entries_.end()) {
      LogInfo("lease_taken", {{"connector", name},
                              {"replica", options_.replica},
                              {"fencing_token", std::to_string(e.lease.fencing_token)}});
    } else if (e.lease.shedding && !old->second.lease.shedding) {
      LogInfo("lease_shedding", {{"connector", name},
                                 {"replica", options_.replica},
                                 {"why", "over the fair share; released once its session ends"}});
    }
  }
  StopIdlesNotIn(next);
  entries_ = std::move(next);
  deciding_.clear();
  if (deps_.observer != nullptr) deps_.observer->LeasesHeld(static_cast<int64_t>(entries_.size()));
  return absl::OkStatus();
}

absl::Time FetcherCore::NextDue() {
  absl::MutexLock l(&mu_);
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [name, e] : entries_) {
    if (Blocked(e)) continue;
    next = std::min(next, e.poll_now ? absl::InfinitePast() : e.next_poll);
  }
  return next;
}

absl::Status FetcherCore::PollNow(const std::string& connector) {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(connector);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("connector \"", connector, "\" is not held by replica ",
                                            options_.replica,
                                            "; ask the owner (ListOwners) or check it is active"));
  }
  it->second.poll_now = true;
  return absl::OkStatus();
}

std::vector<OwnedConnector> FetcherCore::Owned() {
  absl::MutexLock l(&mu_);
  std::vector<OwnedConnector> out;
  for (const auto& [name, e] : entries_) {
    out.push_back({name, e.record.protocol, e.lease.fencing_token, e.lease.expires_at,
                   e.poll_now ? deps_.clock->Now() : e.next_poll, e.cool_off_until, e.polling,
                   e.consecutive_errors, e.lease.shedding});
  }
  return out;
}

absl::Status FetcherCore::ReleaseAll() {
  {
    absl::MutexLock l(&mu_);
    for (auto& [name, e] : entries_) StopIdle(e);
    entries_.clear();
    auto quiet = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sessions_.empty(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&quiet), options_.lease_period)) {
      LogWarning("release_wait_timed_out",
                 {{"replica", options_.replica},
                  {"sessions", std::to_string(sessions_.size())},
                  {"why", "sessions still open after one lease period; releasing anyway"}});
    }
  }
  return deps_.store->ReleaseAll(options_.replica);
}

void FetcherCore::SessionStarted(int64_t id) { ++sessions_[id]; }

void FetcherCore::SessionEnded(int64_t id) {
  auto it = sessions_.find(id);
  if (it != sessions_.end() && --it->second <= 0) sessions_.erase(it);
}

bool FetcherCore::Blocked(const Entry& e) const {
  return e.polling || e.lease.shedding || deciding_.count(e.lease.connector_id) > 0;
}

PollReport FetcherCore::RunOneDue() {
  PollReport report;
  Entry job;
  const absl::Time started = deps_.clock->Now();
  {
    absl::MutexLock l(&mu_);
    Entry* best = nullptr;
    for (auto& [name, e] : entries_) {
      if (Blocked(e)) continue;
      if (!e.poll_now && e.next_poll > started) continue;
      if (best == nullptr || (e.poll_now && !best->poll_now) ||
          (e.poll_now == best->poll_now && e.next_poll < best->next_poll)) {
        best = &e;
      }
    }
    if (best == nullptr) return report;
    report.connector = best->lease.connector;
    if (!best->poll_now && best->settings_error.ok() && InSkipWindow(best->settings, started)) {
      best->next_poll = started + best->settings.poll_interval;
      report.outcome = PollOutcome::kSkipped;
      if (deps_.observer != nullptr) {
        deps_.observer->Polled(report.connector, "skipped", absl::ZeroDuration());
      }
      return report;
    }
    best->polling = true;
    best->poll_now = false;
    SessionStarted(best->lease.connector_id);
    StopIdle(*best);  // this poll opens its own session
    job = *best;
  }

  Counters counters;
  absl::Status st = job.settings_error;
  if (st.ok()) {
    absl::Duration backoff = options_.try_backoff;
    for (int t = 1; t <= job.settings.max_tries; ++t) {
      report.tries = t;
      st = PollOnce(job, counters);
      if (st.ok() || st.code() == absl::StatusCode::kAborted || !Retryable(st)) break;
      LogWarning("poll_try_failed", {{"connector", job.lease.connector},
                                     {"try", std::to_string(t)},
                                     {"error_class", ClassName(st)},
                                     {"error", std::string(st.message())}});
      if (t < job.settings.max_tries && backoff > absl::ZeroDuration() && options_.sleep) {
        options_.sleep(backoff);
        backoff = std::min(backoff * 2, kMaxTryBackoff);
      }
    }
  }
  report.stored = counters.stored;
  report.already_stored = counters.already_stored;
  report.status = st;
  const absl::Time done = deps_.clock->Now();
  if (st.ok()) {
    report.outcome = PollOutcome::kSuccess;
    absl::Status rec = deps_.store->RecordSuccess(job.lease, done, counters.backfill_done,
                                                  counters.backfill_total);
    if (rec.code() == absl::StatusCode::kAborted) report.outcome = PollOutcome::kLeaseLost;
  } else if (st.code() == absl::StatusCode::kAborted) {
    report.outcome = PollOutcome::kLeaseLost;
  } else {
    report.outcome = PollOutcome::kError;
    store::PollFailure f;
    f.at = done;
    f.error = std::string(st.message());
    f.error_class = ClassName(st);
    f.threshold = job.settings_error.ok() ? job.settings.error_threshold
                                          : static_cast<int>(connector::kDefaults.error_threshold);
    f.notice.dedupe_key =
        absl::StrCat("auto_disable:", job.lease.connector, ":", job.record.version);
    f.notice.subject =
        absl::StrCat("postroom: connector \"", job.lease.connector, "\" was disabled");
    f.notice.body = absl::StrCat(
        "The incoming connector \"", job.lease.connector, "\" failed ", f.threshold,
        " polls in a row and was disabled by the system.\n\nLast error (", f.error_class,
        "): ", f.error, "\n\nFix the cause, run `postroomctl test connector ", job.lease.connector,
        "`, then `postroomctl enable connector ", job.lease.connector, "`.\n");
    absl::StatusOr<store::PollFailureResult> r = deps_.store->RecordFailure(job.lease, f);
    if (r.ok()) {
      report.auto_disabled = r->auto_disabled;
      if (r->auto_disabled) {
        LogWarning("connector_auto_disabled", {{"connector", job.lease.connector},
                                               {"errors", std::to_string(r->consecutive_errors)},
                                               {"error_class", f.error_class}});
      }
    } else if (r.status().code() == absl::StatusCode::kAborted) {
      report.outcome = PollOutcome::kLeaseLost;
    }
    LogWarning("poll_failed", {{"connector", job.lease.connector},
                               {"error_class", f.error_class},
                               {"tries", std::to_string(report.tries)},
                               {"error", f.error}});
  }
  if (report.stored > 0 || report.outcome != PollOutcome::kSuccess) {
    LogInfo("poll_done", {{"connector", job.lease.connector},
                          {"outcome", OutcomeName(report.outcome)},
                          {"stored", std::to_string(report.stored)},
                          {"ms", std::to_string(absl::ToInt64Milliseconds(done - started))}});
  }
  Finish(job, report, started);
  return report;
}

void FetcherCore::Finish(Entry& job, const PollReport& report, absl::Time started) {
  const absl::Time now = deps_.clock->Now();
  if (deps_.observer != nullptr) {
    deps_.observer->Polled(report.connector, OutcomeName(report.outcome), now - started);
  }
  absl::MutexLock l(&mu_);
  SessionEnded(job.lease.connector_id);
  auto it = entries_.find(report.connector);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  e.polling = false;
  const FetchSettings& s = e.settings;
  switch (report.outcome) {
    case PollOutcome::kSuccess:
      e.consecutive_errors = 0;
      e.cool_off_until = absl::InfinitePast();
      e.next_poll = now + s.poll_interval;
      break;
    case PollOutcome::kError:
      ++e.consecutive_errors;
      e.cool_off_until = now + s.cool_off;
      e.failed_at = now;
      // No cool-off is not a tight loop: the next poll comes at the interval.
      e.next_poll = report.auto_disabled                ? absl::InfiniteFuture()
                    : s.cool_off > absl::ZeroDuration() ? e.cool_off_until
                                                        : now + s.poll_interval;
      break;
    default:
      e.next_poll = now + s.poll_interval;
      break;
  }
}

absl::Status FetcherCore::PollOnce(const Entry& e, Counters& counters) {
  if (e.record.protocol == "imap") return PollImap(e, counters);
  if (e.record.protocol == "pop3") return PollPop3(e, counters);
  if (e.record.protocol == "graph") return PollGraph(e, counters);
  return absl::FailedPreconditionError(absl::StrCat(
      "connector \"", e.lease.connector, "\": protocol ", e.record.protocol, " cannot be polled"));
}

absl::Status FetcherCore::Commit(const Entry& e, const store::BatchWrite& write,
                                 Counters& counters) {
  if (write.messages.empty() && !write.cursor.has_value() && write.pop3_uidls.empty() &&
      write.pop3_forget.empty()) {
    return absl::OkStatus();
  }
  absl::StatusOr<store::BatchResult> r = deps_.store->SaveBatch(e.lease, write);
  if (!r.ok()) return r.status();
  counters.stored += static_cast<int64_t>(r->inserted.size());
  counters.already_stored += static_cast<int64_t>(r->already_stored);
  if (deps_.observer != nullptr && !r->inserted.empty()) {
    deps_.observer->Stored(e.lease.connector, static_cast<int64_t>(r->inserted.size()), r->bytes);
  }
  if (deps_.router != nullptr) {
    // `inserted` lists the stored messages in the order of `write.messages`.
    size_t next = 0;
    for (const store::StoredRef& ref : r->inserted) {
      while (next < write.messages.size() && write.messages[next].fetch_key != ref.fetch_key) {
        ++next;
      }
      if (next == write.messages.size()) break;
      const store::NewMessage& m = write.messages[next];
      if (!ref.pending) continue;
      RouteJob job{e.lease.connector, ref.id, ref.fetch_key, m.folder, m.queue_hint};
      if (!m.truncated) job.raw = m.raw;
      deps_.router->Submit(std::move(job));
    }
  }
  return absl::OkStatus();
}

store::NewMessage FetcherCore::Oversized(const Entry& e, std::string fetch_key,
                                         const std::string& folder, const std::string& queue_hint,
                                         uint64_t size, absl::string_view bytes,
                                         std::vector<store::AdminNotice>& notices) {
  store::NewMessage m;
  m.fetch_key = std::move(fetch_key);
  m.folder = folder;
  m.queue_hint = queue_hint;
  m.size_bytes = static_cast<int64_t>(std::max<uint64_t>(size, bytes.size()));
  m.raw = std::string(HeaderBlock(bytes));
  m.truncated = true;
  m.message_id = ExtractMessageId(bytes);
  m.failed_reason =
      absl::StrCat("message is ", m.size_bytes, " bytes, over the connector's max_message_bytes ",
                   e.settings.max_message_bytes, ": stored headers only");
  notices.push_back(
      {absl::StrCat("oversize:", e.lease.connector, ":", m.fetch_key),
       absl::StrCat("postroom: message over the size limit on connector \"", e.lease.connector,
                    "\""),
       absl::StrCat("A message in folder \"", folder, "\" of connector \"", e.lease.connector,
                    "\" (Message-ID <", m.message_id, ">, ", m.size_bytes,
                    " bytes) is over the limit of ", e.settings.max_message_bytes,
                    " bytes. Its headers are stored and it was decided `failed`; read it in the "
                    "mailbox itself.\n")});
  LogWarning("message_oversized", {{"connector", e.lease.connector},
                                   {"fetch_key", m.fetch_key},
                                   {"bytes", std::to_string(m.size_bytes)}});
  return m;
}

store::FolderCursorRecord FetcherCore::CursorFor(
    const std::vector<store::FolderCursorRecord>& cursors, const std::string& folder) {
  for (const auto& c : cursors) {
    if (c.folder == folder) return c;
  }
  store::FolderCursorRecord fresh;
  fresh.folder = folder;
  return fresh;
}

absl::Status FetcherCore::PollImap(const Entry& e, Counters& counters) {
  const FetchSettings& s = e.settings;
  absl::StatusOr<std::unique_ptr<ImapSession>> opened = deps_.mail->OpenImap(e.connector);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<ImapSession> session = *std::move(opened);
  absl::StatusOr<std::vector<store::FolderCursorRecord>> cursors =
      deps_.store->GetCursors(e.lease.connector_id);
  if (!cursors.ok()) return cursors.status();
  const bool read_only = s.processed_action == v1::PROCESSED_ACTION_LEAVE;
  counters.backfill_done = counters.backfill_total = 0;

  for (const FolderPlan& plan : s.folders) {
    store::FolderCursorRecord cur = CursorFor(*cursors, plan.folder);
    absl::StatusOr<FolderStatus> fs = session->Open(plan.folder, read_only);
    if (!fs.ok()) return fs.status();
    if (cur.uid_validity != fs->uid_validity) {
      if (cur.uid_validity != 0) {
        // Every UID we remembered is void: fetch the folder again. Fetch keys carry the
        // UIDVALIDITY, so these are new rows; the router dedupes them by Message-ID and hash.
        LogWarning("uidvalidity_changed", {{"connector", e.lease.connector},
                                           {"folder", plan.folder},
                                           {"old", std::to_string(cur.uid_validity)},
                                           {"new", std::to_string(fs->uid_validity)}});
      }
      cur = store::FolderCursorRecord();
      cur.folder = plan.folder;
      cur.uid_validity = fs->uid_validity;
    }
    // Nothing new: UIDNEXT says so without a SEARCH (the idle poll is one EXAMINE).
    if (cur.last_uid > 0 && fs->uid_next != 0 && fs->uid_next <= cur.last_uid + 1) {
      counters.backfill_done += cur.backfill_done;
      counters.backfill_total += cur.backfill_total;
      if (deps_.observer != nullptr) deps_.observer->BackfillRemaining(e.lease.connector, 0);
      continue;
    }
    absl::StatusOr<std::vector<uint32_t>> uids =
        (cur.last_uid == 0 && s.sync_start.has_value())
            ? session->UidsSince(*s.sync_start)
            : session->UidsAfter(static_cast<uint32_t>(cur.last_uid));
    if (!uids.ok()) return uids.status();
    std::sort(uids->begin(), uids->end());
    uids->erase(
        std::remove_if(uids->begin(), uids->end(), [&](uint32_t u) { return u <= cur.last_uid; }),
        uids->end());
    if (cur.last_uid == 0) cur.backfill_done = 0;
    cur.backfill_total = cur.backfill_done + static_cast<int64_t>(uids->size());
    int64_t remaining = static_cast<int64_t>(uids->size());
    if (deps_.observer != nullptr) deps_.observer->BackfillRemaining(e.lease.connector, remaining);

    for (size_t begin = 0; begin < uids->size(); begin += options_.fetch_chunk) {
      std::vector<uint32_t> chunk(
          uids->begin() + begin,
          uids->begin() + std::min(uids->size(), begin + options_.fetch_chunk));
      absl::StatusOr<std::vector<SizedUid>> sizes = session->Sizes(chunk);
      if (!sizes.ok()) return sizes.status();
      std::vector<uint32_t> normal;
      std::set<uint32_t> big;
      for (const SizedUid& su : *sizes) {
        if (su.size > s.max_message_bytes) big.insert(su.uid);
      }
      for (uint32_t u : chunk) {
        if (big.count(u) == 0) normal.push_back(u);
      }
      // Over-size messages first, without moving the cursor: once they are stored, the
      // cursor may pass them.
      for (uint32_t u : big) {
        store::BatchWrite w;
        absl::Status f = session->FetchHead(
            {u}, s.max_message_bytes, [&](uint32_t uid, uint64_t size, absl::string_view bytes) {
              w.messages.push_back(
                  Oversized(e, absl::StrCat(plan.folder, ":", cur.uid_validity, ":", uid),
                            plan.folder, plan.queue_hint, size, bytes, w.notices));
              return absl::OkStatus();
            });
        if (!f.ok()) return f;
        if (absl::Status c = Commit(e, w, counters); !c.ok()) return c;
      }
      // The cursor may only pass a UID once every smaller requested UID is stored (or
      // over-size, stored above): `next` walks the chunk in order.
      std::vector<bool> got(chunk.size(), false);
      for (size_t i = 0; i < chunk.size(); ++i) got[i] = big.count(chunk[i]) > 0;
      size_t next = 0;
      store::BatchWrite w;
      size_t w_bytes = 0;
      auto watermark = [&]() -> int64_t {
        while (next < chunk.size() && got[next]) ++next;
        return next == 0 ? cur.last_uid : std::max<int64_t>(cur.last_uid, chunk[next - 1]);
      };
      auto flush = [&](int64_t last_uid) -> absl::Status {
        int64_t n = static_cast<int64_t>(w.messages.size());
        cur.last_uid = last_uid;
        cur.backfill_done += n;
        w.cursor = cur;
        POSTROOM_RETURN_IF_ERROR(Commit(e, w, counters));
        remaining -= n;
        if (deps_.observer != nullptr) {
          deps_.observer->BackfillRemaining(e.lease.connector, std::max<int64_t>(0, remaining));
        }
        w = store::BatchWrite();
        w_bytes = 0;
        return absl::OkStatus();
      };
      absl::Status f = session->Fetch(
          normal, [&](uint32_t uid, uint64_t size, absl::string_view bytes) -> absl::Status {
            auto pos = std::lower_bound(chunk.begin(), chunk.end(), uid);
            if (pos != chunk.end() && *pos == uid) got[pos - chunk.begin()] = true;
            store::NewMessage m;
            m.fetch_key = absl::StrCat(plan.folder, ":", cur.uid_validity, ":", uid);
            m.folder = plan.folder;
            m.queue_hint = plan.queue_hint;
            m.size_bytes = static_cast<int64_t>(bytes.size());
            if (bytes.size() > s.max_message_bytes) {
              // The server's RFC822.SIZE was smaller than what it sent.
              w.messages.push_back(
                  Oversized(e, m.fetch_key, plan.folder, plan.queue_hint, size, bytes, w.notices));
            } else {
              m.raw.assign(bytes.data(), bytes.size());
              m.message_id = ExtractMessageId(m.raw);
              w_bytes += m.raw.size();
              w.messages.push_back(std::move(m));
            }
            if (w.messages.size() >= options_.batch_messages || w_bytes >= options_.batch_bytes) {
              return flush(watermark());
            }
            return absl::OkStatus();
          });
      if (!f.ok()) return f;
      // Everything requested has been seen; UIDs the server no longer has are passed too.
      if (absl::Status c = flush(std::max<int64_t>(cur.last_uid, chunk.back())); !c.ok()) {
        return c;
      }
      // The processed-mail action, only now that the chunk is committed.
      absl::Status act = absl::OkStatus();
      switch (s.processed_action) {
        case v1::PROCESSED_ACTION_MARK_READ:
          act = session->MarkRead(chunk);
          break;
        case v1::PROCESSED_ACTION_MOVE:
          act = session->Move(chunk, s.processed_folder);
          break;
        case v1::PROCESSED_ACTION_DELETE:
          act = session->Delete(chunk);
          break;
        default:
          break;
      }
      if (!act.ok()) return act;
    }
    counters.backfill_done += cur.backfill_done;
    counters.backfill_total += cur.backfill_total;
  }
  IdleOrClose(e, std::move(session));
  return absl::OkStatus();
}

absl::Status FetcherCore::PollPop3(const Entry& e, Counters& counters) {
  const FetchSettings& s = e.settings;
  absl::StatusOr<std::unique_ptr<Pop3Session>> opened = deps_.mail->OpenPop3(e.connector);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<Pop3Session> session = *std::move(opened);
  absl::StatusOr<std::vector<std::string>> seen_list =
      deps_.store->GetPop3Seen(e.lease.connector_id);
  if (!seen_list.ok()) return seen_list.status();
  std::set<std::string> seen(seen_list->begin(), seen_list->end());
  absl::StatusOr<std::vector<Pop3Entry>> list = session->List();
  if (!list.ok()) return list.status();
  std::vector<Pop3Entry> fresh;
  std::set<std::string> listed;
  for (const Pop3Entry& p : *list) {
    listed.insert(p.uidl);
    if (seen.count(p.uidl) == 0) fresh.push_back(p);
  }
  const std::string folder = s.folders.empty() ? "INBOX" : s.folders.front().folder;
  const std::string hint = s.folders.empty() ? "" : s.folders.front().queue_hint;
  int64_t remaining = static_cast<int64_t>(fresh.size());
  counters.backfill_total = static_cast<int64_t>(seen.size() + fresh.size());
  counters.backfill_done = static_cast<int64_t>(seen.size());
  if (deps_.observer != nullptr) deps_.observer->BackfillRemaining(e.lease.connector, remaining);
  std::vector<uint32_t> committed;
  std::vector<uint32_t> in_batch;
  store::BatchWrite w;
  size_t w_bytes = 0;
  // The listing was complete: what it lacks is gone from the server (a UIDL is never reused,
  // RFC 1939; were one reused, its fetch key is still stored once).
  for (const std::string& u : seen) {
    if (listed.count(u) == 0) w.pop3_forget.push_back(u);
  }
  counters.backfill_total -= static_cast<int64_t>(w.pop3_forget.size());
  counters.backfill_done -= static_cast<int64_t>(w.pop3_forget.size());
  auto flush = [&]() -> absl::Status {
    POSTROOM_RETURN_IF_ERROR(Commit(e, w, counters));
    int64_t n = static_cast<int64_t>(w.pop3_uidls.size());
    remaining -= n;
    counters.backfill_done += n;
    if (deps_.observer != nullptr) {
      deps_.observer->BackfillRemaining(e.lease.connector, std::max<int64_t>(0, remaining));
    }
    committed.insert(committed.end(), in_batch.begin(), in_batch.end());
    in_batch.clear();
    w = store::BatchWrite();
    w_bytes = 0;
    return absl::OkStatus();
  };
  for (const Pop3Entry& p : fresh) {
    // Over the limit by LIST: its headers only, as the whole would exceed the reply limit.
    absl::StatusOr<std::string> raw = p.size > s.max_message_bytes
                                          ? session->RetrieveHead(p.number)
                                          : session->Retrieve(p.number);
    if (!raw.ok()) return raw.status();
    std::string key = absl::StrCat("uidl:", p.uidl);
    if (raw->size() > s.max_message_bytes || p.size > s.max_message_bytes) {
      w.messages.push_back(Oversized(e, key, folder, hint, p.size, *raw, w.notices));
    } else {
      store::NewMessage m;
      m.fetch_key = key;
      m.folder = folder;
      m.queue_hint = hint;
      m.size_bytes = static_cast<int64_t>(raw->size());
      m.message_id = ExtractMessageId(*raw);
      w_bytes += raw->size();
      m.raw = *std::move(raw);
      w.messages.push_back(std::move(m));
    }
    w.pop3_uidls.push_back(p.uidl);
    in_batch.push_back(p.number);
    if (w.messages.size() >= options_.batch_messages || w_bytes >= options_.batch_bytes) {
      POSTROOM_RETURN_IF_ERROR(flush());
    }
  }
  POSTROOM_RETURN_IF_ERROR(flush());
  if (s.processed_action == v1::PROCESSED_ACTION_DELETE) {
    for (uint32_t n : committed) POSTROOM_RETURN_IF_ERROR(session->Delete(n));
  }
  return session->Close();
}

}  // namespace postroom::fetcher
