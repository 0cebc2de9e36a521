#include "libs/server/token_watcher.h"

#include <algorithm>
#include <atomic>
#include <csignal>

#include "absl/time/clock.h"
#include "libs/base/log.h"

namespace postroom::server {
namespace {

std::atomic<int> g_sighup_count{0};

void OnSighup(int) { g_sighup_count.fetch_add(1); }

}  // namespace

void InstallSighupReload() { std::signal(SIGHUP, OnSighup); }

TokenFileWatcher::Version TokenFileWatcher::Stat() const {
  Version v;
  struct stat st {};
  if (::stat(authenticator_.path().c_str(), &st) != 0) return v;  // Gone: size -1.
  v.dev = st.st_dev;
  v.ino = st.st_ino;
  v.size = st.st_size;
  v.mtime = st.st_mtim;
  v.ctime = st.st_ctim;
  return v;
}

TokenFileWatcher::TokenFileWatcher(auth::TokenAuthenticator& authenticator,
                                   std::function<void()> on_reload, absl::Duration interval)
    : authenticator_(authenticator), on_reload_(std::move(on_reload)), interval_(interval) {
  seen_ = Stat();
  // Ticks often so a SIGHUP acts at once; the file is looked at every interval_.
  thread_ = std::thread([this, sighups = g_sighup_count.load()]() mutable {
    absl::Time next_look = absl::Now() + interval_;
    while (!stop_.WaitForNotificationWithTimeout(std::min(interval_, absl::Milliseconds(100)))) {
      const int now = g_sighup_count.load();
      if (now == sighups && absl::Now() < next_look) continue;
      CheckOnce(/*force=*/now != sighups);  // A signal reloads even an unchanged file.
      sighups = now;
      next_look = absl::Now() + interval_;
    }
  });
}

TokenFileWatcher::~TokenFileWatcher() {
  stop_.Notify();
  thread_.join();
}

bool TokenFileWatcher::CheckOnce(bool force) {
  std::lock_guard lock(mu_);
  Version now = Stat();
  if (now == seen_ && !force) return false;
  // Remembered whatever the outcome: a bad file is reported once, not every second.
  seen_ = now;
  if (absl::Status st = authenticator_.Reload(); !st.ok()) {
    LogError("tokens_reload_failed",
             {{"path", authenticator_.path()}, {"error", std::string(st.message())}});
    return false;
  }
  LogInfo("tokens_reloaded", {{"path", authenticator_.path()},
                              {"tokens", std::to_string(authenticator_.token_count())}});
  if (on_reload_) on_reload_();
  return true;
}

}  // namespace postroom::server
