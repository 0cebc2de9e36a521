#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/base/clock.h"
#include "libs/store/config_store.h"
#include "postroom/v1/config.pb.h"
#include "services/config/core/ports.h"

namespace postroom::config {

// Who makes a change: the API token's name, or "system". Recorded in the audit history.
struct Actor {
  std::string name;
};

template <typename T>
struct Applied {
  T object;
  bool created = false;
  std::vector<std::string> changed_fields;  // Field paths; empty when nothing changed.
};

// The config service's domain: connectors, routes, templates, blocked addresses and settings.
// Every change runs in one store transaction that validates it (INVALID_ARGUMENT listing every
// problem with its path), checks the expected version (ABORTED when stale; 0 means any), writes
// it and appends the audit entry, so a refused change leaves nothing behind. Secrets are sealed
// before they reach the store and never returned. Thread-safe; the ports must outlive it.
class ConfigCore {
 public:
  struct Ports {
    store::ConfigStore* store;
    SecretSealer* sealer;
    ConnectionTester* tester;  // Null: connection tests are not available.
    RouteValidator* routes;
    TemplateValidator* templates;
    Clock* clock;
  };
  explicit ConfigCore(Ports ports) : p_(ports) {}

  // Connectors. NOT_FOUND for unknown names throughout.
  absl::StatusOr<Applied<v1::Connector>> ApplyConnector(const Actor& actor, v1::Connector c,
                                                        int64_t expected_version);
  // The connector and its routes, fallback last.
  absl::StatusOr<std::pair<v1::Connector, std::vector<v1::Route>>> GetConnector(
      const std::string& name);
  absl::StatusOr<std::vector<v1::Connector>> ListConnectors();
  // FAILED_PRECONDITION while active, while another connector sends through it, or while it
  // has stored mail and `purge` is false. With `purge`, removes that mail in the same
  // transaction and returns what it removed. Either way an incoming connector's fetch position
  // is kept for its mailbox (docs/fetcher.md).
  absl::StatusOr<store::StoredMail> DeleteConnector(const Actor& actor, const std::string& name,
                                                    int64_t expected_version, bool purge = false);
  // FAILED_PRECONDITION for an incoming connector without a fallback route or without a passing
  // connection test since its connection settings last changed. Resets the error counters.
  absl::StatusOr<v1::Connector> EnableConnector(const Actor& actor, const std::string& name);
  absl::StatusOr<v1::Connector> DisableConnector(const Actor& actor, const std::string& name);
  // Runs the tester on the stored settings (secrets opened in memory) and records the result.
  absl::StatusOr<v1::TestConnectorResponse> TestConnector(const Actor& actor,
                                                          const std::string& name);
  // The connector with its secrets opened: for services that connect (fetcher, sender).
  absl::StatusOr<v1::Connector> GetConnectorWithSecrets(const std::string& name);

  // Routes of incoming connectors. The fallback route is named "fallback", managed through the
  // connector's `fallback` field, always last; it cannot be applied, moved or deleted here.
  absl::StatusOr<Applied<v1::Route>> ApplyRoute(const Actor& actor, v1::Route r,
                                                int64_t expected_version);
  absl::StatusOr<v1::Route> GetRoute(const std::string& connector, const std::string& name);
  absl::StatusOr<std::vector<v1::Route>> ListRoutes(const std::string& connector);
  absl::Status DeleteRoute(const Actor& actor, const std::string& connector,
                           const std::string& name, int64_t expected_version);
  // Exactly one of before/after is non-empty. Returns the connector's routes in the new order.
  absl::StatusOr<std::vector<v1::Route>> MoveRoute(const Actor& actor,
                                                   const std::string& connector,
                                                   const std::string& name,
                                                   const std::string& before,
                                                   const std::string& after);

  absl::StatusOr<Applied<v1::Template>> ApplyTemplate(const Actor& actor, v1::Template t,
                                                      int64_t expected_version);
  absl::StatusOr<v1::Template> GetTemplate(const std::string& name);
  absl::StatusOr<std::vector<v1::Template>> ListTemplates();
  // FAILED_PRECONDITION while a route uses it.
  absl::Status DeleteTemplate(const Actor& actor, const std::string& name,
                              int64_t expected_version);

  absl::StatusOr<Applied<v1::BlockedAddress>> ApplyBlockedAddress(const Actor& actor,
                                                                  v1::BlockedAddress b,
                                                                  int64_t expected_version);
  absl::StatusOr<std::vector<v1::BlockedAddress>> ListBlockedAddresses();
  absl::Status DeleteBlockedAddress(const Actor& actor, const std::string& pattern);

  absl::StatusOr<Applied<v1::Setting>> ApplySetting(const Actor& actor, v1::Setting s,
                                                    int64_t expected_version);
  absl::StatusOr<std::vector<v1::Setting>> ListSettings();

  // Webhooks (docs/webhooks.md). The secret is required on create, sealed, never returned
  // (has_secret says one is stored); an empty one on update keeps the stored one.
  absl::StatusOr<Applied<v1::Webhook>> ApplyWebhook(const Actor& actor, v1::Webhook w,
                                                    int64_t expected_version);
  absl::StatusOr<v1::Webhook> GetWebhook(const std::string& name);
  absl::StatusOr<std::vector<v1::Webhook>> ListWebhooks();
  // Cancels its queued deliveries.
  absl::Status DeleteWebhook(const Actor& actor, const std::string& name,
                             int64_t expected_version);

  // Oldest first; limit 0 means 100.
  absl::StatusOr<std::vector<v1::AuditEntry>> GetHistory(const std::string& kind,
                                                         const std::string& object, int limit);

 private:
  Ports p_;
};

// Settings the services read, with their validation; unknown keys are refused.
struct KnownSetting {
  const char* key;
  const char* description;
};
const std::vector<KnownSetting>& KnownSettings();

// The events a webhook may subscribe to, as postroom_queue_webhook_event accepts them.
const std::vector<std::string>& WebhookEvents();

}  // namespace postroom::config
