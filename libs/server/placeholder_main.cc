#include "libs/server/placeholder_main.h"

#include <cstdio>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "libs/base/log.h"
#include "libs/server/server.h"
#include "libs/server/service_flags.h"
#include "libs/store/database.h"
#include "libs/store/migrations.h"
#include "libs/store/migrator.h"

namespace postroom::server {

int RunPlaceholderService(int argc, char** argv, const char* service, int grpc_port,
                          int metrics_port, const char* what_comes) {
  absl::SetProgramUsageMessage(absl::StrCat(
      what_comes,
      "\nThis build serves only the gRPC health protocol and metrics for it.\n"
      "Usage: postroom-", service, " [--listen ADDR] [--metrics-listen ADDR] [--database URI]"));
  postroom::server::ParseFlags(argc, argv);
  CommonSettings settings = ResolveCommonSettings(service, grpc_port, metrics_port);
  std::unique_ptr<store::Database> db;
  if (!settings.database.empty()) {
    db = std::make_unique<store::Database>(
        store::DatabaseOptions{.uri = settings.database, .pool_size = 1,
                               .application_name = absl::StrCat("postroom-", service)});
  }
  if (db) {
    // Refuse to run against an older schema than this build knows: the operator must migrate.
    if (absl::Status st = store::RequireSchemaVersion(*db, store::LatestSchemaVersion());
        !st.ok() && st.code() == absl::StatusCode::kFailedPrecondition) {
      std::fprintf(stderr, "postroom-%s: %s\n", service, std::string(st.message()).c_str());
      return 1;
    }
  }
  ServerOptions options{.service_name = service, .listen = settings.listen,
                        .metrics_listen = settings.metrics_listen,
                        .tls_cert_file = settings.tls_cert, .tls_key_file = settings.tls_key};
  options.database = db.get();
  options.readiness = [&db]() -> absl::Status {
    if (!db) return absl::OkStatus();
    return store::RequireSchemaVersion(*db, store::LatestSchemaVersion());
  };
  absl::Status st = Serve(options, {});
  if (!st.ok()) {
    std::fprintf(stderr, "postroom-%s: %s\n", service, std::string(st.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace postroom::server
