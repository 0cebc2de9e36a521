#include "libs/store/testing/in_memory_config_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace postroom::store {
namespace {

class InMemoryTx : public ConfigTx {
 public:
  explicit InMemoryTx(InMemoryConfigStore::State& s) : s_(s) {}

  absl::StatusOr<std::optional<ConnectorRecord>> FindConnector(const std::string& name,
                                                               bool) override {
    auto it = s_.connectors.find(name);
    if (it == s_.connectors.end()) return std::optional<ConnectorRecord>();
    return std::optional<ConnectorRecord>(it->second);
  }
  absl::StatusOr<std::vector<ConnectorRecord>> ListConnectors() override {
    std::vector<ConnectorRecord> out;
    for (const auto& [name, c] : s_.connectors) out.push_back(c);
    return out;
  }
  absl::Status InsertConnector(ConnectorRecord& record) override {
    if (s_.connectors.count(record.name)) {
      return absl::AlreadyExistsError(absl::StrCat("connector ", record.name, " exists"));
    }
    if (record.system_default) {
      for (const auto& [n, c] : s_.connectors) {
        if (c.system_default) return absl::AlreadyExistsError("a system default exists");
      }
    }
    record.id = s_.next_id++;
    s_.connectors[record.name] = record;
    s_.states[record.id] = ConnectorStateRecord();
    return absl::OkStatus();
  }
  absl::Status UpdateConnector(const ConnectorRecord& record) override {
    for (auto& [name, c] : s_.connectors) {
      if (c.id != record.id && c.system_default && record.system_default) {
        return absl::AlreadyExistsError("a system default exists");
      }
    }
    for (auto& [name, c] : s_.connectors) {
      if (c.id == record.id) {
        c = record;
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError("no such connector id");
  }
  absl::Status DeleteConnector(int64_t id) override {
    for (auto it = s_.connectors.begin(); it != s_.connectors.end(); ++it) {
      if (it->second.id == id) {
        s_.connectors.erase(it);
        break;
      }
    }
    s_.states.erase(id);
    s_.secrets.erase(id);
    s_.mail.erase(id);
    std::erase_if(s_.routes, [id](const auto& kv) { return kv.second.connector_id == id; });
    return absl::OkStatus();
  }
  absl::StatusOr<StoredMail> CountStoredMail(int64_t connector_id) override {
    auto it = s_.mail.find(connector_id);
    return it == s_.mail.end() ? StoredMail{} : it->second;
  }
  absl::StatusOr<StoredMail> PurgeStoredMail(int64_t connector_id) override {
    StoredMail removed = s_.mail[connector_id];
    s_.mail.erase(connector_id);
    return removed;
  }
  absl::Status KeepMailboxTombstone(int64_t connector_id, const std::string& mailbox) override {
    for (const auto& [name, c] : s_.connectors) {
      if (c.id == connector_id) s_.tombstones[mailbox] = name;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<bool> AdoptMailboxTombstone(int64_t, const std::string& mailbox) override {
    return s_.tombstones.erase(mailbox) > 0;
  }
  absl::StatusOr<ConnectorStateRecord> GetState(int64_t connector_id) override {
    return s_.states[connector_id];
  }
  absl::Status ResetErrors(int64_t connector_id) override {
    ConnectorStateRecord& st = s_.states[connector_id];
    st.consecutive_incoming_errors = 0;
    st.consecutive_outgoing_errors = 0;
    st.auto_disabled_reason.clear();
    return absl::OkStatus();
  }
  absl::Status RecordTest(int64_t connector_id, absl::Time at, bool passed,
                          const std::string& report_json) override {
    ConnectorStateRecord& st = s_.states[connector_id];
    st.last_test_at = at;
    st.last_test_passed = passed;
    st.last_test_report_json = report_json;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<SecretRecord>> ListSecrets(int64_t connector_id) override {
    std::vector<SecretRecord> out;
    for (const auto& [field, s] : s_.secrets[connector_id]) out.push_back(s);
    return out;
  }
  absl::Status PutSecret(int64_t connector_id, const SecretRecord& secret) override {
    s_.secrets[connector_id][secret.field] = secret;
    return absl::OkStatus();
  }
  absl::Status DeleteSecret(int64_t connector_id, const std::string& field) override {
    s_.secrets[connector_id].erase(field);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<RouteRecord>> ListRoutes(int64_t connector_id) override {
    std::vector<RouteRecord> out;
    for (const auto& [id, r] : s_.routes) {
      if (r.connector_id == connector_id) out.push_back(r);
    }
    std::sort(out.begin(), out.end(),
              [](const RouteRecord& a, const RouteRecord& b) { return a.position < b.position; });
    return out;
  }
  absl::Status InsertRoute(RouteRecord& record) override {
    for (const auto& [id, r] : s_.routes) {
      if (r.connector_id == record.connector_id && r.name == record.name) {
        return absl::AlreadyExistsError("route exists");
      }
    }
    record.id = s_.next_id++;
    s_.routes[record.id] = record;
    return absl::OkStatus();
  }
  absl::Status UpdateRoute(const RouteRecord& record) override {
    s_.routes[record.id] = record;
    return absl::OkStatus();
  }
  absl::Status DeleteRoute(int64_t id) override {
    s_.routes.erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<DocumentRecord>> FindDocument(DocumentKind kind,
                                                             const std::string& key,
                                                             bool) override {
    auto& docs = s_.documents[static_cast<int>(kind)];
    auto it = docs.find(key);
    if (it == docs.end()) return std::optional<DocumentRecord>();
    return std::optional<DocumentRecord>(it->second);
  }
  absl::StatusOr<std::vector<DocumentRecord>> ListDocuments(DocumentKind kind) override {
    std::vector<DocumentRecord> out;
    for (const auto& [k, d] : s_.documents[static_cast<int>(kind)]) out.push_back(d);
    return out;
  }
  absl::Status PutDocument(DocumentKind kind, const DocumentRecord& record) override {
    s_.documents[static_cast<int>(kind)][record.key] = record;
    return absl::OkStatus();
  }
  absl::Status DeleteDocument(DocumentKind kind, const std::string& key) override {
    s_.documents[static_cast<int>(kind)].erase(key);
    if (kind == DocumentKind::kWebhook) s_.webhook_secrets.erase(key);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<SecretRecord>> GetWebhookSecret(
      const std::string& webhook) override {
    auto it = s_.webhook_secrets.find(webhook);
    if (it == s_.webhook_secrets.end()) return std::optional<SecretRecord>();
    return std::optional<SecretRecord>(it->second);
  }
  absl::Status PutWebhookSecret(const std::string& webhook, const SecretRecord& secret) override {
    if (s_.documents[static_cast<int>(DocumentKind::kWebhook)].count(webhook) == 0) {
      return absl::NotFoundError("webhook does not exist");
    }
    s_.webhook_secrets[webhook] = secret;
    return absl::OkStatus();
  }
  absl::Status AppendAudit(const AuditRecord& record) override {
    AuditRecord r = record;
    r.id = static_cast<int64_t>(s_.audit.size()) + 1;
    s_.audit.push_back(r);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<AuditRecord>> ListAudit(const std::string& kind,
                                                    const std::string& object,
                                                    int limit) override {
    std::vector<AuditRecord> out;
    for (const AuditRecord& r : s_.audit) {
      if (r.kind == kind && r.object == object) out.push_back(r);
    }
    if (static_cast<int>(out.size()) > limit) out.erase(out.begin(), out.end() - limit);
    return out;
  }

 private:
  InMemoryConfigStore::State& s_;
};

}  // namespace

absl::Status InMemoryConfigStore::InTransaction(
    const std::function<absl::Status(ConfigTx&)>& fn) {
  absl::MutexLock lock(&mu_);
  State copy = state_;
  InMemoryTx tx(copy);
  absl::Status st = fn(tx);
  if (st.ok()) state_ = std::move(copy);
  return st;
}

}  // namespace postroom::store
