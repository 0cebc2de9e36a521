#pragma once

// Re-reads the tokens file without a restart: when it changes (its inode, size, mtime or ctime,
// polled every `interval`, which also sees a Kubernetes Secret volume swap its symlink) and on
// SIGHUP. A bad new file keeps the tokens in force and logs why, once per version of the file.
#include <sys/stat.h>

#include <functional>
#include <mutex>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/auth/token_authenticator.h"

namespace postroom::server {

// Makes SIGHUP ask every TokenFileWatcher to reload (instead of ending the process).
void InstallSighupReload();

class TokenFileWatcher {
 public:
  // `on_reload` runs after each reload that succeeded (the stream registry ends the streams of
  // revoked tokens). The watcher thread starts at once.
  TokenFileWatcher(auth::TokenAuthenticator& authenticator, std::function<void()> on_reload,
                   absl::Duration interval = absl::Seconds(1));
  ~TokenFileWatcher();  // Stops and joins the thread.
  TokenFileWatcher(const TokenFileWatcher&) = delete;
  TokenFileWatcher& operator=(const TokenFileWatcher&) = delete;

  // One poll: reloads when the file changed since the last look, or always when `force`
  // (SIGHUP). Returns whether the tokens were replaced. The thread calls it every interval.
  bool CheckOnce(bool force = false);

 private:
  struct Version {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    timespec mtime{};
    timespec ctime{};
    friend bool operator==(const Version& a, const Version& b) {
      return a.dev == b.dev && a.ino == b.ino && a.size == b.size &&
             a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec &&
             a.ctime.tv_sec == b.ctime.tv_sec && a.ctime.tv_nsec == b.ctime.tv_nsec;
    }
  };
  Version Stat() const;

  auth::TokenAuthenticator& authenticator_;
  std::function<void()> on_reload_;
  const absl::Duration interval_;
  std::mutex mu_;  // Serializes polls: the thread's and a test's.
  Version seen_;   // Guarded by mu_.
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace postroom::server
