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

 private:
  std::unique_ptr<postroom::testing::PgTestDatabase> tdb_;
  std::unique_ptr<store::Database> database_;
  std::unique_ptr<store::PgConfigStore> store_;
};
}  // namespace

std::unique_ptr<StoreHolder> MakeStore() { return std::make_unique<Holder>(); }

}  // namespace postroom::config::testing
