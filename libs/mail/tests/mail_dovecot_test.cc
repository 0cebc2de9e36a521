// End-to-end tests of the IMAP and POP3 clients against a real Dovecot started through
// scripts/dovecot in a fresh directory for this binary run (label e2e; needs root and the
// dovecot-imapd, dovecot-pop3d and dovecot-lmtpd packages). Messages come from the shared corpus
// (POSTROOM_CORPUS_DIR, default /work/shared/corpus).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mail/connection_check.h"
#include "libs/mail/imap_client.h"
#include "libs/mail/mail_error.h"
#include "libs/mail/pop3_client.h"
#include "tests/support/status_matchers.h"

namespace postroom::mail {
namespace {

namespace fs = std::filesystem;
using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Dovecot serves maildir files with bare LF turned into CRLF, and NUL bytes into 0x80 (IMAP
// forbids NUL in a literal); bare CR and everything else come back as stored.
std::string AsServed(const std::string& file) {
  std::string out;
  out.reserve(file.size() + file.size() / 20);
  for (size_t i = 0; i < file.size(); ++i) {
    char c = file[i];
    if (c == '\n' && (i == 0 || file[i - 1] != '\r')) out.push_back('\r');
    out.push_back(c == '\0' ? '\x80' : c);
  }
  return out;
}

int RunShell(const std::string& cmd, std::string* out = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) text.append(buf, n);
  int rc = pclose(p);
  if (out != nullptr) *out = text;
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n%s\n", rc, cmd.c_str(), text.c_str());
  return rc;
}

// The private Dovecot, started once for the whole binary.
class Dovecot : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0) {
      error_ = "mail_dovecot_test needs root: scripts/dovecot starts Dovecot's master as root";
      return;
    }
    if (RunShell("command -v dovecot >/dev/null") != 0) {
      error_ =
          "dovecot is not installed: apt-get install dovecot-imapd dovecot-pop3d "
          "dovecot-lmtpd";
      return;
    }
    corpus_ = Env("POSTROOM_CORPUS_DIR", "/work/shared/corpus");
    if (!fs::is_directory(corpus_)) {
      error_ = absl::StrCat("corpus folder ", corpus_, " missing; set POSTROOM_CORPUS_DIR");
      return;
    }
    script_ = Env("POSTROOM_SOURCE_DIR", POSTROOM_SOURCE_DIR_DEFAULT) + "/scripts/dovecot";
    char tmpl[] = "/tmp/postroom-mail-e2e-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    std::string out;
    if (RunShell(absl::StrCat(script_, " start ", dir_), &out) != 0) {
      error_ = absl::StrCat("scripts/dovecot start failed: ", out);
      return;
    }
    for (absl::string_view line : absl::StrSplit(ReadFile(dir_ + "/ports.env"), '\n')) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
      env_[kv.first] = kv.second;
    }
    for (const char* user :
         {"alice", "bob", "carol", "dates", "big", "idle", "idle2", "expunge", "dave"}) {
      if (RunShell(absl::StrCat(script_, " add-user ", dir_, " ", user, " pw-", user)) != 0) {
        error_ = "add-user failed";
        return;
      }
    }
    if (RunShell(absl::StrCat(script_, " fill ", dir_, " alice ", corpus_), &out) != 0) {
      error_ = "fill failed";
      return;
    }
    corpus_count_ = std::stoi(out);
  }
  void TearDown() override {
    if (!dir_.empty()) RunShell(absl::StrCat(script_, " stop ", dir_));
    if (!dir_.empty() && std::getenv("POSTROOM_KEEP_DOVECOT") == nullptr) fs::remove_all(dir_);
  }

  const std::string& error() const { return error_; }
  int Port(const std::string& name) const {
    auto it = env_.find(name);
    return it == env_.end() ? 0 : std::stoi(it->second);
  }
  std::string ca_file() const { return dir_ + "/ca.pem"; }
  const std::string& dir() const { return dir_; }
  const std::string& script() const { return script_; }
  const std::string& corpus() const { return corpus_; }
  int corpus_count() const { return corpus_count_; }

 private:
  std::string error_, dir_, script_, corpus_;
  std::map<std::string, std::string> env_;
  int corpus_count_ = 0;
};

Dovecot* g_dovecot = nullptr;

class MailDovecotTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(g_dovecot->error().empty()) << g_dovecot->error(); }
  ServerOptions Options(Security security, bool with_ca = true) const {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.security = security;
    o.port = g_dovecot->Port(security == Security::kImplicitTls ? "IMAPS_PORT" : "IMAP_PORT");
    if (with_ca) o.tls.ca_file = g_dovecot->ca_file();
    o.timeout = absl::Seconds(10);
    return o;
  }
  std::unique_ptr<ImapClient> LoggedIn(const std::string& user) {
    absl::StatusOr<std::unique_ptr<ImapClient>> c =
        ImapClient::Connect(Options(Security::kStartTls));
    EXPECT_THAT(c, IsOk());
    if (!c.ok()) return nullptr;
    EXPECT_THAT((*c)->Login(user, "pw-" + user), IsOk());
    return *std::move(c);
  }
  void Fill(const std::string& user, const std::vector<std::string>& files) {
    std::string cmd = absl::StrCat(g_dovecot->script(), " fill ", g_dovecot->dir(), " ", user);
    for (const std::string& f : files) absl::StrAppend(&cmd, " ", f);
    ASSERT_EQ(RunShell(cmd), 0);
  }
  std::string CorpusFile(const std::string& rel) const { return g_dovecot->corpus() + "/" + rel; }
};

const char kSmall1[] = "mailgun-talon/tests/fixtures/standard_replies/iphone.eml";
const char kSmall2[] = "stalwart-mail-parser/resources/eml/rfc/001.eml";
const char kSmall3[] = "mikel-mail/spec/fixtures/emails/plain_emails/basic_email.eml";

TEST_F(MailDovecotTest, LoginSucceedsAndWrongPasswordCarriesServerWords) {
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(Options(Security::kPlain));
  ASSERT_THAT(c, IsOk());
  absl::Status bad = (*c)->Login("alice", "wrong");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kUnauthenticated,
                            HasSubstr("NO [AUTHENTICATIONFAILED] Authentication failed.")));
  EXPECT_EQ(ClassifyMailError(bad), MailErrorClass::kAuthentication);
  // A fresh connection: Dovecot delays a second attempt on the one that failed by ~4 s.
  c = ImapClient::Connect(Options(Security::kPlain));
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT((*c)->Login("alice", "pw-alice"), IsOk());
  EXPECT_TRUE((*c)->HasCapability("IDLE"));
  EXPECT_THAT((*c)->Logout(), IsOk());
}

TEST_F(MailDovecotTest, AuthenticatePlainOverImplicitTls) {
  absl::StatusOr<std::unique_ptr<ImapClient>> c =
      ImapClient::Connect(Options(Security::kImplicitTls));
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE((*c)->transport()->IsTls());
  EXPECT_THAT((*c)->transport()->TlsDescription(), HasSubstr("verified"));
  EXPECT_THAT((*c)->Authenticate(Credentials{"alice", "pw-alice", AuthMechanism::kPlain}), IsOk());
}

TEST_F(MailDovecotTest, StartTlsVerifiesWithCaFile) {
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(Options(Security::kStartTls));
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE((*c)->transport()->IsTls());
  EXPECT_THAT((*c)->Login("alice", "pw-alice"), IsOk());
}

TEST_F(MailDovecotTest, TlsWithoutCaFileFailsVerification) {
  for (Security s : {Security::kImplicitTls, Security::kStartTls}) {
    absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(Options(s, false));
    EXPECT_THAT(c, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("not trusted")));
    EXPECT_EQ(ClassifyMailError(c.status()), MailErrorClass::kTls);
  }
}

TEST_F(MailDovecotTest, TlsWithWrongServerNameFails) {
  ServerOptions o = Options(Security::kImplicitTls);
  o.tls.server_name = "mail.example.com";
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(o);
  EXPECT_EQ(ClassifyMailError(c.status()), MailErrorClass::kTls);
  EXPECT_THAT(c.status().message(), HasSubstr("hostname mismatch"));
}

TEST_F(MailDovecotTest, SelectReportsUidValidityAndUidNext) {
  std::unique_ptr<ImapClient> c = LoggedIn("alice");
  ASSERT_TRUE(c);
  absl::StatusOr<ImapMailbox> box = c->Examine("INBOX");
  ASSERT_THAT(box, IsOk());
  EXPECT_GT(box->uid_validity, 0u);
  EXPECT_EQ(box->exists, static_cast<uint32_t>(g_dovecot->corpus_count()));
  EXPECT_EQ(box->uid_next, box->exists + 1);
  EXPECT_TRUE(box->read_only);
  EXPECT_THAT(c->Examine("NoSuchFolder"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("doesn't exist")));
}

TEST_F(MailDovecotTest, FullFetchOfCorpusIsByteIdenticalModuloLineEnds) {
  std::map<std::string, int> want;  // multiset of served forms (some files share content)
  int files = 0;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(g_dovecot->corpus())) {
    std::string rel = fs::relative(e.path(), g_dovecot->corpus()).string();
    std::string name = e.path().filename().string();
    if (!e.is_regular_file() || rel.rfind("LICENSES/", 0) == 0 || name.rfind("README", 0) == 0 ||
        name.rfind("LICENSE", 0) == 0 || name.rfind("NOTICE", 0) == 0 || name[0] == '.' ||
        absl::EndsWith(name, ".json") || absl::EndsWith(name, ".tsv") ||
        absl::EndsWith(name, "_reply_text")) {
      continue;
    }
    ++want[AsServed(ReadFile(e.path().string()))];
    ++files;
  }
  ASSERT_EQ(files, g_dovecot->corpus_count());
  std::unique_ptr<ImapClient> c = LoggedIn("alice");
  ASSERT_TRUE(c);
  ASSERT_THAT(c->Examine("INBOX"), IsOk());
  absl::StatusOr<std::vector<uint32_t>> uids = c->UidSearch("ALL");
  ASSERT_THAT(uids, IsOk());
  ASSERT_THAT(*uids, SizeIs(files));
  int fetched = 0, unmatched = 0;
  FetchOptions o;
  o.batch_size = 100;
  ASSERT_THAT(c->UidFetchMessages(*uids, o,
                                  [&](const FetchedMessage& m) {
                                    ++fetched;
                                    EXPECT_EQ(m.size, m.bytes.size());
                                    auto it = want.find(std::string(m.bytes));
                                    if (it == want.end() || it->second == 0) {
                                      ++unmatched;
                                    } else {
                                      --it->second;
                                    }
                                    return absl::OkStatus();
                                  }),
              IsOk());
  EXPECT_EQ(fetched, files);
  EXPECT_EQ(unmatched, 0);
  // BODY.PEEK[] leaves \Seen alone.
  EXPECT_THAT(c->UidSearch("SEEN"), IsOkAndHolds(ElementsAre()));
}

TEST_F(MailDovecotTest, IncrementalFetchFromLastUid) {
  std::unique_ptr<ImapClient> c = LoggedIn("alice");
  ASSERT_TRUE(c);
  absl::StatusOr<ImapMailbox> box = c->Examine("INBOX");
  ASSERT_THAT(box, IsOk());
  uint32_t last = box->uid_next - 4;
  absl::StatusOr<std::vector<uint32_t>> newer = c->UidsAfter(last);
  ASSERT_THAT(newer, IsOkAndHolds(ElementsAre(last + 1, last + 2, last + 3)));
  std::vector<uint32_t> got;
  ASSERT_THAT(c->UidFetchMessages(*newer, FetchOptions{},
                                  [&](const FetchedMessage& m) {
                                    got.push_back(m.uid);
                                    return absl::OkStatus();
                                  }),
              IsOk());
  EXPECT_EQ(got, *newer);
  EXPECT_THAT(c->UidsAfter(box->uid_next - 1), IsOkAndHolds(ElementsAre()));
}

TEST_F(MailDovecotTest, SearchSinceUsesInternalDate) {
  Fill("dates", {CorpusFile(kSmall1), CorpusFile(kSmall2), CorpusFile(kSmall3)});
  // Maildir's internal date is the file's mtime: age two of the three before Dovecot sees them.
  std::string newdir = g_dovecot->dir() + "/mail/dates/Maildir/new";
  int aged = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(newdir)) {
    if (aged == 2) break;
    utimbuf t{1577836800, 1577836800};  // 2020-01-01
    ASSERT_EQ(utime(e.path().c_str(), &t), 0);
    ++aged;
  }
  std::unique_ptr<ImapClient> c = LoggedIn("dates");
  ASSERT_TRUE(c);
  ASSERT_THAT(c->Examine("INBOX"), IsOk());
  EXPECT_THAT(c->UidsSince(absl::CivilDay(2019, 12, 31)), IsOkAndHolds(SizeIs(3)));
  EXPECT_THAT(c->UidsSince(absl::CivilDay(2024, 1, 1)), IsOkAndHolds(SizeIs(1)));
}

TEST_F(MailDovecotTest, StoreSeenAndMoveToAnotherFolder) {
  Fill("bob", {CorpusFile(kSmall1), CorpusFile(kSmall2), CorpusFile(kSmall3)});
  std::unique_ptr<ImapClient> c = LoggedIn("bob");
  ASSERT_TRUE(c);
  ASSERT_THAT(c->Select("INBOX"), IsOk());
  ASSERT_THAT(c->UidStoreFlags({1}, {"\\Seen"}), IsOk());
  EXPECT_THAT(c->UidSearch("SEEN"), IsOkAndHolds(ElementsAre(1)));
  ASSERT_THAT(c->Create("Processed"), IsOk());
  ASSERT_THAT(c->Create("Processed"), IsOk());  // exists already: fine
  ASSERT_THAT(c->UidMove({1, 2}, "Processed"), IsOk());
  EXPECT_THAT(c->UidSearch("ALL"), IsOkAndHolds(ElementsAre(3)));
  absl::StatusOr<ImapMailbox> processed = c->Examine("Processed");
  ASSERT_THAT(processed, IsOk());
  EXPECT_EQ(processed->exists, 2u);
  std::vector<std::vector<std::string>> flags;
  FetchOptions o;
  o.with_flags = true;
  ASSERT_THAT(c->UidFetchMessages({1, 2}, o,
                                  [&](const FetchedMessage& m) {
                                    flags.push_back(m.flags);
                                    return absl::OkStatus();
                                  }),
              IsOk());
  ASSERT_THAT(flags, SizeIs(2));
  EXPECT_THAT(flags[0], Contains("\\Seen"));
  EXPECT_THAT(flags[1], Not(Contains("\\Seen")));
}

TEST_F(MailDovecotTest, IdleWakesOnNewMail) {
  Fill("idle", {CorpusFile(kSmall1)});
  std::unique_ptr<ImapClient> c = LoggedIn("idle");
  ASSERT_TRUE(c);
  ASSERT_THAT(c->Select("INBOX"), IsOk());
  // Deliver through LMTP once the IDLE is under way: the stop callback is asked once before
  // IDLE is sent and again after the server's "+", so its second ask says so. The client must
  // wake well before its 20 s deadline.
  absl::Notification idling;
  int asked = 0;  // the Idle call's thread only
  IdleOptions o;
  o.max_wait = absl::Seconds(20);
  o.stop = [&idling, &asked] {
    if (++asked == 2) idling.Notify();
    return false;
  };
  std::string cmd = absl::StrCat(g_dovecot->script(), " deliver ", g_dovecot->dir(), " idle ",
                                 CorpusFile(kSmall2));
  std::thread deliver([&idling, cmd] {
    if (idling.WaitForNotificationWithTimeout(absl::Seconds(10))) RunShell(cmd);
  });
  absl::Time start = absl::Now();
  absl::StatusOr<IdleResult> r = c->Idle(o);
  absl::Duration took = absl::Now() - start;
  deliver.join();
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->exists, 2u);
  EXPECT_LT(took, absl::Seconds(10));
  EXPECT_THAT(c->UidsAfter(1), IsOkAndHolds(ElementsAre(2)));
}

TEST_F(MailDovecotTest, IdleReportsMailThatArrivedBeforeItStartedAndStopEndsItPromptly) {
  Fill("idle2", {CorpusFile(kSmall1)});
  std::unique_ptr<ImapClient> c = LoggedIn("idle2");
  ASSERT_TRUE(c);
  ASSERT_THAT(c->Examine("INBOX"), IsOk());
  const uint64_t events = c->new_mail_events();
  // Delivered between the EXAMINE and the IDLE: Dovecot reports it as the IDLE starts.
  ASSERT_EQ(RunShell(absl::StrCat(g_dovecot->script(), " deliver ", g_dovecot->dir(), " idle2 ",
                                  CorpusFile(kSmall2))),
            0);
  absl::StatusOr<IdleResult> r = c->Idle(absl::Seconds(20));
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->new_mail);
  EXPECT_EQ(c->new_mail_events(), events + 1);

  // Nothing arrives now: stop() ends the IDLE with DONE well before its 20 s, and the
  // connection stays usable. It says stop at its third ask: the first comes before IDLE is
  // sent, the second after the server's "+", the third after check_every of silence.
  int asked = 0;
  IdleOptions o;
  o.max_wait = absl::Seconds(20);
  o.stop = [&asked] { return ++asked >= 3; };
  absl::Time start = absl::Now();
  r = c->Idle(o);
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(asked, 3) << "stopped before the IDLE was under way";
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->stopped);
  EXPECT_FALSE(r->changed);
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_THAT(c->UidsAfter(0), IsOkAndHolds(ElementsAre(1, 2)));
}

TEST_F(MailDovecotTest, UidExpungeRemovesOnlyTheGivenMessages) {
  Fill("expunge", {CorpusFile(kSmall1), CorpusFile(kSmall2), CorpusFile(kSmall3)});
  std::unique_ptr<ImapClient> c = LoggedIn("expunge");
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->HasCapability("UIDPLUS"));
  ASSERT_THAT(c->Select("INBOX"), IsOk());
  // Someone else flagged message 1 for removal but did not expunge it.
  ASSERT_THAT(c->UidStoreFlags({1}, {"\\Deleted"}), IsOk());
  ASSERT_THAT(c->UidStoreFlags({2}, {"\\Deleted"}), IsOk());
  ASSERT_THAT(c->UidExpunge({2}), IsOk());
  EXPECT_THAT(c->UidSearch("ALL"), IsOkAndHolds(ElementsAre(1, 3)));
  EXPECT_EQ(c->selected()->exists, 2u);
  EXPECT_THAT(c->Logout(), IsOk());
  // Really gone (not just hidden in this session).
  c = LoggedIn("expunge");
  ASSERT_TRUE(c);
  absl::StatusOr<ImapMailbox> box = c->Examine("INBOX");
  ASSERT_THAT(box, IsOk());
  EXPECT_EQ(box->exists, 2u);
}

TEST_F(MailDovecotTest, LargeMessageNeedsAboutItsOwnSizeInMemory) {
  std::string path = g_dovecot->dir() + "/big.eml";
  {
    std::ofstream out(path, std::ios::binary);
    out << "From: a@example.com\nTo: b@example.com\nSubject: big\n\n";
    std::string line(76, 'A');
    for (size_t written = 0; written < (30u << 20); written += 77) out << line << "\n";
  }
  Fill("big", {path});
  std::unique_ptr<ImapClient> c = LoggedIn("big");
  ASSERT_TRUE(c);
  ASSERT_THAT(c->Examine("INBOX"), IsOk());
  auto vm = [](const char* key) {
    std::string status = ReadFile("/proc/self/status");
    size_t at = status.find(key);
    return at == std::string::npos ? 0L : std::atol(status.c_str() + at + strlen(key));
  };
  long rss_before_kb = vm("VmRSS:");
  uint64_t size = 0;
  ASSERT_THAT(c->UidFetchMessages({1}, FetchOptions{},
                                  [&](const FetchedMessage& m) {
                                    size = m.bytes.size();
                                    return absl::OkStatus();
                                  }),
              IsOk());
  long hwm_after_kb = vm("VmHWM:");
  EXPECT_GT(size, 30u << 20);
  // The message itself plus bounded buffers: well under two copies.
  EXPECT_LT((hwm_after_kb - rss_before_kb) * 1024L, static_cast<long>(size) + (8L << 20))
      << "rss before " << rss_before_kb << " kB, peak after " << hwm_after_kb << " kB";
}

// A message over max_message_bytes + 1 MiB is refused whole (protocol), while its start (IMAP
// BODY.PEEK[]<0.n>) and its headers (POP3 TOP n 0) still come: how the fetcher stores it.
TEST_F(MailDovecotTest, OverSizeMessageIsRefusedWholeButItsStartAndHeadersCome) {
  std::string path = g_dovecot->dir() + "/over.eml";
  {
    std::ofstream out(path, std::ios::binary);
    out << "From: a@example.com\nTo: b@example.com\nSubject: over\n\n";
    std::string line(76, 'B');
    for (size_t written = 0; written < (3u << 20); written += 77) out << line << "\n";
  }
  Fill("dave", {path});
  ServerOptions o = Options(Security::kStartTls);
  o.max_message_bytes = 1 << 20;
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(o);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT((*c)->Login("dave", "pw-dave"), IsOk());
  ASSERT_THAT((*c)->Examine("INBOX"), IsOk());
  FetchOptions head;
  head.max_bytes = 4096;
  uint64_t size = 0;
  std::string start;
  ASSERT_THAT((*c)->UidFetchMessages({1}, head,
                                     [&](const FetchedMessage& m) {
                                       size = m.size;
                                       start = std::string(m.bytes);
                                       return absl::OkStatus();
                                     }),
              IsOk());
  EXPECT_GT(size, 3u << 20);
  EXPECT_EQ(start.size(), 4096u);
  EXPECT_EQ(start.rfind("From: a@example.com\r\n", 0), 0u);
  absl::Status whole = (*c)->UidFetchMessages(
      {1}, FetchOptions{}, [](const FetchedMessage&) { return absl::OkStatus(); });
  EXPECT_EQ(ClassifyMailError(whole), MailErrorClass::kProtocol);
  EXPECT_THAT(whole.message(), HasSubstr("response exceeds 2 MiB (max_message_bytes + 1 MiB)"));

  o.security = Security::kImplicitTls;
  o.port = g_dovecot->Port("POP3S_PORT");
  absl::StatusOr<std::unique_ptr<Pop3Client>> p = Pop3Client::Connect(o);
  ASSERT_THAT(p, IsOk());
  ASSERT_THAT((*p)->Login("dave", "pw-dave"), IsOk());
  absl::StatusOr<std::string> headers = (*p)->Top(1, 0);
  ASSERT_THAT(headers, IsOk());
  EXPECT_EQ(*headers, "From: a@example.com\r\nTo: b@example.com\r\nSubject: over\r\n\r\n");
  EXPECT_EQ(ClassifyMailError((*p)->RetrMessage(1).status()), MailErrorClass::kProtocol);
}

TEST_F(MailDovecotTest, Pop3UidlRetrDele) {
  Fill("carol", {CorpusFile(kSmall1), CorpusFile(kSmall2), CorpusFile(kSmall3)});
  ServerOptions o = Options(Security::kImplicitTls);
  o.port = g_dovecot->Port("POP3S_PORT");
  absl::StatusOr<std::unique_ptr<Pop3Client>> p = Pop3Client::Connect(o);
  ASSERT_THAT(p, IsOk());
  absl::Status bad = (*p)->Login("carol", "nope");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kUnauthenticated,
                            HasSubstr("-ERR [AUTH] Authentication failed.")));
  p = Pop3Client::Connect(o);  // fresh connection, as above
  ASSERT_THAT(p, IsOk());
  ASSERT_THAT((*p)->Login("carol", "pw-carol"), IsOk());
  absl::StatusOr<std::vector<Pop3UidlEntry>> uidl = (*p)->Uidl();
  ASSERT_THAT(uidl, IsOkAndHolds(SizeIs(3)));
  absl::StatusOr<std::vector<Pop3ListEntry>> list = (*p)->List();
  ASSERT_THAT(list, IsOkAndHolds(SizeIs(3)));
  std::map<std::string, int> want;
  for (const char* f : {kSmall1, kSmall2, kSmall3}) ++want[AsServed(ReadFile(CorpusFile(f)))];
  for (const Pop3ListEntry& e : *list) {
    absl::StatusOr<std::string> m = (*p)->RetrMessage(e.number);
    ASSERT_THAT(m, IsOk());
    EXPECT_EQ(m->size(), e.size);
    EXPECT_EQ(want[*m]--, 1) << "message " << e.number << " differs from every stored file";
  }
  const std::string deleted = (*uidl)[0].uid;
  ASSERT_THAT((*p)->Dele((*uidl)[0].number), IsOk());
  ASSERT_THAT((*p)->Quit(), IsOk());

  o.security = Security::kStartTls;
  o.port = g_dovecot->Port("POP3_PORT");
  absl::StatusOr<std::unique_ptr<Pop3Client>> again = Pop3Client::Connect(o);
  ASSERT_THAT(again, IsOk());
  ASSERT_THAT((*again)->Login("carol", "pw-carol"), IsOk());
  absl::StatusOr<Pop3Stat> stat = (*again)->Stat();
  ASSERT_THAT(stat, IsOk());
  EXPECT_EQ(stat->count, 2u);
  absl::StatusOr<std::vector<Pop3UidlEntry>> left = (*again)->Uidl();
  ASSERT_THAT(left, IsOk());
  for (const Pop3UidlEntry& e : *left) EXPECT_NE(e.uid, deleted);
}

TEST_F(MailDovecotTest, ConnectionTestReportsEveryStep) {
  ConnectionTestRequest req;
  req.server = Options(Security::kImplicitTls);
  req.credentials = Credentials{"alice", "pw-alice", AuthMechanism::kLogin};
  ConnectionReport ok = TestMailConnection(req);
  ASSERT_THAT(ok.status, IsOk());
  std::vector<std::string> names;
  for (const ConnectionStep& s : ok.steps) {
    names.push_back(s.name);
    EXPECT_TRUE(s.passed) << s.name << ": " << s.detail;
  }
  EXPECT_THAT(names, ElementsAre("dns", "tcp", "tls", "greeting", "authentication", "folder",
                                 "message_count"));
  EXPECT_THAT(ok.steps[2].detail, HasSubstr("verified"));
  EXPECT_THAT(ok.steps[6].detail, HasSubstr(absl::StrCat(g_dovecot->corpus_count(), " messages")));

  req.credentials.secret = "wrong";
  ConnectionReport bad = TestMailConnection(req);
  EXPECT_EQ(ClassifyMailError(bad.status), MailErrorClass::kAuthentication);
  ASSERT_THAT(bad.steps, SizeIs(7));
  EXPECT_TRUE(bad.steps[3].passed);
  EXPECT_FALSE(bad.steps[4].passed);
  EXPECT_THAT(bad.steps[4].detail, HasSubstr("NO [AUTHENTICATIONFAILED]"));
  EXPECT_TRUE(bad.steps[5].skipped);

  req.server.tls.ca_file.clear();
  ConnectionReport untrusted = TestMailConnection(req);
  EXPECT_EQ(ClassifyMailError(untrusted.status), MailErrorClass::kTls);
  EXPECT_FALSE(untrusted.steps[2].passed);

  ConnectionTestRequest pop;
  pop.protocol = MailProtocol::kPop3;
  pop.server = Options(Security::kStartTls);
  pop.server.port = g_dovecot->Port("POP3_PORT");
  pop.credentials = Credentials{"alice", "pw-alice", AuthMechanism::kLogin};
  ConnectionReport popr = TestMailConnection(pop);
  EXPECT_THAT(popr.status, IsOk());
  EXPECT_EQ(popr.steps[3].name, "tls");
  EXPECT_TRUE(popr.steps[5].skipped);  // folder
}

TEST_F(MailDovecotTest, ConnectionRefusedIsNetworkError) {
  ConnectionTestRequest req;
  req.server = Options(Security::kPlain);
  req.server.port = 1;  // nothing listens on 127.0.0.1:1
  ConnectionReport r = TestMailConnection(req);
  EXPECT_EQ(ClassifyMailError(r.status), MailErrorClass::kNetwork);
  EXPECT_TRUE(r.steps[0].passed);
  EXPECT_FALSE(r.steps[1].passed);
  EXPECT_THAT(r.steps[1].detail, HasSubstr("Connection refused"));
}

// Not Dovecot: a listener that accepts (in the kernel backlog) but never speaks. The greeting
// read must give up at the time-out instead of hanging.
TEST(MailTimeouts, SilentServerTimesOutOnGreeting) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = ntohs(addr.sin_port);
  o.security = Security::kPlain;
  o.timeout = absl::Milliseconds(300);
  absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(o);
  absl::Duration took = absl::Now() - start;
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(ClassifyMailError(c.status()), MailErrorClass::kNetwork);
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(3));
  o.security = Security::kImplicitTls;  // the TLS handshake has the same bound
  absl::StatusOr<std::unique_ptr<Pop3Client>> p = Pop3Client::Connect(o);
  EXPECT_THAT(p, StatusIs(absl::StatusCode::kDeadlineExceeded));
  close(fd);
}

}  // namespace
}  // namespace postroom::mail

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  postroom::mail::g_dovecot = new postroom::mail::Dovecot();
  ::testing::AddGlobalTestEnvironment(postroom::mail::g_dovecot);
  return RUN_ALL_TESTS();
}
