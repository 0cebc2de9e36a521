// IMAP IDLE for the fetcher core (RFC 2177): after a successful poll the connector's session
// waits on its first folder, and new mail makes the connector due at once. The poll interval
// stays the safety net: an IDLE that fails or ends without news changes nothing, and the next
// poll (which ends the IDLE first) starts a new one.
#include <atomic>

#include "absl/strings/str_cat.h"
#include "libs/base/log.h"
#include "services/fetcher/core/fetcher_core.h"

namespace postroom::fetcher {

struct IdleControl {
  std::atomic<bool> stop{false};
  absl::Time since;  // when the poll before it ended
  int64_t connector_id = 0;
};

namespace {
// A server that reports new mail at every IDLE (or a mailbox that never stops growing) could
// turn IDLE into a poll loop; polls it triggers start at least this long after the one before.
constexpr absl::Duration kMinIdleGap = absl::Seconds(1);
}  // namespace

void FetcherCore::StopIdle(Entry& e) {
  if (e.idle == nullptr) return;
  e.idle->stop = true;
  e.idle.reset();
}

void FetcherCore::StopIdlesNotIn(std::map<std::string, Entry>& next) {
  for (auto& [name, old] : entries_) {
    if (old.idle == nullptr) continue;
    auto it = next.find(name);
    if (it != next.end() && it->second.idle == old.idle &&
        it->second.lease.fencing_token == old.lease.fencing_token &&
        !it->second.lease.shedding) {
      continue;  // same lease, same settings: keep waiting
    }
    if (it != next.end()) it->second.idle.reset();
    StopIdle(old);
  }
}

std::vector<std::string> FetcherCore::Idling() {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) {
    if (e.idle != nullptr) out.push_back(name);
  }
  return out;
}

void FetcherCore::IdleOrClose(const Entry& e, std::unique_ptr<ImapSession> session) {
  const FetchSettings& s = e.settings;
  if (!options_.imap_idle || deps_.idle_runner == nullptr || s.folders.empty() ||
      !session->CanIdle()) {
    session->Close();
    return;
  }
  if (s.folders.size() > 1) {
    // The session sits in the last folder; IDLE watches the first. Mail that reached it since
    // its cursor was written is not reported by IDLE, so compare UIDNEXT with the cursor.
    absl::StatusOr<FolderStatus> fs = session->Open(s.folders.front().folder, true);
    absl::StatusOr<std::vector<store::FolderCursorRecord>> cursors =
        deps_.store->GetCursors(e.lease.connector_id);
    if (!fs.ok() || !cursors.ok()) {
      session->Close();
      return;
    }
    for (const auto& c : *cursors) {
      if (c.folder == s.folders.front().folder && c.uid_validity == fs->uid_validity &&
          c.last_uid > 0 && fs->uid_next > c.last_uid + 1) {
        session->Close();
        absl::MutexLock l(&mu_);
        auto it = entries_.find(e.lease.connector);
        if (it != entries_.end()) it->second.poll_now = true;
        return;
      }
    }
  }
  auto control = std::make_shared<IdleControl>();
  control->since = deps_.clock->Now();
  control->connector_id = e.lease.connector_id;
  {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(e.lease.connector);
    if (it == entries_.end() || it->second.lease.fencing_token != e.lease.fencing_token ||
        it->second.record.version != e.record.version || it->second.lease.shedding) {
      // Lost or changed while polling: the next poll starts afresh. Shedding: log out so the
      // lease can be handed over.
      control.reset();
    } else {
      StopIdle(it->second);
      it->second.idle = control;
      SessionStarted(control->connector_id);  // ends when RunIdle has logged out
    }
  }
  if (control == nullptr) {
    session->Close();
    return;
  }
  // Until the poll interval is up: that poll ends this IDLE and starts the next one.
  deps_.idle_runner->Run([this, name = e.lease.connector, control,
                          shared = std::shared_ptr<ImapSession>(std::move(session)),
                          wait = s.poll_interval]() mutable {
    RunIdle(name, std::move(control), std::move(shared), wait);
  });
}

void FetcherCore::RunIdle(const std::string& connector, std::shared_ptr<IdleControl> control,
                          std::shared_ptr<ImapSession> session, absl::Duration max_wait) {
  absl::StatusOr<bool> woke =
      session->WaitForNewMail(max_wait, [&control] { return control->stop.load(); });
  session->Close();
  const absl::Time now = deps_.clock->Now();
  bool due = false;
  {
    absl::MutexLock l(&mu_);
    SessionEnded(control->connector_id);
    auto it = entries_.find(connector);
    const bool current = it != entries_.end() && it->second.idle == control;
    if (current) it->second.idle.reset();
    if (current && woke.ok() && *woke && !control->stop && !it->second.polling) {
      Entry& e = it->second;
      e.next_poll = std::min(e.next_poll, std::max(now, control->since + kMinIdleGap));
      due = true;
    }
  }
  if (!woke.ok()) {
    // Not a poll failure: the poll interval still applies and the next poll reconnects.
    LogWarning("idle_failed",
               {{"connector", connector}, {"error", std::string(woke.status().message())}});
  } else if (due) {
    LogInfo("idle_new_mail", {{"connector", connector}});
  }
}

}  // namespace postroom::fetcher
