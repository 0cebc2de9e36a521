#include "libs/mail/graph_connector.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/mail/mail_error.h"

namespace postroom::mail {

OAuthConfig OAuthConfigFor(const v1::Connector& c) {
  OAuthConfig o;
  o.token_endpoint = c.auth().token_endpoint();
  o.tenant_id = c.auth().tenant_id();
  o.client_id = c.auth().client_id();
  o.client_secret = c.auth().client_secret();
  o.scope = c.auth().scope();
  o.refresh_token = c.auth().refresh_token();
  return WithMicrosoftDefaults(std::move(o));
}

GraphOptions GraphOptionsFor(const v1::Connector& c) {
  GraphOptions o;
  const v1::ServerSettings& s = c.server();
  if (!s.host().empty()) {
    const bool plain = s.tls() == v1::TLS_MODE_NONE;
    const bool default_port = s.port() == 0 || (plain ? s.port() == 80 : s.port() == 443);
    o.base_url = absl::StrCat(plain ? "http://" : "https://", s.host(),
                              default_port ? "" : absl::StrCat(":", s.port()), "/v1.0");
  }
  o.mailbox = c.shared_mailbox().empty() ? c.primary_address() : c.shared_mailbox();
  if (c.settings().max_message_bytes() > 0) o.max_message_bytes = c.settings().max_message_bytes();
  return o;
}

CurlOptions CurlOptionsFor(const v1::Connector& c) {
  CurlOptions o;
  if (c.settings().timeout_ms() > 0) o.timeout = absl::Milliseconds(c.settings().timeout_ms());
  o.ca_file = c.server().ca_file();
  return o;
}

std::string GraphFolderName(const std::string& folder) {
  if (folder.empty() || absl::EqualsIgnoreCase(folder, "INBOX")) return "inbox";
  return folder;
}

ConnectionReport TestGraphConnection(const v1::Connector& c, const RefreshTokenSink& persist) {
  ConnectionReport report;
  Clock& clock = RealClock();
  auto step = [&](const std::string& name, auto fn) {
    ConnectionStep s;
    s.name = name;
    absl::Time start = clock.Now();
    absl::Status st = fn(s.detail);
    s.duration = clock.Now() - start;
    s.passed = st.ok();
    if (!st.ok()) {
      s.detail = std::string(st.message());
      report.status = st;
    }
    report.steps.push_back(std::move(s));
    return st.ok();
  };
  auto skip = [&](const std::string& name) {
    ConnectionStep s;
    s.name = name;
    s.skipped = true;
    report.steps.push_back(std::move(s));
  };
  std::unique_ptr<HttpClient> http = NewCurlHttpClient(CurlOptionsFor(c));
  OAuthTokenClient tokens(OAuthConfigFor(c), http.get(), &clock, persist);
  const std::string folder =
      GraphFolderName(c.folders_size() > 0 ? c.folders(0).folder() : std::string("inbox"));
  GraphOptions options = GraphOptionsFor(c);
  options.max_throttle_retries = 1;
  GraphClient graph(options, http.get(), &tokens);
  GraphFolder found;
  const bool send_only = c.direction() == v1::DIRECTION_OUTGOING;
  if (!step("authentication", [&](std::string& detail) -> absl::Status {
        absl::StatusOr<std::string> t = tokens.AccessToken(false);
        if (!t.ok()) return t.status();
        detail = absl::StrCat(
            "access token from ", tokens.token_endpoint(), ", valid for ",
            absl::FormatDuration(absl::Trunc(tokens.expires_at() - clock.Now(), absl::Seconds(1))));
        return absl::OkStatus();
      })) {
    if (send_only) {
      skip("mailbox");
      return report;
    }
    skip("folder");
    skip("message_count");
    return report;
  }
  if (send_only) {
    // A sending connector reads no folder of its own; Sent Items is where sendMail keeps its
    // copy, so reading it shows the mailbox exists and the app may reach it.
    step("mailbox", [&](std::string& detail) -> absl::Status {
      absl::StatusOr<GraphFolder> f = graph.GetFolder("sentitems");
      if (!f.ok()) return f.status();
      detail = absl::StrCat("mailbox ", options.mailbox, " readable: \"", f->display_name,
                            "\" holds ", f->total_items, " messages");
      return absl::OkStatus();
    });
    return report;
  }
  if (!step("folder", [&](std::string& detail) -> absl::Status {
        absl::StatusOr<GraphFolder> f = graph.GetFolder(folder);
        if (!f.ok()) return f.status();
        found = *f;
        detail = absl::StrCat("mailbox ", options.mailbox, " folder \"", f->display_name, "\" (",
                              folder, ")");
        return absl::OkStatus();
      })) {
    skip("message_count");
    return report;
  }
  step("message_count", [&](std::string& detail) {
    detail = absl::StrCat(found.total_items, " messages, ", found.unread_items, " unread");
    return absl::OkStatus();
  });
  return report;
}

}  // namespace postroom::mail
