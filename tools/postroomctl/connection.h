#pragma once

// Where the services are and how to authenticate: resolved from flags, environment variables
// and the client config file, in that precedence, over the loopback defaults.
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/postroomctl/args.h"
#include "tools/postroomctl/yaml_proto.h"

namespace postroom::ctl {

struct ConnectionOptions {
  std::string config_addr = "127.0.0.1:50051";
  std::string router_addr = "127.0.0.1:50052";
  std::string fetcher_addr = "127.0.0.1:50053";
  std::string sender_addr = "127.0.0.1:50054";
  std::string token;  // Sent as "authorization: Bearer <token>"; empty sends nothing.
  bool tls = false;
  std::string ca_file;  // PEM roots for TLS; empty: the system's.
  absl::Duration timeout = absl::Seconds(10);
  std::string client_config;  // The client config file that was read; "" if none.
};

// Reads a whole file. NOT_FOUND when it does not exist. Injected so tests touch no disk.
using FileReader = std::function<absl::StatusOr<std::string>(const std::string& path)>;
FileReader DiskFileReader();

// The global connection flags (--config-addr ... --client-config), for every command.
std::vector<FlagSpec> ConnectionFlags();

// Resolves each setting as flag > environment > client config file > default.
// Environment: POSTROOM_CONFIG_ADDR, POSTROOM_ROUTER_ADDR, POSTROOM_FETCHER_ADDR,
// POSTROOM_SENDER_ADDR, POSTROOM_TOKEN, POSTROOM_TLS, POSTROOM_CA_FILE, POSTROOM_TIMEOUT.
// The file is --client-config, else $POSTROOM_CLIENT_CONFIG, else
// $HOME/.config/postroom/client.yaml when it exists; keys config_addr, router_addr,
// fetcher_addr, sender_addr, token, tls, ca_file, timeout. Unknown keys in the file are
// reported in `warnings` (a newer run-local may write more). INVALID_ARGUMENT for an unreadable
// or malformed file named explicitly, a bad duration or a bad boolean.
absl::StatusOr<ConnectionOptions> ResolveConnection(const ParsedArgs& flags, const EnvLookup& env,
                                                    const FileReader& read_file,
                                                    std::vector<std::string>* warnings);

// "10s", "1m30s", "500ms" or plain seconds ("5").
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text);

}  // namespace postroom::ctl
