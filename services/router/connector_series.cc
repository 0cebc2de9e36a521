#include "services/router/connector_series.h"

namespace postroom::router {

absl::Status InitConnectorSeries(store::Database& db,
                                 const std::function<void(const std::string&)>& init) {
  return db.Transact([&](pqxx::work& t) {
    for (const auto& row :
         t.exec("SELECT name FROM connectors WHERE direction IN ('incoming', 'both')")) {
      init(row[0].as<std::string>());
    }
    return absl::OkStatus();
  });
}

}  // namespace postroom::router
