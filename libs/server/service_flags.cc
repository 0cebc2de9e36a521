#include "libs/server/service_flags.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/log.h"
#include "libs/base/version.h"
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
          "service's: router the largest incoming connector's max_message_bytes (at least 25 "
          "MiB) plus 1 MiB, read at start; others 4)");
ABSL_FLAG(int, grpc_memory_mib, 0,
          "memory gRPC may use for all connections and calls, MiB (default "
          "$POSTROOM_GRPC_MEMORY_MIB or 512)");
ABSL_FLAG(int, max_streams_per_token, 0,
          "WatchWorkItems and RouteStream streams one token may hold open (default "
          "$POSTROOM_MAX_STREAMS_PER_TOKEN or 64; at least fetcher replicas x --route-threads "
          "for the services' token)");
ABSL_FLAG(bool, log_json, false, "log JSON lines instead of key=value (or POSTROOM_LOG_JSON=1)");

namespace postroom::server {

namespace {

// Flags defined in Abseil's own sources (--flagfile, --fromenv, the --help family) are not the
// service's: --help lists only postroom's.
bool IsAbseilFlag(const absl::CommandLineFlag& flag) {
  return absl::StrContains(flag.Filename(), "absl/");
}

std::string Dashed(absl::string_view name) {
  std::string n(name);
  std::replace(n.begin(), n.end(), '_', '-');
  return n;
}

std::string ProgramName(const char* argv0) {
  std::string p = argv0 != nullptr ? argv0 : "postroom";
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// absl prints --help to stdout but exits 1, and lists only flags of a file named like the
// program; a service's flags live in libs/server and its main.cc, so help is printed here.
void PrintHelp(std::ostream& out) {
  out << absl::ProgramUsageMessage() << "\n\nFlags (--name value or --name=value; - and _ are "
      << "the same; a flag wins over its environment variable):\n";
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!IsAbseilFlag(*flag)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](auto* a, auto* b) { return a->Name() < b->Name(); });
  for (const absl::CommandLineFlag* f : flags) {
    // An empty default means "from the environment variable or the default the help names".
    const std::string def = f->DefaultValue();
    out << "  --" << Dashed(f->Name()) << "\n      " << f->Help() << "\n";
    if (!def.empty()) out << "      default: " << def << "\n";
  }
  out << "  --help\n      this text\n  --version\n      the version and the commit it was built "
         "from\n";
}

[[noreturn]] void UnknownFlag(const std::string& program, absl::string_view arg) {
  std::string usage(absl::ProgramUsageMessage());
  size_t at = usage.find("Usage:");
  std::cerr << program << ": unknown flag " << arg << "\n"
            << (at == std::string::npos ? usage : usage.substr(at)) << "\nRun '" << program
            << " --help' for its flags.\n";
  std::exit(2);
}

// Handles --help and --version (exit 0) and refuses a flag no one defines (exit 2, with the
// usage), before absl parses: absl exits 1 for both. Arguments after "--" are not flags.
void HandleUsageAndUnknownFlags(const std::vector<std::string>& args) {
  const std::string program = ProgramName(args.empty() ? nullptr : args[0].c_str());
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return;
    if (arg == "-h") {
      PrintHelp(std::cout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) continue;
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (name == "help" || name == "helpfull" || name == "helpshort" || name == "helppackage") {
      PrintHelp(std::cout);
      std::exit(0);
    }
    if (name == "version") {
      std::cout << program << " " << kVersion << " (commit " << kCommit << ")\n";
      std::exit(0);
    }
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      const absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) continue;
    }
    if (flag == nullptr) UnknownFlag(program, "--" + Dashed(name));
    // "--name value": the value is the next argument, whatever it looks like.
    if (eq == std::string::npos && !flag->IsOfType<bool>()) ++i;
  }
}

}  // namespace

std::vector<char*> ParseFlags(int argc, char** argv) {
  // The rewritten spellings live as long as the process: absl keeps pointers into argv.
  static std::vector<std::string>* storage = new std::vector<std::string>();
  storage->reserve(argc);
  std::vector<char*> args;
  bool flags_ended = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") flags_ended = true;
    if (i > 0 && !flags_ended && arg.rfind("--", 0) == 0) {
      size_t end = arg.find('=');
      if (end == std::string::npos) end = arg.size();
      for (size_t j = 2; j < end; ++j) {
        if (arg[j] == '-') arg[j] = '_';
      }
    }
    storage->push_back(arg);
  }
  HandleUsageAndUnknownFlags(*storage);
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
