// libFuzzer target: the POP3 client against a hostile server. The input is everything the
// server sends; the client runs a whole fetcher session over libs/mail's ScriptedTransport
// (greeting, CAPA, log-in, STAT, UIDL, LIST, RETR, DELE, QUIT) with the product's options, so
// every reply parser and the multi-line reader see it. The first byte picks the read size
// (splitting replies anywhere) and the log-in mechanism.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "libs/mail/pop3_client.h"
#include "libs/mail/testing/scripted_transport.h"

using namespace postroom::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  auto transport = std::make_unique<ScriptedTransport>();
  transport->set_max_read(1 + (control & 0x3f))
      .Serve(std::string(reinterpret_cast<const char*>(data + 1), size - 1))
      .CloseAfterScript();
  ServerOptions options;
  options.security = Security::kPlain;
  options.max_message_bytes = 1 << 20;  // Small enough that the bound itself gets hit.
  auto client = Pop3Client::Start(std::move(transport), options);
  if (!client.ok()) return 0;
  Pop3Client& c = **client;
  Credentials credentials{"alice", "secret", static_cast<AuthMechanism>((control >> 6) % 3)};
  (void)c.Authenticate(credentials);
  (void)c.Stat();
  (void)c.Uidl();
  (void)c.List();
  (void)c.RetrMessage(1);
  (void)c.Dele(1);
  (void)c.Quit();
  return 0;
}
