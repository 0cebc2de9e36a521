#include "libs/mail/imap_client.h"

#include <algorithm>
#include <deque>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/base/status_macros.h"
#include "libs/mail/mail_error.h"

namespace postroom::mail {
namespace {

// Response codes (RFC 5530) that say the credentials, not the server, are the problem.
bool IsAuthCode(absl::string_view code) {
  return code == "AUTHENTICATIONFAILED" || code == "AUTHORIZATIONFAILED" || code == "EXPIRED" ||
         code == "CONTACTADMIN" || code == "PRIVACYREQUIRED";
}

// Servers say "back off" in words more often than in codes (Dovecot: "Maximum number of
// connections from user+IP exceeded").
bool SoundsThrottled(absl::string_view text) {
  std::string t = absl::AsciiStrToLower(text);
  return absl::StrContains(t, "too many") || absl::StrContains(t, "maximum number of") ||
         absl::StrContains(t, "rate limit") || absl::StrContains(t, "throttl") ||
         absl::StrContains(t, "try again later");
}

std::vector<std::vector<uint32_t>> Batches(std::vector<uint32_t> uids, size_t batch_size) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  batch_size = std::max<size_t>(batch_size, 1);
  std::vector<std::vector<uint32_t>> out;
  for (size_t i = 0; i < uids.size(); i += batch_size) {
    out.emplace_back(uids.begin() + i, uids.begin() + std::min(uids.size(), i + batch_size));
  }
  return out;
}

// One line of a response outside its literals: a CAPABILITY line, a SEARCH result. Dovecot's
// own imap_max_line_length is 64 KiB; a SEARCH of a large folder is longer.
constexpr size_t kMaxLine = 1 << 20;
// What the untagged responses to one command may add up to, outside FETCH of messages (which
// UidFetchMessages hands on one at a time): a server repeating "* CAPABILITY" or "* SEARCH"
// without end is cut off here instead of growing the result.
constexpr uint64_t kMaxUntaggedPerCommand = 16 << 20;
// SASL challenges the client answers in one AUTHENTICATE; XOAUTH2 and PLAIN need at most two.
constexpr int kMaxSaslRounds = 8;

}  // namespace

ImapClient::ImapClient(std::unique_ptr<Transport> transport, const ServerOptions& options)
    : transport_(std::move(transport)),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : &RealClock()),
      in_(transport_.get(), clock_, options.timeout),
      framer_(kMaxLine, MessageResponseLimit(options.max_message_bytes)),
      context_(options.host.empty() ? "imap"
                                    : absl::StrCat("imap ", options.host, ":", options.port)) {
  framer_.SetResponseLimit(MessageResponseLimit(options.max_message_bytes),
                           kMessageResponseWhy);
  in_.set_response_ceiling(MessageResponseLimit(options.max_message_bytes));
}

ImapClient::~ImapClient() {
  if (transport_) transport_->Close();
}

absl::StatusOr<std::unique_ptr<ImapClient>> ImapClient::Connect(const ServerOptions& options) {
  Clock* clock = options.clock != nullptr ? options.clock : &RealClock();
  absl::StatusOr<std::unique_ptr<Transport>> t =
      DialTcp(options.host, options.port, clock->Now() + options.timeout);
  if (!t.ok()) return AnnotateMailError(t.status(), "imap");
  return Start(*std::move(t), options);
}

absl::StatusOr<std::unique_ptr<ImapClient>> ImapClient::Start(std::unique_ptr<Transport> transport,
                                                              const ServerOptions& options) {
  std::unique_ptr<ImapClient> c(new ImapClient(std::move(transport), options));
  if (options.security == Security::kImplicitTls) {
    absl::Status st = c->transport_->StartTls(options.tls, c->Deadline());
    if (!st.ok()) return AnnotateMailError(st, c->context_);
  }
  POSTROOM_RETURN_IF_ERROR(c->ReadGreeting());
  if (options.security == Security::kStartTls) POSTROOM_RETURN_IF_ERROR(c->StartTls());
  if (c->capabilities_.empty()) POSTROOM_RETURN_IF_ERROR(c->Capability().status());
  return c;
}

bool ImapClient::HasCapability(absl::string_view cap) const {
  std::string upper = absl::AsciiStrToUpper(cap);
  return std::find(capabilities_.begin(), capabilities_.end(), upper) != capabilities_.end();
}

absl::Status ImapClient::CheckUsable() const {
  if (!broken_.ok()) {
    return AnnotateMailError(broken_, "connection unusable after an earlier error");
  }
  return absl::OkStatus();
}

absl::Status ImapClient::Fail(absl::Status st) {
  if (st.ok()) return st;
  MailErrorClass c = ClassifyMailError(st);
  if (!bye_.empty() && c == MailErrorClass::kNetwork) {
    // The server said why before it hung up: that is the useful part.
    st = MailError(SoundsThrottled(bye_) ? MailErrorClass::kThrottled : MailErrorClass::kServer,
                   absl::StrCat("server closed the connection: * ", bye_));
  }
  st = AnnotateMailError(st, context_);
  if (broken_.ok()) broken_ = st;
  transport_->Close();
  return st;
}

std::string ImapClient::NextTag() {
  ++commands_sent_;
  return absl::StrCat("A", next_tag_++);
}

absl::Status ImapClient::SendPart(absl::string_view data) {
  absl::Status st = transport_->Write(data, Deadline());
  if (!st.ok()) return Fail(st);
  return absl::OkStatus();
}

absl::StatusOr<const ImapResponse*> ImapClient::ReadResponse(absl::Time deadline,
                                                             bool timeout_is_fatal) {
  POSTROOM_RETURN_IF_ERROR(CheckUsable());
  if (current_len_ > 0) {
    current_ = ImapResponse();  // drop views into the bytes about to be consumed
    in_.Consume(current_len_);
    current_len_ = 0;
    framer_.Reset();
  }
  for (;;) {
    absl::StatusOr<size_t> n = framer_.Next(in_.data());
    if (!n.ok()) return Fail(n.status());
    if (*n > 0) {
      absl::StatusOr<ImapResponse> r = ParseImapResponse(in_.data().substr(0, *n));
      if (!r.ok()) return Fail(r.status());
      current_ = *std::move(r);
      current_len_ = *n;
      return &current_;
    }
    absl::Status st = in_.Fill(framer_.literal_bytes_needed(in_.size()), deadline);
    if (!st.ok()) {
      if (!timeout_is_fatal && absl::IsDeadlineExceeded(st)) return st;
      return Fail(st);
    }
  }
}

absl::Status ImapClient::ReadGreeting() {
  POSTROOM_ASSIGN_OR_RETURN(const ImapResponse* r, ReadResponse());
  if (r->kind != ImapResponse::Kind::kUntagged || !r->IsStatus() || r->name == "NO" ||
      r->name == "BAD") {
    return Fail(MailError(
        MailErrorClass::kProtocol,
        absl::StrCat("unexpected greeting \"", r->StatusText(), "\" (is this an IMAP port?)")));
  }
  greeting_ = r->StatusText();
  if (r->name == "BYE") {
    bye_ = r->StatusText();
    return Fail(
        MailError(SoundsThrottled(r->text) ? MailErrorClass::kThrottled : MailErrorClass::kServer,
                  absl::StrCat("server refused the connection: * ", r->StatusText())));
  }
  if (r->name == "PREAUTH") authenticated_ = true;
  if (r->code == "CAPABILITY") capabilities_ = ParseCapabilities(*r);
  return absl::OkStatus();
}

absl::Status ImapClient::StartTls() {
  if (transport_->IsTls()) return absl::OkStatus();
  if (!HasCapability("STARTTLS")) {
    // Capabilities in the greeting may be partial; ask once before refusing.
    POSTROOM_RETURN_IF_ERROR(Capability().status());
    if (!HasCapability("STARTTLS")) {
      return Fail(MailError(MailErrorClass::kTls,
                            "server does not offer STARTTLS (use implicit TLS on port 993, or "
                            "plain only on a trusted network)"));
    }
  }
  POSTROOM_RETURN_IF_ERROR(Run(MakeCommand("STARTTLS"), nullptr));
  // Bytes already buffered after the OK would be plaintext injected before the handshake
  // (CVE-2011-0411 class): refuse rather than read them as if protected.
  in_.Consume(current_len_);
  current_len_ = 0;
  current_ = ImapResponse();
  framer_.Reset();
  if (in_.size() > 0) {
    return Fail(MailError(MailErrorClass::kProtocol,
                          "server sent data after STARTTLS before the TLS handshake"));
  }
  absl::Status st = transport_->StartTls(options_.tls, Deadline());
  if (!st.ok()) return Fail(st);
  capabilities_.clear();  // RFC 3501 6.2.1: forget what was said in plaintext
  return Capability().status();
}

ImapClient::Command ImapClient::MakeCommand(absl::string_view verb) {
  Command c;
  c.parts.emplace_back(verb);
  c.verb = std::string(verb);
  return c;
}

void ImapClient::AppendRaw(Command& c, absl::string_view s) {
  absl::StrAppend(&c.parts.back(), " ", s);
}

void ImapClient::AppendAString(Command& c, absl::string_view s) {
  if (std::optional<std::string> q = QuoteImapString(s)) {
    absl::StrAppend(&c.parts.back(), " ", *q);
    return;
  }
  if (HasCapability("LITERAL+")) {
    absl::StrAppend(&c.parts.back(), " {", s.size(), "+}\r\n", s);
    return;
  }
  absl::StrAppend(&c.parts.back(), " {", s.size(), "}\r\n");
  c.parts.emplace_back(s);
}

absl::Status ImapClient::Run(const Command& command, const UntaggedHandler& handler,
                             ImapResponse* tagged) {
  POSTROOM_RETURN_IF_ERROR(CheckUsable());
  const std::string tag = NextTag();
  for (size_t i = 0; i < command.parts.size(); ++i) {
    std::string part = i == 0 ? absl::StrCat(tag, " ", command.parts[0]) : command.parts[i];
    if (i + 1 == command.parts.size()) part += "\r\n";
    POSTROOM_RETURN_IF_ERROR(SendPart(part));
    const bool await_continuation = i + 1 < command.parts.size();
    uint64_t untagged_bytes = 0;
    for (;;) {
      POSTROOM_ASSIGN_OR_RETURN(const ImapResponse* r, ReadResponse());
      if (r->kind == ImapResponse::Kind::kContinuation) {
        if (await_continuation) break;
        return Fail(MailError(
            MailErrorClass::kProtocol,
            absl::StrCat("unexpected continuation \"+ ", r->text, "\" after ", command.verb)));
      }
      if (r->kind == ImapResponse::Kind::kUntagged) {
        untagged_bytes += current_len_;
        if (untagged_bytes > kMaxUntaggedPerCommand) {
          return Fail(ResponseTooLarge(
              kMaxUntaggedPerCommand,
              absl::StrCat("limit for the untagged responses to ", command.verb)));
        }
        POSTROOM_RETURN_IF_ERROR(HandleUntagged(*r));
        if (handler) {
          // Handlers fail only on data they cannot parse; the rest of the reply is unread, so
          // the connection is out of step.
          if (absl::Status st = handler(*r); !st.ok()) return Fail(st);
        }
        continue;
      }
      if (r->tag != tag) {
        return Fail(MailError(
            MailErrorClass::kProtocol,
            absl::StrCat("response for unknown tag \"", r->tag, "\" after ", command.verb)));
      }
      if (tagged != nullptr) *tagged = *r;
      return TaggedToStatus(*r, command.verb, false);
    }
  }
  return absl::OkStatus();
}

absl::Status ImapClient::HandleUntagged(const ImapResponse& r) {
  if (r.name == "BYE") {
    bye_ = r.StatusText();
  } else if (r.name == "CAPABILITY" || r.code == "CAPABILITY") {
    capabilities_ = ParseCapabilities(r);
  } else if (r.name == "EXISTS" && r.number) {
    if (selected_) {
      // Only a count above what we knew means arrivals: servers repeat EXISTS unchanged.
      if (*r.number > selected_->exists) {
        new_mail_ = true;
        ++new_mail_events_;
      }
      selected_->exists = *r.number;
    }
    changed_ = true;
  } else if (r.name == "EXPUNGE" && r.number) {
    if (selected_ && selected_->exists > 0) --selected_->exists;
    changed_ = true;
  } else if (r.name == "RECENT" && r.number) {
    if (selected_) selected_->recent = *r.number;
  }
  return absl::OkStatus();
}

absl::Status ImapClient::TaggedToStatus(const ImapResponse& r, absl::string_view what, bool auth) {
  if (r.name == "OK") return absl::OkStatus();
  std::string words = r.StatusText();
  if (r.name == "BAD") {
    return AnnotateMailError(
        MailError(MailErrorClass::kProtocol, absl::StrCat(what, " rejected as invalid: ", words)),
        context_);
  }
  MailErrorClass c = MailErrorClass::kServer;
  if (IsAuthCode(r.code)) {
    c = MailErrorClass::kAuthentication;
  } else if (r.code == "LIMIT" || r.code == "INUSE" || SoundsThrottled(r.text)) {
    c = MailErrorClass::kThrottled;
  } else if (auth && r.code != "UNAVAILABLE" && r.code != "SERVERBUG") {
    c = MailErrorClass::kAuthentication;
  }
  return AnnotateMailError(MailError(c, absl::StrCat(what, " refused: ", words)), context_);
}

absl::StatusOr<std::vector<std::string>> ImapClient::Capability() {
  std::vector<std::string> caps;
  POSTROOM_RETURN_IF_ERROR(Run(MakeCommand("CAPABILITY"), [&caps](const ImapResponse& r) {
    if (r.name == "CAPABILITY") caps = ParseCapabilities(r);
    return absl::OkStatus();
  }));
  capabilities_ = caps;
  return caps;
}

absl::Status ImapClient::Authenticate(const Credentials& credentials) {
  switch (credentials.mechanism) {
    case AuthMechanism::kLogin:
      return Login(credentials.user, credentials.secret);
    case AuthMechanism::kPlain:
      return AuthenticatePlain(credentials.user, credentials.secret);
    case AuthMechanism::kXOAuth2:
      return AuthenticateXOAuth2(credentials.user, credentials.secret);
  }
  return absl::InvalidArgumentError("unknown authentication mechanism");
}

absl::Status ImapClient::Login(absl::string_view user, absl::string_view password) {
  if (HasCapability("LOGINDISABLED")) {
    return MailError(MailErrorClass::kAuthentication,
                     absl::StrCat(context_,
                                  ": server disables LOGIN on this connection "
                                  "(LOGINDISABLED): use TLS or AUTHENTICATE"));
  }
  POSTROOM_RETURN_IF_ERROR(CheckSendable("LOGIN user", user));
  POSTROOM_RETURN_IF_ERROR(CheckSendable("LOGIN password", password));
  Command c = MakeCommand("LOGIN");
  AppendAString(c, user);
  AppendAString(c, password);
  c.verb = absl::StrCat("LOGIN as \"", user, "\"");  // never the password
  ImapResponse tagged;
  absl::Status st = Run(c, nullptr, &tagged);
  if (!st.ok()) {
    if (tagged.name == "NO") return TaggedToStatus(tagged, c.verb, true);
    return st;
  }
  authenticated_ = true;
  if (tagged.code == "CAPABILITY") {
    capabilities_ = ParseCapabilities(tagged);
    return absl::OkStatus();
  }
  return Capability().status();
}

absl::Status ImapClient::AuthenticatePlain(absl::string_view user, absl::string_view password) {
  // PLAIN separates its fields with NUL: one inside a field would shift them.
  POSTROOM_RETURN_IF_ERROR(CheckSendable("AUTHENTICATE PLAIN user", user));
  POSTROOM_RETURN_IF_ERROR(CheckSendable("AUTHENTICATE PLAIN password", password));
  std::string msg = absl::StrCat(std::string(1, '\0'), user, std::string(1, '\0'), password);
  return Sasl("PLAIN", absl::Base64Escape(msg), user);
}

absl::Status ImapClient::AuthenticateXOAuth2(absl::string_view user,
                                             absl::string_view access_token) {
  POSTROOM_RETURN_IF_ERROR(CheckSendable("AUTHENTICATE XOAUTH2 user", user));
  POSTROOM_RETURN_IF_ERROR(CheckSendable("AUTHENTICATE XOAUTH2 token", access_token));
  std::string msg = absl::StrCat("user=", user, "\x01", "auth=Bearer ", access_token, "\x01\x01");
  return Sasl("XOAUTH2", absl::Base64Escape(msg), user);
}

absl::Status ImapClient::Sasl(absl::string_view mechanism, const std::string& initial_response,
                              absl::string_view user) {
  POSTROOM_RETURN_IF_ERROR(CheckUsable());
  const std::string verb = absl::StrCat("AUTHENTICATE ", mechanism, " as \"", user, "\"");
  if (!HasCapability(absl::StrCat("AUTH=", mechanism))) {
    return MailError(MailErrorClass::kAuthentication,
                     absl::StrCat(context_, ": server does not offer AUTH=", mechanism,
                                  " (capabilities: ", absl::StrJoin(capabilities_, " "), ")"));
  }
  const std::string tag = NextTag();
  bool sent = HasCapability("SASL-IR");
  POSTROOM_RETURN_IF_ERROR(SendPart(
      absl::StrCat(tag, " AUTHENTICATE ", mechanism, sent ? " " + initial_response : "", "\r\n")));
  std::string challenge;  // what the server said after our response (XOAUTH2 error JSON)
  int rounds = 0;
  for (;;) {
    POSTROOM_ASSIGN_OR_RETURN(const ImapResponse* r, ReadResponse());
    if (r->kind == ImapResponse::Kind::kContinuation) {
      if (++rounds > kMaxSaslRounds) {
        return Fail(MailError(MailErrorClass::kProtocol,
                              absl::StrCat(verb, ": more than ", kMaxSaslRounds,
                                           " challenges; the server does not finish")));
      }
      if (!sent) {
        POSTROOM_RETURN_IF_ERROR(SendPart(initial_response + "\r\n"));
        sent = true;
      } else {
        // A challenge after the credentials is the failure detail (RFC 7628 style); an empty
        // response lets the server finish with NO.
        std::string decoded;
        if (!absl::Base64Unescape(r->text, &decoded)) decoded = r->text;
        challenge = decoded;
        POSTROOM_RETURN_IF_ERROR(SendPart("\r\n"));
      }
      continue;
    }
    if (r->kind == ImapResponse::Kind::kUntagged) {
      POSTROOM_RETURN_IF_ERROR(HandleUntagged(*r));
      continue;
    }
    if (r->tag != tag) {
      return Fail(MailError(MailErrorClass::kProtocol,
                            absl::StrCat("response for unknown tag \"", r->tag, "\"")));
    }
    ImapResponse tagged = *r;
    if (tagged.name != "OK") {
      absl::Status st = TaggedToStatus(tagged, verb, true);
      if (!challenge.empty()) {
        st = absl::Status(st.code(),
                          absl::StrCat(st.message(), " (server detail: ", challenge, ")"));
        st.SetPayload(kMailErrorClassPayload,
                      absl::Cord(MailErrorClassName(MailErrorClass::kAuthentication)));
      }
      return st;
    }
    authenticated_ = true;
    if (tagged.code == "CAPABILITY") {
      capabilities_ = ParseCapabilities(tagged);
      return absl::OkStatus();
    }
    return Capability().status();
  }
}

absl::StatusOr<ImapMailbox> ImapClient::Select(absl::string_view name) {
  return SelectOrExamine("SELECT", name);
}

absl::StatusOr<ImapMailbox> ImapClient::Examine(absl::string_view name) {
  return SelectOrExamine("EXAMINE", name);
}

absl::StatusOr<ImapMailbox> ImapClient::SelectOrExamine(absl::string_view verb,
                                                        absl::string_view name) {
  POSTROOM_ASSIGN_OR_RETURN(std::string wire, EncodeMailboxName(name));
  ImapMailbox box;
  box.name = std::string(name);
  box.read_only = verb == "EXAMINE";
  selected_.reset();  // a failed SELECT leaves no mailbox selected (RFC 3501 6.3.1)
  Command c = MakeCommand(verb);
  AppendAString(c, wire);
  c.verb = absl::StrCat(verb, " \"", name, "\"");
  ImapResponse tagged;
  POSTROOM_RETURN_IF_ERROR(Run(
      c,
      [&box](const ImapResponse& r) {
        if (r.name == "EXISTS" && r.number) box.exists = *r.number;
        if (r.name == "RECENT" && r.number) box.recent = *r.number;
        if (r.name == "FLAGS" && !r.data.empty()) {
          for (const ImapValue& v : r.data[0].list) box.flags.emplace_back(v.Text());
        }
        if (r.name == "OK") {
          uint64_t n = 0;
          if ((r.code == "UIDVALIDITY" || r.code == "UIDNEXT") &&
              (!absl::SimpleAtoi(r.code_args, &n) || n > UINT32_MAX)) {
            return MailError(MailErrorClass::kProtocol,
                             absl::StrCat("bad ", r.code, " \"", r.code_args, "\""));
          }
          if (r.code == "UIDVALIDITY") box.uid_validity = static_cast<uint32_t>(n);
          if (r.code == "UIDNEXT") box.uid_next = static_cast<uint32_t>(n);
          if (r.code == "PERMANENTFLAGS") {
            std::string args = r.code_args;
            args.erase(std::remove(args.begin(), args.end(), '('), args.end());
            args.erase(std::remove(args.begin(), args.end(), ')'), args.end());
            for (absl::string_view f : absl::StrSplit(args, ' ', absl::SkipEmpty())) {
              box.permanent_flags.emplace_back(f);
            }
          }
        }
        return absl::OkStatus();
      },
      &tagged));
  if (tagged.code == "READ-ONLY") box.read_only = true;
  if (box.uid_validity == 0) {
    return Fail(
        MailError(MailErrorClass::kProtocol, absl::StrCat(c.verb, ": server sent no UIDVALIDITY")));
  }
  selected_ = box;
  return box;
}

absl::Status ImapClient::Create(absl::string_view name) {
  POSTROOM_ASSIGN_OR_RETURN(std::string wire, EncodeMailboxName(name));
  Command c = MakeCommand("CREATE");
  AppendAString(c, wire);
  c.verb = absl::StrCat("CREATE \"", name, "\"");
  ImapResponse tagged;
  absl::Status st = Run(c, nullptr, &tagged);
  if (!st.ok() && tagged.name == "NO" && tagged.code == "ALREADYEXISTS") return absl::OkStatus();
  return st;
}

absl::StatusOr<std::vector<uint32_t>> ImapClient::UidSearch(absl::string_view criteria) {
  std::vector<uint32_t> uids;
  Command c = MakeCommand(absl::StrCat("UID SEARCH ", criteria));
  POSTROOM_RETURN_IF_ERROR(Run(c, [&uids](const ImapResponse& r) {
    if (r.name != "SEARCH") return absl::OkStatus();
    POSTROOM_ASSIGN_OR_RETURN(std::vector<uint32_t> found, ParseSearch(r));
    uids.insert(uids.end(), found.begin(), found.end());
    return absl::OkStatus();
  }));
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  return uids;
}

absl::StatusOr<std::vector<uint32_t>> ImapClient::UidsAfter(uint32_t last_uid) {
  if (last_uid == UINT32_MAX) return std::vector<uint32_t>{};
  POSTROOM_ASSIGN_OR_RETURN(std::vector<uint32_t> uids,
                            UidSearch(absl::StrCat("UID ", last_uid + 1, ":*")));
  // "n:*" always matches the highest UID, even when it is below n (RFC 3501 6.4.8).
  uids.erase(
      std::remove_if(uids.begin(), uids.end(), [last_uid](uint32_t u) { return u <= last_uid; }),
      uids.end());
  return uids;
}

absl::StatusOr<std::vector<uint32_t>> ImapClient::UidsSince(absl::CivilDay day) {
  return UidSearch(absl::StrCat("SINCE ", FormatImapDate(day)));
}

absl::StatusOr<std::vector<MessageSize>> ImapClient::UidFetchSizes(
    const std::vector<uint32_t>& uids, size_t batch_size) {
  std::vector<MessageSize> out;
  for (const std::vector<uint32_t>& batch : Batches(uids, batch_size)) {
    Command c =
        MakeCommand(absl::StrCat("UID FETCH ", FormatSequenceSet(batch), " (UID RFC822.SIZE)"));
    c.verb = "UID FETCH (RFC822.SIZE)";
    POSTROOM_RETURN_IF_ERROR(Run(c, [&out](const ImapResponse& r) {
      if (r.name != "FETCH") return absl::OkStatus();
      POSTROOM_ASSIGN_OR_RETURN(ImapFetchData f, ParseFetch(r));
      if (f.uid && f.rfc822_size) out.push_back(MessageSize{*f.uid, *f.rfc822_size});
      return absl::OkStatus();
    }));
  }
  return out;
}

absl::Status ImapClient::UidFetchMessages(const std::vector<uint32_t>& uids,
                                          const FetchOptions& options,
                                          const FetchCallback& on_message) {
  POSTROOM_RETURN_IF_ERROR(CheckUsable());
  const std::vector<std::vector<uint32_t>> batches = Batches(uids, options.batch_size);
  const std::string body = options.max_bytes > 0
                               ? absl::StrCat("BODY.PEEK[]<0.", options.max_bytes, ">")
                               : "BODY.PEEK[]";
  const std::string items =
      absl::StrCat("(UID RFC822.SIZE ", options.with_flags ? "FLAGS INTERNALDATE " : "", body, ")");
  const size_t depth = std::max<size_t>(options.pipeline_depth, 1);
  std::deque<std::string> in_flight;
  std::set<uint32_t> pending(uids.begin(), uids.end());  // requested, not yet handed on
  uint64_t other_bytes = 0;
  size_t next = 0;
  absl::Status first_error;
  auto send_next = [&]() -> absl::Status {
    std::string tag = NextTag();
    POSTROOM_RETURN_IF_ERROR(SendPart(
        absl::StrCat(tag, " UID FETCH ", FormatSequenceSet(batches[next]), " ", items, "\r\n")));
    ++next;
    in_flight.push_back(std::move(tag));
    return absl::OkStatus();
  };
  while (next < batches.size() && in_flight.size() < depth) POSTROOM_RETURN_IF_ERROR(send_next());
  while (!in_flight.empty()) {
    POSTROOM_ASSIGN_OR_RETURN(const ImapResponse* r, ReadResponse());
    if (r->kind == ImapResponse::Kind::kContinuation) {
      return Fail(MailError(MailErrorClass::kProtocol, "unexpected continuation during FETCH"));
    }
    if (r->kind == ImapResponse::Kind::kUntagged) {
      POSTROOM_RETURN_IF_ERROR(HandleUntagged(*r));
      std::optional<ImapFetchData> f;
      if (r->name == "FETCH") {
        absl::StatusOr<ImapFetchData> parsed = ParseFetch(*r);
        if (!parsed.ok()) return Fail(parsed.status());
        if (parsed->body && !parsed->uid) {
          return Fail(
              MailError(MailErrorClass::kProtocol,
                        absl::StrCat("FETCH of message ", parsed->sequence, " without UID")));
        }
        f = *std::move(parsed);
      }
      // Each requested message is handed on once; anything else (flag updates, EXISTS, a
      // message nobody asked for or one sent twice) counts against one command's untagged
      // budget, so a server cannot keep the fetch going for ever.
      if (!f || !f->body || pending.erase(*f->uid) == 0) {
        other_bytes += current_len_;
        if (other_bytes > kMaxUntaggedPerCommand) {
          return Fail(ResponseTooLarge(kMaxUntaggedPerCommand,
                                       "limit for the untagged responses to UID FETCH"));
        }
        continue;
      }
      if (!first_error.ok()) continue;  // draining after a callback error
      FetchedMessage m;
      m.uid = *f->uid;
      m.bytes = *f->body;
      m.size = f->rfc822_size.value_or(m.bytes.size());
      if (f->flags) m.flags = *f->flags;
      if (f->internal_date) m.internal_date = *f->internal_date;
      first_error = on_message(m);
      continue;
    }
    if (r->tag != in_flight.front()) {
      return Fail(MailError(MailErrorClass::kProtocol,
                            absl::StrCat("response for unexpected tag \"", r->tag,
                                         "\" during FETCH (expected ", in_flight.front(), ")")));
    }
    in_flight.pop_front();
    absl::Status st = TaggedToStatus(*r, "UID FETCH", false);
    if (!st.ok() && first_error.ok()) first_error = st;
    if (first_error.ok() && next < batches.size()) POSTROOM_RETURN_IF_ERROR(send_next());
  }
  return first_error;
}

absl::Status ImapClient::UidStoreFlags(const std::vector<uint32_t>& uids,
                                       const std::vector<std::string>& flags, bool add) {
  if (uids.empty()) return absl::OkStatus();
  Command c = MakeCommand(absl::StrCat("UID STORE ", FormatSequenceSet(uids), " ", add ? "+" : "-",
                                       "FLAGS.SILENT (", absl::StrJoin(flags, " "), ")"));
  c.verb = absl::StrCat("UID STORE ", add ? "+" : "-", "FLAGS (", absl::StrJoin(flags, " "), ")");
  return Run(c, nullptr);
}

absl::Status ImapClient::UidMove(const std::vector<uint32_t>& uids, absl::string_view destination) {
  if (uids.empty()) return absl::OkStatus();
  POSTROOM_ASSIGN_OR_RETURN(std::string wire, EncodeMailboxName(destination));
  const std::string set = FormatSequenceSet(uids);
  const std::string what = absl::StrCat(" to \"", destination, "\"");
  if (HasCapability("MOVE")) {
    Command c = MakeCommand(absl::StrCat("UID MOVE ", set));
    AppendAString(c, wire);
    c.verb = absl::StrCat("UID MOVE", what);
    return Run(c, nullptr);
  }
  Command copy = MakeCommand(absl::StrCat("UID COPY ", set));
  AppendAString(copy, wire);
  copy.verb = absl::StrCat("UID COPY", what);
  POSTROOM_RETURN_IF_ERROR(Run(copy, nullptr));
  POSTROOM_RETURN_IF_ERROR(UidStoreFlags(uids, {"\\Deleted"}, true));
  return UidExpunge(uids);
}

absl::Status ImapClient::UidExpunge(const std::vector<uint32_t>& uids, bool uidplus_only) {
  if (uids.empty()) return absl::OkStatus();
  if (HasCapability("UIDPLUS")) {
    Command c = MakeCommand(absl::StrCat("UID EXPUNGE ", FormatSequenceSet(uids)));
    c.verb = "UID EXPUNGE";
    return Run(c, nullptr);
  }
  if (uidplus_only) return absl::OkStatus();
  return Run(MakeCommand("EXPUNGE"), nullptr);
}

absl::StatusOr<IdleResult> ImapClient::Idle(const IdleOptions& options) {
  POSTROOM_RETURN_IF_ERROR(CheckUsable());
  if (!HasCapability("IDLE")) {
    return MailError(MailErrorClass::kServer,
                     absl::StrCat(context_, ": server does not offer IDLE; poll instead"));
  }
  IdleResult result;
  const absl::Time end = clock_->Now() + std::max(options.max_wait, absl::ZeroDuration());
  const absl::Duration each = std::clamp(options.reissue_after, absl::Seconds(1), kMaxIdleCommand);
  for (;;) {
    if (options.stop && options.stop()) {
      result.stopped = true;
      break;
    }
    // The last command ends at `end` itself: a time-out there is the end, whatever the
    // transport's notion of time (scripted transports time out at once).
    const absl::Time until = std::min(end, clock_->Now() + each);
    POSTROOM_RETURN_IF_ERROR(IdleOnce(options, until, result));
    if (result.changed || result.stopped || until >= end) break;
  }
  result.exists = selected_ ? selected_->exists : 0;
  return result;
}

absl::Status ImapClient::IdleOnce(const IdleOptions& options, absl::Time until,
                                  IdleResult& result) {
  const std::string tag = NextTag();
  changed_ = false;
  new_mail_ = false;
  POSTROOM_RETURN_IF_ERROR(SendPart(absl::StrCat(tag, " IDLE\r\n")));
  // Until "+": updates the server had queued (mail that arrived since the last command) may
  // come first; they count.
  for (;;) {
    POSTROOM_ASSIGN_OR_RETURN(const ImapResponse* r, ReadResponse());
    if (r->kind == ImapResponse::Kind::kContinuation) break;
    if (r->kind == ImapResponse::Kind::kUntagged) {
      POSTROOM_RETURN_IF_ERROR(HandleUntagged(*r));
      continue;
    }
    if (r->tag == tag) {
      // Refused (e.g. NO while the mailbox is not selected) or ended at once.
      POSTROOM_RETURN_IF_ERROR(TaggedToStatus(*r, "IDLE", false));
      result.changed = result.changed || changed_;
      result.new_mail = result.new_mail || new_mail_;
      return absl::OkStatus();
    }
    return Fail(MailError(MailErrorClass::kProtocol, "unexpected tagged response before IDLE"));
  }
  while (!changed_) {
    if (options.stop && options.stop()) {
      result.stopped = true;
      break;
    }
    const absl::Time now = clock_->Now();
    if (now >= until) break;
    // With a stop check, wake up every check_every to ask it; a transport time-out is then
    // only the end of a slice.
    const bool sliced = static_cast<bool>(options.stop) && now + options.check_every <= until;
    const absl::Time read_until = sliced ? now + options.check_every : until;
    absl::StatusOr<const ImapResponse*> r = ReadResponse(read_until, /*timeout_is_fatal=*/false);
    if (!r.ok()) {
      if (!absl::IsDeadlineExceeded(r.status())) return r.status();
      if (sliced) continue;
      break;
    }
    if ((*r)->kind != ImapResponse::Kind::kUntagged) {
      return Fail(MailError(MailErrorClass::kProtocol, "unexpected response during IDLE"));
    }
    POSTROOM_RETURN_IF_ERROR(HandleUntagged(**r));
    if (!bye_.empty()) return Fail(MailError(MailErrorClass::kNetwork, "BYE during IDLE"));
  }
  ++commands_sent_;
  POSTROOM_RETURN_IF_ERROR(SendPart("DONE\r\n"));
  for (;;) {
    POSTROOM_ASSIGN_OR_RETURN(const ImapResponse* r, ReadResponse());
    if (r->kind == ImapResponse::Kind::kUntagged) {
      POSTROOM_RETURN_IF_ERROR(HandleUntagged(*r));
      continue;
    }
    if (r->kind == ImapResponse::Kind::kTagged && r->tag == tag) {
      POSTROOM_RETURN_IF_ERROR(TaggedToStatus(*r, "IDLE", false));
      result.changed = result.changed || changed_;
      result.new_mail = result.new_mail || new_mail_;
      return absl::OkStatus();
    }
    return Fail(MailError(MailErrorClass::kProtocol, "unexpected response ending IDLE"));
  }
}

absl::Status ImapClient::Noop() { return Run(MakeCommand("NOOP"), nullptr); }

absl::Status ImapClient::Logout() {
  POSTROOM_RETURN_IF_ERROR(CheckUsable());
  absl::Status st = Run(MakeCommand("LOGOUT"), nullptr);
  transport_->Close();
  if (broken_.ok()) {
    broken_ = MailError(MailErrorClass::kOther, absl::StrCat(context_, ": logged out"));
    return st;
  }
  // The server may hang up right after its BYE, before the tagged OK: that is a clean logout.
  return bye_.empty() ? st : absl::OkStatus();
}

}  // namespace postroom::mail
