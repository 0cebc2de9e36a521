#pragma once

#include <memory>

#include "libs/store/config_store.h"
#include "libs/store/router_store.h"

namespace postroom::router::testing {

// The same core tests run over InMemoryRouterStore (router_core_test) and over PostgreSQL
// (router_core_pg_test); each binary links one definition of MakeStore(). Setup methods
// abort the test on failure.
class StoreHolder {
 public:
  virtual ~StoreHolder() = default;
  virtual store::RouterStore& store() = 0;
  // Sets connector.id.
  virtual void PutConnector(store::ConnectorRecord& connector) = 0;
  // Inserts, or updates by (connector, name).
  virtual void PutRoute(store::RouteRecord route) = 0;
  virtual void PutDocument(store::DocumentKind kind, const store::DocumentRecord& doc) = 0;
  // A pending message as the fetcher stores it.
  virtual int64_t StorePending(const store::MessageRecord& message) = 0;
  // What the sender does with an outbox row: sent through `connector_id` with this Message-ID.
  virtual void MarkOutboxSent(int64_t id, int64_t connector_id,
                              const std::string& smtp_message_id) = 0;
  // Suppressions of `address` on any connector (the list has one per connector at most).
  virtual int CountSuppressions(const std::string& address) = 0;
  // The extra headers of an outbox row, a JSON object ("" when there is no such row).
  virtual std::string OutboxHeadersJson(int64_t outbox_id) = 0;
  // An outbox row's from_address ("" : the outgoing connector's primary address, or no row).
  virtual std::string OutboxFromAddress(int64_t outbox_id) = 0;
  // The PostgreSQL database behind the store, for tests that check every column with SQL
  // ("" for the in-memory store).
  virtual std::string DatabaseUri() { return ""; }
};
std::unique_ptr<StoreHolder> MakeStore(std::function<absl::Time()> now);

}  // namespace postroom::router::testing
