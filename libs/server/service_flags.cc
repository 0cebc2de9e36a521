#include "libs/server/service_flags.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/base/log.h"
#include "libs/server/stream_registry.h"

ABSL_FLAG(std::string, listen, "", "gRPC address (default $POSTROOM_<SERVICE>_LISTEN or 127.0.0.1:<port>)");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus /metrics address (default $POSTROOM_<SERVICE>_METRICS_LISTEN or 127.0.0.1:<port>)");
ABSL_FLAG(std::string, database, "", "PostgreSQL libpq URI (default $POSTROOM_DATABASE)");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate for the gRPC port (default $POSTROOM_TLS_CERT)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for the gRPC port (default $POSTROOM_TLS_KEY)");
ABSL_FLAG(std::string, tokens_file, "",
          "API tokens, lines of `name role sha256:<hex>` (default $POSTROOM_TOKENS_FILE)");
ABSL_FLAG(std::string, secret_key_file, "",
          "AES-256 keys for secrets at rest (default $POSTROOM_SECRET_KEY_FILE or "
          "$POSTROOM_SECRET_KEY)");
ABSL_FLAG(int, max_receive_mib, 0,
          "largest gRPC request message in MiB (default $POSTROOM_MAX_RECEIVE_MIB, else the "
          "service's: router 26 = the 25 MiB largest email plus 1 MiB, others 4)");
ABSL_FLAG(int, grpc_memory_mib, 0,
          "memory gRPC may use for all connections and calls, MiB (default "
          "$POSTROOM_GRPC_MEMORY_MIB or 512)");
ABSL_FLAG(int, max_streams_per_token, 0,
          "WatchWorkItems and RouteStream streams one token may hold open (default "
          "$POSTROOM_MAX_STREAMS_PER_TOKEN or 64; at least fetcher replicas x --route-threads "
          "for the services' token)");
ABSL_FLAG(bool, log_json, false, "log JSON lines instead of key=value (or POSTROOM_LOG_JSON=1)");

namespace postroom::server {

std::vector<char*> ParseFlags(int argc, char** argv) {
  // The rewritten spellings live as long as the process: absl keeps pointers into argv.
  static std::vector<std::string>* storage = new std::vector<std::string>();
  storage->reserve(argc);
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && arg.rfind("--", 0) == 0) {
      size_t end = arg.find('=');
      if (end == std::string::npos) end = arg.size();
      for (size_t j = 2; j < end; ++j) {
        if (arg[j] == '-') arg[j] = '_';
      }
    }
    storage->push_back(arg);
  }
  for (std::string& s : *storage) args.push_back(s.data());
  return absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
}

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

int IntSetting(int flag, const char* env, int fallback) {
  if (flag > 0) return flag;
  int v = std::atoi(EnvOr(env, "0").c_str());
  return v > 0 ? v : fallback;
}

absl::StatusOr<std::string> TokensFilePath() {
  std::string tokens_file = absl::GetFlag(FLAGS_tokens_file);
  if (tokens_file.empty()) tokens_file = EnvOr("POSTROOM_TOKENS_FILE", "");
  if (tokens_file.empty()) {
    return absl::InvalidArgumentError(
        "no API tokens: set --tokens-file or POSTROOM_TOKENS_FILE (lines of `name role "
        "sha256:<hex>`, made by `postroom-config token create`)");
  }
  return tokens_file;
}

absl::StatusOr<std::unique_ptr<auth::TokenAuthenticator>> LoadAuthenticator() {
  absl::StatusOr<std::string> tokens_file = TokensFilePath();
  if (!tokens_file.ok()) return tokens_file.status();
  return auth::TokenAuthenticator::FromFile(*tokens_file);
}

absl::StatusOr<secrets::Keyring> LoadKeyring() {
  secrets::KeyringSources sources;
  std::string key_file = absl::GetFlag(FLAGS_secret_key_file);
  if (key_file.empty()) key_file = EnvOr("POSTROOM_SECRET_KEY_FILE", "");
  if (!key_file.empty()) sources.key_file = key_file;
  std::string key_env = EnvOr("POSTROOM_SECRET_KEY", "");
  if (!key_env.empty()) sources.key_env = key_env;
  return secrets::Keyring::Load(sources);
}

CommonSettings ResolveCommonSettings(const std::string& service, int grpc_port, int metrics_port,
                                     int max_receive_mib) {
  std::string upper = absl::AsciiStrToUpper(service);
  auto pick = [](const std::string& flag, const std::string& env, const std::string& fallback) {
    return !flag.empty() ? flag : EnvOr(env.c_str(), fallback);
  };
  CommonSettings s;
  // The per-service variable wins over the generic one, which a container sets for its only
  // service (deploy/k8s uses POSTROOM_GRPC_LISTEN=0.0.0.0:<port>).
  s.listen = pick(absl::GetFlag(FLAGS_listen), absl::StrCat("POSTROOM_", upper, "_LISTEN"),
                  EnvOr("POSTROOM_GRPC_LISTEN", absl::StrCat("127.0.0.1:", grpc_port)));
  s.metrics_listen =
      pick(absl::GetFlag(FLAGS_metrics_listen), absl::StrCat("POSTROOM_", upper, "_METRICS_LISTEN"),
           EnvOr("POSTROOM_METRICS_LISTEN", absl::StrCat("127.0.0.1:", metrics_port)));
  s.database = pick(absl::GetFlag(FLAGS_database), "POSTROOM_DATABASE", "");
  s.tls_cert = pick(absl::GetFlag(FLAGS_tls_cert), "POSTROOM_TLS_CERT", "");
  s.tls_key = pick(absl::GetFlag(FLAGS_tls_key), "POSTROOM_TLS_KEY", "");
  s.log_json = absl::GetFlag(FLAGS_log_json) || EnvOr("POSTROOM_LOG_JSON", "0") == "1";
  s.max_receive_mib =
      std::min(2047, IntSetting(absl::GetFlag(FLAGS_max_receive_mib), "POSTROOM_MAX_RECEIVE_MIB",
                                max_receive_mib));  // gRPC takes an int of bytes.
  s.grpc_memory_mib =
      IntSetting(absl::GetFlag(FLAGS_grpc_memory_mib), "POSTROOM_GRPC_MEMORY_MIB", 512);
  s.max_streams_per_token =
      IntSetting(absl::GetFlag(FLAGS_max_streams_per_token), "POSTROOM_MAX_STREAMS_PER_TOKEN",
                 kDefaultMaxStreamsPerToken);
  SetLogJson(s.log_json);
  return s;
}

ServerOptions ServerOptionsFor(const std::string& service, const CommonSettings& s,
                               store::Database* database, auth::TokenAuthenticator* authenticator) {
  ServerOptions options;
  options.service_name = service;
  options.listen = s.listen;
  options.metrics_listen = s.metrics_listen;
  options.tls_cert_file = s.tls_cert;
  options.tls_key_file = s.tls_key;
  options.database = database;
  options.authenticator = authenticator;
  options.max_receive_bytes = s.max_receive_mib << 20;
  options.memory_quota_bytes = static_cast<size_t>(s.grpc_memory_mib) << 20;
  return options;
}

absl::Status RequireDatabase(const CommonSettings& s) {
  if (!s.database.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError("no database: set --database or POSTROOM_DATABASE");
}

int ExitWith(const char* program, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", program, std::string(status.message()).c_str());
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

std::string ReplicaName(const std::string& flag, const char* env, const char* service) {
  if (!flag.empty()) return flag;
  std::string name = EnvOr(env, "");
  if (!name.empty()) return name;
  return absl::StrCat(EnvOr("HOSTNAME", service), "-", getpid());
}

}  // namespace postroom::server
