#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/auth/token_authenticator.h"
#include "libs/secrets/keyring.h"
#include "libs/server/server.h"

namespace postroom::server {

// Settings every service takes, each from a flag, else an environment variable, else a default:
//   --listen          POSTROOM_<SERVICE>_LISTEN, POSTROOM_GRPC_LISTEN        127.0.0.1:<grpc port>
//   --metrics-listen  POSTROOM_<SERVICE>_METRICS_LISTEN, POSTROOM_METRICS_LISTEN
//                                                                        127.0.0.1:<metrics port>
//   --database        POSTROOM_DATABASE                  (required by most services)
//   --tls-cert/--tls-key  POSTROOM_TLS_CERT / POSTROOM_TLS_KEY
//   --log-json        POSTROOM_LOG_JSON=1
//   --max-receive-mib POSTROOM_MAX_RECEIVE_MIB       the service's default (router: from its
//                                                    connectors, below; else 4)
//   --grpc-memory-mib POSTROOM_GRPC_MEMORY_MIB       512
//   --max-streams-per-token  POSTROOM_MAX_STREAMS_PER_TOKEN   64
// The flags themselves are defined once in service_flags.cc, linked into every service.
struct CommonSettings {
  std::string listen;
  std::string metrics_listen;
  std::string database;
  std::string tls_cert;
  std::string tls_key;
  bool log_json = false;
  int max_receive_mib = 4;    // The largest request message, MiB; 0: the service derives it.
  int grpc_memory_mib = 512;  // gRPC's memory quota, MiB.
  int max_streams_per_token = 64;
};

// `service` is "config", "router", "fetcher" or "sender"; the ports and the receive limit
// (MiB) are its defaults. A default receive limit of 0 stays 0 unless the flag or variable is
// set: the router then derives it from its connectors' max_message_bytes.
CommonSettings ResolveCommonSettings(const std::string& service, int grpc_port, int metrics_port,
                                     int max_receive_mib = 4);

// INVALID_ARGUMENT naming the flag and variable when no database is set; else OK.
absl::Status RequireDatabase(const CommonSettings& s);

// What a service's main returns on a fatal error after printing "<program>: <message>" to
// stderr: 2 for INVALID_ARGUMENT (a usage or configuration mistake), else 1.
int ExitWith(const char* program, const absl::Status& status);

// The name a replica gives itself (lease and claim owner): `flag`, else $<env>, else
// "<hostname>-<pid>" (hostname from $HOSTNAME, else `service`).
std::string ReplicaName(const std::string& flag, const char* env, const char* service);

// Serve()'s options from the common settings: addresses, TLS, limits, the tokens every call
// must carry (may be null: none), and the database whose pool it reports. Readiness and the
// rest are the caller's.
ServerOptions ServerOptionsFor(const std::string& service, const CommonSettings& s,
                               store::Database* database, auth::TokenAuthenticator* authenticator);

// absl::ParseCommandLine that also accepts flags spelled with hyphens (--metrics-listen), as
// people type them; absl names flags with underscores. Returns the positional arguments.
std::vector<char*> ParseFlags(int argc, char** argv);

// The tokens file's path from --tokens-file or POSTROOM_TOKENS_FILE. INVALID_ARGUMENT when
// neither is set.
absl::StatusOr<std::string> TokensFilePath();

// The API tokens from TokensFilePath(); its error, or the authenticator's.
absl::StatusOr<std::unique_ptr<auth::TokenAuthenticator>> LoadAuthenticator();

// The keys for secrets at rest, from --secret-key-file, POSTROOM_SECRET_KEY_FILE or
// POSTROOM_SECRET_KEY; the keyring's errors (none or both given, bad file) otherwise.
absl::StatusOr<secrets::Keyring> LoadKeyring();

// The value of an environment variable, or `fallback` when unset or empty.
std::string EnvOr(const char* name, const std::string& fallback);

// A positive integer setting: `flag` when above 0, else the environment variable `env` when it
// holds a positive number, else `fallback`.
int IntSetting(int flag, const char* env, int fallback);

}  // namespace postroom::server
