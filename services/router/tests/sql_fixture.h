#pragma once

// AttachmentsFixture with mail routed through the RPC and SQL against the same test database,
// for checks the API does not expose (forget_pg_test, retention_pg_test).
#include <pqxx/pqxx>

#include <cstdint>
#include <string>

#include "services/router/tests/attachments_fixture.h"

namespace postroom::router::testing {

class SqlFixture : public AttachmentsFixture {
 protected:
  SqlFixture() : db_(holder_->DatabaseUri()) {}

  // Routes `raw` on the support connector as the operator; the stored message's id.
  int64_t Route(const std::string& raw) {
    v1::RouteEmailRequest req;
    req.set_connector("support");
    req.set_raw_message(raw);
    v1::RouteEmailResponse routed;
    grpc::Status st = stub_->RouteEmail(As(kOperator).get(), req, &routed);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return routed.message_id();
  }

  void Exec(const std::string& sql) {
    pqxx::nontransaction t(db_);
    t.exec(sql);
  }
  // The first column of the one row `sql` returns; NULL as 0 or "".
  int64_t Scalar(const std::string& sql) {
    pqxx::nontransaction t(db_);
    pqxx::row r = t.exec1(sql);
    return r[0].is_null() ? 0 : r[0].as<int64_t>();
  }
  std::string Text(const std::string& sql) {
    pqxx::nontransaction t(db_);
    pqxx::row r = t.exec1(sql);
    return r[0].is_null() ? "" : r[0].as<std::string>();
  }

  pqxx::connection db_;
};

}  // namespace postroom::router::testing
