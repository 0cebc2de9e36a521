// The clients against servers that never stop: one test per hostile shape and protocol, over a
// real socket (hostile_server.h). Each asserts the error class and text, that the client stopped
// reading near its limit (the server could not push much more than the limit into it) and that
// the process's RSS did not grow with what the server sent.
#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mail/graph_client.h"
#include "libs/mail/http_client.h"
#include "libs/mail/imap_client.h"
#include "libs/mail/mail_error.h"
#include "libs/mail/pop3_client.h"
#include "libs/mail/smtp_client.h"
#include "libs/mail/tests/hostile_server.h"
#include "tests/support/sanitizers.h"
#include "tests/support/status_matchers.h"

namespace postroom::mail {
namespace {

using ::postroom::mail::testing::CurrentRss;
using ::postroom::mail::testing::HostileConnection;
using ::postroom::mail::testing::HostileServer;
using ::postroom::testing::IsOk;
using ::postroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

constexpr uint64_t kMiB = 1 << 20;
// The connector default: replies carrying a message may hold 26 MiB.
constexpr uint64_t kMaxMessage = 25 * kMiB;
// What loopback socket buffers can hold beyond what the client read.
constexpr uint64_t kSocketSlack = 16 * kMiB;

std::string Repeat(char c, size_t n) { return std::string(n, c); }

// The first word of a client's command line: its IMAP tag.
std::string Tag(const std::string& line) { return line.substr(0, line.find(' ')); }

// What a client call met from a server that never stops.
struct CutOff {
  absl::Status status;
  uint64_t sent = 0;    // what the server got out before the client stopped reading
  uint64_t growth = 0;  // how much the process's RSS grew while the server poured
};

// Runs `call` and measures it against `server`; the RSS baseline is taken just before.
CutOff Measure(const HostileServer& server, const std::function<absl::Status()>& call) {
  const uint64_t base = CurrentRss();
  CutOff c;
  c.status = call();
  const uint64_t peak = std::max(server.peak_rss(), CurrentRss());
  c.sent = server.bytes_sent();
  c.growth = peak > base ? peak - base : 0;
  return c;
}

// The client stopped with a protocol error whose message matches, having let the server send
// less than `max_sent` and grown by less than `max_growth`.
void ExpectCutOff(const CutOff& c, const ::testing::Matcher<std::string>& message,
                  uint64_t max_sent, uint64_t max_growth) {
  EXPECT_EQ(ClassifyMailError(c.status), MailErrorClass::kProtocol) << c.status;
  EXPECT_THAT(std::string(c.status.message()), message);
  EXPECT_LT(c.sent, max_sent);
  // Under ASan the process's RSS holds its quarantine of freed memory: the bytes the server got
  // out (above) still show where the client stopped reading.
  if (!postroom::testing::kUnderAddressSanitizer) EXPECT_LT(c.growth, max_growth);
}

ServerOptions Options(const HostileServer& server) {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = server.port();
  o.security = Security::kPlain;
  o.timeout = absl::Seconds(10);
  o.max_message_bytes = kMaxMessage;
  return o;
}

// ---- IMAP ----

// Greets, accepts LOGIN, and waits for the next command; false when the client left.
bool ImapLoggedIn(HostileConnection& c, std::string* next_tag) {
  if (!c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hostile ready\r\n")) return false;
  std::optional<std::string> login = c.ReadLine();
  if (!login) return false;
  if (!c.Send(absl::StrCat(Tag(*login), " OK [CAPABILITY IMAP4rev1 LITERAL+] in\r\n"))) {
    return false;
  }
  std::optional<std::string> next = c.ReadLine();
  if (!next) return false;
  *next_tag = Tag(*next);
  return true;
}

// Logs in to `server` and runs `call`, measured.
CutOff AfterImapLogin(const HostileServer& server,
                      const std::function<absl::Status(ImapClient&)>& call) {
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(Options(server));
  if (!c.ok()) return {c.status()};
  if (absl::Status st = (*c)->Login("u", "p"); !st.ok()) return {st};
  return Measure(server, [&] { return call(**c); });
}

absl::Status FetchOne(ImapClient& c) {
  return c.UidFetchMessages({1}, FetchOptions{},
                            [](const FetchedMessage&) { return absl::OkStatus(); });
}

// A server that logs the client in, then answers its next command with `prefix` and `unit`
// repeated for ever.
HostileServer::Script ImapPouring(std::string prefix, std::string unit) {
  return [prefix, unit](HostileConnection& c) {
    std::string tag;
    if (ImapLoggedIn(c, &tag)) c.Pour(prefix, unit);
  };
}

const ::testing::Matcher<std::string> kImapTooLarge = MatchesRegex(
    R"(imap 127\.0\.0\.1:[0-9]+: response exceeds 26 MiB \(max_message_bytes \+ 1 MiB\))");

TEST(ImapBounds, EndlessLiteralFailsBeforeItsBytesAreRead) {
  HostileServer server(
      ImapPouring("* 1 FETCH (UID 1 BODY[] {1099511627776}\r\n", Repeat('x', 64 << 10)));
  ExpectCutOff(AfterImapLogin(server, FetchOne), kImapTooLarge, kSocketSlack, 16 * kMiB);
}

TEST(ImapBounds, EndlessLiteralsInOneResponseFailAtTheResponseLimit) {
  // Each literal is small; only their sum is endless.
  HostileServer server(ImapPouring("* 1 FETCH (UID 1 X-A {0}\r\n",
                                   absl::StrCat(" X-B {65536}\r\n", Repeat('x', 65536))));
  ExpectCutOff(AfterImapLogin(server, FetchOne), kImapTooLarge, 26 * kMiB + kSocketSlack,
               64 * kMiB);
}

TEST(ImapBounds, MessageJustOverMaxMessageBytesStillArrives) {
  // max_message_bytes + 512 KiB fits the 1 MiB of slack: the fetcher stores it as over-size
  // instead of failing every poll on it.
  const size_t size = kMaxMessage + (512 << 10);
  HostileServer server([size](HostileConnection& c) {
    std::string tag;
    if (!ImapLoggedIn(c, &tag)) return;
    if (!c.Send(absl::StrCat("* 1 FETCH (UID 1 RFC822.SIZE ", size, " BODY[] {", size, "}\r\n")) ||
        !c.Send(Repeat('x', size)) || !c.Send(absl::StrCat(")\r\n", tag, " OK done\r\n"))) {
      return;
    }
    c.ReadLine();
  });
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(Options(server));
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT((*c)->Login("u", "p"), IsOk());
  size_t got = 0;
  EXPECT_THAT((*c)->UidFetchMessages({1}, FetchOptions{},
                                     [&got](const FetchedMessage& m) {
                                       got = m.bytes.size();
                                       return absl::OkStatus();
                                     }),
              IsOk());
  EXPECT_EQ(got, size);
}

TEST(ImapBounds, OverSizeMessageIsFetchedAsItsStartOnly) {
  // A 1 GB message by RFC822.SIZE: the fetcher asks for its first bytes only (headers).
  HostileServer server([](HostileConnection& c) {
    std::string tag;
    if (!ImapLoggedIn(c, &tag)) return;
    c.Send(absl::StrCat("* 1 FETCH (UID 1 RFC822.SIZE 1073741824 BODY[]<0> {4096}\r\n",
                        Repeat('h', 4096), ")\r\n", tag, " OK done\r\n"));
    c.ReadLine();
  });
  FetchOptions head;
  head.max_bytes = 4096;
  uint64_t size = 0;
  size_t got = 0;
  CutOff r = AfterImapLogin(server, [&](ImapClient& c) {
    return c.UidFetchMessages({1}, head, [&](const FetchedMessage& m) {
      size = m.size;
      got = m.bytes.size();
      return absl::OkStatus();
    });
  });
  EXPECT_THAT(r.status, IsOk());
  EXPECT_EQ(size, 1073741824u);
  EXPECT_EQ(got, 4096u);
}

TEST(ImapBounds, EndlessLineFailsAtTheLineLimit) {
  HostileServer server(ImapPouring("* OK ", Repeat('a', 4096)));
  ExpectCutOff(AfterImapLogin(server, FetchOne),
               HasSubstr("IMAP response line longer than 1048576 bytes"), kMiB + kSocketSlack,
               16 * kMiB);
}

TEST(ImapBounds, EndlessCapabilityResponsesFailAtTheCommandLimit) {
  HostileServer server(ImapPouring("", "* CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS X-HOSTILE\r\n"));
  ExpectCutOff(
      AfterImapLogin(server, [](ImapClient& c) { return c.Capability().status(); }),
      HasSubstr("response exceeds 16 MiB (limit for the untagged responses to CAPABILITY)"),
      16 * kMiB + kSocketSlack, 16 * kMiB);
}

TEST(ImapBounds, EndlessUnrequestedMessagesDuringFetchFail) {
  // Every response is well-formed and small, but none is the message asked for (UID 1): the
  // client must neither hand them on nor wait for ever.
  HostileServer server(ImapPouring("", "* 9 FETCH (UID 99 BODY[] {5}\r\nhello)\r\n"));
  int handed_on = 0;
  ExpectCutOff(AfterImapLogin(server,
                              [&](ImapClient& c) {
                                return c.UidFetchMessages({1}, FetchOptions{},
                                                          [&](const FetchedMessage&) {
                                                            ++handed_on;
                                                            return absl::OkStatus();
                                                          });
                              }),
               HasSubstr("response exceeds 16 MiB (limit for the untagged responses to UID FETCH)"),
               16 * kMiB + kSocketSlack, 16 * kMiB);
  EXPECT_EQ(handed_on, 0);
}

TEST(ImapBounds, EndlessSaslChallengesFail) {
  HostileServer server([](HostileConnection& c) {
    if (!c.Send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hostile ready\r\n")) return;
    while (c.ReadLine()) {
      if (!c.Send("+ \r\n")) return;
    }
  });
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(Options(server));
  ASSERT_THAT(c, IsOk());
  absl::Status st = (*c)->AuthenticatePlain("u", "p");
  EXPECT_EQ(ClassifyMailError(st), MailErrorClass::kProtocol);
  EXPECT_THAT(st.message(), HasSubstr("more than 8 challenges"));
}

TEST(ImapBounds, LineBreakInPasswordIsRefusedBeforeSending) {
  HostileServer server([](HostileConnection& c) {
    if (!c.Send("* OK [CAPABILITY IMAP4rev1] ready\r\n")) return;
    while (std::optional<std::string> l = c.ReadLine()) {
      if (!c.Send(absl::StrCat(Tag(*l), " BAD nothing should arrive\r\n"))) return;
    }
  });
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(Options(server));
  ASSERT_THAT(c, IsOk());
  uint64_t sent_before = (*c)->commands_sent();
  EXPECT_THAT((*c)->Login("u", "p\r\nA9 DELETE INBOX"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("LOGIN password: must not contain CR, LF or NUL")));
  EXPECT_THAT((*c)->Select("Archive\nA9 LOGOUT"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("mailbox name: must not contain CR, LF or NUL")));
  EXPECT_THAT((*c)->AuthenticatePlain(std::string("u\0v", 3), "p"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ((*c)->commands_sent(), sent_before);
}

// ---- POP3 ----

// Greets, answers CAPA with `capa` (a whole reply), accepts USER and PASS, and returns the next
// command; nullopt when the client left.
std::optional<std::string> Pop3LoggedIn(HostileConnection& c,
                                        absl::string_view capa = "-ERR no CAPA\r\n") {
  if (!c.Send("+OK hostile POP3\r\n")) return std::nullopt;
  for (;;) {
    std::optional<std::string> l = c.ReadLine();
    if (!l) return std::nullopt;
    if (*l == "CAPA") {
      if (!c.Send(capa)) return std::nullopt;
    } else if (l->rfind("USER ", 0) == 0 || l->rfind("PASS ", 0) == 0) {
      if (!c.Send("+OK\r\n")) return std::nullopt;
    } else {
      return l;
    }
  }
}

// Logs in to `server` and runs `call`, measured.
CutOff AfterPop3Login(const HostileServer& server,
                      const std::function<absl::Status(Pop3Client&)>& call) {
  absl::StatusOr<std::unique_ptr<Pop3Client>> c = Pop3Client::Connect(Options(server));
  if (!c.ok()) return {c.status()};
  if (absl::Status st = (*c)->Login("u", "p"); !st.ok()) return {st};
  return Measure(server, [&] { return call(**c); });
}

absl::Status RetrOne(Pop3Client& c) { return c.RetrMessage(1).status(); }
absl::Status ListUids(Pop3Client& c) { return c.Uidl().status(); }

// A server that logs the client in, then answers its next command with `prefix` and `unit`
// repeated for ever.
HostileServer::Script Pop3Pouring(std::string prefix, std::string unit) {
  return [prefix, unit](HostileConnection& c) {
    if (Pop3LoggedIn(c)) c.Pour(prefix, unit);
  };
}

TEST(Pop3Bounds, EndlessRetrFailsAtTheResponseLimit) {
  HostileServer server(
      Pop3Pouring("+OK message follows\r\n", absl::StrCat(Repeat('m', 76), "\r\n")));
  ExpectCutOff(AfterPop3Login(server, RetrOne),
               MatchesRegex(R"(pop3 127\.0\.0\.1:[0-9]+: response exceeds 26 MiB )"
                            R"(\(max_message_bytes \+ 1 MiB\))"),
               26 * kMiB + kSocketSlack, 96 * kMiB);
}

TEST(Pop3Bounds, EndlessLineInRetrFailsAtTheResponseLimit) {
  HostileServer server(Pop3Pouring("+OK message follows\r\n", Repeat('m', 4096)));
  ExpectCutOff(AfterPop3Login(server, RetrOne),
               HasSubstr("response exceeds 26 MiB (max_message_bytes + 1 MiB)"),
               26 * kMiB + kSocketSlack, 64 * kMiB);
}

TEST(Pop3Bounds, TopBringsTheHeadersOfAnOverSizeMessage) {
  HostileServer server([](HostileConnection& c) {
    std::optional<std::string> l = Pop3LoggedIn(c);
    if (l && *l == "TOP 1 0") c.Send("+OK\r\nSubject: big\r\n..dot\r\n\r\n.\r\n");
    c.ReadLine();
  });
  std::string head;
  CutOff r = AfterPop3Login(server, [&](Pop3Client& c) {
    absl::StatusOr<std::string> t = c.Top(1, 0);
    if (t.ok()) head = *t;
    return t.status();
  });
  EXPECT_THAT(r.status, IsOk());
  EXPECT_EQ(head, "Subject: big\r\n.dot\r\n\r\n");
}

TEST(Pop3Bounds, EndlessCapaFailsAtTheLineCount) {
  HostileServer server([](HostileConnection& c) {
    if (c.Send("+OK hostile POP3\r\n") && c.ReadLine()) c.Pour("+OK\r\nUSER\r\n", "X-CAP\r\n");
  });
  ExpectCutOff(Measure(server, [&] { return Pop3Client::Connect(Options(server)).status(); }),
               HasSubstr("CAPA reply exceeds 256 lines"), kSocketSlack, 16 * kMiB);
}

TEST(Pop3Bounds, EndlessUidlOfShortLinesFailsAtTheEntryCount) {
  // Entries cost more than their bytes: 16 MiB of short lines held ~100 MiB of parsed entries.
  HostileServer server(Pop3Pouring("+OK\r\n", "1 000001a2b3c4d5e6\r\n"));
  ExpectCutOff(AfterPop3Login(server, ListUids), HasSubstr("UIDL reply exceeds 250000 lines"),
               8 * kMiB + kSocketSlack, 32 * kMiB);
}

TEST(Pop3Bounds, EndlessUidlOfLongLinesFailsAtTheListingLimit) {
  HostileServer server(Pop3Pouring("+OK\r\n", absl::StrCat("1 ", Repeat('u', 68), "\r\n")));
  ExpectCutOff(AfterPop3Login(server, ListUids),
               HasSubstr("response exceeds 16 MiB (limit for a UIDL reply)"),
               16 * kMiB + kSocketSlack, 64 * kMiB);
}

TEST(Pop3Bounds, EndlessUidlLineFailsAtTheLineLimit) {
  HostileServer server(Pop3Pouring("+OK\r\n1 ", Repeat('u', 4096)));
  ExpectCutOff(AfterPop3Login(server, ListUids), HasSubstr("server line longer than 65536 bytes"),
               kSocketSlack, 16 * kMiB);
}

TEST(Pop3Bounds, EndlessStatusLineFails) {
  HostileServer server([](HostileConnection& c) { c.Pour("+OK ", Repeat('g', 4096)); });
  ExpectCutOff(Measure(server, [&] { return Pop3Client::Connect(Options(server)).status(); }),
               HasSubstr("server line longer than 8192 bytes"), kSocketSlack, 16 * kMiB);
}

TEST(Pop3Bounds, LineBreakInCredentialsIsRefusedBeforeSending) {
  HostileServer server([](HostileConnection& c) {
    std::optional<std::string> l = Pop3LoggedIn(c);
    while (l && c.Send("-ERR nothing should arrive\r\n")) l = c.ReadLine();
  });
  absl::StatusOr<std::unique_ptr<Pop3Client>> c = Pop3Client::Connect(Options(server));
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT((*c)->Login("u\r\nDELE 1", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("POP3 user: must not contain CR, LF or NUL")));
  EXPECT_THAT((*c)->Authenticate({"u", std::string("p\0q", 3), AuthMechanism::kPlain}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("POP3 secret: must not contain CR, LF or NUL")));
}

// ---- SMTP ----

SmtpServer SmtpTo(const HostileServer& server) {
  SmtpServer s;
  s.host = "127.0.0.1";
  s.port = server.port();
  s.security = SmtpSecurity::kNone;
  s.timeout = absl::Seconds(5);
  return s;
}

// Sends a message to `server`, measured; the result as a status (class and message).
CutOff SendTo(const HostileServer& server) {
  return Measure(server, [&] {
    SmtpResult r = SendSmtp(SmtpTo(server), {}, {"a@example.com", {"b@example.com"}}, "x\r\n");
    return r.ok ? absl::OkStatus() : MailError(r.error_class, r.message);
  });
}

// A server that greets, reads EHLO, and answers with `prefix` and `unit` repeated for ever.
HostileServer::Script SmtpPouring(std::string prefix, std::string unit) {
  return [prefix, unit](HostileConnection& c) {
    if (c.Send("220 hostile ESMTP\r\n") && c.ReadLine()) c.Pour(prefix, unit);
  };
}

// libcurl itself stops at 300 KiB of replies; the client must report that as the server's
// fault (protocol), not as a network failure to retry.
const ::testing::Matcher<std::string> kSmtpTooLarge =
    MatchesRegex(R"(smtp 127\.0\.0\.1:[0-9]+: reply to EHLO too large .*)");

TEST(SmtpBounds, EndlessEhloReplyFailsAsProtocol) {
  HostileServer server(SmtpPouring("250-hostile\r\n", "250-X-EXTENSION\r\n"));
  ExpectCutOff(SendTo(server), kSmtpTooLarge, kSocketSlack, 16 * kMiB);
}

TEST(SmtpBounds, EndlessReplyLineFailsAsProtocol) {
  HostileServer server(SmtpPouring("250-", Repeat('e', 4096)));
  ExpectCutOff(SendTo(server), kSmtpTooLarge, kSocketSlack, 16 * kMiB);
}

TEST(SmtpBounds, LineBreakInRecipientIsRefusedBeforeConnecting) {
  HostileServer server([](HostileConnection& c) { c.Send("554 nothing should arrive\r\n"); });
  SmtpResult r =
      SendSmtp(SmtpTo(server), {}, {"a@example.com", {"b@example.com>\r\nDATA"}}, "x\r\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_class, MailErrorClass::kOther);
  EXPECT_THAT(r.message, HasSubstr("RCPT TO: must not contain CR, LF or NUL"));
  EXPECT_EQ(server.bytes_sent(), 0u);
}

// ---- Graph (HTTP + JSON) ----

class FixedToken : public AccessTokenSource {
 public:
  absl::StatusOr<std::string> AccessToken(bool) override { return token; }
  std::string token = "token";
};

struct GraphFixture {
  explicit GraphFixture(const HostileServer& server) {
    CurlOptions co;
    co.timeout = absl::Seconds(20);
    http = NewCurlHttpClient(co);
    GraphOptions go;
    go.base_url = absl::StrCat("http://127.0.0.1:", server.port(), "/v1.0");
    go.mailbox = "support@example.com";
    go.max_message_bytes = kMaxMessage;
    client = std::make_unique<GraphClient>(go, http.get(), &tokens);
  }
  FixedToken tokens;
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<GraphClient> client;
};

// A server that reads one request and answers with `prefix` and `unit` repeated for ever.
HostileServer::Script HttpPouring(std::string prefix, std::string unit) {
  return [prefix, unit](HostileConnection& c) {
    if (c.ReadHttpHead()) c.Pour(prefix, unit);
  };
}

TEST(GraphBounds, EndlessChunkedJsonPageFailsAtTheJsonLimit) {
  std::string chunk;
  while (chunk.size() < 60000) chunk += R"({"id":"AAMkAGI2TG93AAA=","isRead":false},)";
  const std::string head = R"({"value":[)";
  HostileServer server(
      HttpPouring(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n",
                               absl::Hex(head.size()), "\r\n", head, "\r\n"),
                  absl::StrCat(absl::Hex(chunk.size()), "\r\n", chunk, "\r\n")));
  GraphFixture f(server);
  ExpectCutOff(Measure(server, [&] { return f.client->DeltaPage("inbox", "").status(); }),
               AllOf(StartsWith("graph delta of support@example.com"),
                     HasSubstr("response exceeds 4 MiB (limit for a Graph JSON answer)")),
               4 * kMiB + kSocketSlack, 32 * kMiB);
}

TEST(GraphBounds, TwoGigabyteMimeFailsAtTheMessageLimit) {
  HostileServer server(HttpPouring(
      "HTTP/1.1 200 OK\r\nContent-Type: message/rfc822\r\nContent-Length: 2147483648\r\n\r\n",
      absl::StrCat(Repeat('m', 76), "\r\n")));
  GraphFixture f(server);
  ExpectCutOff(Measure(server, [&] { return f.client->GetMime("AAMkAGI2").status(); }),
               AllOf(StartsWith("graph MIME of message AAMkAGI2"),
                     HasSubstr("response exceeds 26 MiB (max_message_bytes + 1 MiB)")),
               26 * kMiB + kSocketSlack, 96 * kMiB);
}

TEST(GraphBounds, EndlessHeadersFailAtTheHeaderLimit) {
  HostileServer server(
      HttpPouring("HTTP/1.1 200 OK\r\n", "X-Hostile: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"));
  GraphFixture f(server);
  ExpectCutOff(Measure(server, [&] { return f.client->GetFolder("inbox").status(); }),
               HasSubstr("response exceeds 256 KiB (limit for the response headers)"), kSocketSlack,
               16 * kMiB);
}

TEST(GraphBounds, LineBreakInTokenIsRefusedBeforeSending) {
  HostileServer server([](HostileConnection& c) {
    if (c.ReadHttpHead()) c.Send("HTTP/1.1 500 Nothing should arrive\r\nContent-Length: 0\r\n\r\n");
  });
  GraphFixture f(server);
  f.tokens.token = "t\r\nX-Injected: 1";
  EXPECT_THAT(f.client->GetFolder("inbox").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("HTTP request header: must not contain CR, LF or NUL")));
  EXPECT_EQ(server.bytes_sent(), 0u);
}

}  // namespace
}  // namespace postroom::mail
