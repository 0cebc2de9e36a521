#include "libs/store/testing/in_memory_config_store.h"
#include "services/config/tests/store_factory.h"

namespace postroom::config::testing {
namespace {
class Holder : public StoreHolder {
 public:
  store::ConfigStore& store() override { return store_; }
  void AddMail(const std::string& name, const store::StoredMail& mail) override {
    store_.SeedMail(name, mail);
  }

 private:
  store::InMemoryConfigStore store_;
};
}  // namespace

std::unique_ptr<StoreHolder> MakeStore() { return std::make_unique<Holder>(); }

}  // namespace postroom::config::testing
