#include "libs/mail/tests/hostile_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace postroom::mail::testing {
namespace {

constexpr int kIoTimeoutMs = 10'000;
constexpr size_t kMaxLine = 64 << 10;
constexpr uint64_t kSampleEvery = 1 << 20;

bool WaitFor(int fd, short events) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, kIoTimeoutMs) > 0;
}

}  // namespace

uint64_t CurrentRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view l = line;
    if (!absl::ConsumePrefix(&l, "VmRSS:")) continue;
    l = absl::StripAsciiWhitespace(l);
    absl::ConsumeSuffix(&l, "kB");
    uint64_t kb = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(l), &kb)) return kb << 10;
  }
  return 0;
}

std::optional<std::string> HostileConnection::ReadLine() {
  for (;;) {
    size_t nl = in_.find('\n');
    if (nl != std::string::npos) {
      std::string line = in_.substr(0, nl);
      in_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (in_.size() > kMaxLine || !WaitFor(fd_, POLLIN)) return std::nullopt;
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return std::nullopt;
    in_.append(buf, static_cast<size_t>(n));
  }
}

bool HostileConnection::ReadHttpHead() {
  for (;;) {
    std::optional<std::string> line = ReadLine();
    if (!line) return false;
    if (line->empty()) return true;
  }
}

bool HostileConnection::Send(absl::string_view bytes) {
  while (!bytes.empty()) {
    if (!WaitFor(fd_, POLLOUT)) return false;
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
    uint64_t before = sent_->fetch_add(static_cast<uint64_t>(n));
    if ((before + static_cast<uint64_t>(n)) / kSampleEvery != before / kSampleEvery) {
      uint64_t rss = CurrentRss();
      uint64_t peak = peak_rss_->load();
      while (rss > peak && !peak_rss_->compare_exchange_weak(peak, rss)) {
      }
    }
  }
  return true;
}

void HostileConnection::Pour(absl::string_view prefix, absl::string_view unit, uint64_t cap) {
  if (!Send(prefix)) return;
  // Several units per send(), so the loop is not one system call per tiny line.
  std::string block;
  while (block.size() < (64 << 10)) block.append(unit.data(), unit.size());
  for (uint64_t sent = prefix.size(); sent < cap; sent += block.size()) {
    if (!Send(block)) return;
  }
}

HostileServer::HostileServer(Script script) : script_(std::move(script)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 4) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("hostile server: listen");
    return;
  }
  port_ = ntohs(addr.sin_port);
  peak_rss_ = CurrentRss();
  thread_ = std::thread([this] { Serve(); });
}

HostileServer::~HostileServer() {
  stop_ = true;
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);  // wakes the accept()
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void HostileServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stop_) return;
      continue;
    }
    HostileConnection conn(fd, &sent_, &peak_rss_);
    script_(conn);
    close(fd);
  }
}

}  // namespace postroom::mail::testing
