#include "libs/mail/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/mail/mail_error.h"

namespace postroom::mail {
namespace {

std::string Errno(int e) { return std::string(strerror(e)); }

// Milliseconds until `deadline` for poll(), at least 0 and at most a day.
int PollMillis(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 86'400'000));
}

// Waits for `events` on fd until the deadline. DEADLINE_EXCEEDED when it passes.
absl::Status WaitFd(int fd, short events, absl::Time deadline, absl::string_view what) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, PollMillis(deadline));
    if (r > 0) return absl::OkStatus();
    if (r == 0) {
      return MailTimeoutError(absl::StrCat("timed out waiting to ", what));
    }
    if (errno != EINTR) {
      return MailError(MailErrorClass::kNetwork, absl::StrCat("poll: ", Errno(errno)));
    }
  }
}

// OpenSSL's socket BIO writes with write(), which raises SIGPIPE when the peer has gone. A
// library must not change the process's signal handling, so this blocks SIGPIPE for the calling
// thread around the call and swallows a pending one (the technique from libcurl's sigpipe.h).
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      sigset_t pipe_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      timespec zero{0, 0};
      while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

std::string DrainSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

class SocketTransport final : public Transport {
 public:
  SocketTransport(int fd, std::string host) : fd_(fd), host_(std::move(host)) {}
  ~SocketTransport() override { Close(); }

  absl::StatusOr<size_t> Read(char* buf, size_t n, absl::Time deadline) override {
    if (fd_ < 0) return MailError(MailErrorClass::kNetwork, "read on a closed connection");
    if (n == 0) return 0;
    if (ssl_ == nullptr) {
      for (;;) {
        ssize_t r = recv(fd_, buf, n, 0);
        if (r >= 0) return static_cast<size_t>(r);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          if (absl::Status st = WaitFd(fd_, POLLIN, deadline, "read from the server"); !st.ok()) {
            return st;
          }
          continue;
        }
        return MailError(MailErrorClass::kNetwork, absl::StrCat("read: ", Errno(errno)));
      }
    }
    for (;;) {
      size_t got = 0;
      ERR_clear_error();
      if (SSL_read_ex(ssl_, buf, n, &got) == 1) return got;
      int err = SSL_get_error(ssl_, 0);
      switch (err) {
        case SSL_ERROR_ZERO_RETURN:
          return 0;
        case SSL_ERROR_WANT_READ:
          if (absl::Status st = WaitFd(fd_, POLLIN, deadline, "read from the server"); !st.ok()) {
            return st;
          }
          continue;
        case SSL_ERROR_WANT_WRITE:
          if (absl::Status st = WaitFd(fd_, POLLOUT, deadline, "read from the server"); !st.ok()) {
            return st;
          }
          continue;
        case SSL_ERROR_SYSCALL:
          if (errno == 0) return 0;
          return MailError(MailErrorClass::kNetwork, absl::StrCat("TLS read: ", Errno(errno)));
        default:
          return MailError(MailErrorClass::kTls, absl::StrCat("TLS read: ", DrainSslErrors()));
      }
    }
  }

  absl::Status Write(absl::string_view data, absl::Time deadline) override {
    if (fd_ < 0) return MailError(MailErrorClass::kNetwork, "write on a closed connection");
    while (!data.empty()) {
      if (ssl_ == nullptr) {
        ssize_t r = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (r >= 0) {
          data.remove_prefix(static_cast<size_t>(r));
          continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          POSTROOM_RETURN_IF_ERROR(WaitFd(fd_, POLLOUT, deadline, "write to the server"));
          continue;
        }
        return MailError(MailErrorClass::kNetwork, absl::StrCat("write: ", Errno(errno)));
      }
      size_t wrote = 0;
      int ok, err;
      {
        ScopedSigpipeBlock block;
        ERR_clear_error();
        ok = SSL_write_ex(ssl_, data.data(), data.size(), &wrote);
        err = ok == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, 0);
      }
      if (ok == 1) {
        data.remove_prefix(wrote);
        continue;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        POSTROOM_RETURN_IF_ERROR(WaitFd(fd_, POLLOUT, deadline, "write to the server"));
      } else if (err == SSL_ERROR_WANT_READ) {
        POSTROOM_RETURN_IF_ERROR(WaitFd(fd_, POLLIN, deadline, "write to the server"));
      } else if (err == SSL_ERROR_SYSCALL) {
        return MailError(MailErrorClass::kNetwork, absl::StrCat("TLS write: ", Errno(errno)));
      } else {
        return MailError(MailErrorClass::kTls, absl::StrCat("TLS write: ", DrainSslErrors()));
      }
    }
    return absl::OkStatus();
  }

  absl::Status StartTls(const TlsOptions& tls, absl::Time deadline) override {
    if (fd_ < 0) return MailError(MailErrorClass::kNetwork, "TLS on a closed connection");
    if (ssl_ != nullptr) return MailError(MailErrorClass::kTls, "TLS is already active");
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) {
      return MailError(MailErrorClass::kTls, absl::StrCat("SSL_CTX_new: ", DrainSslErrors()));
    }
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (tls.verify_peer) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
      int loaded = tls.ca_file.empty()
                       ? SSL_CTX_set_default_verify_paths(ctx_)
                       : SSL_CTX_load_verify_locations(ctx_, tls.ca_file.c_str(), nullptr);
      if (loaded != 1) {
        return MailError(MailErrorClass::kTls,
                         absl::StrCat("cannot load CA file \"", tls.ca_file,
                                      "\": ", DrainSslErrors(), " (check the ca_file setting)"));
      }
    } else {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    }
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
      return MailError(MailErrorClass::kTls, absl::StrCat("SSL_new: ", DrainSslErrors()));
    }
    const std::string name = tls.server_name.empty() ? host_ : tls.server_name;
    if (IsIpLiteral(name)) {
      if (tls.verify_peer &&
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str()) != 1) {
        return MailError(MailErrorClass::kTls, absl::StrCat("bad IP address \"", name, "\""));
      }
    } else {
      SSL_set_tlsext_host_name(ssl_, name.c_str());
      if (tls.verify_peer && SSL_set1_host(ssl_, name.c_str()) != 1) {
        return MailError(MailErrorClass::kTls, absl::StrCat("bad host name \"", name, "\""));
      }
    }
    for (;;) {
      int r, err;
      {
        ScopedSigpipeBlock block;
        ERR_clear_error();
        r = SSL_connect(ssl_);
        err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
      }
      if (r == 1) break;
      if (err == SSL_ERROR_WANT_READ) {
        POSTROOM_RETURN_IF_ERROR(WaitFd(fd_, POLLIN, deadline, "finish the TLS handshake"));
        continue;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        POSTROOM_RETURN_IF_ERROR(WaitFd(fd_, POLLOUT, deadline, "finish the TLS handshake"));
        continue;
      }
      long verify = SSL_get_verify_result(ssl_);
      std::string detail = DrainSslErrors();
      if (verify != X509_V_OK) {
        return MailError(
            MailErrorClass::kTls,
            absl::StrCat("TLS certificate of \"", name,
                         "\" not trusted: ", X509_verify_cert_error_string(verify),
                         tls.ca_file.empty() ? " (system trust store; set a CA file if the server"
                                               " uses a private CA)"
                                             : absl::StrCat(" (CA file ", tls.ca_file, ")")));
      }
      if (err == SSL_ERROR_SYSCALL && detail.empty()) {
        detail = errno == 0 ? "the server closed the connection" : Errno(errno);
      }
      return MailError(MailErrorClass::kTls,
                       absl::StrCat("TLS handshake with \"", name, "\" failed: ", detail));
    }
    std::string subject;
    if (X509* cert = SSL_get1_peer_certificate(ssl_)) {
      char buf[256];
      X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
      subject = buf;
      X509_free(cert);
    }
    description_ =
        absl::StrCat(SSL_get_version(ssl_), " ", SSL_get_cipher_name(ssl_), ", certificate ",
                     subject, tls.verify_peer ? " verified" : " NOT verified (verify_peer off)");
    return absl::OkStatus();
  }

  bool IsTls() const override { return ssl_ != nullptr; }
  std::string TlsDescription() const override { return description_; }

  void Close() override {
    if (ssl_ != nullptr) {
      ScopedSigpipeBlock block;
      SSL_shutdown(ssl_);  // best effort close_notify; the socket is non-blocking
      SSL_free(ssl_);
      ssl_ = nullptr;
      ERR_clear_error();
    }
    if (ctx_ != nullptr) {
      SSL_CTX_free(ctx_);
      ctx_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_;
  std::string host_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string description_;
};

}  // namespace

absl::StatusOr<std::vector<ResolvedAddress>> ResolveHost(const std::string& host, int port) {
  if (host.empty()) return absl::InvalidArgumentError("mail server host is empty");
  if (port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("mail server port ", port, " out of range"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    absl::Status st = MailError(MailErrorClass::kNetwork,
                                absl::StrCat("cannot resolve \"", host, "\": ", gai_strerror(rc)));
    return st;
  }
  std::vector<ResolvedAddress> out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    ResolvedAddress r;
    std::memcpy(&r.addr, a->ai_addr, a->ai_addrlen);
    r.len = a->ai_addrlen;
    char buf[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf, sizeof(buf));
      r.text = absl::StrCat(buf, ":", port);
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, buf,
                sizeof(buf));
      r.text = absl::StrCat("[", buf, "]:", port);
    } else {
      continue;
    }
    out.push_back(std::move(r));
  }
  freeaddrinfo(res);
  if (out.empty()) {
    return MailError(MailErrorClass::kNetwork,
                     absl::StrCat("\"", host, "\" has no IPv4 or IPv6 address"));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Transport>> ConnectTcp(const std::vector<ResolvedAddress>& addrs,
                                                      const std::string& host,
                                                      absl::Time deadline) {
  std::string errors;
  for (const ResolvedAddress& a : addrs) {
    int fd = socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      absl::StrAppend(&errors, errors.empty() ? "" : "; ", a.text, ": socket: ", Errno(errno));
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int r = connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
    if (r != 0 && errno == EINPROGRESS) {
      absl::Status st = WaitFd(fd, POLLOUT, deadline, absl::StrCat("connect to ", a.text));
      if (!st.ok()) {
        ::close(fd);
        absl::StrAppend(&errors, errors.empty() ? "" : "; ", st.message());
        if (absl::IsDeadlineExceeded(st)) {
          return MailTimeoutError(absl::StrCat("cannot connect to \"", host, "\": ", errors));
        }
        continue;
      }
      int soerr = 0;
      socklen_t len = sizeof(soerr);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      r = soerr == 0 ? 0 : -1;
      errno = soerr;
    }
    if (r != 0) {
      absl::StrAppend(&errors, errors.empty() ? "" : "; ", a.text, ": ", Errno(errno));
      ::close(fd);
      continue;
    }
    return std::unique_ptr<Transport>(std::make_unique<SocketTransport>(fd, host));
  }
  return MailError(MailErrorClass::kNetwork,
                   absl::StrCat("cannot connect to \"", host, "\": ", errors,
                                " (check host, port and firewall)"));
}

absl::StatusOr<std::unique_ptr<Transport>> DialTcp(const std::string& host, int port,
                                                   absl::Time deadline) {
  absl::StatusOr<std::vector<ResolvedAddress>> addrs = ResolveHost(host, port);
  if (!addrs.ok()) return addrs.status();
  return ConnectTcp(*addrs, host, deadline);
}

}  // namespace postroom::mail
