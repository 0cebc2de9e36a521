#include "libs/mail/imap_client.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/status_macros.h"
#include "libs/mail/mail_error.h"
#include "libs/mail/testing/scripted_transport.h"
#include "tests/support/status_matchers.h"

namespace postroom::mail {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kGreeting[] =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ IDLE AUTH=PLAIN AUTH=XOAUTH2 UIDPLUS MOVE] "
    "Dovecot ready.\r\n";

struct Fixture {
  ScriptedTransport* server = nullptr;
  std::unique_ptr<ImapClient> client;
};

// Starts a client over a script; `setup` adds the server's side after the greeting.
Fixture StartWith(const std::string& greeting, void (*setup)(ScriptedTransport&),
                  Security security = Security::kPlain, size_t max_read = 1 << 20,
                  Clock* clock = nullptr) {
  auto t = std::make_unique<ScriptedTransport>();
  Fixture f;
  f.server = t.get();
  t->set_max_read(max_read).Serve(greeting);
  setup(*t);
  ServerOptions o;
  o.security = security;
  o.clock = clock;
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Start(std::move(t), o);
  EXPECT_THAT(c, IsOk());
  if (c.ok()) f.client = *std::move(c);
  return f;
}

TEST(ImapClient, GreetingCapabilitiesAreKept) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport&) {});
  ASSERT_TRUE(f.client);
  EXPECT_TRUE(f.client->HasCapability("idle"));
  EXPECT_TRUE(f.client->HasCapability("AUTH=PLAIN"));
  EXPECT_EQ(f.server->written(), "");  // no CAPABILITY round trip needed
}

TEST(ImapClient, LoginSendsQuotedCredentialsAndRefreshesCapabilities) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 LOGIN", "A1 OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->Login("alice", "pa\"ss"), IsOk());
  EXPECT_EQ(f.server->written(), "A1 LOGIN \"alice\" \"pa\\\"ss\"\r\n");
  EXPECT_TRUE(f.client->authenticated());
  EXPECT_FALSE(f.client->HasCapability("AUTH=PLAIN"));
}

TEST(ImapClient, LoginFailureCarriesServerWordsAndAuthClass) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 LOGIN", "A1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
  });
  ASSERT_TRUE(f.client);
  absl::Status st = f.client->Login("alice", "wrong");
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kUnauthenticated,
                           HasSubstr("NO [AUTHENTICATIONFAILED] Authentication failed.")));
  EXPECT_EQ(ClassifyMailError(st), MailErrorClass::kAuthentication);
  EXPECT_THAT(std::string(st.message()), Not(HasSubstr("wrong")));
}

TEST(ImapClient, NonAsciiPasswordGoesAsSynchronisingLiteral) {
  Fixture f = StartWith("* OK [CAPABILITY IMAP4rev1] hi\r\n", [](ScriptedTransport& s) {
    s.ServeAfter("{7}\r\n", "+ OK\r\n");
    s.ServeAfter("pässwd\r\n", "A1 OK Logged in\r\n");
    s.ServeAfter("A2 CAPABILITY", "* CAPABILITY IMAP4rev1\r\nA2 OK done\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->Login("bob", "pässwd"), IsOk());
  EXPECT_EQ(f.server->written(), "A1 LOGIN \"bob\" {7}\r\npässwd\r\nA2 CAPABILITY\r\n");
}

TEST(ImapClient, NonAsciiPasswordUsesLiteralPlusWhenOffered) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 LOGIN", "A1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->Login("bob", "pässwd"), IsOk());
  EXPECT_EQ(f.server->written(), "A1 LOGIN \"bob\" {7+}\r\npässwd\r\n");
}

TEST(ImapClient, AuthenticatePlainUsesInitialResponse) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 AUTHENTICATE", "A1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->AuthenticatePlain("alice", "secret"), IsOk());
  EXPECT_EQ(f.server->written(),
            absl::StrCat("A1 AUTHENTICATE PLAIN ",
                         absl::Base64Escape(std::string("\0alice\0secret", 13)), "\r\n"));
}

TEST(ImapClient, XOAuth2FailureReportsServerDetail) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 AUTHENTICATE XOAUTH2",
                 absl::StrCat("+ ", absl::Base64Escape("{\"status\":\"401\"}"), "\r\n"));
    s.ServeAfter("\r\n\r\n", "A1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n");
  });
  ASSERT_TRUE(f.client);
  absl::Status st = f.client->AuthenticateXOAuth2("alice@example.com", "tok");
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("{\"status\":\"401\"}")));
  EXPECT_EQ(ClassifyMailError(st), MailErrorClass::kAuthentication);
  std::string sent = f.server->written();
  EXPECT_THAT(sent, HasSubstr(absl::Base64Escape("user=alice@example.com\x01"
                                                 "auth=Bearer tok\x01\x01")));
}

TEST(ImapClient, SelectReadsUidValidityUidNextAndCount) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 SELECT",
                 "* FLAGS (\\Answered \\Seen)\r\n"
                 "* OK [PERMANENTFLAGS (\\Seen \\*)] Flags permitted.\r\n"
                 "* 17 EXISTS\r\n* 2 RECENT\r\n"
                 "* OK [UIDVALIDITY 1795534039] UIDs valid\r\n"
                 "* OK [UIDNEXT 4392] Predicted next UID\r\n"
                 "A1 OK [READ-WRITE] Select completed.\r\n");
  });
  ASSERT_TRUE(f.client);
  absl::StatusOr<ImapMailbox> box = f.client->Select("Entwürfe");
  ASSERT_THAT(box, IsOk());
  EXPECT_EQ(f.server->written(), "A1 SELECT \"Entw&APw-rfe\"\r\n");
  EXPECT_EQ(box->uid_validity, 1795534039u);
  EXPECT_EQ(box->uid_next, 4392u);
  EXPECT_EQ(box->exists, 17u);
  EXPECT_EQ(box->recent, 2u);
  EXPECT_FALSE(box->read_only);
  EXPECT_THAT(box->permanent_flags, ElementsAre("\\Seen", "\\*"));
}

TEST(ImapClient, SelectOfMissingMailboxIsServerErrorWithWords) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 EXAMINE", "A1 NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n");
    s.ServeAfter("A2 NOOP", "A2 OK NOOP completed\r\n");
  });
  ASSERT_TRUE(f.client);
  absl::StatusOr<ImapMailbox> box = f.client->Examine("Nope");
  EXPECT_THAT(box, StatusIs(absl::StatusCode::kFailedPrecondition,
                            HasSubstr("NO [NONEXISTENT] Mailbox doesn't exist: Nope")));
  EXPECT_EQ(ClassifyMailError(box.status()), MailErrorClass::kServer);
  EXPECT_THAT(f.client->Noop(), IsOk());  // a NO leaves the connection usable
}

TEST(ImapClient, UidsAfterDropsTheStarMatch) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 UID SEARCH UID 101:*", "* SEARCH 100\r\nA1 OK Search completed\r\n");
    s.ServeAfter("A2 UID SEARCH UID 90:*", "* SEARCH 95 91 100\r\nA2 OK Search completed\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->UidsAfter(100), IsOkAndHolds(ElementsAre()));
  EXPECT_THAT(f.client->UidsAfter(89), IsOkAndHolds(ElementsAre(91, 95, 100)));
}

TEST(ImapClient, FetchIsPipelinedAndDeliversExactBytesOneByOne) {
  // The first batch is answered only after the second was sent: proves pipelining. Reads of one
  // byte at a time prove the framing.
  Fixture f = StartWith(
      kGreeting,
      [](ScriptedTransport& s) {
        s.ServeAfter("A2 UID FETCH 3:4 (UID RFC822.SIZE BODY.PEEK[])\r\n",
                     "* 1 FETCH (UID 1 RFC822.SIZE 8 BODY[] {8}\r\nOne\r\n.\r\n)\r\n"
                     "* 2 FETCH (FLAGS (\\Seen))\r\n"
                     "* 2 FETCH (UID 2 RFC822.SIZE 3 BODY[] \"Two\")\r\n"
                     "A1 OK Fetch completed.\r\n");
        s.ServeAfter("A3 UID FETCH 5 ", "");
        s.Serve(
            "* 3 FETCH (UID 3 RFC822.SIZE 0 BODY[] {0}\r\n)\r\n"
            "* 4 FETCH (UID 4 RFC822.SIZE 3 BODY[] {3}\r\n{9} UID 4)\r\nA2 OK done\r\n"
            "* 5 FETCH (UID 5 RFC822.SIZE 1 BODY[] {1}\r\n5)\r\nA3 OK done\r\n");
      },
      Security::kPlain, /*max_read=*/1);
  ASSERT_TRUE(f.client);
  std::vector<std::pair<uint32_t, std::string>> got;
  FetchOptions o;
  o.batch_size = 2;
  o.pipeline_depth = 2;
  absl::Status st = f.client->UidFetchMessages({5, 4, 3, 2, 1}, o, [&](const FetchedMessage& m) {
    got.emplace_back(m.uid, std::string(m.bytes));
    return absl::OkStatus();
  });
  ASSERT_THAT(st, IsOk());
  EXPECT_THAT(got, ElementsAre(std::pair<uint32_t, std::string>(1, "One\r\n.\r\n"),
                               std::pair<uint32_t, std::string>(2, "Two"),
                               std::pair<uint32_t, std::string>(3, ""),
                               std::pair<uint32_t, std::string>(4, "{9}"),
                               std::pair<uint32_t, std::string>(5, "5")));
}

TEST(ImapClient, LargeMessageIsReadInBoundedChunks) {
  static const std::string body = [] {
    std::string b;
    while (b.size() < (3 << 20)) b += "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEF\r\n";
    return b;
  }();
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 UID FETCH",
                 absl::StrCat("* 1 FETCH (UID 7 RFC822.SIZE ", body.size(), " BODY[] {",
                              body.size(), "}\r\n", body, ")\r\nA1 OK done\r\n"));
  });
  ASSERT_TRUE(f.client);
  size_t seen = 0;
  ASSERT_THAT(f.client->UidFetchMessages({7}, FetchOptions{},
                                         [&](const FetchedMessage& m) {
                                           EXPECT_EQ(m.size, body.size());
                                           EXPECT_TRUE(m.bytes == body);
                                           seen = m.bytes.size();
                                           return absl::OkStatus();
                                         }),
              IsOk());
  EXPECT_EQ(seen, body.size());
  EXPECT_LE(f.server->largest_read_request(), 1u << 20);
}

TEST(ImapClient, CallbackErrorStopsButDrainsSoConnectionStaysUsable) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 UID FETCH",
                 "* 1 FETCH (UID 1 BODY[] {1}\r\na)\r\n* 2 FETCH (UID 2 BODY[] {1}\r\nb)\r\n"
                 "A1 OK done\r\n");
    s.ServeAfter("A2 NOOP", "A2 OK done\r\n");
  });
  ASSERT_TRUE(f.client);
  FetchOptions o;
  o.batch_size = 2;
  o.pipeline_depth = 1;
  int calls = 0;
  absl::Status st = f.client->UidFetchMessages({1, 2, 3, 4}, o, [&](const FetchedMessage&) {
    ++calls;
    return absl::DataLossError("disk full");
  });
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(f.server->written(), Not(HasSubstr("3:4")));
  EXPECT_THAT(f.client->Noop(), IsOk());
}

TEST(ImapClient, MoveFallsBackToCopyStoreExpunge) {
  Fixture f = StartWith("* OK [CAPABILITY IMAP4rev1 UIDPLUS] hi\r\n", [](ScriptedTransport& s) {
    s.ServeAfter("A1 UID COPY", "A1 OK [COPYUID 9 3:4 1:2] Copied\r\n");
    s.ServeAfter("A2 UID STORE", "A2 OK Stored\r\n");
    s.ServeAfter("A3 UID EXPUNGE", "* 3 EXPUNGE\r\n* 3 EXPUNGE\r\nA3 OK Expunged\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->UidMove({3, 4}, "Done"), IsOk());
  EXPECT_EQ(f.server->written(),
            "A1 UID COPY 3:4 \"Done\"\r\nA2 UID STORE 3:4 +FLAGS.SILENT (\\Deleted)\r\n"
            "A3 UID EXPUNGE 3:4\r\n");
}

TEST(ImapClient, MoveUsesMoveWhenOffered) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 UID MOVE", "* OK [COPYUID 9 3 1] Moved\r\n* 1 EXPUNGE\r\nA1 OK Move done\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->UidMove({3}, "Done"), IsOk());
  EXPECT_EQ(f.server->written(), "A1 UID MOVE 3 \"Done\"\r\n");
}

TEST(ImapClient, StoreSeenIsSilent) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 UID STORE", "A1 OK Store completed\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->UidStoreFlags({1, 2, 5}, {"\\Seen"}), IsOk());
  EXPECT_EQ(f.server->written(), "A1 UID STORE 1:2,5 +FLAGS.SILENT (\\Seen)\r\n");
}

TEST(ImapClient, IdleReturnsOnNewMailAndEndsWithDone) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 IDLE", "+ idling\r\n* 5 EXISTS\r\n");
    s.ServeAfter("DONE\r\n", "* 1 RECENT\r\nA1 OK Idle completed.\r\n");
  });
  ASSERT_TRUE(f.client);
  absl::StatusOr<IdleResult> r = f.client->Idle(absl::Minutes(29));
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(f.server->written(), "A1 IDLE\r\nDONE\r\n");
}

TEST(ImapClient, IdleWithoutNewsEndsAtItsDeadline) {
  // The script has nothing after "+ idling": the transport reports the deadline at once.
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 IDLE", "+ idling\r\n");
    s.ServeAfter("DONE\r\n", "A1 OK Idle completed.\r\n");
    s.ServeAfter("A2 NOOP", "A2 OK NOOP\r\n");
  });
  ASSERT_TRUE(f.client);
  absl::StatusOr<IdleResult> r = f.client->Idle(absl::Seconds(1));
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->changed);
  EXPECT_THAT(f.client->Noop(), IsOk());
}

// A selected INBOX with 4 messages, then the script of `setup`.
void SelectedInbox(ScriptedTransport& s) {
  s.ServeAfter("A1 EXAMINE",
               "* 4 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 5] ok\r\n"
               "A1 OK [READ-ONLY] Examine completed\r\n");
}

absl::StatusOr<IdleResult> ExamineThenIdle(Fixture& f) {
  if (!f.client) return absl::InternalError("no client");
  POSTROOM_RETURN_IF_ERROR(f.client->Examine("INBOX").status());
  return f.client->Idle(absl::Minutes(5));
}

TEST(ImapClient, IdleCountsOnlyAGrowingExistsAsNewMail) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    SelectedInbox(s);
    s.ServeAfter("A2 IDLE", "+ idling\r\n* OK Still here\r\n* 3 EXPUNGE\r\n");
    s.ServeAfter("DONE\r\n", "A2 OK Idle completed.\r\n");
  });
  absl::StatusOr<IdleResult> r = ExamineThenIdle(f);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->changed);
  EXPECT_FALSE(r->new_mail);
  EXPECT_EQ(r->exists, 3u);
  EXPECT_EQ(f.client->new_mail_events(), 0u);
}

TEST(ImapClient, IdleSeesMailTheServerQueuedBeforeItsContinuation) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    SelectedInbox(s);
    s.ServeAfter("A2 IDLE", "* 5 EXISTS\r\n+ idling\r\n");
    s.ServeAfter("DONE\r\n", "A2 OK Idle completed.\r\n");
  });
  absl::StatusOr<IdleResult> r = ExamineThenIdle(f);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->new_mail);
  EXPECT_EQ(r->exists, 5u);
  EXPECT_EQ(f.client->new_mail_events(), 1u);
  EXPECT_EQ(f.server->written(), "A1 EXAMINE \"INBOX\"\r\nA2 IDLE\r\nDONE\r\n");
}

// IdleOptions whose every stop() question stands for one silent slice of the wait on `clock`;
// the `stop_at`-th question says stop (0: none does). `asked` counts the questions.
IdleOptions SlicedIdle(FakeClock& clock, absl::Duration max_wait, absl::Duration slice, int& asked,
                       int stop_at = 0) {
  IdleOptions o;
  o.max_wait = max_wait;
  o.check_every = slice;
  o.stop = [&clock, &asked, slice, stop_at] {
    clock.Advance(slice);
    return ++asked == stop_at;
  };
  return o;
}

TEST(ImapClient, IdleEndsWithDoneAsSoonAsStopSaysSo) {
  FakeClock clock;
  Fixture f = StartWith(
      kGreeting,
      [](ScriptedTransport& s) {
        s.ServeAfter("A1 IDLE", "+ idling\r\n");
        s.ServeAfter("DONE\r\n", "A1 OK Idle completed.\r\n");
      },
      Security::kPlain, 1 << 20, &clock);
  ASSERT_TRUE(f.client);
  int asked = 0;
  absl::StatusOr<IdleResult> r =
      f.client->Idle(SlicedIdle(clock, absl::Minutes(20), absl::Milliseconds(250), asked, 4));
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->stopped);
  EXPECT_FALSE(r->changed);
  EXPECT_EQ(asked, 4);
  EXPECT_EQ(f.server->written(), "A1 IDLE\r\nDONE\r\n");
}

TEST(ImapClient, IdleLongerThanTwentyEightMinutesIsReissued) {
  FakeClock clock;
  Fixture f = StartWith(
      kGreeting,
      [](ScriptedTransport& s) {
        s.ServeAfter("A1 IDLE", "+ idling\r\n");
        s.ServeAfter("DONE\r\n", "A1 OK Idle completed.\r\n");
        s.ServeAfter("A2 IDLE", "+ idling\r\n");
        s.ServeAfter("DONE\r\n", "A2 OK Idle completed.\r\n");
        s.ServeAfter("A3 IDLE", "+ idling\r\n");
        s.ServeAfter("DONE\r\n", "A3 OK Idle completed.\r\n");
      },
      Security::kPlain, 1 << 20, &clock);
  ASSERT_TRUE(f.client);
  int asked = 0;
  const absl::Time start = clock.Now();
  absl::StatusOr<IdleResult> r =
      f.client->Idle(SlicedIdle(clock, absl::Minutes(60), absl::Minutes(1), asked));
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->changed);
  EXPECT_FALSE(r->stopped);
  EXPECT_EQ(f.server->written(), "A1 IDLE\r\nDONE\r\nA2 IDLE\r\nDONE\r\nA3 IDLE\r\nDONE\r\n");
  EXPECT_GE(clock.Now() - start, absl::Minutes(60));
  EXPECT_LT(clock.Now() - start, absl::Minutes(63));
  EXPECT_EQ(f.client->commands_sent(), 6u);  // 3 IDLE + 3 DONE
}

TEST(ImapClient, IdleRefusedByTheServerIsAServerError) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 IDLE", "A1 NO No mailbox selected\r\n");
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->Idle(absl::Minutes(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("No mailbox selected")));
}

TEST(ImapClient, IdleWithoutTheCapabilityIsRefusedWithoutSendingIt) {
  Fixture f = StartWith("* OK [CAPABILITY IMAP4rev1] hi\r\n", [](ScriptedTransport&) {});
  ASSERT_TRUE(f.client);
  absl::StatusOr<IdleResult> r = f.client->Idle(absl::Minutes(1));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(ClassifyMailError(r.status()), MailErrorClass::kServer);
  EXPECT_EQ(f.server->written(), "");
}

TEST(ImapClient, BrokenConnectionDuringIdleIsANetworkError) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 IDLE", "+ idling\r\n* BYE Server shutting down.\r\n").CloseAfterScript();
  });
  ASSERT_TRUE(f.client);
  absl::StatusOr<IdleResult> r = f.client->Idle(absl::Minutes(1));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("Server shutting down"));
  EXPECT_THAT(f.client->Noop(), Not(IsOk()));
}

TEST(ImapClient, UidExpungeUsesUidplusOrFallsBackToExpunge) {
  Fixture with = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 UID EXPUNGE", "* 2 EXPUNGE\r\nA1 OK Expunge completed\r\n");
  });
  ASSERT_TRUE(with.client);
  EXPECT_THAT(with.client->UidExpunge({3, 4, 9}), IsOk());
  EXPECT_EQ(with.server->written(), "A1 UID EXPUNGE 3:4,9\r\n");

  Fixture without = StartWith("* OK [CAPABILITY IMAP4rev1 IDLE] hi\r\n", [](ScriptedTransport& s) {
    s.ServeAfter("A1 EXPUNGE", "A1 OK Expunge completed\r\n");
  });
  ASSERT_TRUE(without.client);
  EXPECT_THAT(without.client->UidExpunge({3}, /*uidplus_only=*/true), IsOk());
  EXPECT_EQ(without.server->written(), "");
  EXPECT_THAT(without.client->UidExpunge({3}), IsOk());
  EXPECT_EQ(without.server->written(), "A1 EXPUNGE\r\n");
}

TEST(ImapClient, ReadTimeoutIsNetworkErrorAndConnectionUnusable) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport&) {});
  ASSERT_TRUE(f.client);
  absl::Status st = f.client->Noop();
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(ClassifyMailError(st), MailErrorClass::kNetwork);
  EXPECT_THAT(f.client->Noop(), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                         HasSubstr("unusable after an earlier error")));
  EXPECT_TRUE(f.server->closed());
}

TEST(ImapClient, StartTlsUpgradesAndForgetsPlaintextCapabilities) {
  Fixture f = StartWith(
      "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n",
      [](ScriptedTransport& s) {
        s.ServeAfter("A1 STARTTLS", "A1 OK Begin TLS negotiation now.\r\n");
        s.ServeAfter("A2 CAPABILITY",
                     "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA2 OK Pre-login capabilities\r\n");
      },
      Security::kStartTls);
  ASSERT_TRUE(f.client);
  EXPECT_EQ(f.server->start_tls_calls(), 1);
  EXPECT_TRUE(f.client->transport()->IsTls());
  EXPECT_FALSE(f.client->HasCapability("LOGINDISABLED"));
  EXPECT_TRUE(f.client->HasCapability("AUTH=PLAIN"));
}

TEST(ImapClient, StartTlsRefusesInjectedPlaintext) {
  auto t = std::make_unique<ScriptedTransport>();
  t->Serve("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n")
      .ServeAfter("A1 STARTTLS", "A1 OK Begin TLS\r\n* OK injected\r\n");
  ServerOptions o;
  o.security = Security::kStartTls;
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Start(std::move(t), o);
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInternal, HasSubstr("after STARTTLS")));
}

TEST(ImapClient, StartTlsNotOfferedIsTlsError) {
  auto t = std::make_unique<ScriptedTransport>();
  t->Serve("* OK [CAPABILITY IMAP4rev1] hi\r\n")
      .ServeAfter("A1 CAPABILITY", "* CAPABILITY IMAP4rev1\r\nA1 OK done\r\n");
  ServerOptions o;
  o.security = Security::kStartTls;
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Start(std::move(t), o);
  EXPECT_EQ(ClassifyMailError(c.status()), MailErrorClass::kTls);
}

TEST(ImapClient, ByeGreetingAboutConnectionsIsThrottled) {
  auto t = std::make_unique<ScriptedTransport>();
  t->Serve("* BYE Maximum number of connections from user+IP exceeded\r\n");
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Start(std::move(t), ServerOptions{});
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kResourceExhausted,
                          HasSubstr("Maximum number of connections")));
  EXPECT_EQ(ClassifyMailError(c.status()), MailErrorClass::kThrottled);
}

TEST(ImapClient, BadIsProtocolErrorAndGarbageBreaksTheConnection) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 NOOP", "A1 BAD Error in IMAP command\r\n");
    s.ServeAfter("A2 NOOP", "A2 WHAT\r\n");
  });
  ASSERT_TRUE(f.client);
  absl::Status bad = f.client->Noop();
  EXPECT_EQ(ClassifyMailError(bad), MailErrorClass::kProtocol);
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInternal, HasSubstr("BAD Error in IMAP command")));
  EXPECT_THAT(f.client->Noop(), StatusIs(absl::StatusCode::kInternal));
  EXPECT_TRUE(f.server->closed());
}

TEST(ImapClient, ServerHangupAfterByeIsCleanLogout) {
  Fixture f = StartWith(kGreeting, [](ScriptedTransport& s) {
    s.ServeAfter("A1 LOGOUT", "* BYE Logging out\r\n");
    s.CloseAfterScript();
  });
  ASSERT_TRUE(f.client);
  EXPECT_THAT(f.client->Logout(), IsOk());
}

}  // namespace
}  // namespace postroom::mail
