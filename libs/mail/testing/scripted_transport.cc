#include "libs/mail/testing/scripted_transport.h"

#include <algorithm>
#include <cstring>

#include "libs/mail/mail_error.h"

namespace postroom::mail {

ScriptedTransport& ScriptedTransport::ServeAfter(std::string trigger, std::string bytes) {
  script_.push_back(Chunk{std::move(trigger), std::move(bytes)});
  return *this;
}

void ScriptedTransport::Release() {
  while (next_chunk_ < script_.size()) {
    const Chunk& c = script_[next_chunk_];
    if (!c.trigger.empty()) {
      size_t at = written_.find(c.trigger, trigger_pos_);
      if (at == std::string::npos) return;
      trigger_pos_ = at + c.trigger.size();
    }
    readable_ += c.bytes;
    ++next_chunk_;
  }
}

absl::StatusOr<size_t> ScriptedTransport::Read(char* buf, size_t n, absl::Time) {
  if (closed_) return MailError(MailErrorClass::kNetwork, "read on a closed connection");
  largest_read_request_ = std::max(largest_read_request_, n);
  Release();
  if (read_pos_ == readable_.size()) {
    if (eof_after_script_ && next_chunk_ == script_.size()) return 0;
    return MailTimeoutError("timed out waiting to read from the server (script exhausted)");
  }
  size_t k = std::min({n, max_read_, readable_.size() - read_pos_});
  std::memcpy(buf, readable_.data() + read_pos_, k);
  read_pos_ += k;
  return k;
}

absl::Status ScriptedTransport::Write(absl::string_view data, absl::Time) {
  if (closed_) return MailError(MailErrorClass::kNetwork, "write on a closed connection");
  written_.append(data.data(), data.size());
  return absl::OkStatus();
}

absl::Status ScriptedTransport::StartTls(const TlsOptions&, absl::Time) {
  ++start_tls_calls_;
  if (!tls_error_.ok()) return tls_error_;
  tls_ = true;
  return absl::OkStatus();
}

}  // namespace postroom::mail
