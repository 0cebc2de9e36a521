// postroom-config: the source of truth for connectors, routes, templates, blocked addresses
// and settings. `postroom-config migrate` applies the database migrations and exits.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "libs/auth/token_authenticator.h"
#include "libs/base/log.h"
#include "libs/connector/fields.h"
#include "libs/secrets/keyring.h"
#include "libs/server/server.h"
#include "libs/server/service_flags.h"
#include "libs/store/database.h"
#include "libs/store/migrations.h"
#include "libs/store/migrator.h"
#include "libs/store/pg_config_store.h"
#include "libs/store/pg_secret_writer.h"
#include "services/config/adapters.h"
#include "services/config/connection_tester.h"
#include "services/config/grpc/config_service.h"
#include "services/config/state_exporter.h"

ABSL_FLAG(int, state_export_interval_s, 0,
          "seconds between refreshes of the connector state gauges (default "
          "$POSTROOM_STATE_EXPORT_INTERVAL_S or 15)");

namespace postroom {
namespace {

int Fail(const absl::Status& st) { return server::ExitWith("postroom-config", st); }

int Migrate(const server::CommonSettings& s) {
  if (absl::Status st = server::RequireDatabase(s); !st.ok()) return Fail(st);
  store::Database db({.uri = s.database, .pool_size = 1,
                      .application_name = "postroom-config-migrate"});
  absl::StatusOr<int> version = store::Migrate(db);
  if (!version.ok()) return Fail(version.status());
  std::printf("schema at version %d\n", *version);
  return 0;
}

// `token create NAME ROLE`: adds a token's hash line to the tokens file and prints the token,
// the only time it is shown.
int Token(const std::vector<char*>& args) {
  constexpr char kUsage[] =
      "usage: postroom-config token create NAME viewer|operator|admin --tokens-file FILE";
  if (args.size() != 5 || std::string(args[2]) != "create") {
    std::fprintf(stderr, "postroom-config: %s\n", kUsage);
    return 2;
  }
  const std::string name = args[3];
  std::optional<auth::Role> role = auth::ParseRole(args[4]);
  if (!role) {
    std::fprintf(stderr, "postroom-config: unknown role \"%s\"; %s\n", args[4], kUsage);
    return 2;
  }
  absl::StatusOr<std::string> path = server::TokensFilePath();
  if (!path.ok()) return Fail(path.status());
  absl::StatusOr<std::string> token = auth::CreateToken(*path, name, *role);
  if (!token.ok()) return Fail(token.status());
  std::printf("%s\n", token->c_str());
  std::fprintf(stderr,
               "added token \"%s\" (%s) to %s; it is printed only now, the file keeps its hash. "
               "Running services accept it within seconds.\n",
               name.c_str(), args[4], path->c_str());
  return 0;
}

int Serve(const server::CommonSettings& s) {
  if (absl::Status st = server::RequireDatabase(s); !st.ok()) return Fail(st);
  absl::StatusOr<std::unique_ptr<auth::TokenAuthenticator>> authenticator =
      server::LoadAuthenticator();
  if (!authenticator.ok()) return Fail(authenticator.status());

  absl::StatusOr<secrets::Keyring> keyring = server::LoadKeyring();
  if (!keyring.ok()) return Fail(keyring.status());

  store::Database db({.uri = s.database, .pool_size = 8,
                      .application_name = "postroom-config"});
  if (absl::Status st = store::RequireSchemaVersion(db, store::LatestSchemaVersion()); !st.ok()) {
    return Fail(st);
  }
  store::PgConfigStore store(db);
  config::KeyringSealer sealer(*keyring);
  config::RulesRouteValidator routes;
  config::TemplatesValidator templates;
  // A refresh token rotated during a test is kept like the fetcher keeps one.
  store::PgSecretWriter secret_writer(db);
  config::MailConnectionTester tester(
      [&](const std::string& connector, const std::string& rt) {
        return secret_writer.WriteRefreshToken(*keyring, connector, rt);
      });
  config::ConfigCore core({.store = &store, .sealer = &sealer, .tester = &tester,
                           .routes = &routes, .templates = &templates,
                           .clock = &RealClock()});
  config::ConfigService service(core, **authenticator);
  int export_interval_s = absl::GetFlag(FLAGS_state_export_interval_s);
  if (export_interval_s <= 0) {
    export_interval_s = std::atoi(server::EnvOr("POSTROOM_STATE_EXPORT_INTERVAL_S", "15").c_str());
  }
  config::StateExporter exporter(db, absl::Seconds(std::max(1, export_interval_s)));

  server::ServerOptions options = server::ServerOptionsFor("config", s, &db, authenticator->get());
  options.readiness = [&db] {
    return store::RequireSchemaVersion(db, store::LatestSchemaVersion());
  };
  absl::Status st = server::Serve(options, {&service});
  if (!st.ok()) return Fail(st);
  return 0;
}

}  // namespace
}  // namespace postroom

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "postroom-config: connectors, routes, templates, blocked addresses and settings over gRPC.\n"
      "Usage: postroom-config [serve] [flags]    serve the ConfigService (port 50051)\n"
      "       postroom-config migrate [flags]    apply database migrations and exit\n"
      "       postroom-config token create NAME ROLE --tokens-file FILE\n"
      "                                          add a token (printed once, its hash kept)");
  std::vector<char*> args = postroom::server::ParseFlags(argc, argv);
  postroom::server::CommonSettings settings =
      postroom::server::ResolveCommonSettings("config", 50051, 9101);
  std::string command = args.size() > 1 ? args[1] : "serve";
  if (command == "migrate") return postroom::Migrate(settings);
  if (command == "token") return postroom::Token(args);
  if (command == "serve") return postroom::Serve(settings);
  std::fprintf(stderr, "postroom-config: unknown command \"%s\": use serve, migrate or token\n",
               command.c_str());
  return 2;
}
