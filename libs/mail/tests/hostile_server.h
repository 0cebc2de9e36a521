#pragma once

// A misbehaving mail or HTTP server for tests: a real TCP listener on 127.0.0.1, port 0, served
// by one thread of the test process. A script speaks just enough of the protocol to get the
// client logged in, then pours something that never ends (a literal, lines, JSON). What it pours
// is generated as it goes, so the test itself holds no more than one chunk, and it stops when
// the client closes (or at a cap, so a client that never stops cannot hang the test).
//
// While pouring it samples the process's VmRSS, so a test can assert that the client, which
// runs in the same process, did not grow with what the server sent.
// Test-only: not part of postroom_mail.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"

namespace postroom::mail::testing {

// One accepted connection, handed to the script. Reads and writes give up after 10 s.
class HostileConnection {
 public:
  HostileConnection(int fd, std::atomic<uint64_t>* sent, std::atomic<uint64_t>* peak_rss)
      : fd_(fd), sent_(sent), peak_rss_(peak_rss) {}

  // The next line from the client without its CRLF; nullopt once the client closed, after a
  // time-out, or when a line grows past 64 KiB.
  std::optional<std::string> ReadLine();
  // Reads lines until an empty one (the end of an HTTP request's headers); false when the
  // client went away first. The request body, if any, is not read.
  bool ReadHttpHead();
  // False when the client is gone.
  bool Send(absl::string_view bytes);
  // Sends `prefix`, then `unit` over and over until the client closes or `cap` bytes went out.
  void Pour(absl::string_view prefix, absl::string_view unit, uint64_t cap = 1ull << 30);

 private:
  int fd_;
  std::string in_;
  std::atomic<uint64_t>* sent_;
  std::atomic<uint64_t>* peak_rss_;
};

class HostileServer {
 public:
  using Script = std::function<void(HostileConnection&)>;

  // Listens at once; each connection runs `script`, one at a time, until the server is
  // destroyed.
  explicit HostileServer(Script script);
  ~HostileServer();
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  int port() const { return port_; }
  // Bytes sent to clients so far, over every connection.
  uint64_t bytes_sent() const { return sent_.load(); }
  // The largest VmRSS seen while pouring (sampled every MiB), in bytes.
  uint64_t peak_rss() const { return peak_rss_.load(); }

 private:
  void Serve();

  Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> peak_rss_{0};
  std::thread thread_;
};

// The process's resident set (VmRSS of /proc/self/status), in bytes.
uint64_t CurrentRss();

}  // namespace postroom::mail::testing
