#include "services/fetcher/mail_adapters.h"

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/connector/defaults.h"
#include "libs/mail/mail_error.h"

namespace postroom::fetcher {
namespace {

class LibImapSession : public ImapSession {
 public:
  LibImapSession(std::unique_ptr<mail::ImapClient> c, mail::FetchOptions fetch,
                 std::atomic<uint64_t>* commands)
      : c_(std::move(c)), fetch_(fetch), commands_(commands) {}
  ~LibImapSession() override { Close(); }

  absl::StatusOr<FolderStatus> Open(const std::string& folder, bool read_only) override {
    absl::StatusOr<mail::ImapMailbox> box = read_only ? c_->Examine(folder) : c_->Select(folder);
    if (!box.ok()) return box.status();
    seen_events_ = c_->new_mail_events();
    return FolderStatus{box->uid_validity, box->uid_next, box->exists};
  }
  absl::StatusOr<std::vector<uint32_t>> UidsAfter(uint32_t last_uid) override {
    seen_events_ = c_->new_mail_events();
    return c_->UidsAfter(last_uid);
  }
  absl::StatusOr<std::vector<uint32_t>> UidsSince(absl::CivilDay day) override {
    seen_events_ = c_->new_mail_events();
    return c_->UidsSince(day);
  }
  absl::StatusOr<std::vector<SizedUid>> Sizes(const std::vector<uint32_t>& uids) override {
    POSTROOM_ASSIGN_OR_RETURN(std::vector<mail::MessageSize> sizes, c_->UidFetchSizes(uids));
    std::vector<SizedUid> out;
    out.reserve(sizes.size());
    for (const auto& s : sizes) out.push_back({s.uid, s.size});
    return out;
  }
  absl::Status Fetch(const std::vector<uint32_t>& uids, const ImapMessageSink& sink) override {
    if (uids.empty()) return absl::OkStatus();
    return c_->UidFetchMessages(
        uids, fetch_, [&](const mail::FetchedMessage& m) { return sink(m.uid, m.size, m.bytes); });
  }
  absl::Status FetchHead(const std::vector<uint32_t>& uids, uint64_t max_bytes,
                         const ImapMessageSink& sink) override {
    if (uids.empty()) return absl::OkStatus();
    mail::FetchOptions head = fetch_;
    head.max_bytes = max_bytes;
    return c_->UidFetchMessages(
        uids, head, [&](const mail::FetchedMessage& m) { return sink(m.uid, m.size, m.bytes); });
  }
  absl::Status MarkRead(const std::vector<uint32_t>& uids) override {
    return c_->UidStoreFlags(uids, {"\\Seen"});
  }
  absl::Status Move(const std::vector<uint32_t>& uids, const std::string& folder) override {
    if (absl::Status st = c_->Create(folder); !st.ok()) return st;
    return c_->UidMove(uids, folder);
  }
  absl::Status Delete(const std::vector<uint32_t>& uids) override {
    POSTROOM_RETURN_IF_ERROR(c_->UidStoreFlags(uids, {"\\Deleted"}));
    // With UIDPLUS, UID EXPUNGE removes exactly these. Without it, EXPUNGE also removes what
    // anyone else flagged \Deleted in this folder: a shared mailbox whose users flag mail for
    // later removal loses it now rather than at their next expunge. Leaving our messages
    // flagged instead would keep them forever on servers that never expunge by themselves;
    // the connector's processed action "delete" asks for them to go, so they go.
    return c_->UidExpunge(uids);
  }
  void Close() override {
    if (c_ != nullptr) {
      (void)c_->Logout();
      if (commands_ != nullptr) *commands_ += c_->commands_sent();
      c_.reset();
    }
  }
  bool CanIdle() const override { return c_ != nullptr && c_->HasCapability("IDLE"); }
  absl::StatusOr<bool> WaitForNewMail(absl::Duration max_wait,
                                      const std::function<bool()>& stop) override {
    // Reported during the fetch or the processed action, after the search that the poll
    // trusted: the poll has not seen that mail.
    if (c_->new_mail_events() != seen_events_) return true;
    const absl::Time end = absl::Now() + max_wait;
    mail::IdleOptions o;
    o.stop = stop;
    for (;;) {
      o.max_wait = end - absl::Now();
      if (o.max_wait <= absl::ZeroDuration()) return false;
      POSTROOM_ASSIGN_OR_RETURN(mail::IdleResult r, c_->Idle(o));
      if (r.new_mail) return true;
      if (r.stopped || !r.changed) return false;
      // Only expunges (someone else's, or our own processed action): keep waiting.
    }
  }

 private:
  std::unique_ptr<mail::ImapClient> c_;
  mail::FetchOptions fetch_;
  std::atomic<uint64_t>* commands_;
  uint64_t seen_events_ = 0;
};

class LibPop3Session : public Pop3Session {
 public:
  explicit LibPop3Session(std::unique_ptr<mail::Pop3Client> c) : c_(std::move(c)) {}
  ~LibPop3Session() override {
    // Leaving without QUIT keeps DELE marks from applying: only Close() commits them.
  }
  absl::StatusOr<std::vector<Pop3Entry>> List() override {
    POSTROOM_ASSIGN_OR_RETURN(std::vector<mail::Pop3UidlEntry> uidl, c_->Uidl());
    POSTROOM_ASSIGN_OR_RETURN(std::vector<mail::Pop3ListEntry> list, c_->List());
    std::vector<Pop3Entry> out;
    for (const auto& u : uidl) {
      Pop3Entry e{u.number, u.uid, 0};
      for (const auto& l : list) {
        if (l.number == u.number) e.size = l.size;
      }
      out.push_back(std::move(e));
    }
    return out;
  }
  absl::StatusOr<std::string> Retrieve(uint32_t number) override { return c_->RetrMessage(number); }
  absl::StatusOr<std::string> RetrieveHead(uint32_t number) override { return c_->Top(number, 0); }
  absl::Status Delete(uint32_t number) override { return c_->Dele(number); }
  absl::Status Close() override { return c_->Quit(); }

 private:
  std::unique_ptr<mail::Pop3Client> c_;
};

}  // namespace

mail::ServerOptions ServerOptionsFor(const v1::Connector& c, absl::Duration timeout) {
  mail::ServerOptions o;
  o.host = c.server().host();
  switch (c.server().tls()) {
    case v1::TLS_MODE_NONE:
      o.security = mail::Security::kPlain;
      break;
    case v1::TLS_MODE_STARTTLS:
      o.security = mail::Security::kStartTls;
      break;
    default:
      o.security = mail::Security::kImplicitTls;
      break;
  }
  const bool implicit = o.security == mail::Security::kImplicitTls;
  o.port = static_cast<int>(c.server().port());
  if (o.port == 0) {
    o.port = c.protocol() == v1::PROTOCOL_POP3 ? (implicit ? 995 : 110) : (implicit ? 993 : 143);
  }
  o.tls.ca_file = c.server().ca_file();
  o.timeout = timeout;
  // Bounds what one server response may make the client hold (max_message_bytes + 1 MiB): a
  // server that never stops fails the poll as protocol instead of growing the fetcher. A spec
  // without the setting gets the connector default (25 MiB), never the mail library's own.
  o.max_message_bytes = c.settings().max_message_bytes() > 0
                            ? c.settings().max_message_bytes()
                            : connector::kDefaults.max_message_bytes;
  return o;
}

absl::StatusOr<mail::Credentials> CredentialsFor(const v1::Connector& c, mail::OAuthTokens* oauth) {
  if (c.auth().method() == v1::AUTH_METHOD_OAUTH2) {
    if (oauth == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("connector \"", c.name(), "\": OAuth2 needs the token client"));
    }
    POSTROOM_ASSIGN_OR_RETURN(std::string token, oauth->For(c)->AccessToken(false));
    return mail::Credentials{
        c.auth().username().empty() ? c.primary_address() : c.auth().username(), std::move(token),
        mail::AuthMechanism::kXOAuth2};
  }
  return mail::Credentials{c.auth().username(), c.auth().password(), mail::AuthMechanism::kLogin};
}

absl::StatusOr<std::unique_ptr<ImapSession>> LibMailConnector::OpenImap(const v1::Connector& c) {
  absl::Duration timeout = c.settings().timeout_ms() > 0
                               ? absl::Milliseconds(c.settings().timeout_ms())
                               : absl::Seconds(30);
  POSTROOM_ASSIGN_OR_RETURN(mail::Credentials creds, CredentialsFor(c, oauth_));
  POSTROOM_ASSIGN_OR_RETURN(std::unique_ptr<mail::ImapClient> client,
                            mail::ImapClient::Connect(ServerOptionsFor(c, timeout)));
  if (!client->authenticated()) POSTROOM_RETURN_IF_ERROR(client->Authenticate(creds));
  return std::unique_ptr<ImapSession>(
      new LibImapSession(std::move(client), fetch_, &imap_commands_));
}

absl::StatusOr<std::unique_ptr<Pop3Session>> LibMailConnector::OpenPop3(const v1::Connector& c) {
  absl::Duration timeout = c.settings().timeout_ms() > 0
                               ? absl::Milliseconds(c.settings().timeout_ms())
                               : absl::Seconds(30);
  POSTROOM_ASSIGN_OR_RETURN(mail::Credentials creds, CredentialsFor(c, oauth_));
  POSTROOM_ASSIGN_OR_RETURN(std::unique_ptr<mail::Pop3Client> client,
                            mail::Pop3Client::Connect(ServerOptionsFor(c, timeout)));
  POSTROOM_RETURN_IF_ERROR(client->Authenticate(creds));
  return std::unique_ptr<Pop3Session>(new LibPop3Session(std::move(client)));
}

}  // namespace postroom::fetcher
