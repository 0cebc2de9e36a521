#include "libs/mail/smtp_client.h"

#include <curl/curl.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/mail/transport.h"

namespace postroom::mail {
namespace {

// What the debug callback keeps of a conversation: the verb of the last command (never its
// argument: AUTH carries the credentials), the last complete reply, and whether TLS started.
struct Transcript {
  std::string last_command;
  std::string last_reply;
  std::string pending_reply;  // Lines of a multi-line reply so far.
  bool tls_started = false;
  bool data_sent = false;  // The 354 came: the next reply answers the message itself.
  bool quitting = false;   // QUIT sent (libcurl also quits after a failure): ignore the rest.
  std::string greeting;    // The server's first reply (220 ...).
  std::string auth_reply;  // The last reply to an AUTH step (235 ... when logged in).
  std::string ehlo_reply;  // The last reply to EHLO (after STARTTLS: the one inside TLS).
};

std::string CommandVerb(const std::string& line) {
  std::string up = absl::AsciiStrToUpper(line.substr(0, 10));
  for (const char* verb : {"MAIL FROM", "RCPT TO", "STARTTLS", "AUTH", "DATA", "EHLO", "HELO",
                           "QUIT", "RSET", "NOOP"}) {
    if (absl::StartsWith(up, verb)) return verb;
  }
  // A SASL continuation (LOGIN user or password, base64): part of AUTH; keep nothing of it.
  return "AUTH";
}

int OnDebug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  auto* t = static_cast<Transcript*>(user);
  std::string text(data, size);
  switch (type) {
    case CURLINFO_HEADER_OUT: {
      std::string verb = CommandVerb(text);
      if (verb == "QUIT") {
        t->quitting = true;
      } else if (!t->quitting) {
        t->last_command = verb;
      }
      break;
    }
    case CURLINFO_HEADER_IN: {
      if (t->quitting) break;
      // One call may hold several lines; a reply ends with "NNN " (space after the code).
      size_t start = 0;
      while (start < text.size()) {
        size_t end = text.find('\n', start);
        std::string line = text.substr(start, end == std::string::npos ? end : end - start);
        start = end == std::string::npos ? text.size() : end + 1;
        while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
        if (line.empty()) continue;
        std::string body = line.size() > 4 ? line.substr(4) : "";
        if (t->pending_reply.empty()) {
          t->pending_reply = line;
        } else {
          absl::StrAppend(&t->pending_reply, " ", body);
        }
        if (line.size() < 4 || line[3] != '-') {
          t->last_reply = t->pending_reply;
          t->pending_reply.clear();
          if (t->greeting.empty()) t->greeting = t->last_reply;
          if (t->last_command == "AUTH") t->auth_reply = t->last_reply;
          if (t->last_command == "EHLO" || t->last_command == "HELO") {
            t->ehlo_reply = t->last_reply;
          }
          if (t->last_command == "DATA" && absl::StartsWith(t->last_reply, "354")) {
            t->data_sent = true;
          }
        }
      }
      break;
    }
    case CURLINFO_SSL_DATA_IN:
    case CURLINFO_SSL_DATA_OUT:
      t->tls_started = true;
      break;
    default:
      break;
  }
  return 0;
}

struct Body {
  const std::string* text;
  size_t pos = 0;
};

size_t OnRead(char* buffer, size_t size, size_t nitems, void* user) {
  auto* b = static_cast<Body*>(user);
  size_t n = std::min(size * nitems, b->text->size() - b->pos);
  std::memcpy(buffer, b->text->data() + b->pos, n);
  b->pos += n;
  return n;
}

int DefaultPort(SmtpSecurity s) {
  switch (s) {
    case SmtpSecurity::kNone:
      return 25;
    case SmtpSecurity::kStartTls:
      return 587;
    case SmtpSecurity::kImplicitTls:
      return 465;
  }
  return 25;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

int ReplyCode(const std::string& reply) {
  int code = 0;
  if (reply.size() >= 3 && absl::SimpleAtoi(reply.substr(0, 3), &code)) return code;
  return 0;
}

}  // namespace

const char* SmtpStageName(SmtpStage s) {
  switch (s) {
    case SmtpStage::kConnect:
      return "connect";
    case SmtpStage::kTls:
      return "tls";
    case SmtpStage::kGreeting:
      return "greeting";
    case SmtpStage::kAuth:
      return "auth";
    case SmtpStage::kMailFrom:
      return "mail_from";
    case SmtpStage::kRcptTo:
      return "rcpt_to";
    case SmtpStage::kData:
      return "data";
    case SmtpStage::kDone:
      return "done";
  }
  return "?";
}

SmtpResult ClassifySmtp(int curl_code, const std::string& curl_error,
                        const std::string& last_command, const std::string& last_reply,
                        bool tls_started, const std::string& where) {
  SmtpResult r;
  r.code = ReplyCode(last_reply);
  if (curl_code == CURLE_OK) {
    r.ok = true;
    r.stage = SmtpStage::kDone;
    r.message = last_reply;
    return r;
  }
  // The stage: what the client last asked, else how far the connection got.
  if (last_command == "MAIL FROM") {
    r.stage = SmtpStage::kMailFrom;
  } else if (last_command == "RCPT TO") {
    r.stage = SmtpStage::kRcptTo;
  } else if (last_command == "DATA") {
    r.stage = SmtpStage::kData;
  } else if (last_command == "AUTH") {
    r.stage = SmtpStage::kAuth;
  } else if (last_command == "STARTTLS") {
    r.stage = SmtpStage::kTls;
  } else if (!last_reply.empty() || tls_started) {
    r.stage = SmtpStage::kGreeting;
  } else {
    r.stage = SmtpStage::kConnect;
  }
  // libcurl (7.84 and later) stops reading a server's replies once they add up to 300 KiB
  // (an endless EHLO reply, a line that never ends) and says so in words only: that is the
  // server misbehaving, not the network.
  if (absl::StrContains(curl_error, "Too large response headers")) {
    r.error_class = MailErrorClass::kProtocol;
    r.message = absl::StrCat(where, ": reply to ",
                             last_command.empty() ? "the connection" : last_command,
                             " too large (", curl_error, ")");
    return r;
  }
  switch (curl_code) {
    case CURLE_USE_SSL_FAILED:
      r.stage = SmtpStage::kTls;
      r.error_class = MailErrorClass::kTls;
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      r.stage = SmtpStage::kTls;
      r.error_class = MailErrorClass::kTls;
      break;
    case CURLE_LOGIN_DENIED:
      r.stage = SmtpStage::kAuth;
      r.error_class = MailErrorClass::kAuthentication;
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
      r.error_class = MailErrorClass::kNetwork;
      break;
    default:
      if (r.code >= 400) {
        r.error_class = r.stage == SmtpStage::kAuth ? MailErrorClass::kAuthentication
                        : (r.code == 421 || r.code == 450 || r.code == 451 || r.code == 452)
                            ? MailErrorClass::kThrottled
                            : MailErrorClass::kServer;
      } else if (curl_code == CURLE_SEND_ERROR || curl_code == CURLE_RECV_ERROR ||
                 curl_code == CURLE_GOT_NOTHING) {
        r.error_class = MailErrorClass::kNetwork;
      } else {
        r.error_class = MailErrorClass::kProtocol;
      }
  }
  const char* what = r.stage == SmtpStage::kMailFrom   ? "MAIL FROM"
                     : r.stage == SmtpStage::kRcptTo   ? "RCPT TO"
                     : r.stage == SmtpStage::kData     ? "DATA"
                     : r.stage == SmtpStage::kAuth     ? "AUTH"
                     : r.stage == SmtpStage::kTls      ? "TLS"
                     : r.stage == SmtpStage::kGreeting ? "greeting"
                                                       : "connect";
  if (r.code >= 400) {
    r.message = absl::StrCat(where, ": ", what, " refused: ", last_reply);
  } else {
    r.message = absl::StrCat(where, ": ", what, ": ", curl_error);
    if (!last_reply.empty() && r.stage != SmtpStage::kConnect) {
      absl::StrAppend(&r.message, " (last reply: ", last_reply, ")");
    }
  }
  return r;
}

namespace {

size_t Discard(char*, size_t size, size_t nitems, void*) { return size * nitems; }

// One conversation: with `envelope` and `message` a send; without them libcurl stops after the
// log-in (CURLOPT_CONNECT_ONLY) and hands the open connection to `connected` (a connection
// test), then quits.
SmtpResult Converse(const SmtpServer& server, const SmtpCredentials& credentials,
                    const SmtpEnvelope* envelope, const std::string* message,
                    Transcript& transcript,
                    const std::function<void(CURL*)>& connected = nullptr) {
  const int port = server.port > 0 ? server.port : DefaultPort(server.security);
  const std::string where = absl::StrCat("smtp ", server.host, ":", port);
  auto fail = [&](MailErrorClass c, const std::string& what) {
    SmtpResult r;
    r.error_class = c;
    r.message = absl::StrCat(where, ": ", what);
    return r;
  };
  if (server.host.empty()) return fail(MailErrorClass::kOther, "no server host configured");
  if (envelope != nullptr && envelope->mail_from.empty() && !envelope->null_reverse_path) {
    return fail(MailErrorClass::kOther, "no sender address (set the connector's primary_address)");
  }
  if (envelope != nullptr && envelope->rcpt_to.empty()) {
    return fail(MailErrorClass::kOther, "no recipient");
  }
  // libcurl puts these on command lines (AUTH, MAIL FROM, RCPT TO, EHLO) as given.
  std::vector<std::pair<std::string, const std::string*>> sent = {{"user", &credentials.user},
                                                                  {"secret", &credentials.secret},
                                                                  {"EHLO name", &server.helo_name}};
  if (envelope != nullptr) {
    if (!envelope->null_reverse_path) sent.push_back({"MAIL FROM", &envelope->mail_from});
    for (const std::string& to : envelope->rcpt_to) sent.push_back({"RCPT TO", &to});
  }
  for (const auto& [field, value] : sent) {
    if (absl::Status st = CheckSendable(field, *value); !st.ok()) {
      return fail(MailErrorClass::kOther, std::string(st.message()));
    }
  }
  GlobalInit();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return fail(MailErrorClass::kOther, "libcurl could not start a handle");

  Body body{message};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* rcpts = nullptr;
  std::string from;
  if (envelope != nullptr) {
    for (const std::string& to : envelope->rcpt_to) {
      rcpts = curl_slist_append(rcpts, absl::StrCat("<", to, ">").c_str());
    }
    // libcurl sends "<>" as the null reverse-path (its smtp_parse_address strips the brackets
    // and writes "<>" back for an empty address).
    from = envelope->null_reverse_path ? "<>" : absl::StrCat("<", envelope->mail_from, ">");
  }
  const std::string url =
      absl::StrCat(server.security == SmtpSecurity::kImplicitTls ? "smtps://" : "smtp://",
                   server.host, ":", port, "/", server.helo_name.empty() ? "" : server.helo_name);
  const long timeout_ms = static_cast<long>(absl::ToInt64Milliseconds(server.timeout));

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms * 4);
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, OnDebug);
  curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &transcript);
  if (server.security == SmtpSecurity::kStartTls) {
    curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  }
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!server.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, server.ca_file.c_str());
  switch (credentials.method) {
    case SmtpAuth::kNone:
      break;
    case SmtpAuth::kPassword:
      curl_easy_setopt(curl, CURLOPT_USERNAME, credentials.user.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, credentials.secret.c_str());
      break;
    case SmtpAuth::kXOAuth2:
      // The seam for OAuth2: the caller brings an access token (no token client in this build).
      curl_easy_setopt(curl, CURLOPT_USERNAME, credentials.user.c_str());
      curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, credentials.secret.c_str());
      curl_easy_setopt(curl, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
      break;
  }
  if (envelope != nullptr) {
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &body);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message->size()));
  } else {
    // libcurl's connect phase of SMTP is greeting, EHLO, STARTTLS and AUTH; it stops there.
    curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  }

  CURLcode rc = curl_easy_perform(curl);
  std::string curl_error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  if (rc == CURLE_OK && envelope == nullptr && connected) connected(curl);
  curl_slist_free_all(rcpts);
  curl_easy_cleanup(curl);
  std::string last_command = transcript.data_sent ? "DATA" : transcript.last_command;
  return ClassifySmtp(static_cast<int>(rc), curl_error, last_command, transcript.last_reply,
                      transcript.tls_started || server.security == SmtpSecurity::kImplicitTls,
                      where);
}

}  // namespace

SmtpResult SendSmtp(const SmtpServer& server, const SmtpCredentials& credentials,
                    const SmtpEnvelope& envelope, const std::string& message) {
  Transcript transcript;
  return Converse(server, credentials, &envelope, &message, transcript);
}

namespace {

// A command and its reply over the connection libcurl left open: libcurl has no MAIL FROM
// without DATA, so a connection test speaks its last steps itself. The reply is bounded by
// kSmtpMaxTestReplyBytes and `timeout`; libcurl's send and receive go through TLS when it is on.
struct RawReply {
  int code = 0;
  std::string text;   // "250 2.1.0 Ok"; the lines of a multi-line reply joined by a space.
  std::string error;  // Not answered: why (time-out, closed, too long).
};

bool CompleteReply(const std::string& in, std::string& text) {
  text.clear();
  size_t start = 0;
  while (start < in.size()) {
    const size_t end = in.find('\n', start);
    if (end == std::string::npos) return false;
    std::string line = in.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (text.empty()) {
      text = line;
    } else {
      absl::StrAppend(&text, " ", line.size() > 4 ? line.substr(4) : "");
    }
    if (line.size() < 4 || line[3] != '-') return true;
  }
  return false;
}

RawReply Exchange(CURL* curl, const std::string& command, absl::Duration timeout) {
  RawReply out;
  const absl::Time deadline = absl::Now() + timeout;
  curl_socket_t sock = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(curl, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK ||
      sock == CURL_SOCKET_BAD) {
    out.error = "the connection is closed";
    return out;
  }
  auto wait = [&](short events) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd p{sock, events, 0};
    return poll(&p, 1, static_cast<int>(ms)) > 0;
  };
  const std::string timed_out =
      absl::StrCat("no reply within ", absl::FormatDuration(timeout));
  for (size_t sent = 0; sent < command.size();) {
    size_t n = 0;
    CURLcode rc = curl_easy_send(curl, command.data() + sent, command.size() - sent, &n);
    if (rc == CURLE_AGAIN) {
      if (!wait(POLLOUT)) return out.error = timed_out, out;
      continue;
    }
    if (rc != CURLE_OK) return out.error = curl_easy_strerror(rc), out;
    sent += n;
  }
  std::string in;
  while (!CompleteReply(in, out.text)) {
    if (in.size() > kSmtpMaxTestReplyBytes) {
      out.error = absl::StrCat("reply longer than ", kSmtpMaxTestReplyBytes >> 10, " KiB");
      return out;
    }
    char buf[4096];
    size_t n = 0;
    CURLcode rc = curl_easy_recv(curl, buf, sizeof buf, &n);
    if (rc == CURLE_AGAIN) {
      if (!wait(POLLIN)) return out.error = timed_out, out;
      continue;
    }
    if (rc != CURLE_OK) return out.error = curl_easy_strerror(rc), out;
    if (n == 0) return out.error = "the server closed the connection", out;
    in.append(buf, n);
  }
  out.code = ReplyCode(out.text);
  return out;
}

// A reply line for a step's detail: the server's words, cut where a hostile server would go on.
std::string Shown(const std::string& reply) {
  return reply.size() > 300 ? absl::StrCat(reply.substr(0, 300), "...") : reply;
}

}  // namespace

ConnectionReport TestSmtpConnection(const SmtpServer& server, const SmtpCredentials& credentials,
                                    const std::string& address) {
  const int port = server.port > 0 ? server.port : DefaultPort(server.security);
  ConnectionReport report;
  const char* kEnvelopeSteps[] = {"mail_from", "rcpt_to"};
  auto skipped = [&](const char* name) {
    ConnectionStep step;
    step.name = name;
    step.skipped = true;
    report.steps.push_back(std::move(step));
  };
  {
    // DNS on its own first, so a wrong host name is told apart from a closed port.
    const absl::Time start = absl::Now();
    absl::StatusOr<std::vector<ResolvedAddress>> addrs = ResolveHost(server.host, port);
    ConnectionStep dns;
    dns.name = "dns";
    dns.duration = absl::Now() - start;
    dns.passed = addrs.ok();
    if (addrs.ok()) {
      std::vector<std::string> texts;
      for (const ResolvedAddress& a : *addrs) texts.push_back(a.text);
      dns.detail = absl::StrJoin(texts, ", ");
    } else {
      dns.detail = absl::StrCat("smtp ", server.host, ":", port, ": ", addrs.status().message());
      report.status = MailError(MailErrorClass::kNetwork, dns.detail);
    }
    report.steps.push_back(std::move(dns));
    if (!addrs.ok()) {
      for (const char* name : {"tcp", "greeting", "tls", "ehlo", "authentication"}) skipped(name);
      for (const char* name : kEnvelopeSteps) skipped(name);
      return report;
    }
  }
  const absl::Time start = absl::Now();
  Transcript t;
  std::vector<ConnectionStep> envelope_steps;
  absl::Status envelope_status;
  absl::Duration connect_took = absl::ZeroDuration();
  const std::string where = absl::StrCat("smtp ", server.host, ":", port);
  SmtpResult r = Converse(server, credentials, nullptr, nullptr, t, [&](CURL* curl) {
    connect_took = absl::Now() - start;
    // Both sides of the envelope are the connector's own address: the server checks that it may
    // send as it (MAIL FROM) and that the address is deliverable (RCPT TO). No DATA follows.
    bool failed = false;
    for (const char* name : kEnvelopeSteps) {
      ConnectionStep step;
      step.name = name;
      if (failed) {
        step.skipped = true;
        envelope_steps.push_back(std::move(step));
        continue;
      }
      const bool from = std::string(name) == "mail_from";
      const char* verb = from ? "MAIL FROM" : "RCPT TO";
      const absl::Time began = absl::Now();
      RawReply reply;
      if (absl::Status st = CheckSendable(verb, address); address.empty() || !st.ok()) {
        reply.error = address.empty() ? "no address to test with (set the connector's "
                                        "primary_address)"
                                      : std::string(st.message());
      } else {
        reply = Exchange(curl, absl::StrCat(verb, ":<", address, ">\r\n"), server.timeout);
      }
      step.duration = absl::Now() - began;
      step.passed = reply.error.empty() && reply.code >= 200 && reply.code < 300;
      if (step.passed) {
        step.detail = absl::StrCat("<", address, ">: ", Shown(reply.text));
      } else {
        failed = true;
        MailErrorClass c = !reply.error.empty()       ? MailErrorClass::kNetwork
                           : reply.code >= 400 && reply.code < 500 ? MailErrorClass::kThrottled
                                                                  : MailErrorClass::kServer;
        if (address.empty()) c = MailErrorClass::kOther;
        step.detail = reply.error.empty()
                          ? absl::StrCat(where, ": ", verb, " refused: ", Shown(reply.text))
                          : absl::StrCat(where, ": ", verb, ": ", reply.error);
        envelope_status = MailError(c, step.detail);
      }
      envelope_steps.push_back(std::move(step));
    }
    // Forget the envelope and say goodbye: libcurl closes a CONNECT_ONLY connection without QUIT.
    Exchange(curl, "RSET\r\n", server.timeout);
    Exchange(curl, "QUIT\r\n", server.timeout);
  });
  const absl::Duration took = r.ok ? connect_took : absl::Now() - start;
  const bool tls = server.security != SmtpSecurity::kNone;
  // A failure in libcurl's part with EHLO the last command is the EHLO step's.
  const bool at_ehlo = !r.ok && r.stage == SmtpStage::kGreeting &&
                       (t.last_command == "EHLO" || t.last_command == "HELO");
  // The steps in wire order; the one the conversation failed at fails, later ones are skipped.
  struct Plan {
    const char* name;
    SmtpStage stage;
    bool applies;
    std::string detail;
  };
  std::vector<Plan> plan = {
      {"tcp", SmtpStage::kConnect, true, absl::StrCat(server.host, ":", port)},
      {"greeting", at_ehlo ? SmtpStage::kDone : SmtpStage::kGreeting, true, Shown(t.greeting)},
      {"ehlo", at_ehlo ? SmtpStage::kGreeting : SmtpStage::kDone, true, Shown(t.ehlo_reply)},
      {"tls", SmtpStage::kTls, tls,
       server.security == SmtpSecurity::kStartTls ? "STARTTLS, certificate verified"
                                                  : "implicit TLS, certificate verified"},
      {"authentication", SmtpStage::kAuth, credentials.method != SmtpAuth::kNone,
       t.auth_reply.empty() ? "the server offers no AUTH: mail is sent without logging in"
                            : Shown(t.auth_reply)},
  };
  // On the wire: STARTTLS after the first EHLO; implicit TLS before the greeting.
  if (server.security == SmtpSecurity::kImplicitTls) {
    std::rotate(plan.begin() + 1, plan.begin() + 3, plan.begin() + 4);
  }
  bool failed = false;
  for (const Plan& p : plan) {
    ConnectionStep step;
    step.name = p.name;
    if (!p.applies || failed) {
      step.skipped = true;
    } else if (!r.ok && (p.stage == r.stage ||
                         (p.stage == SmtpStage::kAuth && r.stage > SmtpStage::kAuth))) {
      step.detail = r.message;
      failed = true;
    } else {
      step.passed = true;
      step.detail = p.detail;
    }
    report.steps.push_back(std::move(step));
  }
  // libcurl runs the steps as one conversation: its whole time goes on the last step that ran.
  for (auto it = report.steps.rbegin(); it != report.steps.rend(); ++it) {
    if (!it->skipped) {
      it->duration = took;
      break;
    }
  }
  if (r.ok) {
    for (ConnectionStep& step : envelope_steps) report.steps.push_back(std::move(step));
    report.status = envelope_status;
    return report;
  }
  for (const char* name : kEnvelopeSteps) skipped(name);
  if (!r.ok) {
    if (!failed) {  // A stage the plan has no step for: name it on the last step that ran.
      for (auto it = report.steps.rbegin(); it != report.steps.rend(); ++it) {
        if (it->skipped) continue;
        it->passed = false;
        it->detail = r.message;
        break;
      }
    }
    report.status = MailError(
        r.error_class == MailErrorClass::kNone ? MailErrorClass::kOther : r.error_class, r.message);
  }
  return report;
}

}  // namespace postroom::mail
