// libFuzzer target: the SMTP sender against a hostile server. libcurl speaks SMTP (smtp_client.h
// says why), so the replies reach our code through its debug callback; the only way to feed
// them is a real conversation. A loopback server thread (port 0) answers each connection with
// the input, then half-closes and drains until the client hangs up, so libcurl sees the bytes
// and then the end of the stream, never a time-out. The first byte picks send or connection
// test, and the log-in.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "libs/mail/smtp_client.h"

namespace {

class ReplyServer {
 public:
  ReplyServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(fd_, 16) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::abort();  // No loopback: nothing can be fuzzed.
    }
    port_ = ntohs(addr.sin_port);
    std::thread([this] { Serve(); }).detach();  // Lives as long as the process.
  }
  int port() const { return port_; }
  void SetReplies(std::string bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    replies_ = std::move(bytes);
  }

 private:
  void Serve() {
    for (;;) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string bytes;
      {
        std::lock_guard<std::mutex> lock(mu_);
        bytes = replies_;
      }
      for (size_t off = 0; off < bytes.size();) {
        ssize_t n = send(c, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      shutdown(c, SHUT_WR);
      char drain[4096];
      while (recv(c, drain, sizeof drain, 0) > 0) {
      }
      close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::string replies_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static ReplyServer* server = new ReplyServer();
  const uint8_t control = data[0];
  server->SetReplies(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  postroom::mail::SmtpServer s;
  s.host = "127.0.0.1";
  s.port = server->port();
  s.security = postroom::mail::SmtpSecurity::kNone;
  s.timeout = absl::Seconds(2);  // Bounds a stuck conversation below libFuzzer's -timeout.
  postroom::mail::SmtpCredentials credentials;
  if (control & 1) {
    credentials.method = (control & 2) ? postroom::mail::SmtpAuth::kXOAuth2
                                       : postroom::mail::SmtpAuth::kPassword;
    credentials.user = "alice";
    credentials.secret = "secret";
  }
  if (control & 4) {
    (void)postroom::mail::TestSmtpConnection(s, credentials, "support@example.com");
  } else {
    postroom::mail::SmtpEnvelope envelope{"support@example.com", {"customer@example.org"}};
    (void)postroom::mail::SendSmtp(s, credentials, envelope,
                                   "Subject: ack\r\n\r\nThank you.\r\n");
  }
  return 0;
}
