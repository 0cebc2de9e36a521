#include "services/sender/smtp_transport.h"

#include <memory>

#include "absl/strings/str_cat.h"

#include "libs/mail/graph_client.h"
#include "libs/mail/graph_connector.h"
#include "libs/mail/http_client.h"
#include "libs/mail/mail_error.h"
#include "libs/mail/smtp_connector.h"

namespace postroom::sender {
namespace {

mail::SmtpResult NotSent(const absl::Status& st) {
  mail::SmtpResult r;
  // No token (the endpoint refused or is away) is the token's class; anything else is the
  // connector's configuration (the core counts kOther so).
  mail::MailErrorClass c = mail::ClassifyMailError(st);
  r.error_class = c == mail::MailErrorClass::kNone ? mail::MailErrorClass::kOther : c;
  r.message = std::string(st.message());
  return r;
}

}  // namespace

mail::SmtpResult ConnectorTransport::Send(const v1::Connector& c,
                                          const mail::OutgoingEmail& email,
                                          const std::string& raw) {
  if (c.protocol() == v1::PROTOCOL_GRAPH) return SendGraph(c, email, raw);
  return SendSmtp(c, email, raw);
}

namespace {

mail::GraphMessage GraphMessageOf(const mail::OutgoingEmail& e) {
  mail::GraphMessage m;
  m.from = e.from;
  m.from_name = e.from_name;
  m.to = e.to;
  m.cc = e.cc;
  m.reply_to = e.reply_to;
  m.subject = e.subject;
  m.body_text = e.body_text;
  m.body_html = e.body_html;
  m.headers = e.headers;
  // A reply's files: small ones inline, larger ones through an upload session (SendJson
  // decides by size); none is inline-referenced by cid, so no content id.
  m.attachments.reserve(e.attachments.size());
  for (const mail::OutgoingAttachment& a : e.attachments) {
    m.attachments.push_back(
        {.name = a.filename, .content_type = a.content_type, .bytes = a.content});
  }
  return m;
}

}  // namespace

mail::SmtpResult ConnectorTransport::SendGraph(const v1::Connector& c,
                                               const mail::OutgoingEmail& email,
                                               const std::string& raw) {
  if (oauth_ == nullptr) {
    return NotSent(absl::FailedPreconditionError(
        absl::StrCat("connector \"", c.name(), "\": Graph needs an OAuth2 token source")));
  }
  std::shared_ptr<mail::AccessTokenSource> tokens = oauth_->For(c);
  std::unique_ptr<mail::HttpClient> http = mail::NewCurlHttpClient(mail::CurlOptionsFor(c));
  mail::GraphClient graph(mail::GraphOptionsFor(c), http.get(), tokens.get());
  // MIME keeps every header as rendered; only the JSON resource can skip the Sent Items copy,
  // and only the JSON path (a draft with upload sessions) can carry more than one request.
  const bool save = !c.settings().has_save_to_sent_items() || c.settings().save_to_sent_items();
  const bool mime = save && raw.size() <= mail::kGraphMaxSendMimeBytes;
  absl::Status st = mime ? graph.SendMime(raw) : graph.SendJson(GraphMessageOf(email), save);
  mail::SmtpResult r;
  if (mail::GraphMessageTooLarge(st)) {
    // The message's own fault, like a 554 after DATA: failed, not retried, the connector fine.
    r.stage = mail::SmtpStage::kData;
    r.code = 554;
    r.error_class = mail::MailErrorClass::kServer;
    r.message = std::string(st.message());
    return r;
  }
  if (st.ok()) {
    r.ok = true;
    r.stage = mail::SmtpStage::kDone;
    r.code = 202;
    r.message = "graph sendMail: 202 Accepted";
    return r;
  }
  r = NotSent(st);
  // Graph's HTTP status in the SMTP terms the retry policy reads: a refused message (4xx but
  // throttling and auth) is the message's own failure, like a 5xx after DATA.
  const int status = mail::GraphHttpStatus(st);
  r.stage = r.error_class == mail::MailErrorClass::kAuthentication ? mail::SmtpStage::kAuth
            : status != 0                                           ? mail::SmtpStage::kData
                                                                    : mail::SmtpStage::kConnect;
  if (status == 400 || status == 404 || status == 413) r.code = 554;
  return r;
}

mail::SmtpResult ConnectorTransport::SendSmtp(const v1::Connector& c,
                                              const mail::OutgoingEmail& email,
                                              const std::string& raw) {
  std::shared_ptr<mail::AccessTokenSource> tokens;
  if (c.auth().method() == v1::AUTH_METHOD_OAUTH2 && oauth_ != nullptr) tokens = oauth_->For(c);
  mail::SmtpEnvelope envelope{.mail_from = email.from,
                              .rcpt_to = {email.to},
                              .null_reverse_path = email.null_envelope_sender};
  envelope.rcpt_to.insert(envelope.rcpt_to.end(), email.cc.begin(), email.cc.end());
  absl::StatusOr<mail::SmtpCredentials> cr = mail::SmtpCredentialsFor(c, tokens.get());
  if (!cr.ok()) return NotSent(cr.status());
  mail::SmtpResult r = mail::SendSmtp(mail::SmtpServerFor(c), *cr, envelope, raw);
  if (!r.ok && r.error_class == mail::MailErrorClass::kAuthentication &&
      cr->method == mail::SmtpAuth::kXOAuth2) {
    // The cached token was revoked or expired early: one new token, one more try.
    cr = mail::SmtpCredentialsFor(c, tokens.get(), /*force_refresh=*/true);
    if (!cr.ok()) return NotSent(cr.status());
    r = mail::SendSmtp(mail::SmtpServerFor(c), *cr, envelope, raw);
  }
  return r;
}

}  // namespace postroom::sender
