#include "services/fetcher/tests/fakes.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "libs/mail/mail_error.h"

namespace postroom::fetcher::testing {
namespace {

class FakeImapSession : public ImapSession {
 public:
  explicit FakeImapSession(FakeMailbox& box) : box_(box) {}
  absl::StatusOr<FolderStatus> Open(const std::string& folder, bool) override {
    if (box_.on_open) box_.on_open(folder);
    auto it = box_.folders.find(folder);
    if (it == box_.folders.end()) {
      return mail::MailError(mail::MailErrorClass::kServer,
                             absl::StrCat("NO Mailbox doesn't exist: ", folder));
    }
    folder_ = &it->second;
    folder_name_ = folder;
    return FolderStatus{folder_->uid_validity, folder_->next_uid,
                        static_cast<uint32_t>(folder_->messages.size())};
  }
  absl::StatusOr<std::vector<uint32_t>> UidsAfter(uint32_t last_uid) override {
    std::vector<uint32_t> out;
    for (const auto& [uid, m] : folder_->messages) {
      if (uid > last_uid) out.push_back(uid);
    }
    return out;
  }
  absl::StatusOr<std::vector<uint32_t>> UidsSince(absl::CivilDay day) override {
    std::vector<uint32_t> out;
    for (const auto& [uid, m] : folder_->messages) {
      if (m.date >= day) out.push_back(uid);
    }
    return out;
  }
  absl::StatusOr<std::vector<SizedUid>> Sizes(const std::vector<uint32_t>& uids) override {
    std::vector<SizedUid> out;
    for (uint32_t u : uids) {
      auto it = folder_->messages.find(u);
      if (it != folder_->messages.end()) out.push_back({u, it->second.bytes.size()});
    }
    return out;
  }
  absl::Status Fetch(const std::vector<uint32_t>& uids, const ImapMessageSink& sink) override {
    for (uint32_t u : uids) {
      auto it = folder_->messages.find(u);
      if (it == folder_->messages.end()) continue;
      if (box_.fetch_fail_after >= 0 && box_.fetched >= box_.fetch_fail_after) {
        box_.fetch_fail_after = -1;  // once
        return box_.fetch_error;
      }
      ++box_.fetched;
      absl::Status st = sink(u, it->second.bytes.size(), it->second.bytes);
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }
  absl::Status FetchHead(const std::vector<uint32_t>& uids, uint64_t max_bytes,
                         const ImapMessageSink& sink) override {
    for (uint32_t u : uids) {
      auto it = folder_->messages.find(u);
      if (it == folder_->messages.end()) continue;
      ++box_.head_fetches;
      const std::string& bytes = it->second.bytes;
      absl::Status st = sink(u, bytes.size(), absl::string_view(bytes).substr(0, max_bytes));
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }
  absl::Status MarkRead(const std::vector<uint32_t>& uids) override {
    for (uint32_t u : uids) folder_->messages[u].seen = true;
    box_.actions.push_back(absl::StrCat("seen ", absl::StrJoin(uids, ",")));
    return absl::OkStatus();
  }
  absl::Status Move(const std::vector<uint32_t>& uids, const std::string& folder) override {
    FakeFolder& dst = box_.folders[folder];
    for (uint32_t u : uids) {
      auto it = folder_->messages.find(u);
      if (it == folder_->messages.end()) continue;
      dst.messages[dst.next_uid++] = it->second;
      folder_->messages.erase(it);
    }
    box_.actions.push_back(absl::StrCat("move ", folder, " ", absl::StrJoin(uids, ",")));
    return absl::OkStatus();
  }
  absl::Status Delete(const std::vector<uint32_t>& uids) override {
    for (uint32_t u : uids) folder_->messages[u].deleted = true;
    box_.actions.push_back(absl::StrCat("delete ", absl::StrJoin(uids, ",")));
    return absl::OkStatus();
  }
  void Close() override {
    if (!closed_) ++box_.closes;
    closed_ = true;
  }
  bool CanIdle() const override { return box_.idle; }
  absl::StatusOr<bool> WaitForNewMail(absl::Duration max_wait,
                                      const std::function<bool()>& stop) override {
    box_.idle_waits.push_back(max_wait);
    box_.idle_folders.push_back(folder_name_);
    if (stop()) {
      ++box_.idle_stopped;
      return false;
    }
    if (!box_.idle_error.ok()) return box_.idle_error;
    return box_.idle_wakes;
  }

 private:
  FakeMailbox& box_;
  FakeFolder* folder_ = nullptr;
  std::string folder_name_;
  bool closed_ = false;
};

class FakePop3Session : public Pop3Session {
 public:
  explicit FakePop3Session(FakeMailbox& box) : box_(box) {}
  absl::StatusOr<std::vector<Pop3Entry>> List() override {
    std::vector<Pop3Entry> out;
    for (size_t i = 0; i < box_.pop3.size(); ++i) {
      out.push_back({static_cast<uint32_t>(i + 1), box_.pop3[i].first, box_.pop3[i].second.size()});
    }
    return out;
  }
  absl::StatusOr<std::string> Retrieve(uint32_t number) override {
    if (box_.fetch_fail_after >= 0 && box_.fetched >= box_.fetch_fail_after) {
      box_.fetch_fail_after = -1;
      return box_.fetch_error;
    }
    ++box_.fetched;
    return box_.pop3.at(number - 1).second;
  }
  absl::StatusOr<std::string> RetrieveHead(uint32_t number) override {
    ++box_.head_fetches;
    const std::string& bytes = box_.pop3.at(number - 1).second;
    return bytes.substr(0, bytes.find("\r\n\r\n") + 4);
  }
  absl::Status Delete(uint32_t number) override {
    deleted_.insert(number);
    box_.actions.push_back(absl::StrCat("dele ", number));
    return absl::OkStatus();
  }
  absl::Status Close() override {
    std::vector<std::pair<std::string, std::string>> keep;
    for (size_t i = 0; i < box_.pop3.size(); ++i) {
      if (deleted_.count(static_cast<uint32_t>(i + 1)) == 0) keep.push_back(box_.pop3[i]);
    }
    box_.pop3 = std::move(keep);
    return absl::OkStatus();
  }

 private:
  FakeMailbox& box_;
  std::set<uint32_t> deleted_;
};

}  // namespace

uint32_t FakeMailbox::Add(const std::string& folder, std::string bytes, absl::CivilDay date) {
  FakeFolder& f = folders[folder];
  uint32_t uid = f.next_uid++;
  f.messages[uid] = {std::move(bytes), date};
  return uid;
}

void FakeMailbox::Renumber(const std::string& folder, uint32_t uid_validity) {
  FakeFolder& f = folders[folder];
  FakeFolder n;
  n.uid_validity = uid_validity;
  for (auto& [uid, m] : f.messages) n.messages[n.next_uid++] = m;
  f = std::move(n);
}

absl::Status FakeMailConnector::OpenError() {
  ++box_.opens;
  if (box_.connect_error.ok() || box_.connect_failures == 0) return absl::OkStatus();
  if (box_.connect_failures > 0) --box_.connect_failures;
  return box_.connect_error;
}

absl::StatusOr<std::unique_ptr<ImapSession>> FakeMailConnector::OpenImap(const v1::Connector& c) {
  if (absl::Status st = OpenError(); !st.ok()) return st;
  last_password = c.auth().password();
  return std::unique_ptr<ImapSession>(new FakeImapSession(box_));
}

absl::StatusOr<std::unique_ptr<Pop3Session>> FakeMailConnector::OpenPop3(const v1::Connector& c) {
  if (absl::Status st = OpenError(); !st.ok()) return st;
  last_password = c.auth().password();
  return std::unique_ptr<Pop3Session>(new FakePop3Session(box_));
}

absl::StatusOr<std::string> PlainSecretOpener::Open(const std::string& sealed,
                                                    const std::string& owner) {
  if (sealed.rfind("sealed:", 0) != 0) return absl::DataLossError("not sealed here");
  if (owner.rfind("connector:", 0) != 0) return absl::DataLossError("wrong owner");
  return sealed.substr(7);
}

std::string MakeMessage(const std::string& message_id, size_t body_bytes) {
  std::string m = absl::StrCat("From: a@example.com\r\nTo: support@example.com\r\nSubject: test ",
                               message_id, "\r\nMessage-ID: <", message_id, ">\r\n\r\n");
  while (m.size() < body_bytes) m += "0123456789abcdefghijklmnopqrstuvwxyz\r\n";
  return m;
}

store::IncomingConnectorRecord MakeConnector(int64_t id, const std::string& name,
                                             const std::string& protocol,
                                             const v1::Connector& extra) {
  v1::Connector c = extra;
  c.set_name(name);
  c.set_protocol(protocol == "pop3" ? v1::PROTOCOL_POP3 : v1::PROTOCOL_IMAP);
  c.set_direction(v1::DIRECTION_INCOMING);
  c.mutable_server()->set_host("127.0.0.1");
  c.mutable_auth()->set_username("user");
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(c, &json, o);
  store::IncomingConnectorRecord r;
  r.id = id;
  r.name = name;
  r.protocol = protocol;
  r.spec_json = json;
  r.version = 1;
  r.sealed_secrets = {{"password", "sealed:pw-" + name}};
  return r;
}

}  // namespace postroom::fetcher::testing
