// libFuzzer target: the IMAP response framer and parser, then a whole fetcher session of the
// IMAP client over libs/mail's ScriptedTransport: any bytes a server may send. The framer has
// the limits the client gives it (1 MiB lines, max_message_bytes literals).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "libs/mail/imap_client.h"
#include "libs/mail/imap_parser.h"
#include "libs/mail/testing/scripted_transport.h"

namespace {

constexpr uint64_t kMaxMessageBytes = 1 << 20;  // Small enough that the bound itself gets hit.

void ParseResponses(absl::string_view in) {
  // Frame the input as a stream of responses fed in two pieces, as the client would see it.
  postroom::mail::ImapResponseFramer framer(1 << 20, kMaxMessageBytes);
  size_t half = in.size() / 2;
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
}

// The fetcher's round: log in, select, search, sizes, fetch; the first byte picks the read
// size (splitting responses anywhere) and the log-in mechanism.
void RunSession(uint8_t control, absl::string_view server) {
  using namespace postroom::mail;
  auto transport = std::make_unique<ScriptedTransport>();
  transport->set_max_read(1 + (control & 0x3f)).Serve(std::string(server)).CloseAfterScript();
  ServerOptions options;
  options.security = Security::kPlain;
  options.max_message_bytes = kMaxMessageBytes;
  auto client = ImapClient::Start(std::move(transport), options);
  if (!client.ok()) return;
  ImapClient& c = **client;
  (void)c.Authenticate({"alice", "secret", static_cast<AuthMechanism>((control >> 6) % 3)});
  (void)c.Select("INBOX");
  absl::StatusOr<std::vector<uint32_t>> uids = c.UidsAfter(0);
  if (!uids.ok() || uids->empty()) uids = std::vector<uint32_t>{1, 2};
  if (uids->size() > 16) uids->resize(16);
  (void)c.UidFetchSizes(*uids);
  FetchOptions fetch;
  fetch.batch_size = 2;
  fetch.with_flags = true;
  (void)c.UidFetchMessages(*uids, fetch, [](const FetchedMessage&) { return absl::OkStatus(); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  ParseResponses(in.substr(1));
  RunSession(data[0], in.substr(1));
  return 0;
}
