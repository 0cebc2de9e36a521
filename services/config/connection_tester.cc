#include "services/config/connection_tester.h"

#include "absl/strings/str_cat.h"
#include "libs/mail/connection_check.h"
#include "libs/mail/graph_connector.h"
#include "libs/mail/oauth_token_client.h"
#include "libs/mail/smtp_connector.h"

namespace postroom::config {
namespace {

// libs/mail names two steps differently from the API (ConnectionTestStep.name).
std::string ApiStepName(const std::string& step) {
  if (step == "authentication") return "auth";
  if (step == "message_count") return "count";
  return step;
}

// No access token: the test stops at the auth step with the token endpoint's answer.
v1::TestConnectorResponse FailedAtAuth(const absl::Status& st) {
  v1::TestConnectorResponse out;
  v1::ConnectionTestStep* step = out.add_steps();
  step->set_name("auth");
  step->set_detail(std::string(st.message()));
  out.set_failed_step("auth");
  return out;
}

}  // namespace

absl::StatusOr<v1::TestConnectorResponse> MailConnectionTester::Test(const v1::Connector& c) {
  const bool oauth2 = c.auth().method() == v1::AUTH_METHOD_OAUTH2;
  if (c.protocol() == v1::PROTOCOL_SMTP) {
    // XOAUTH2 (the Office 365 preset): the token comes first, as for IMAP below.
    std::unique_ptr<mail::HttpClient> http;
    std::unique_ptr<mail::OAuthTokenClient> tokens;
    if (oauth2) {
      http = mail::NewCurlHttpClient(mail::CurlOptionsFor(c));
      tokens = std::make_unique<mail::OAuthTokenClient>(mail::OAuthConfigFor(c), http.get(),
                                                        &RealClock(), Persist(c));
    }
    absl::StatusOr<mail::SmtpCredentials> credentials = mail::SmtpCredentialsFor(c, tokens.get());
    if (!credentials.ok()) {
      if (oauth2) return FailedAtAuth(credentials.status());
      return credentials.status();
    }
    return ToResponse(
        mail::TestSmtpConnection(mail::SmtpServerFor(c), *credentials, c.primary_address()));
  }
  mail::ConnectionTestRequest req;
  switch (c.protocol()) {
    case v1::PROTOCOL_IMAP:
      req.protocol = mail::MailProtocol::kImap;
      break;
    case v1::PROTOCOL_POP3:
      req.protocol = mail::MailProtocol::kPop3;
      break;
    case v1::PROTOCOL_GRAPH:
      return ToResponse(mail::TestGraphConnection(c, Persist(c)));
    default:
      return absl::FailedPreconditionError(absl::StrCat(
          "connector \"", c.name(), "\": connection tests exist for IMAP, POP3, Graph and SMTP"));
  }
  req.server.host = c.server().host();
  switch (c.server().tls()) {
    case v1::TLS_MODE_NONE:
      req.server.security = mail::Security::kPlain;
      break;
    case v1::TLS_MODE_STARTTLS:
      req.server.security = mail::Security::kStartTls;
      break;
    default:
      req.server.security = mail::Security::kImplicitTls;
      break;
  }
  const bool implicit = req.server.security == mail::Security::kImplicitTls;
  req.server.port = static_cast<int>(c.server().port());
  if (req.server.port == 0) {
    req.server.port =
        req.protocol == mail::MailProtocol::kPop3 ? (implicit ? 995 : 110) : (implicit ? 993 : 143);
  }
  req.server.tls.ca_file = c.server().ca_file();
  if (c.settings().timeout_ms() > 0) {
    req.server.timeout = absl::Milliseconds(c.settings().timeout_ms());
  }
  req.credentials = {c.auth().username(), c.auth().password(), mail::AuthMechanism::kLogin};
  if (c.folders_size() > 0 && !c.folders(0).folder().empty()) req.folder = c.folders(0).folder();
  if (oauth2) {
    // The token comes first: without one there is nothing to authenticate with.
    std::unique_ptr<mail::HttpClient> http = mail::NewCurlHttpClient(mail::CurlOptionsFor(c));
    mail::OAuthTokenClient tokens(mail::OAuthConfigFor(c), http.get(), &RealClock(), Persist(c));
    absl::StatusOr<std::string> token = tokens.AccessToken(false);
    if (!token.ok()) return FailedAtAuth(token.status());
    req.credentials = {c.auth().username().empty() ? c.primary_address() : c.auth().username(),
                       *token, mail::AuthMechanism::kXOAuth2};
  }
  return ToResponse(mail::TestMailConnection(req));
}

mail::RefreshTokenSink MailConnectionTester::Persist(const v1::Connector& c) {
  if (!persist_) return nullptr;
  return [this, name = c.name()](const std::string& rt) { return persist_(name, rt); };
}

v1::TestConnectorResponse MailConnectionTester::ToResponse(const mail::ConnectionReport& report) {
  v1::TestConnectorResponse out;
  out.set_passed(report.ok());
  for (const mail::ConnectionStep& s : report.steps) {
    if (s.skipped) continue;
    v1::ConnectionTestStep* step = out.add_steps();
    step->set_name(ApiStepName(s.name));
    step->set_passed(s.passed);
    step->set_detail(s.detail);
    step->set_duration_ms(absl::ToInt64Milliseconds(s.duration));
    if (!s.passed && out.failed_step().empty()) out.set_failed_step(step->name());
  }
  return out;
}

}  // namespace postroom::config
