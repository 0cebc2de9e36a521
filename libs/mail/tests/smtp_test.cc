// SMTP reply classification and message rendering, without a network (the real conversation is
// covered by tests/e2e/sender_e2e.sh against a private Postfix).
#include <curl/curl.h>

#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/mail/tests/hostile_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mail/smtp_client.h"
#include "libs/mail/smtp_connector.h"
#include "libs/mail/smtp_message.h"
#include "tests/support/status_matchers.h"

namespace postroom::mail {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

const char kWhere[] = "smtp 127.0.0.1:2525";

TEST(ClassifySmtp, RefusedRecipientKeepsTheServersWordsAndStage) {
  SmtpResult r =
      ClassifySmtp(CURLE_SEND_ERROR, "RCPT failed: 550", "RCPT TO",
                   "550 5.1.1 <nobody@example.net>: Recipient address rejected", false, kWhere);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.stage, SmtpStage::kRcptTo);
  EXPECT_EQ(r.code, 550);
  EXPECT_EQ(r.error_class, MailErrorClass::kServer);
  EXPECT_EQ(r.message,
            "smtp 127.0.0.1:2525: RCPT TO refused: 550 5.1.1 <nobody@example.net>: Recipient "
            "address rejected");
}

TEST(ClassifySmtp, GreylistingIsThrottled) {
  SmtpResult r =
      ClassifySmtp(CURLE_SEND_ERROR, "", "RCPT TO", "450 4.2.0 try again later", false, kWhere);
  EXPECT_EQ(r.code, 450);
  EXPECT_EQ(r.error_class, MailErrorClass::kThrottled);
}

TEST(ClassifySmtp, RefusedLoginIsAuthentication) {
  SmtpResult r = ClassifySmtp(CURLE_LOGIN_DENIED, "Authentication failed: 535", "AUTH",
                              "535 5.7.8 Error: authentication failed", true, kWhere);
  EXPECT_EQ(r.stage, SmtpStage::kAuth);
  EXPECT_EQ(r.error_class, MailErrorClass::kAuthentication);
  EXPECT_THAT(r.message, HasSubstr("535 5.7.8"));
}

TEST(ClassifySmtp, ConnectionRefusedIsNetworkAtConnect) {
  SmtpResult r = ClassifySmtp(CURLE_COULDNT_CONNECT, "Failed to connect to 127.0.0.1 port 1", "",
                              "", false, kWhere);
  EXPECT_EQ(r.stage, SmtpStage::kConnect);
  EXPECT_EQ(r.error_class, MailErrorClass::kNetwork);
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.message, HasSubstr("connect: Failed to connect"));
}

TEST(ClassifySmtp, BadCertificateIsTls) {
  SmtpResult r = ClassifySmtp(CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem", "STARTTLS",
                              "220 2.0.0 Ready to start TLS", true, kWhere);
  EXPECT_EQ(r.stage, SmtpStage::kTls);
  EXPECT_EQ(r.error_class, MailErrorClass::kTls);
}

TEST(ClassifySmtp, NoStartTlsOfferedIsTls) {
  SmtpResult r = ClassifySmtp(CURLE_USE_SSL_FAILED, "STARTTLS not supported.", "EHLO",
                              "250 SMTPUTF8", false, kWhere);
  EXPECT_EQ(r.stage, SmtpStage::kTls);
  EXPECT_EQ(r.error_class, MailErrorClass::kTls);
}

TEST(ClassifySmtp, RejectedMessageAfterDataIsDataStage) {
  SmtpResult r = ClassifySmtp(CURLE_WEIRD_SERVER_REPLY, "", "DATA",
                              "554 5.7.1 message content rejected", false, kWhere);
  EXPECT_EQ(r.stage, SmtpStage::kData);
  EXPECT_EQ(r.code, 554);
}

TEST(ClassifySmtp, SuccessKeepsTheQueueId) {
  SmtpResult r = ClassifySmtp(CURLE_OK, "", "DATA", "250 2.0.0 Ok: queued as 4F1", false, kWhere);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.stage, SmtpStage::kDone);
  EXPECT_EQ(r.message, "250 2.0.0 Ok: queued as 4F1");
}

OutgoingEmail Sample() {
  OutgoingEmail e;
  e.from = "desk@example.com";
  e.from_name = "Service Desk";
  e.to = "alice@example.org";
  e.reply_to = "support+t1@example.com";
  e.subject = "We received your request [#SUP-7]";
  e.body_text = "Hello Alice,\nthanks.\n";
  e.message_id = "postroom-outbox-7.1800000000000@example.com";
  e.date = absl::FromUnixSeconds(1'800'000'000);
  e.headers = {{"Auto-Submitted", "auto-replied"}, {"In-Reply-To", "<a@b>"}, {"To", "evil@x"}};
  return e;
}

TEST(RenderEmail, WritesEnvelopeHeadersWithCrlf) {
  absl::StatusOr<std::string> raw = RenderEmail(Sample());
  ASSERT_THAT(raw, IsOk());
  EXPECT_THAT(*raw, HasSubstr("From: Service Desk <desk@example.com>\r\n"));
  EXPECT_THAT(*raw, HasSubstr("To: alice@example.org\r\n"));
  EXPECT_THAT(*raw, HasSubstr("Reply-To: support+t1@example.com\r\n"));
  EXPECT_THAT(*raw, HasSubstr("Subject: We received your request [#SUP-7]\r\n"));
  EXPECT_THAT(*raw, HasSubstr("Message-Id: <postroom-outbox-7.1800000000000@example.com>\r\n"));
  EXPECT_THAT(*raw, HasSubstr("Auto-Submitted: auto-replied\r\n"));
  EXPECT_THAT(*raw, HasSubstr("In-Reply-To: <a@b>\r\n"));
  EXPECT_THAT(*raw, Not(HasSubstr("evil@x")));
  EXPECT_THAT(*raw, HasSubstr("Hello Alice,\r\nthanks.\r\n"));
}

TEST(RenderEmail, EncodesNonAsciiSubjectAndBody) {
  OutgoingEmail e = Sample();
  e.subject = "Ihre Anfrage: Rückruf";
  e.body_text = "Grüße\n";
  absl::StatusOr<std::string> raw = RenderEmail(e);
  ASSERT_THAT(raw, IsOk());
  EXPECT_THAT(*raw, HasSubstr("Subject: Ihre Anfrage: =?"));
  // GMime picks the smallest charset that holds the text, and a 7-bit transfer encoding.
  EXPECT_THAT(*raw, HasSubstr("Content-Type: text/plain; charset=iso-8859-1\r\n"));
  EXPECT_THAT(*raw, HasSubstr("Content-Transfer-Encoding: base64\r\n"));
  EXPECT_THAT(*raw, Not(HasSubstr("Grüße")));
}

// The connector's display_name: encoded words when not ASCII, quoted when it holds specials.
TEST(RenderEmail, DisplayNameIsEncodedOrQuotedAsNeeded) {
  OutgoingEmail e = Sample();
  e.from_name = "Kundendienst Müller";
  absl::StatusOr<std::string> raw = RenderEmail(e);
  ASSERT_THAT(raw, IsOk());
  EXPECT_THAT(*raw, ::testing::ContainsRegex("From: (Kundendienst )?=\\?[a-zA-Z0-9-]+\\?[bBqQ]\\?"));
  EXPECT_THAT(*raw, HasSubstr("<desk@example.com>\r\n"));
  EXPECT_THAT(*raw, Not(HasSubstr("Müller")));
  e.from_name = "Support, Desk";
  raw = RenderEmail(e);
  ASSERT_THAT(raw, IsOk());
  EXPECT_THAT(*raw, HasSubstr("From: \"Support, Desk\" <desk@example.com>\r\n"));
}

TEST(RenderEmail, HtmlMakesAlternative) {
  OutgoingEmail e = Sample();
  e.body_html = "<p>Hello</p>";
  absl::StatusOr<std::string> raw = RenderEmail(e);
  ASSERT_THAT(raw, IsOk());
  EXPECT_THAT(*raw, HasSubstr("multipart/alternative"));
  EXPECT_THAT(*raw, HasSubstr("text/html"));
}

TEST(RenderEmail, RefusesHeaderInjection) {
  OutgoingEmail e = Sample();
  e.subject = "hi\r\nBcc: victim@example.net";
  EXPECT_THAT(RenderEmail(e), StatusIs(absl::StatusCode::kInvalidArgument));
  e = Sample();
  e.headers.push_back({"X-Bad", "a\nb"});
  EXPECT_THAT(RenderEmail(e), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RenderEmail, AttachmentsMakeMixedWithTheBodyFirstAndBase64Parts) {
  OutgoingEmail e = Sample();
  e.cc = {"boss@example.org"};
  e.attachments = {{"Bericht Ü.pdf", "application/pdf", std::string("hello\0world", 11)},
                   {"x.bin", "not a type", "abc"}};
  absl::StatusOr<std::string> raw = RenderEmail(e);
  ASSERT_THAT(raw, IsOk());
  EXPECT_THAT(*raw, HasSubstr("Cc: boss@example.org\r\n"));
  EXPECT_THAT(*raw, HasSubstr("Content-Type: multipart/mixed"));
  EXPECT_LT(raw->find("text/plain"), raw->find("application/pdf"));
  EXPECT_THAT(*raw, HasSubstr("aGVsbG8Ad29ybGQ="));  // base64 of "hello\0world".
  // RFC 2231, in the smallest charset that holds the name (as GMime does for text parts).
  EXPECT_THAT(*raw, HasSubstr("filename*=iso-8859-1''Bericht%20%DC.pdf"));
  EXPECT_THAT(*raw, HasSubstr("Content-Type: application/octet-stream"));  // Bad type.
}

TEST(RenderEmail, RefusesLineBreaksInCcAndAttachmentNames) {
  OutgoingEmail e = Sample();
  e.cc = {"a@example.org\r\nBcc: victim@example.net"};
  EXPECT_THAT(RenderEmail(e), StatusIs(absl::StatusCode::kInvalidArgument));
  e = Sample();
  e.attachments = {{"a.txt\r\nX-Evil: 1", "text/plain", "x"}};
  EXPECT_THAT(RenderEmail(e), StatusIs(absl::StatusCode::kInvalidArgument));
  e.attachments = {{"", "text/plain", "x"}};
  EXPECT_THAT(RenderEmail(e), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SmtpConnector, UnsetTlsIsStartTlsAndUsernameMeansPasswordAuth) {
  v1::Connector c;
  c.mutable_server()->set_host("smtp.example.com");
  c.mutable_server()->set_ca_file("/etc/ca.pem");
  c.mutable_settings()->set_timeout_ms(5000);
  c.mutable_auth()->set_username("desk");
  c.mutable_auth()->set_password("pw");
  SmtpServer s = SmtpServerFor(c);
  EXPECT_EQ(s.security, SmtpSecurity::kStartTls);
  EXPECT_EQ(s.port, 0);  // 587 at connect time.
  EXPECT_EQ(s.ca_file, "/etc/ca.pem");
  EXPECT_EQ(s.timeout, absl::Seconds(5));
  absl::StatusOr<SmtpCredentials> cr = SmtpCredentialsFor(c);
  ASSERT_THAT(cr, IsOk());
  EXPECT_EQ(cr->method, SmtpAuth::kPassword);
  EXPECT_EQ(cr->secret, "pw");
  c.mutable_server()->set_tls(v1::TLS_MODE_IMPLICIT);
  EXPECT_EQ(SmtpServerFor(c).security, SmtpSecurity::kImplicitTls);
  c.mutable_auth()->clear_username();
  EXPECT_EQ(SmtpCredentialsFor(c)->method, SmtpAuth::kNone);
}

// An access token source that hands out numbered tokens and records whether a refresh was forced.
class CountingTokens : public AccessTokenSource {
 public:
  absl::StatusOr<std::string> AccessToken(bool force_refresh) override {
    if (fail) return absl::UnavailableError("token endpoint unreachable");
    forced += force_refresh ? 1 : 0;
    return "token-" + std::to_string(++issued);
  }
  int issued = 0;
  int forced = 0;
  bool fail = false;
};

TEST(SmtpConnector, OAuth2SignsInWithXOAuth2AndAnAccessToken) {
  v1::Connector c;
  c.set_name("m365");
  c.set_primary_address("support@contoso.example");
  c.mutable_auth()->set_method(v1::AUTH_METHOD_OAUTH2);
  EXPECT_THAT(SmtpCredentialsFor(c),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("access token source")));
  CountingTokens tokens;
  absl::StatusOr<SmtpCredentials> cr = SmtpCredentialsFor(c, &tokens);
  ASSERT_TRUE(cr.ok()) << cr.status();
  EXPECT_EQ(cr->method, SmtpAuth::kXOAuth2);
  EXPECT_EQ(cr->user, "support@contoso.example");  // no username: the mailbox address
  EXPECT_EQ(cr->secret, "token-1");
  c.mutable_auth()->set_username("svc@contoso.example");
  cr = SmtpCredentialsFor(c, &tokens, /*force_refresh=*/true);
  ASSERT_TRUE(cr.ok());
  EXPECT_EQ(cr->user, "svc@contoso.example");
  EXPECT_EQ(tokens.forced, 1);
  tokens.fail = true;
  EXPECT_THAT(SmtpCredentialsFor(c, &tokens),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("token endpoint")));
}

// Plain SMTP to a scripted server on loopback.
SmtpServer Loopback(int port) {
  SmtpServer s;
  s.host = "127.0.0.1";
  s.port = port;
  s.security = SmtpSecurity::kNone;
  s.timeout = absl::Seconds(5);
  return s;
}

// The bytes on the wire: libcurl's XOAUTH2 (RFC 7628's Google/Microsoft form) carries
// "user=<user>^Aauth=Bearer <token>^A^A" in base64, with or without an initial response.
TEST(SendSmtp, XOAuth2SendsTheBearerTokenForTheUser) {
  std::string auth_payload;
  testing::HostileServer server([&](testing::HostileConnection& conn) {
    if (!conn.Send("220 smtp.test ESMTP\r\n")) return;
    for (;;) {
      std::optional<std::string> line = conn.ReadLine();
      if (!line) return;
      const std::string upper = absl::AsciiStrToUpper(*line);
      if (absl::StartsWith(upper, "EHLO")) {
        conn.Send("250-smtp.test\r\n250 AUTH XOAUTH2 PLAIN\r\n");
      } else if (absl::StartsWith(upper, "AUTH XOAUTH2")) {
        std::string rest = line->size() > 13 ? line->substr(13) : "";
        if (rest.empty()) {
          conn.Send("334 \r\n");
          std::optional<std::string> answer = conn.ReadLine();
          if (!answer) return;
          rest = *answer;
        }
        auth_payload = rest;
        conn.Send("235 2.7.0 Accepted\r\n");
      } else if (absl::StartsWith(upper, "MAIL FROM") || absl::StartsWith(upper, "RCPT TO")) {
        conn.Send("250 ok\r\n");
      } else if (upper == "DATA") {
        conn.Send("354 go\r\n");
        for (std::optional<std::string> l = conn.ReadLine(); l && *l != "."; l = conn.ReadLine()) {
        }
        conn.Send("250 2.0.0 queued as ABC123\r\n");
      } else if (upper == "QUIT") {
        conn.Send("221 bye\r\n");
        return;
      } else {
        conn.Send("502 unknown\r\n");
      }
    }
  });
  SmtpServer s = Loopback(server.port());
  SmtpCredentials cr{.method = SmtpAuth::kXOAuth2, .user = "support@contoso.example",
                     .secret = "eyJ0eXAi.token"};
  SmtpResult r = SendSmtp(s, cr, {.mail_from = "support@contoso.example",
                                  .rcpt_to = {"jane@client.example"}},
                          "From: support@contoso.example\r\nSubject: x\r\n\r\nhi\r\n");
  EXPECT_TRUE(r.ok) << r.message;
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(auth_payload, &decoded)) << auth_payload;
  EXPECT_EQ(decoded, "user=support@contoso.example\x01" "auth=Bearer eyJ0eXAi.token\x01\x01");
}

TEST(TestSmtpConnection, UnreachableServerFailsAtTcpAndSkipsTheRest) {
  SmtpServer s;
  s.host = "127.0.0.1";
  s.port = 1;  // Nothing listens on port 1 of loopback.
  s.security = SmtpSecurity::kStartTls;
  ConnectionReport r =
      TestSmtpConnection(s, {.method = SmtpAuth::kPassword, .user = "u"}, "desk@example.com");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.steps.size(), 8u);
  EXPECT_EQ(r.steps[0].name, "dns");
  EXPECT_TRUE(r.steps[0].passed);
  EXPECT_EQ(r.steps[1].name, "tcp");
  EXPECT_FALSE(r.steps[1].passed);
  EXPECT_FALSE(r.steps[1].skipped);
  EXPECT_THAT(r.steps[1].detail, HasSubstr("smtp 127.0.0.1:1: connect"));
  for (size_t i = 2; i < r.steps.size(); ++i) EXPECT_TRUE(r.steps[i].skipped) << r.steps[i].name;
  EXPECT_EQ(ClassifyMailError(r.status), MailErrorClass::kNetwork);
}

TEST(TestSmtpConnection, UnknownHostFailsAtDns) {
  SmtpServer s;
  s.host = "no-such-host.invalid";
  s.port = 2525;
  ConnectionReport r = TestSmtpConnection(s, {}, "desk@example.com");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.steps.size(), 8u);
  EXPECT_EQ(r.steps[0].name, "dns");
  EXPECT_FALSE(r.steps[0].passed);
  EXPECT_FALSE(r.steps[0].skipped);
  EXPECT_TRUE(r.steps[1].skipped);
}

// A scripted SMTP server that records the commands it gets, answers RCPT TO for `refuse` with
// 550, and refuses DATA outright (a test must never send a message).
struct RecordingSmtp {
  explicit RecordingSmtp(std::string refuse = "", std::string ehlo = "250 AUTH PLAIN LOGIN\r\n")
      : server([this, refuse, ehlo](testing::HostileConnection& conn) {
          if (!conn.Send("220 smtp.test ESMTP ready\r\n")) return;
          for (;;) {
            std::optional<std::string> line = conn.ReadLine();
            if (!line) return;
            const std::string upper = absl::AsciiStrToUpper(*line);
            {
              std::lock_guard<std::mutex> lock(mu);
              commands.push_back(absl::StartsWith(upper, "AUTH") ? "AUTH" : *line);
            }
            if (absl::StartsWith(upper, "EHLO")) {
              conn.Send(absl::StrCat("250-smtp.test\r\n", ehlo));
            } else if (absl::StartsWith(upper, "AUTH PLAIN")) {
              if (upper == "AUTH PLAIN") {  // No initial response: ask for it.
                conn.Send("334 \r\n");
                if (!conn.ReadLine()) return;
              }
              conn.Send("235 2.7.0 Authentication successful\r\n");
            } else if (absl::StartsWith(upper, "MAIL FROM")) {
              conn.Send("250 2.1.0 Ok\r\n");
            } else if (absl::StartsWith(upper, "RCPT TO")) {
              conn.Send(!refuse.empty() && absl::StrContains(*line, refuse)
                            ? "550 5.1.1 <" + refuse + ">: Recipient address rejected\r\n"
                            : "250 2.1.5 Ok\r\n");
            } else if (upper == "RSET") {
              conn.Send("250 2.0.0 Ok\r\n");
            } else if (upper == "QUIT") {
              conn.Send("221 2.0.0 Bye\r\n");
              return;
            } else {
              conn.Send("502 5.5.2 not here\r\n");
            }
          }
        }) {}
  std::vector<std::string> Commands() {
    // The script runs on the server's thread; QUIT may still be on its way.
    for (int i = 0; i < 100; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!commands.empty() && commands.back() == "QUIT") return commands;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    std::lock_guard<std::mutex> lock(mu);
    return commands;
  }
  SmtpServer Server() { return Loopback(server.port()); }
  std::mutex mu;
  std::vector<std::string> commands;
  testing::HostileServer server;
};

std::vector<std::string> StepNames(const ConnectionReport& r) {
  std::vector<std::string> out;
  for (const ConnectionStep& s : r.steps) {
    out.push_back(absl::StrCat(s.name, s.skipped ? " skipped" : (s.passed ? " passed" : " FAILED")));
  }
  return out;
}

TEST(TestSmtpConnection, WalksTheEnvelopeToItsOwnAddressWithoutData) {
  RecordingSmtp smtp;
  ConnectionReport r = TestSmtpConnection(
      smtp.Server(), {.method = SmtpAuth::kPassword, .user = "desk", .secret = "pw"},
      "desk@example.com");
  EXPECT_TRUE(r.ok()) << r.status;
  EXPECT_THAT(StepNames(r),
              ::testing::ElementsAre("dns passed", "tcp passed", "greeting passed", "ehlo passed",
                                     "tls skipped", "authentication passed", "mail_from passed",
                                     "rcpt_to passed"));
  EXPECT_THAT(r.steps[2].detail, HasSubstr("220 smtp.test ESMTP ready"));
  EXPECT_THAT(r.steps[3].detail, HasSubstr("AUTH PLAIN LOGIN"));
  EXPECT_THAT(r.steps[5].detail, HasSubstr("235 2.7.0"));
  EXPECT_THAT(r.steps[6].detail, HasSubstr("250 2.1.0 Ok"));
  EXPECT_THAT(r.steps[7].detail, HasSubstr("<desk@example.com>: 250 2.1.5 Ok"));
  std::vector<std::string> commands = smtp.Commands();
  EXPECT_THAT(commands, ::testing::Contains("MAIL FROM:<desk@example.com>"));
  EXPECT_THAT(commands, ::testing::Contains("RCPT TO:<desk@example.com>"));
  EXPECT_THAT(commands, Not(::testing::Contains("DATA")));
  ASSERT_GE(commands.size(), 2u);
  EXPECT_EQ(commands[commands.size() - 2], "RSET");
  EXPECT_EQ(commands.back(), "QUIT");
}

TEST(TestSmtpConnection, RefusedRecipientFailsAtRcptToWithTheServersWords) {
  RecordingSmtp smtp("desk@example.com");
  ConnectionReport r = TestSmtpConnection(smtp.Server(), {}, "desk@example.com");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(StepNames(r), ::testing::ElementsAre("dns passed", "tcp passed", "greeting passed",
                                                   "ehlo passed", "tls skipped",
                                                   "authentication skipped", "mail_from passed",
                                                   "rcpt_to FAILED"));
  EXPECT_THAT(r.steps[7].detail, HasSubstr("RCPT TO refused: 550 5.1.1 <desk@example.com>"));
  EXPECT_EQ(ClassifyMailError(r.status), MailErrorClass::kServer);
  EXPECT_THAT(smtp.Commands(), Not(::testing::Contains("DATA")));
}

TEST(TestSmtpConnection, NoAddressFailsAtMailFrom) {
  RecordingSmtp smtp;
  ConnectionReport r = TestSmtpConnection(smtp.Server(), {}, "");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(StepNames(r), ::testing::Contains("mail_from FAILED"));
  EXPECT_THAT(r.steps[6].detail, HasSubstr("primary_address"));
}

// A server whose answer to MAIL FROM never ends: the test stops at its bound, it does not hang
// or grow.
TEST(TestSmtpConnection, EndlessReplyIsCutAtItsBound) {
  testing::HostileServer server([](testing::HostileConnection& conn) {
    if (!conn.Send("220 smtp.test ESMTP\r\n")) return;
    for (;;) {
      std::optional<std::string> line = conn.ReadLine();
      if (!line) return;
      const std::string upper = absl::AsciiStrToUpper(*line);
      if (absl::StartsWith(upper, "EHLO")) {
        conn.Send("250 smtp.test\r\n");
      } else if (absl::StartsWith(upper, "MAIL FROM")) {
        conn.Pour("250-", "still going ", 8 << 20);
        return;
      } else {
        conn.Send("250 ok\r\n");
      }
    }
  });
  ConnectionReport r = TestSmtpConnection(Loopback(server.port()), {}, "desk@example.com");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(StepNames(r), ::testing::Contains("mail_from FAILED"));
  EXPECT_THAT(r.steps[6].detail, HasSubstr("longer than 64 KiB"));
  EXPECT_LT(server.bytes_sent(), uint64_t{8} << 20);
}

}  // namespace
}  // namespace postroom::mail
