#include "libs/mail/connection_check.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/mail/imap_client.h"
#include "libs/mail/pop3_client.h"
#include "libs/mail/transport.h"

namespace postroom::mail {
namespace {

constexpr const char* kAllSteps[] = {"dns",    "tcp",          "tls", "greeting", "authentication",
                                     "folder", "message_count"};

class Runner {
 public:
  explicit Runner(const ConnectionTestRequest& req)
      : req_(req), clock_(req.server.clock != nullptr ? req.server.clock : &RealClock()) {}

  // Runs `fn` as step `name`; fn returns OK and sets detail, or an error.
  template <typename Fn>
  bool Step(const std::string& name, Fn fn) {
    ConnectionStep s;
    s.name = name;
    absl::Time start = clock_->Now();
    absl::Status st = fn(s.detail);
    s.duration = clock_->Now() - start;
    s.passed = st.ok();
    if (!st.ok()) {
      s.detail = std::string(st.message());
      report_.status = st;
    }
    report_.steps.push_back(std::move(s));
    return st.ok();
  }
  void Skip(const std::string& name, const std::string& why) {
    ConnectionStep s;
    s.name = name;
    s.skipped = true;
    s.detail = why;
    report_.steps.push_back(std::move(s));
  }
  // After a failure: list the steps that did not run.
  ConnectionReport Finish() {
    for (const char* name : kAllSteps) {
      bool seen = false;
      for (const ConnectionStep& s : report_.steps) seen = seen || s.name == name;
      if (!seen) Skip(name, "not run: an earlier step failed");
    }
    return std::move(report_);
  }
  absl::Time Deadline() const { return clock_->Now() + req_.server.timeout; }

 private:
  const ConnectionTestRequest& req_;
  Clock* clock_;
  ConnectionReport report_;
};

template <typename Client>
ConnectionReport RunSteps(const ConnectionTestRequest& req) {
  Runner run(req);
  const ServerOptions& o = req.server;
  std::vector<ResolvedAddress> addrs;
  if (!run.Step("dns", [&](std::string& detail) {
        absl::StatusOr<std::vector<ResolvedAddress>> a = ResolveHost(o.host, o.port);
        if (!a.ok()) return a.status();
        addrs = *std::move(a);
        std::vector<std::string> texts;
        for (const ResolvedAddress& r : addrs) texts.push_back(r.text);
        detail = absl::StrCat(o.host, " -> ", absl::StrJoin(texts, ", "));
        return absl::OkStatus();
      })) {
    return run.Finish();
  }
  std::unique_ptr<Transport> transport;
  if (!run.Step("tcp", [&](std::string& detail) {
        absl::StatusOr<std::unique_ptr<Transport>> t = ConnectTcp(addrs, o.host, run.Deadline());
        if (!t.ok()) return t.status();
        transport = *std::move(t);
        detail = absl::StrCat("connected to ", o.host, ":", o.port);
        return absl::OkStatus();
      })) {
    return run.Finish();
  }
  Transport* raw = transport.get();
  auto tls_step = [&](std::string& detail) {
    detail = raw->TlsDescription();
    return absl::OkStatus();
  };
  if (o.security == Security::kImplicitTls) {
    if (!run.Step("tls", [&](std::string& detail) {
          absl::Status st = raw->StartTls(o.tls, run.Deadline());
          if (!st.ok()) return st;
          return tls_step(detail);
        })) {
      return run.Finish();
    }
  }
  ServerOptions plain = o;
  plain.security = Security::kPlain;  // TLS is done above or below, step by step
  std::unique_ptr<Client> client;
  if (!run.Step("greeting", [&](std::string& detail) {
        absl::StatusOr<std::unique_ptr<Client>> c = Client::Start(std::move(transport), plain);
        if (!c.ok()) return c.status();
        client = *std::move(c);
        detail = client->greeting();
        return absl::OkStatus();
      })) {
    return run.Finish();
  }
  if (o.security == Security::kStartTls) {
    if (!run.Step("tls", [&](std::string& detail) {
          absl::Status st = client->StartTls();
          if (!st.ok()) return st;
          return tls_step(detail);
        })) {
      return run.Finish();
    }
  } else if (o.security == Security::kPlain) {
    run.Skip("tls", "plain connection: TLS not configured");
  }
  if (!run.Step("authentication", [&](std::string& detail) {
        absl::Status st = client->Authenticate(req.credentials);
        if (!st.ok()) return st;
        detail = absl::StrCat("logged in as \"", req.credentials.user, "\"");
        return absl::OkStatus();
      })) {
    return run.Finish();
  }
  if constexpr (std::is_same_v<Client, ImapClient>) {
    ImapMailbox box;
    if (!run.Step("folder", [&](std::string& detail) {
          absl::StatusOr<ImapMailbox> b = client->Examine(req.folder);
          if (!b.ok()) return b.status();
          box = *b;
          detail = absl::StrCat("\"", req.folder, "\" UIDVALIDITY ", box.uid_validity, " UIDNEXT ",
                                box.uid_next);
          return absl::OkStatus();
        })) {
      return run.Finish();
    }
    run.Step("message_count", [&](std::string& detail) {
      detail = absl::StrCat(box.exists, " messages");
      return absl::OkStatus();
    });
    (void)client->Logout();
  } else {
    run.Skip("folder", "POP3 has only the inbox");
    run.Step("message_count", [&](std::string& detail) {
      absl::StatusOr<Pop3Stat> s = client->Stat();
      if (!s.ok()) return s.status();
      detail = absl::StrCat(s->count, " messages, ", s->size, " bytes");
      return absl::OkStatus();
    });
    (void)client->Quit();
  }
  return run.Finish();
}

}  // namespace

ConnectionReport TestMailConnection(const ConnectionTestRequest& request) {
  if (request.protocol == MailProtocol::kPop3) return RunSteps<Pop3Client>(request);
  return RunSteps<ImapClient>(request);
}

}  // namespace postroom::mail
