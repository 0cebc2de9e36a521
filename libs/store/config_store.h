#pragma once

// What the config service keeps, as plain records, and the transaction interface its core
// uses. No libpqxx here: PgConfigStore implements it over PostgreSQL, InMemoryConfigStore for
// core unit tests.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace postroom::store {

struct ConnectorRecord {
  int64_t id = 0;
  std::string name;
  std::string protocol;   // imap | pop3 | graph | smtp
  std::string direction;  // incoming | outgoing | both
  std::string status = "draft";  // draft | active | disabled | disabled_by_system
  bool system_default = false;
  std::string spec_json;  // The API object without secrets and output-only fields.
  int64_t version = 0;
  absl::Time modified_at = absl::UnixEpoch();
  std::string modified_by;
  absl::Time connection_changed_at = absl::UnixEpoch();
};

struct ConnectorStateRecord {
  absl::Time last_check_at = absl::InfinitePast();  // InfinitePast: never.
  absl::Time last_success_check_at = absl::InfinitePast();
  absl::Time last_incoming_success_at = absl::InfinitePast();
  absl::Time last_outgoing_success_at = absl::InfinitePast();
  std::string last_incoming_error;
  std::string last_outgoing_error;
  int consecutive_incoming_errors = 0;
  int consecutive_outgoing_errors = 0;
  std::string auto_disabled_reason;
  absl::Time last_test_at = absl::InfinitePast();
  bool last_test_passed = false;
  std::string last_test_report_json;
  int64_t backfill_done = 0;
  int64_t backfill_total = 0;
  absl::Time outgoing_paused_until = absl::InfinitePast();  // InfinitePast: not paused.
  int64_t retention_removed = 0;  // Messages the retention sweep emptied.
  int default_retention_days = 0;  // The system setting retention_days; 0: none.
};

// A connector's stored mail: what deleting it would throw away.
struct StoredMail {
  int64_t messages = 0;
  int64_t work_items = 0;  // Made from its mail and joined by no other connector's.
  int64_t outbox = 0;      // Rows answering its messages (acknowledgements, replies).
  bool empty() const { return messages == 0 && work_items == 0 && outbox == 0; }
};

struct RouteRecord {
  int64_t id = 0;
  int64_t connector_id = 0;
  std::string name;
  int position = 0;  // 1-based; the fallback has the largest.
  bool fallback = false;
  std::string when_json = "{}";
  std::string then_json = "{}";
  bool test_mode_only = false;
  std::string description;
  int64_t version = 0;
  absl::Time modified_at = absl::UnixEpoch();
  std::string modified_by;
};

// Templates, blocked addresses, settings and webhooks: a key and the API object as JSON.
enum class DocumentKind { kTemplate, kBlockedAddress, kSetting, kWebhook };

struct DocumentRecord {
  std::string key;
  std::string spec_json;
  int64_t version = 0;
  absl::Time modified_at = absl::UnixEpoch();
  std::string modified_by;
};

struct SecretRecord {
  std::string field;   // "password", "client_secret", "refresh_token".
  std::string key_id;
  std::string sealed;  // libs/secrets encoding.
};

struct AuditRecord {
  int64_t id = 0;
  absl::Time at = absl::UnixEpoch();
  std::string actor;
  std::string kind;
  std::string object;
  std::string action;
  int64_t version = 0;
  std::string before_json;  // Empty: none.
  std::string after_json;
};

// One transaction. Reads with `lock` take a row lock held to the end of the transaction, so a
// read-check-write sequence is safe against concurrent writers. Writes set the version and
// modification time they are given; the core decides them. Errors: ALREADY_EXISTS from unique
// keys, UNAVAILABLE when the database is unreachable, INTERNAL otherwise.
class ConfigTx {
 public:
  virtual ~ConfigTx() = default;

  virtual absl::StatusOr<std::optional<ConnectorRecord>> FindConnector(const std::string& name,
                                                                       bool lock) = 0;
  virtual absl::StatusOr<std::vector<ConnectorRecord>> ListConnectors() = 0;
  // Sets record.id.
  virtual absl::Status InsertConnector(ConnectorRecord& record) = 0;
  virtual absl::Status UpdateConnector(const ConnectorRecord& record) = 0;
  virtual absl::Status DeleteConnector(int64_t id) = 0;

  virtual absl::StatusOr<StoredMail> CountStoredMail(int64_t connector_id) = 0;
  // Removes what CountStoredMail counts; returns what it removed.
  virtual absl::StatusOr<StoredMail> PurgeStoredMail(int64_t connector_id) = 0;
  // The mailbox's fetch position (cursors, POP3 UIDLs) outlives a deleted connector, keyed by
  // its mailbox identity, so a re-created connector of the same mailbox starts where it
  // stopped (docs/fetcher.md). Keep replaces an older tombstone of the same mailbox; Adopt
  // gives the connector the tombstone's position and removes it (false: there was none).
  virtual absl::Status KeepMailboxTombstone(int64_t connector_id,
                                            const std::string& mailbox) = 0;
  virtual absl::StatusOr<bool> AdoptMailboxTombstone(int64_t connector_id,
                                                     const std::string& mailbox) = 0;

  virtual absl::StatusOr<ConnectorStateRecord> GetState(int64_t connector_id) = 0;
  virtual absl::Status ResetErrors(int64_t connector_id) = 0;
  virtual absl::Status RecordTest(int64_t connector_id, absl::Time at, bool passed,
                                  const std::string& report_json) = 0;

  virtual absl::StatusOr<std::vector<SecretRecord>> ListSecrets(int64_t connector_id) = 0;
  virtual absl::Status PutSecret(int64_t connector_id, const SecretRecord& secret) = 0;
  virtual absl::Status DeleteSecret(int64_t connector_id, const std::string& field) = 0;

  // Ordered by position.
  virtual absl::StatusOr<std::vector<RouteRecord>> ListRoutes(int64_t connector_id) = 0;
  virtual absl::Status InsertRoute(RouteRecord& record) = 0;  // Sets record.id.
  virtual absl::Status UpdateRoute(const RouteRecord& record) = 0;
  virtual absl::Status DeleteRoute(int64_t id) = 0;

  virtual absl::StatusOr<std::optional<DocumentRecord>> FindDocument(DocumentKind kind,
                                                                     const std::string& key,
                                                                     bool lock) = 0;
  virtual absl::StatusOr<std::vector<DocumentRecord>> ListDocuments(DocumentKind kind) = 0;
  virtual absl::Status PutDocument(DocumentKind kind, const DocumentRecord& record) = 0;
  virtual absl::Status DeleteDocument(DocumentKind kind, const std::string& key) = 0;

  // A webhook's sealed signing secret (field "secret"); nullopt when none is stored. Put needs
  // the webhook's document to exist; deleting the webhook deletes its secret.
  virtual absl::StatusOr<std::optional<SecretRecord>> GetWebhookSecret(
      const std::string& webhook) = 0;
  virtual absl::Status PutWebhookSecret(const std::string& webhook,
                                        const SecretRecord& secret) = 0;

  virtual absl::Status AppendAudit(const AuditRecord& record) = 0;
  // Oldest first, the last `limit` entries.
  virtual absl::StatusOr<std::vector<AuditRecord>> ListAudit(const std::string& kind,
                                                            const std::string& object,
                                                            int limit) = 0;
};

// Runs a function in one transaction: commits when it returns OK, rolls everything back
// otherwise. Thread-safe.
class ConfigStore {
 public:
  virtual ~ConfigStore() = default;
  virtual absl::Status InTransaction(const std::function<absl::Status(ConfigTx&)>& fn) = 0;
};

}  // namespace postroom::store
