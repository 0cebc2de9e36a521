#include "libs/mail/stream_buffer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/mail/mail_error.h"

namespace postroom::mail {
namespace {
constexpr size_t kChunk = 64 << 10;
constexpr size_t kMaxChunk = 1 << 20;
// After a large message, give the memory back once what is left is small.
constexpr size_t kShrinkAbove = 8 << 20;
}  // namespace

void StreamBuffer::Consume(size_t n) {
  start_ += std::min(n, buf_.size() - start_);
  if (start_ == buf_.size()) {
    buf_.clear();
    start_ = 0;
  }
  if (buf_.capacity() > kShrinkAbove && buf_.size() - start_ < kChunk) {
    std::string rest(buf_.substr(start_));
    rest.reserve(kChunk * 2);
    buf_.swap(rest);
    start_ = 0;
  }
}

absl::Status StreamBuffer::Fill(size_t want, absl::Time deadline) {
  // Move unread bytes to the front before growing, so the buffer never holds consumed data
  // plus a new message.
  if (start_ > 0 && (start_ >= kChunk || buf_.size() + kChunk > buf_.capacity())) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  size_t chunk = std::clamp(want, kChunk, kMaxChunk);
  // One allocation for a large literal, with room for the reads that overshoot it: growing a
  // std::string later doubles its capacity, i.e. a second copy of the message.
  const size_t needed = buf_.size() + want + kMaxChunk;
  if (want > 0 && buf_.capacity() < needed) {
    buf_.reserve(needed > 2 * kMaxChunk && ceiling_ > needed ? ceiling_ + kMaxChunk : needed);
  }
  size_t old = buf_.size();
  buf_.resize(old + chunk);
  absl::Time d = deadline == absl::InfiniteFuture() ? clock_->Now() + timeout_ : deadline;
  absl::StatusOr<size_t> got = transport_->Read(buf_.data() + old, chunk, d);
  buf_.resize(old + (got.ok() ? *got : 0));
  if (!got.ok()) return got.status();
  if (*got == 0) return MailError(MailErrorClass::kNetwork, "the server closed the connection");
  return absl::OkStatus();
}

void AppendReceived(std::string& out, absl::string_view chunk, size_t ceiling) {
  const size_t needed = out.size() + chunk.size();
  if (needed > out.capacity() && needed > kMaxChunk && ceiling > needed) out.reserve(ceiling);
  out.append(chunk.data(), chunk.size());
}

absl::StatusOr<absl::string_view> StreamBuffer::PeekLine(size_t max_line) {
  size_t scanned = 0;
  for (;;) {
    absl::string_view d = data();
    size_t nl = d.find('\n', scanned);
    if (nl != absl::string_view::npos) {
      line_total_ = nl + 1;
      absl::string_view line = d.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return line;
    }
    if (d.size() > max_line) {
      return MailError(MailErrorClass::kProtocol,
                       absl::StrCat("server line longer than ", max_line, " bytes"));
    }
    scanned = d.size();
    if (absl::Status st = Fill(); !st.ok()) return st;
  }
}

}  // namespace postroom::mail
