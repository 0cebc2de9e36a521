#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "libs/mail/transport.h"

namespace postroom::mail {

// A Transport that plays a server from a script, for unit tests of the protocol clients (and
// the fetcher's own tests). The script is a list of server chunks; each becomes readable once
// everything the client wrote so far contains its trigger (empty trigger: at once, after the
// chunk before it). Reads return at most `max_read` bytes, so tests can split responses at every
// byte. Reading when nothing is readable is a DEADLINE_EXCEEDED time-out (no sleeping), or the
// end of the stream once Close() was scripted with CloseAfterScript().
// Not thread-safe.
class ScriptedTransport : public Transport {
 public:
  ScriptedTransport() = default;

  // Server bytes readable at once (or after the previous chunk was read and its trigger met).
  ScriptedTransport& Serve(std::string bytes) { return ServeAfter("", std::move(bytes)); }
  // Server bytes readable once the client's output contains `trigger` (searched from where the
  // previous trigger matched, so "A2 " after "A1 " works in order).
  ScriptedTransport& ServeAfter(std::string trigger, std::string bytes);
  // After the script, reads return end-of-stream instead of a time-out.
  ScriptedTransport& CloseAfterScript() {
    eof_after_script_ = true;
    return *this;
  }
  ScriptedTransport& set_max_read(size_t n) {
    max_read_ = n == 0 ? 1 : n;
    return *this;
  }
  // StartTls fails with this status (kTls) when set.
  ScriptedTransport& FailStartTls(absl::Status st) {
    tls_error_ = std::move(st);
    return *this;
  }

  // Everything the client wrote.
  const std::string& written() const { return written_; }
  int start_tls_calls() const { return start_tls_calls_; }
  // Largest single read the client asked for (buffer-bounds checks).
  size_t largest_read_request() const { return largest_read_request_; }

  absl::StatusOr<size_t> Read(char* buf, size_t n, absl::Time deadline) override;
  absl::Status Write(absl::string_view data, absl::Time deadline) override;
  absl::Status StartTls(const TlsOptions& tls, absl::Time deadline) override;
  bool IsTls() const override { return tls_; }
  std::string TlsDescription() const override { return tls_ ? "scripted TLS" : ""; }
  void Close() override { closed_ = true; }
  bool closed() const { return closed_; }

 private:
  struct Chunk {
    std::string trigger;
    std::string bytes;
  };
  void Release();

  std::vector<Chunk> script_;
  size_t next_chunk_ = 0;
  size_t trigger_pos_ = 0;
  std::string readable_;
  size_t read_pos_ = 0;
  std::string written_;
  size_t max_read_ = 1 << 20;
  size_t largest_read_request_ = 0;
  bool eof_after_script_ = false;
  bool tls_ = false;
  bool closed_ = false;
  int start_tls_calls_ = 0;
  absl::Status tls_error_;
};

}  // namespace postroom::mail
