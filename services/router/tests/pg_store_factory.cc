#include <cstdlib>

#include "gtest/gtest.h"
#include "libs/store/database.h"
#include "libs/store/pg_config_store.h"
#include "libs/store/pg_router_store.h"
#include "services/router/tests/store_factory.h"
#include "tests/support/pg_test_database.h"

namespace postroom::router::testing {
namespace {

void Check(const absl::Status& st) {
  if (!st.ok()) {
    ADD_FAILURE() << st;
    std::abort();
  }
}

class Holder : public StoreHolder {
 public:
  Holder() {
    auto db = postroom::testing::PgTestDatabase::Create();
    if (!db.ok()) {
      ADD_FAILURE() << db.status();
      std::abort();
    }
    tdb_ = std::move(*db);
    database_ = std::make_unique<store::Database>(store::DatabaseOptions{.uri = tdb_->Uri()});
    config_ = std::make_unique<store::PgConfigStore>(*database_);
    store_ = std::make_unique<store::PgRouterStore>(*database_);
  }
  store::RouterStore& store() override { return *store_; }
  void PutConnector(store::ConnectorRecord& c) override {
    Check(config_->InTransaction([&](store::ConfigTx& tx) -> absl::Status {
      auto found = tx.FindConnector(c.name, true);
      if (!found.ok()) return found.status();
      if (*found) {
        c.id = (*found)->id;
        c.version = (*found)->version + 1;
        c.modified_at = absl::Now();
        return tx.UpdateConnector(c);
      }
      c.version = 1;
      c.modified_by = "test";
      return tx.InsertConnector(c);
    }));
  }
  void PutRoute(store::RouteRecord r) override {
    Check(config_->InTransaction([&](store::ConfigTx& tx) -> absl::Status {
      auto routes = tx.ListRoutes(r.connector_id);
      if (!routes.ok()) return routes.status();
      r.modified_by = "test";
      r.modified_at = absl::Now();
      for (const store::RouteRecord& x : *routes) {
        if (x.name == r.name) {
          r.id = x.id;
          r.version = x.version + 1;
          return tx.UpdateRoute(r);
        }
      }
      r.version = 1;
      return tx.InsertRoute(r);
    }));
  }
  void PutDocument(store::DocumentKind kind, const store::DocumentRecord& doc) override {
    Check(config_->InTransaction([&](store::ConfigTx& tx) {
      store::DocumentRecord d = doc;
      d.modified_by = "test";
      d.modified_at = absl::Now();
      d.version = ++doc_version_;
      return tx.PutDocument(kind, d);
    }));
  }
  std::string OutboxHeadersJson(int64_t outbox_id) override {
    return OutboxColumn("headers::text", outbox_id);
  }
  std::string OutboxFromAddress(int64_t outbox_id) override {
    return OutboxColumn("from_address", outbox_id);
  }
  // One column of an outbox row as text; "" when there is no such row.
  std::string OutboxColumn(const std::string& column, int64_t outbox_id) {
    std::string out;
    Check(database_->Transact([&](pqxx::work& t) {
      pqxx::result r =
          t.exec_params("SELECT " + column + " FROM outbox WHERE id = $1", outbox_id);
      if (!r.empty()) out = r[0][0].as<std::string>();
      return absl::OkStatus();
    }));
    return out;
  }
  int64_t StorePending(const store::MessageRecord& m) override {
    int64_t id = 0;
    Check(database_->Transact([&](pqxx::work& t) {
      id = t.exec_params("INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, "
                         "truncated, content_sha256, stored_at) VALUES ($1, $2, $3, $4, $5, "
                         "NULLIF($6, ''::bytea), now() - interval '1 minute') RETURNING id",
                         m.connector_id, m.fetch_key, static_cast<int64_t>(m.raw.size()),
                         pqxx::binarystring(m.raw), m.truncated,
                         pqxx::binarystring(m.content_sha256))[0][0]
               .as<int64_t>();
      return absl::OkStatus();
    }));
    return id;
  }
  void MarkOutboxSent(int64_t id, int64_t connector_id, const std::string& mid) override {
    Check(database_->Transact([&](pqxx::work& t) {
      t.exec_params("UPDATE outbox SET status = 'sent', sent_at = now(), connector_id = $2, "
                    "smtp_message_id = $3 WHERE id = $1",
                    id, connector_id, mid);
      return absl::OkStatus();
    }));
  }
  std::string DatabaseUri() override { return tdb_->Uri(); }
  int CountSuppressions(const std::string& address) override {
    int n = 0;
    Check(database_->Transact([&](pqxx::work& t) {
      n = t.exec_params("SELECT count(*) FROM suppressions WHERE address = $1", address)[0][0]
              .as<int>();
      return absl::OkStatus();
    }));
    return n;
  }

 private:
  int64_t doc_version_ = 0;
  std::unique_ptr<postroom::testing::PgTestDatabase> tdb_;
  std::unique_ptr<store::Database> database_;
  std::unique_ptr<store::PgConfigStore> config_;
  std::unique_ptr<store::PgRouterStore> store_;
};
}  // namespace

std::unique_ptr<StoreHolder> MakeStore(std::function<absl::Time()>) {
  return std::make_unique<Holder>();
}

}  // namespace postroom::router::testing
