#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/mail/transport.h"

namespace postroom::mail {

// The read side of a protocol client: bytes read from a Transport and not yet consumed. Memory
// stays bounded by what the caller has not consumed plus one read chunk; capacity left over from
// a large message is released once that message is consumed. Not thread-safe.
class StreamBuffer {
 public:
  // `transport` and `clock` are not owned and must outlive the buffer.
  StreamBuffer(Transport* transport, Clock* clock, absl::Duration timeout)
      : transport_(transport), clock_(clock), timeout_(timeout) {}

  absl::string_view data() const { return absl::string_view(buf_).substr(start_); }
  size_t size() const { return buf_.size() - start_; }
  void Consume(size_t n);
  // Reads at least one more byte, waiting up to the timeout, or until `deadline` instead when
  // one is given (IDLE waits longer than a read time-out).
  // `want` is a hint of how many bytes the caller still needs (reserves room for a large
  // literal at once). The end of the stream is UNAVAILABLE/kNetwork "server closed the
  // connection".
  absl::Status Fill(size_t want = 0, absl::Time deadline = absl::InfiniteFuture());
  // A line without its CRLF (or LF); the view stays valid until Consume/Fill. The line and its
  // end are consumed by the next ConsumeLine(). kProtocol when longer than `max_line`.
  absl::StatusOr<absl::string_view> PeekLine(size_t max_line);
  void ConsumeLine() { Consume(line_total_); }

  Transport* transport() const { return transport_; }
  // The most one response may hold (e.g. max_message_bytes + 1 MiB). A buffer that must grow
  // past 1 MiB for a literal grows to it at once: untouched capacity costs address space, not
  // memory, while growing step by step holds the old and the new copy together (a server that
  // sends literal after literal made one connection hold ~2.5 times the limit).
  void set_response_ceiling(size_t bytes) { ceiling_ = bytes; }

 private:
  Transport* transport_;
  Clock* clock_;
  absl::Duration timeout_;
  std::string buf_;
  size_t start_ = 0;
  size_t line_total_ = 0;
  size_t ceiling_ = 0;
};

// Appends `chunk` to `out`, a message being received whose size may reach `ceiling`: past
// 1 MiB, `out` grows to the ceiling in one step instead of doubling (see set_response_ceiling).
void AppendReceived(std::string& out, absl::string_view chunk, size_t ceiling);

}  // namespace postroom::mail
