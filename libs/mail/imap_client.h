#pragma once

// A small IMAP4rev1 client (RFC 3501 plus IDLE, MOVE, UIDPLUS, LITERAL+, SASL-IR) for the
// fetcher.
//
// Why not libcurl: its IMAP support fetches one message per URL with FETCH BODY[] (which sets
// \Seen), exposes neither UIDVALIDITY/UIDNEXT nor the UIDs of a SEARCH in a usable form, cannot
// pipeline a batch of UID FETCHes over one connection, and has no IDLE, MOVE or STORE beyond a
// raw custom request whose response it does not parse. The fetcher needs exactly those, so this
// client speaks the protocol itself: the response parser (imap_parser.h) is pure and fuzzed,
// the bytes go through a Transport (transport.h) that unit tests script.
//
// Memory: messages are delivered one at a time to a callback as each completes; the client
// holds one message plus a bounded read chunk, whatever the batch size.
//
// Errors carry a MailErrorClass (mail_error.h) and the server's own words, e.g.
// `imap LOGIN as "alice" refused: NO [AUTHENTICATIONFAILED] Authentication failed.`.
// After a network, TLS or protocol error the connection is unusable and every later call fails
// with that first error: drop the client and connect again. A server NO leaves it usable.
//
// Not thread-safe: one caller at a time.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/mail/imap_parser.h"
#include "libs/mail/mail_options.h"
#include "libs/mail/stream_buffer.h"
#include "libs/mail/transport.h"

namespace postroom::mail {

// A selected (or examined) mailbox. The fetch key of a message is (uid_validity, uid): when
// uid_validity changes, every UID the fetcher remembered for this folder is void.
struct ImapMailbox {
  std::string name;
  uint32_t uid_validity = 0;
  uint32_t uid_next = 0;  // 0 when the server did not say (then use UID SEARCH)
  uint32_t exists = 0;    // message count
  uint32_t recent = 0;
  bool read_only = false;
  std::vector<std::string> flags;
  std::vector<std::string> permanent_flags;
};

// One message as the server sent it. `bytes` points into the client's buffer and is valid only
// during the callback: copy or store it there.
struct FetchedMessage {
  uint32_t uid = 0;
  uint64_t size = 0;  // RFC822.SIZE as the server reported it
  absl::string_view bytes;
  std::vector<std::string> flags;
  std::string internal_date;
};

struct MessageSize {
  uint32_t uid = 0;
  uint64_t size = 0;
};

struct FetchOptions {
  // UIDs per UID FETCH command, and how many commands are in flight at once: the next batch is
  // already requested while the current one streams in, so the link never idles.
  size_t batch_size = 200;
  size_t pipeline_depth = 2;
  bool with_flags = false;  // also FLAGS and INTERNALDATE
  // >0: only the first max_bytes of each message (BODY.PEEK[]<0.max_bytes>), e.g. the headers
  // of a message over the size limit, which would otherwise exceed the response limit.
  uint64_t max_bytes = 0;
};

// RFC 2177 asks clients to end an IDLE (DONE) and start a new one at least every 29 minutes,
// because servers may log out a client idle for 30.
inline constexpr absl::Duration kMaxIdleCommand = absl::Minutes(28);

struct IdleOptions {
  // How long to wait in total. Longer than kMaxIdleCommand is fine: the client re-issues IDLE
  // (DONE, then IDLE again) every `reissue_after`.
  absl::Duration max_wait = kMaxIdleCommand;
  absl::Duration reissue_after = kMaxIdleCommand;  // capped at kMaxIdleCommand
  // When set, asked before every read and at least every `check_every` while the server is
  // silent: true ends the IDLE at once with DONE (shutdown, lease lost, settings changed).
  std::function<bool()> stop;
  absl::Duration check_every = absl::Milliseconds(250);
};

struct IdleResult {
  bool changed = false;   // the server reported new (EXISTS) or removed (EXPUNGE) messages
  bool new_mail = false;  // an EXISTS raised the message count: something arrived
  bool stopped = false;   // IdleOptions::stop said so
  uint32_t exists = 0;
};

// Returning an error stops the fetch; the client then drains the commands in flight (so the
// connection stays usable) and returns that error.
using FetchCallback = std::function<absl::Status(const FetchedMessage&)>;

class ImapClient {
 public:
  // Resolves, connects, does TLS per options.security (verifying the certificate), reads the
  // greeting and the capabilities. The connection is not yet authenticated (unless the greeting
  // was PREAUTH).
  static absl::StatusOr<std::unique_ptr<ImapClient>> Connect(const ServerOptions& options);
  // The same over a transport the caller connected (unit tests pass a ScriptedTransport).
  static absl::StatusOr<std::unique_ptr<ImapClient>> Start(std::unique_ptr<Transport> transport,
                                                           const ServerOptions& options);
  ~ImapClient();
  ImapClient(const ImapClient&) = delete;
  ImapClient& operator=(const ImapClient&) = delete;

  // The greeting's text, e.g. "OK [CAPABILITY ...] Dovecot (Debian) ready.".
  const std::string& greeting() const { return greeting_; }
  const std::vector<std::string>& capabilities() const { return capabilities_; }
  bool HasCapability(absl::string_view cap) const;
  Transport* transport() const { return transport_.get(); }
  bool authenticated() const { return authenticated_; }

  // STARTTLS and the TLS handshake (Connect does it for kStartTls); then CAPABILITY again.
  // kTls when the server does not offer it.
  absl::Status StartTls();

  // Asks again (after STARTTLS and login the set changes; the client does this itself).
  absl::StatusOr<std::vector<std::string>> Capability();

  // By mechanism: kLogin -> LOGIN, kPlain -> AUTHENTICATE PLAIN, kXOAuth2 -> AUTHENTICATE
  // XOAUTH2. UNAUTHENTICATED/kAuthentication with the server's words when refused.
  absl::Status Authenticate(const Credentials& credentials);
  absl::Status Login(absl::string_view user, absl::string_view password);
  absl::Status AuthenticatePlain(absl::string_view user, absl::string_view password);
  absl::Status AuthenticateXOAuth2(absl::string_view user, absl::string_view access_token);

  // SELECT (read-write) or EXAMINE (read-only: nothing, not even \Recent, changes). `name` is
  // UTF-8; it is sent as modified UTF-7. FAILED_PRECONDITION/kServer with the server's words
  // when the mailbox does not exist.
  absl::StatusOr<ImapMailbox> Select(absl::string_view name);
  absl::StatusOr<ImapMailbox> Examine(absl::string_view name);
  // The mailbox selected last, if any (EXISTS updates included).
  const std::optional<ImapMailbox>& selected() const { return selected_; }

  // CREATE (e.g. the folder processed mail moves to). ALREADYEXISTS is OK.
  absl::Status Create(absl::string_view name);

  // UID SEARCH with raw criteria ("ALL", "SINCE 1-Feb-2026", "UID 100:*"); sorted UIDs.
  absl::StatusOr<std::vector<uint32_t>> UidSearch(absl::string_view criteria);
  // UIDs greater than `last_uid` (UID SEARCH UID n+1:*, minus the server's answer for "*" when
  // nothing is newer).
  absl::StatusOr<std::vector<uint32_t>> UidsAfter(uint32_t last_uid);
  // UIDs of messages with an internal date on or after `day` (SEARCH SINCE, date only).
  absl::StatusOr<std::vector<uint32_t>> UidsSince(absl::CivilDay day);

  // RFC822.SIZE per UID, in batches (lets the fetcher skip messages over its size limit).
  absl::StatusOr<std::vector<MessageSize>> UidFetchSizes(const std::vector<uint32_t>& uids,
                                                         size_t batch_size = 1000);
  // Fetches BODY.PEEK[] (never sets \Seen) and RFC822.SIZE for each UID, pipelined in batches,
  // calling `on_message` once per message as it completes, in server order. UIDs that no longer
  // exist are skipped silently (the server returns nothing for them).
  absl::Status UidFetchMessages(const std::vector<uint32_t>& uids, const FetchOptions& options,
                                const FetchCallback& on_message);

  // UID STORE +FLAGS.SILENT / -FLAGS.SILENT, e.g. {"\\Seen"}.
  absl::Status UidStoreFlags(const std::vector<uint32_t>& uids,
                             const std::vector<std::string>& flags, bool add = true);
  // UID MOVE when the server has MOVE; else UID COPY, +FLAGS \Deleted and UidExpunge.
  absl::Status UidMove(const std::vector<uint32_t>& uids, absl::string_view destination);
  // Removes messages already flagged \Deleted (UidStoreFlags): UID EXPUNGE of just these UIDs
  // when the server offers UIDPLUS (RFC 4315). Without UIDPLUS, a plain EXPUNGE, which also
  // removes every other message someone flagged \Deleted in the folder (the only way RFC 3501
  // offers); `uidplus_only` makes the client leave them flagged instead, returning OK.
  absl::Status UidExpunge(const std::vector<uint32_t>& uids, bool uidplus_only = false);

  // IDLE (RFC 2177) on the selected mailbox until the server reports a change (EXISTS or
  // EXPUNGE), `max_wait` passes or `stop` says so, then DONE. Every read outside the wait itself
  // (the "+" continuation, the answer to DONE) is bounded by the options' timeout. A server
  // that goes quiet is not an error: only `max_wait` ends the wait. Error classes as elsewhere;
  // kServer when the server does not offer IDLE (poll instead).
  absl::StatusOr<IdleResult> Idle(const IdleOptions& options);
  absl::StatusOr<IdleResult> Idle(absl::Duration max_wait) {
    IdleOptions o;
    o.max_wait = max_wait;
    return Idle(o);
  }
  // How many times an EXISTS raised the message count of the selected mailbox, over the
  // connection's life. A caller that compares it before a SEARCH and before an IDLE sees mail
  // that arrived in between (the server reported it during another command).
  uint64_t new_mail_events() const { return new_mail_events_; }
  // Commands sent (each tag, plus DONE), for round-trip accounting in benchmarks. Pipelined
  // commands count one each although they share a round trip.
  uint64_t commands_sent() const { return commands_sent_; }

  absl::Status Noop();
  // LOGOUT and close. The client is unusable afterwards.
  absl::Status Logout();

 private:
  ImapClient(std::unique_ptr<Transport> transport, const ServerOptions& options);

  // A command split where the client must wait for a "+" continuation (synchronising literals).
  struct Command {
    std::vector<std::string> parts;
    std::string verb;  // for error messages, e.g. "SELECT \"INBOX\""
  };
  Command MakeCommand(absl::string_view verb);
  void AppendAString(Command& c, absl::string_view s);
  void AppendRaw(Command& c, absl::string_view s);

  // Untagged responses not claimed by the caller's handler go to HandleUntagged.
  using UntaggedHandler = std::function<absl::Status(const ImapResponse&)>;
  absl::Status Run(const Command& command, const UntaggedHandler& handler,
                   ImapResponse* tagged = nullptr);
  absl::Status SendPart(absl::string_view data);
  std::string NextTag();
  // With a deadline and timeout_is_fatal false (IDLE), a time-out leaves the client usable.
  absl::StatusOr<const ImapResponse*> ReadResponse(absl::Time deadline = absl::InfiniteFuture(),
                                                   bool timeout_is_fatal = true);
  absl::Status HandleUntagged(const ImapResponse& r);
  absl::Status TaggedToStatus(const ImapResponse& r, absl::string_view what, bool auth);
  absl::Status Fail(absl::Status st);  // remembers fatal errors
  absl::Status CheckUsable() const;
  absl::Status ReadGreeting();
  absl::Status Sasl(absl::string_view mechanism, const std::string& initial_response,
                    absl::string_view user);
  absl::StatusOr<ImapMailbox> SelectOrExamine(absl::string_view verb, absl::string_view name);
  // One IDLE command: IDLE, wait until `until`, a change or stop, DONE.
  absl::Status IdleOnce(const IdleOptions& options, absl::Time until, IdleResult& result);
  absl::Time Deadline() const { return clock_->Now() + options_.timeout; }

  std::unique_ptr<Transport> transport_;
  ServerOptions options_;
  Clock* clock_;
  StreamBuffer in_;
  ImapResponseFramer framer_;
  ImapResponse current_;
  size_t current_len_ = 0;  // bytes of current_ still in in_, consumed by the next read
  uint64_t next_tag_ = 1;
  std::string greeting_;
  std::vector<std::string> capabilities_;
  bool authenticated_ = false;
  bool changed_ = false;   // EXISTS/EXPUNGE seen since reset (IDLE)
  bool new_mail_ = false;  // an EXISTS raised the count since reset (IDLE)
  uint64_t new_mail_events_ = 0;
  uint64_t commands_sent_ = 0;
  std::optional<ImapMailbox> selected_;
  std::string bye_;
  std::string context_;  // "imap host:port", prefixes error messages
  absl::Status broken_;
};

}  // namespace postroom::mail
