#include "libs/mail/pop3_client.h"

#include <algorithm>

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

constexpr size_t kMaxStatusLine = 8 << 10;  // RFC 1939: 512; be generous
constexpr size_t kSinkChunk = 64 << 10;
// One line of a CAPA, UIDL or LIST reply (RFC 1939 allows 512 bytes; be generous).
constexpr size_t kMaxListLine = 64 << 10;
// CAPA lists a dozen capabilities; a server listing more than this never stops.
constexpr uint64_t kMaxCapaLines = 256;
constexpr uint64_t kMaxCapaBytes = 64 << 10;
// UIDL and LIST: about 20 bytes per message. Entries are bounded by count too: a parsed entry
// takes ~40 bytes and more with its vector's growth, so 16 MiB of short lines made a
// 100 MiB listing. 250,000 messages left on a POP3 server is far beyond real maildrops.
constexpr uint64_t kMaxListingBytes = 16 << 20;
constexpr uint64_t kMaxListingLines = 250000;
// SASL challenges answered in one AUTH; XOAUTH2 needs at most two.
constexpr int kMaxSaslRounds = 8;

// RFC 3206 / RFC 2449 response codes in "-ERR [CODE] text".
MailErrorClass ClassifyErr(absl::string_view text, bool auth) {
  std::string t = absl::AsciiStrToUpper(text);
  if (absl::StartsWith(t, "[AUTH]")) return MailErrorClass::kAuthentication;
  if (absl::StartsWith(t, "[IN-USE]") || absl::StartsWith(t, "[LOGIN-DELAY]")) {
    return MailErrorClass::kThrottled;
  }
  if (absl::StartsWith(t, "[SYS/")) return MailErrorClass::kServer;
  if (absl::StrContains(t, "TOO MANY") || absl::StrContains(t, "MAXIMUM NUMBER OF")) {
    return MailErrorClass::kThrottled;
  }
  return auth ? MailErrorClass::kAuthentication : MailErrorClass::kServer;
}

}  // namespace

Pop3Client::Pop3Client(std::unique_ptr<Transport> transport, const ServerOptions& options)
    : transport_(std::move(transport)),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : &RealClock()),
      in_(transport_.get(), clock_, options.timeout),
      context_(options.host.empty() ? "pop3"
                                    : absl::StrCat("pop3 ", options.host, ":", options.port)) {}

Pop3Client::~Pop3Client() {
  if (transport_) transport_->Close();
}

absl::StatusOr<std::unique_ptr<Pop3Client>> Pop3Client::Connect(const ServerOptions& options) {
  Clock* clock = options.clock != nullptr ? options.clock : &RealClock();
  absl::StatusOr<std::unique_ptr<Transport>> t =
      DialTcp(options.host, options.port, clock->Now() + options.timeout);
  if (!t.ok()) return AnnotateMailError(t.status(), "pop3");
  return Start(*std::move(t), options);
}

absl::StatusOr<std::unique_ptr<Pop3Client>> Pop3Client::Start(std::unique_ptr<Transport> transport,
                                                              const ServerOptions& options) {
  std::unique_ptr<Pop3Client> c(new Pop3Client(std::move(transport), options));
  if (options.security == Security::kImplicitTls) {
    absl::Status st = c->transport_->StartTls(options.tls, c->Deadline());
    if (!st.ok()) return AnnotateMailError(st, c->context_);
  }
  absl::StatusOr<std::string> greeting = c->ReadStatus("greeting", false);
  if (!greeting.ok()) return c->Fail(greeting.status());
  c->greeting_ = *greeting;
  POSTROOM_RETURN_IF_ERROR(c->Capa().status());
  if (options.security == Security::kStartTls) POSTROOM_RETURN_IF_ERROR(c->StartTls());
  return c;
}

bool Pop3Client::HasCapability(absl::string_view cap) const {
  for (const std::string& c : capabilities_) {
    absl::string_view first = absl::string_view(c).substr(0, c.find(' '));
    if (absl::EqualsIgnoreCase(first, cap)) return true;
  }
  return false;
}

absl::Status Pop3Client::CheckUsable() const {
  if (!broken_.ok()) {
    return AnnotateMailError(broken_, "connection unusable after an earlier error");
  }
  return absl::OkStatus();
}

absl::Status Pop3Client::Fail(absl::Status st) {
  if (st.ok()) return st;
  if (!absl::StartsWith(st.message(), context_)) st = AnnotateMailError(st, context_);
  if (broken_.ok()) broken_ = st;
  transport_->Close();
  return st;
}

absl::StatusOr<std::string> Pop3Client::ReadStatus(absl::string_view what, bool auth) {
  absl::StatusOr<absl::string_view> line = in_.PeekLine(kMaxStatusLine);
  if (!line.ok()) return Fail(line.status());
  std::string l(*line);
  in_.ConsumeLine();
  if (absl::StartsWith(l, "+OK")) {
    absl::string_view rest = absl::string_view(l).substr(3);
    if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    return std::string(rest);
  }
  if (absl::StartsWith(l, "-ERR")) {
    absl::string_view rest = absl::string_view(l).substr(4);
    if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    return AnnotateMailError(
        MailError(ClassifyErr(rest, auth), absl::StrCat(what, " refused: ", l)), context_);
  }
  if (absl::StartsWith(l, "+ ") || l == "+") return l;  // SASL continuation
  return Fail(MailError(MailErrorClass::kProtocol,
                        absl::StrCat("unexpected reply to ", what, ": \"",
                                     absl::CEscape(l.substr(0, 80)), "\" (is this a POP3 port?)")));
}

absl::StatusOr<std::string> Pop3Client::Command(absl::string_view line, absl::string_view what,
                                                bool auth) {
  POSTROOM_RETURN_IF_ERROR(CheckUsable());
  absl::Status st = transport_->Write(absl::StrCat(line, "\r\n"), Deadline());
  if (!st.ok()) return Fail(st);
  return ReadStatus(what, auth);
}

absl::Status Pop3Client::ReadMultiLine(
    absl::string_view what, const ReplyLimits& limits,
    const std::function<absl::Status(absl::string_view)>& on_line) {
  uint64_t bytes = 0;
  uint64_t lines = 0;
  for (;;) {
    // A line may use what is left of the reply's budget, so one endless line stops at the
    // reply's limit too, with the reply's error.
    const uint64_t left = limits.max_bytes - bytes;
    const bool budget_bound = left <= limits.max_line;
    absl::StatusOr<absl::string_view> line =
        in_.PeekLine(budget_bound ? static_cast<size_t>(left) : limits.max_line);
    if (!line.ok()) {
      if (budget_bound && ClassifyMailError(line.status()) == MailErrorClass::kProtocol) {
        return Fail(ResponseTooLarge(limits.max_bytes, limits.why));
      }
      return Fail(line.status());
    }
    absl::string_view l = *line;
    if (l == ".") {
      in_.ConsumeLine();
      return absl::OkStatus();
    }
    bytes += l.size() + 2;
    if (bytes > limits.max_bytes) return Fail(ResponseTooLarge(limits.max_bytes, limits.why));
    if (++lines > limits.max_lines) {
      return Fail(MailError(MailErrorClass::kProtocol,
                            absl::StrCat(what, " reply exceeds ", limits.max_lines, " lines")));
    }
    if (!l.empty() && l.front() == '.') l.remove_prefix(1);  // dot-unstuffing
    absl::Status st = on_line(l);
    in_.ConsumeLine();
    if (!st.ok()) return st;
  }
}

absl::StatusOr<std::vector<std::string>> Pop3Client::Capa() {
  absl::StatusOr<std::string> st = Command("CAPA", "CAPA");
  if (!st.ok()) {
    if (ClassifyMailError(st.status()) == MailErrorClass::kServer) {
      capabilities_.clear();
      return capabilities_;
    }
    return st.status();
  }
  std::vector<std::string> caps;
  POSTROOM_RETURN_IF_ERROR(ReadMultiLine(
      "CAPA", {kMaxCapaBytes, "limit for a CAPA reply", kMaxListLine, kMaxCapaLines},
      [&caps](absl::string_view l) {
    caps.emplace_back(l);
    return absl::OkStatus();
  }));
  capabilities_ = caps;
  return caps;
}

absl::Status Pop3Client::StartTls() {
  if (transport_->IsTls()) return absl::OkStatus();
  if (!HasCapability("STLS")) {
    return Fail(MailError(MailErrorClass::kTls,
                          "server does not offer STLS (use implicit TLS on port 995, or plain "
                          "only on a trusted network)"));
  }
  POSTROOM_RETURN_IF_ERROR(Command("STLS", "STLS").status());
  if (in_.size() > 0) {
    return Fail(MailError(MailErrorClass::kProtocol,
                          "server sent data after STLS before the TLS handshake"));
  }
  absl::Status st = transport_->StartTls(options_.tls, Deadline());
  if (!st.ok()) return Fail(st);
  return Capa().status();
}

absl::Status Pop3Client::Authenticate(const Credentials& credentials) {
  // PLAIN separates its fields with NUL, USER/PASS end at CRLF: either inside would shift them.
  POSTROOM_RETURN_IF_ERROR(CheckSendable("POP3 user", credentials.user));
  POSTROOM_RETURN_IF_ERROR(CheckSendable("POP3 secret", credentials.secret));
  switch (credentials.mechanism) {
    case AuthMechanism::kLogin:
      return Login(credentials.user, credentials.secret);
    case AuthMechanism::kPlain:
      return Sasl("PLAIN",
                  absl::Base64Escape(absl::StrCat(std::string(1, '\0'), credentials.user,
                                                  std::string(1, '\0'), credentials.secret)),
                  credentials.user);
    case AuthMechanism::kXOAuth2:
      return Sasl("XOAUTH2",
                  absl::Base64Escape(absl::StrCat("user=", credentials.user, "\x01", "auth=Bearer ",
                                                  credentials.secret, "\x01\x01")),
                  credentials.user);
  }
  return absl::InvalidArgumentError("unknown authentication mechanism");
}

absl::Status Pop3Client::Login(absl::string_view user, absl::string_view password) {
  POSTROOM_RETURN_IF_ERROR(CheckSendable("POP3 user", user));
  POSTROOM_RETURN_IF_ERROR(CheckSendable("POP3 password", password));
  const std::string what = absl::StrCat("USER/PASS as \"", user, "\"");
  POSTROOM_RETURN_IF_ERROR(Command(absl::StrCat("USER ", user), what, true).status());
  return Command(absl::StrCat("PASS ", password), what, true).status();
}

absl::Status Pop3Client::Sasl(absl::string_view mechanism, const std::string& initial_response,
                              absl::string_view user) {
  const std::string what = absl::StrCat("AUTH ", mechanism, " as \"", user, "\"");
  // RFC 5034 allows the initial response on the AUTH line.
  absl::StatusOr<std::string> r =
      Command(absl::StrCat("AUTH ", mechanism, " ", initial_response), what, true);
  std::string detail;
  for (int rounds = 1; r.ok() && absl::StartsWith(*r, "+"); ++rounds) {
    if (rounds > kMaxSaslRounds) {
      return Fail(MailError(MailErrorClass::kProtocol,
                            absl::StrCat(what, ": more than ", kMaxSaslRounds,
                                         " challenges; the server does not finish")));
    }
    // A challenge after the credentials carries the failure detail (XOAUTH2 JSON).
    std::string b64(absl::StripAsciiWhitespace(absl::string_view(*r).substr(1)));
    if (!absl::Base64Unescape(b64, &detail)) detail = b64;
    r = Command("", what, true);
  }
  if (!r.ok() && !detail.empty()) {
    absl::Status st(r.status().code(),
                    absl::StrCat(r.status().message(), " (server detail: ", detail, ")"));
    st.SetPayload(kMailErrorClassPayload,
                  absl::Cord(MailErrorClassName(ClassifyMailError(r.status()))));
    return st;
  }
  return r.status();
}

absl::StatusOr<Pop3Stat> Pop3Client::Stat() {
  POSTROOM_ASSIGN_OR_RETURN(std::string r, Command("STAT", "STAT"));
  std::vector<absl::string_view> parts = absl::StrSplit(r, ' ', absl::SkipEmpty());
  Pop3Stat s;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &s.count) ||
      !absl::SimpleAtoi(parts[1], &s.size)) {
    return Fail(MailError(MailErrorClass::kProtocol, absl::StrCat("bad STAT reply \"", r, "\"")));
  }
  return s;
}

absl::StatusOr<std::vector<Pop3UidlEntry>> Pop3Client::Uidl() {
  POSTROOM_RETURN_IF_ERROR(Command("UIDL", "UIDL").status());
  std::vector<Pop3UidlEntry> out;
  absl::Status bad;
  POSTROOM_RETURN_IF_ERROR(ReadMultiLine(
      "UIDL", {kMaxListingBytes, "limit for a UIDL reply", kMaxListLine, kMaxListingLines},
      [&](absl::string_view l) {
    std::vector<absl::string_view> parts = absl::StrSplit(l, ' ', absl::SkipEmpty());
    Pop3UidlEntry e;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &e.number)) {
      if (bad.ok())
        bad = MailError(MailErrorClass::kProtocol,
                        absl::StrCat("bad UIDL line \"", absl::CEscape(l), "\""));
      return absl::OkStatus();  // keep reading so the session stays in step
    }
    e.uid = std::string(parts[1]);
    out.push_back(std::move(e));
    return absl::OkStatus();
  }));
  if (!bad.ok()) return Fail(bad);
  return out;
}

absl::StatusOr<std::vector<Pop3ListEntry>> Pop3Client::List() {
  POSTROOM_RETURN_IF_ERROR(Command("LIST", "LIST").status());
  std::vector<Pop3ListEntry> out;
  absl::Status bad;
  POSTROOM_RETURN_IF_ERROR(ReadMultiLine(
      "LIST", {kMaxListingBytes, "limit for a LIST reply", kMaxListLine, kMaxListingLines},
      [&](absl::string_view l) {
    std::vector<absl::string_view> parts = absl::StrSplit(l, ' ', absl::SkipEmpty());
    Pop3ListEntry e;
    if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &e.number) ||
        !absl::SimpleAtoi(parts[1], &e.size)) {
      if (bad.ok())
        bad = MailError(MailErrorClass::kProtocol,
                        absl::StrCat("bad LIST line \"", absl::CEscape(l), "\""));
      return absl::OkStatus();
    }
    out.push_back(e);
    return absl::OkStatus();
  }));
  if (!bad.ok()) return Fail(bad);
  return out;
}

absl::Status Pop3Client::Retr(uint32_t number, const Pop3ChunkSink& sink) {
  return ReadMessage(absl::StrCat("RETR ", number), sink);
}

absl::StatusOr<std::string> Pop3Client::Top(uint32_t number, uint32_t lines) {
  std::string out;
  POSTROOM_RETURN_IF_ERROR(
      ReadMessage(absl::StrCat("TOP ", number, " ", lines), [&](absl::string_view c) {
        AppendReceived(out, c, MessageResponseLimit(options_.max_message_bytes));
        return absl::OkStatus();
      }));
  return out;
}

absl::Status Pop3Client::ReadMessage(const std::string& command, const Pop3ChunkSink& sink) {
  POSTROOM_RETURN_IF_ERROR(Command(command, command).status());
  std::string chunk;
  chunk.reserve(kSinkChunk + 1024);
  absl::Status sink_error;
  const uint64_t limit = MessageResponseLimit(options_.max_message_bytes);
  POSTROOM_RETURN_IF_ERROR(ReadMultiLine(
      command, {limit, kMessageResponseWhy, static_cast<size_t>(limit)},
      [&](absl::string_view l) {
    if (!sink_error.ok()) return absl::OkStatus();  // drain the rest, stay in step
    chunk.append(l.data(), l.size());
    chunk += "\r\n";
    if (chunk.size() >= kSinkChunk) {
      sink_error = sink(chunk);
      chunk.clear();
    }
    return absl::OkStatus();
  }));
  if (!sink_error.ok()) return sink_error;
  if (!chunk.empty()) return sink(chunk);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Pop3Client::RetrMessage(uint32_t number) {
  std::string out;
  POSTROOM_RETURN_IF_ERROR(Retr(number, [&](absl::string_view c) {
    AppendReceived(out, c, MessageResponseLimit(options_.max_message_bytes));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status Pop3Client::Dele(uint32_t number) {
  return Command(absl::StrCat("DELE ", number), absl::StrCat("DELE ", number)).status();
}

absl::Status Pop3Client::Rset() { return Command("RSET", "RSET").status(); }

absl::Status Pop3Client::Noop() { return Command("NOOP", "NOOP").status(); }

absl::Status Pop3Client::Quit() {
  absl::Status st = Command("QUIT", "QUIT").status();
  transport_->Close();
  if (broken_.ok()) broken_ = MailError(MailErrorClass::kOther, absl::StrCat(context_, ": quit"));
  return st;
}

}  // namespace postroom::mail
