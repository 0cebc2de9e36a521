#include "libs/mail/smtp_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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

// One conversation: with `envelope` and `message` a send, without them NOOP after the log-in
// (a connection test).
SmtpResult Converse(const SmtpServer& server, const SmtpCredentials& credentials,
                    const SmtpEnvelope* envelope, const std::string* message,
                    Transcript& transcript) {
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
    // Without recipients libcurl sends the custom command after the log-in.
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "NOOP");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  }

  CURLcode rc = curl_easy_perform(curl);
  std::string curl_error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
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

ConnectionReport TestSmtpConnection(const SmtpServer& server, const SmtpCredentials& credentials) {
  const absl::Time start = absl::Now();
  Transcript t;
  SmtpResult r = Converse(server, credentials, nullptr, nullptr, t);
  const absl::Duration took = absl::Now() - start;
  const int port = server.port > 0 ? server.port : DefaultPort(server.security);
  const bool tls = server.security != SmtpSecurity::kNone;
  // The steps in wire order; the one the conversation failed at fails, later ones are skipped.
  struct Plan {
    const char* name;
    SmtpStage stage;
    bool applies;
    std::string detail;
  };
  std::vector<Plan> plan = {
      {"tcp", SmtpStage::kConnect, true, absl::StrCat(server.host, ":", port)},
      {"greeting", SmtpStage::kGreeting, true, t.greeting},
      {"tls", SmtpStage::kTls, tls,
       server.security == SmtpSecurity::kStartTls ? "STARTTLS, certificate verified"
                                                  : "implicit TLS, certificate verified"},
      {"authentication", SmtpStage::kAuth, credentials.method != SmtpAuth::kNone,
       t.auth_reply.empty() ? "the server offers no AUTH: mail is sent without logging in"
                            : t.auth_reply},
  };
  if (server.security == SmtpSecurity::kImplicitTls) std::swap(plan[1], plan[2]);
  ConnectionReport report;
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
