#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/store/database.h"
#include "libs/store/pg_config_store.h"
#include "services/config/tests/store_factory.h"
#include "tests/support/pg_test_database.h"

namespace postroom::config::testing {
namespace {
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
    store_ = std::make_unique<store::PgConfigStore>(*database_);
  }
  store::ConfigStore& store() override { return *store_; }
  void AddMail(const std::string& name, const store::StoredMail& mail) override {
    absl::Status st = database_->Transact([&](pqxx::work& t) -> absl::Status {
      const auto id = t.exec_params1("SELECT id FROM connectors WHERE name = $1", name)[0]
                          .as<int64_t>();
      for (int64_t i = 0; i < mail.messages; ++i) {
        pqxx::row m = t.exec_params1(
            "INSERT INTO messages (connector_id, fetch_key, size_bytes, raw, message_id) VALUES "
            "($1, $2, 1, 'x', $2) RETURNING id",
            id, absl::StrCat("key-", i));
        const auto message = m[0].as<int64_t>();
        if (i < mail.work_items) {
          const auto item = t.exec_params1(
              "INSERT INTO work_items (connector_id, reference, queue, requester_address) VALUES "
              "($1, $2, 'q', 'a@example.com') RETURNING id",
              id, absl::StrCat(name, "-", i))[0].as<int64_t>();
          t.exec_params("UPDATE messages SET work_item_id = $2, decision = 'created' WHERE id = $1",
                        message, item);
          t.exec_params("INSERT INTO work_item_messages (work_item_id, message_id, role) VALUES "
                        "($1, $2, 'created')", item, message);
        }
        if (i < mail.outbox) {
          t.exec_params("INSERT INTO outbox (reason, to_address, message_id, dedupe_key) VALUES "
                        "('ack', 'a@example.com', $1, $2)",
                        message, absl::StrCat("ack:", message));
        }
      }
      return absl::OkStatus();
    });
    ASSERT_TRUE(st.ok()) << st;
  }

 private:
  std::unique_ptr<postroom::testing::PgTestDatabase> tdb_;
  std::unique_ptr<store::Database> database_;
  std::unique_ptr<store::PgConfigStore> store_;
};
}  // namespace

std::unique_ptr<StoreHolder> MakeStore() { return std::make_unique<Holder>(); }

}  // namespace postroom::config::testing
