// libFuzzer entry for the IMAP response framer and parser: any bytes a server may send.
// Build: CXX=clang++ cmake -DPOSTROOM_FUZZ=ON ...; run: imap_parser_fuzz -max_total_time=60.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "libs/mail/imap_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  // Frame the input as a stream of responses fed in two pieces, as the client would see it.
  postroom::mail::ImapResponseFramer framer(4096, 1 << 16);
  size_t half = size / 2;
  (void)framer.Next(in.substr(0, half));
  absl::StatusOr<size_t> n = framer.Next(in);
  absl::string_view one = (n.ok() && *n > 0) ? in.substr(0, *n) : in;
  absl::StatusOr<postroom::mail::ImapResponse> r = postroom::mail::ParseImapResponse(one);
  if (r.ok()) {
    (void)r->StatusText();
    (void)postroom::mail::ParseFetch(*r);
    (void)postroom::mail::ParseSearch(*r);
    (void)postroom::mail::ParseCapabilities(*r);
  }
  (void)postroom::mail::EncodeMailboxName(in);
  return 0;
}
