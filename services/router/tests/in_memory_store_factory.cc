#include "libs/store/testing/in_memory_router_store.h"
#include "services/router/tests/store_factory.h"

namespace postroom::router::testing {
namespace {
class Holder : public StoreHolder {
 public:
  explicit Holder(std::function<absl::Time()> now) : store_(std::move(now)) {}
  store::RouterStore& store() override { return store_; }
  void PutConnector(store::ConnectorRecord& c) override {
    store_.PutConnector(c);
    c.id = (*store_.LoadConfig(c.name))->connector.id;
  }
  void PutRoute(store::RouteRecord route) override { store_.PutRoute(route); }
  void PutDocument(store::DocumentKind kind, const store::DocumentRecord& doc) override {
    store_.PutDocument(kind, doc);
  }
  int64_t StorePending(const store::MessageRecord& m) override { return store_.StorePending(m); }
  void MarkOutboxSent(int64_t id, int64_t connector_id, const std::string& mid) override {
    store_.MarkOutboxSent(id, connector_id, mid);
  }
  int CountSuppressions(const std::string& address) override {
    int n = 0;
    for (const store::SuppressionRecord& s : store_.Suppressions()) n += s.address == address;
    return n;
  }
  std::string OutboxHeadersJson(int64_t outbox_id) override {
    for (const store::OutboxRecord& o : store_.Outbox()) {
      if (o.id == outbox_id) return o.headers_json;
    }
    return "";
  }
  std::string OutboxFromAddress(int64_t outbox_id) override {
    for (const store::OutboxRecord& o : store_.Outbox()) {
      if (o.id == outbox_id) return o.from_address;
    }
    return "";
  }

 private:
  store::InMemoryRouterStore store_;
};
}  // namespace

std::unique_ptr<StoreHolder> MakeStore(std::function<absl::Time()> now) {
  return std::make_unique<Holder>(std::move(now));
}

}  // namespace postroom::router::testing
