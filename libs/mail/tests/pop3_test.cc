#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mail/mail_error.h"
#include "libs/mail/pop3_client.h"
#include "libs/mail/testing/scripted_transport.h"
#include "tests/support/status_matchers.h"

namespace postroom::mail {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kGreeting[] = "+OK Dovecot (Debian) ready.\r\n";
constexpr char kCapa[] = "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n";

ServerOptions OptionsWith(Security security) {
  ServerOptions o;
  o.security = security;
  return o;
}

struct Fixture {
  ScriptedTransport* server = nullptr;
  std::unique_ptr<Pop3Client> client;
};

Fixture StartWith(void (*setup)(ScriptedTransport&), size_t max_read = 1 << 20) {
  auto t = std::make_unique<ScriptedTransport>();
  Fixture f;
  f.server = t.get();
  t->set_max_read(max_read).Serve(kGreeting).ServeAfter("CAPA\r\n", kCapa);
  setup(*t);
  absl::StatusOr<std::unique_ptr<Pop3Client>> c =
      Pop3Client::Start(std::move(t), OptionsWith(Security::kPlain));
  EXPECT_THAT(c, IsOk());
  if (c.ok()) f.client = *std::move(c);
  return f;
}

TEST(Pop3Client, GreetingAndCapabilities) {
  Fixture f = StartWith([](ScriptedTransport&) {});
  ASSERT_TRUE(f.client);
  EXPECT_EQ(f.client->greeting(), "Dovecot (Debian) ready.");
  EXPECT_TRUE(f.client->HasCapability("uidl"));
  EXPECT_TRUE(f.client->HasCapability("SASL"));
}

TEST(Pop3Client, LoginWithUserPass) {
  Fixture f = StartWith([](ScriptedTransport& s) {
    s.ServeAfter("USER alice\r\n", "+OK\r\n");
    s.ServeAfter("PASS secret\r\n", "+OK Logged in.\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->Login("alice", "secret"), IsOk());
}

TEST(Pop3Client, WrongPasswordCarriesServerWords) {
  Fixture f = StartWith([](ScriptedTransport& s) {
    s.ServeAfter("USER alice\r\n", "+OK\r\n");
    s.ServeAfter("PASS wrong\r\n", "-ERR [AUTH] Authentication failed.\r\n");
  });
  ASSERT_TRUE(f.client);
  absl::Status st = f.client->Login("alice", "wrong");
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kUnauthenticated,
                           HasSubstr("-ERR [AUTH] Authentication failed.")));
  EXPECT_EQ(ClassifyMailError(st), MailErrorClass::kAuthentication);
  EXPECT_THAT(std::string(st.message()), ::testing::Not(HasSubstr("PASS wrong")));
}

TEST(Pop3Client, MailboxInUseIsThrottled) {
  Fixture f = StartWith([](ScriptedTransport& s) {
    s.ServeAfter("USER alice\r\n", "+OK\r\n");
    s.ServeAfter("PASS secret\r\n", "-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_EQ(ClassifyMailError(f.client->Login("alice", "secret")), MailErrorClass::kThrottled);
}

TEST(Pop3Client, StatUidlList) {
  Fixture f = StartWith([](ScriptedTransport& s) {
    s.ServeAfter("STAT\r\n", "+OK 2 320\r\n");
    s.ServeAfter("UIDL\r\n", "+OK\r\n1 000000016b05acd7\r\n2 000000026b05acd7\r\n.\r\n");
    s.ServeAfter("LIST\r\n", "+OK 2 messages:\r\n1 120\r\n2 200\r\n.\r\n");
  });
  ASSERT_TRUE(f.client);
  absl::StatusOr<Pop3Stat> stat = f.client->Stat();
  ASSERT_THAT(stat, IsOk());
  EXPECT_EQ(stat->count, 2u);
  EXPECT_EQ(stat->size, 320u);
  absl::StatusOr<std::vector<Pop3UidlEntry>> uidl = f.client->Uidl();
  ASSERT_THAT(uidl, IsOk());
  ASSERT_EQ(uidl->size(), 2u);
  EXPECT_EQ((*uidl)[1].number, 2u);
  EXPECT_EQ((*uidl)[1].uid, "000000026b05acd7");
  absl::StatusOr<std::vector<Pop3ListEntry>> list = f.client->List();
  ASSERT_THAT(list, IsOk());
  EXPECT_EQ((*list)[1].size, 200u);
}

TEST(Pop3Client, RetrUnstuffsDotsByteByByte) {
  Fixture f = StartWith(
      [](ScriptedTransport& s) {
        s.ServeAfter("RETR 1\r\n",
                     "+OK 40 octets\r\nSubject: x\r\n\r\n..leading dot\r\n.\r\n..\r\nend\r\n.\r\n");
      },
      /*max_read=*/1);
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->RetrMessage(1), IsOkAndHolds("Subject: x\r\n\r\n.leading dot\r\n"));
}

TEST(Pop3Client, RetrStreamsLargeMessageInChunks) {
  static const std::string line(998, 'x');
  Fixture f = StartWith([](ScriptedTransport& s) {
    std::string body = "+OK\r\n";
    for (int i = 0; i < 1000; ++i) body += line + "\r\n";
    body += ".\r\n";
    s.ServeAfter("RETR 1\r\n", body);
  });
  ASSERT_TRUE(f.client);
  std::vector<size_t> chunks;
  ASSERT_THAT(f.client->Retr(1,
                             [&](absl::string_view c) {
                               chunks.push_back(c.size());
                               return absl::OkStatus();
                             }),
              IsOk());
  size_t total = 0;
  for (size_t c : chunks) {
    total += c;
    EXPECT_LE(c, (64u << 10) + 1000u);
  }
  EXPECT_EQ(total, 1000u * 1000u);
  EXPECT_GT(chunks.size(), 10u);
}

TEST(Pop3Client, SinkErrorDrainsAndSessionStaysUsable) {
  Fixture f = StartWith([](ScriptedTransport& s) {
    s.ServeAfter("RETR 1\r\n", "+OK\r\na\r\nb\r\n.\r\n");
    s.ServeAfter("NOOP\r\n", "+OK\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->Retr(1, [](absl::string_view) { return absl::AbortedError("stop"); }),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(f.client->Noop(), IsOk());
}

TEST(Pop3Client, DeleAndQuit) {
  Fixture f = StartWith([](ScriptedTransport& s) {
    s.ServeAfter("DELE 1\r\n", "+OK Marked to be deleted.\r\n");
    s.ServeAfter("DELE 9\r\n", "-ERR There's no message 9.\r\n");
    s.ServeAfter("QUIT\r\n", "+OK Logging out, messages deleted.\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->Dele(1), IsOk());
  absl::Status missing = f.client->Dele(9);
  EXPECT_THAT(missing,
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("There's no message 9.")));
  EXPECT_THAT(f.client->Quit(), IsOk());
  EXPECT_TRUE(f.server->closed());
}

TEST(Pop3Client, StlsUpgradesAndRereadsCapabilities) {
  auto t = std::make_unique<ScriptedTransport>();
  ScriptedTransport* s = t.get();
  t->Serve(kGreeting)
      .ServeAfter("CAPA\r\n", kCapa)
      .ServeAfter("STLS\r\n", "+OK Begin TLS negotiation now.\r\n")
      .ServeAfter("CAPA\r\n", "+OK\r\nUIDL\r\nUSER\r\n.\r\n");
  absl::StatusOr<std::unique_ptr<Pop3Client>> c =
      Pop3Client::Start(std::move(t), OptionsWith(Security::kStartTls));
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(s->start_tls_calls(), 1);
  EXPECT_FALSE((*c)->HasCapability("STLS"));
}

TEST(Pop3Client, GarbageReplyIsProtocolError) {
  auto t = std::make_unique<ScriptedTransport>();
  t->Serve("* OK [CAPABILITY IMAP4rev1] this is IMAP\r\n");
  absl::StatusOr<std::unique_ptr<Pop3Client>> c =
      Pop3Client::Start(std::move(t), OptionsWith(Security::kPlain));
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInternal, HasSubstr("is this a POP3 port?")));
}

TEST(Pop3Client, AuthPlainSendsInitialResponse) {
  Fixture f = StartWith([](ScriptedTransport& s) {
    s.ServeAfter("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", "+OK Logged in.\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->Authenticate(Credentials{"alice", "secret", AuthMechanism::kPlain}),
              IsOk());
}

}  // namespace
}  // namespace postroom::mail
