#include "tools/postroomctl/connection.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace postroom::ctl {
namespace {

struct Setting {
  const char* key;  // In the client config file; the flag is the same with '-' for '_'.
  const char* env;
};

constexpr Setting kSettings[] = {
    {"config_addr", "POSTROOM_CONFIG_ADDR"},
    {"router_addr", "POSTROOM_ROUTER_ADDR"},
    {"fetcher_addr", "POSTROOM_FETCHER_ADDR"},
    {"sender_addr", "POSTROOM_SENDER_ADDR"},
    {"token", "POSTROOM_TOKEN"},
    {"tls", "POSTROOM_TLS"},
    {"ca_file", "POSTROOM_CA_FILE"},
    {"timeout", "POSTROOM_TIMEOUT"},
};

std::string FlagName(const char* key) {
  std::string s = key;
  for (char& c : s) {
    if (c == '_') c = '-';
  }
  return s;
}

absl::StatusOr<bool> ParseBool(const std::string& what, const std::string& text) {
  const std::string v = absl::AsciiStrToLower(text);
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no" || v.empty()) return false;
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": expected true or false, got \"", text, "\""));
}

// Reads the client config file into key -> value; `explicit_path` makes a missing file an error.
absl::StatusOr<std::map<std::string, std::string>> ReadClientConfig(
    const std::string& path, bool explicit_path, const FileReader& read_file,
    std::vector<std::string>* warnings, std::string* used) {
  std::map<std::string, std::string> values;
  absl::StatusOr<std::string> text = read_file(path);
  if (!text.ok()) {
    if (!explicit_path && absl::IsNotFound(text.status())) return values;
    return absl::InvalidArgumentError(
        absl::StrCat("client config ", path, ": ", text.status().message()));
  }
  *used = path;
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  if (!root || root.IsNull()) return values;
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a map of settings"));
  }
  for (const auto& kv : root) {
    const YAML::Node first = kv.first, second = kv.second;
    const std::string key = first.IsScalar() ? first.Scalar() : "";
    bool known = false;
    for (const Setting& s : kSettings) known = known || key == s.key;
    if (!known) {
      warnings->push_back(
          absl::StrCat(path, ":", first.Mark().line + 1, ": unknown key \"", key, "\" ignored"));
      continue;
    }
    if (!second.IsScalar() && !second.IsNull()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", second.Mark().line + 1, ": ", key, ": expected a single value"));
    }
    values[key] = second.IsNull() ? "" : second.Scalar();
  }
  return values;
}

}  // namespace

FileReader DiskFileReader() {
  return [](const std::string& path) -> absl::StatusOr<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) {
        return absl::NotFoundError(absl::StrCat(path, " does not exist"));
      }
      return absl::PermissionDeniedError(absl::StrCat("cannot open ", path));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
    return ss.str();
  };
}

std::vector<FlagSpec> ConnectionFlags() {
  return {
      {"config-addr", 0, true, false, "HOST:PORT", "config service (POSTROOM_CONFIG_ADDR)"},
      {"router-addr", 0, true, false, "HOST:PORT", "router service (POSTROOM_ROUTER_ADDR)"},
      {"fetcher-addr", 0, true, false, "HOST:PORT", "fetcher service (POSTROOM_FETCHER_ADDR)"},
      {"sender-addr", 0, true, false, "HOST:PORT", "sender service (POSTROOM_SENDER_ADDR)"},
      {"token", 0, true, false, "TOKEN", "bearer token (POSTROOM_TOKEN)"},
      {"tls", 0, false, false, "", "connect with TLS (POSTROOM_TLS)"},
      {"ca-file", 0, true, false, "PEM", "CA bundle to verify the servers with; implies --tls (POSTROOM_CA_FILE)"},
      {"timeout", 0, true, false, "DURATION", "per-call deadline, default 10s (POSTROOM_TIMEOUT)"},
      {"client-config", 0, true, false, "PATH",
       "client config file (POSTROOM_CLIENT_CONFIG, ~/.config/postroom/client.yaml)"},
  };
}

absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text) {
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout: expected a duration such as 10s, 1m or 500ms, got \"", text, "\""));
  }
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout: must be positive, got \"", text, "\""));
  }
  return d;
}

absl::StatusOr<ConnectionOptions> ResolveConnection(const ParsedArgs& flags, const EnvLookup& env,
                                                    const FileReader& read_file,
                                                    std::vector<std::string>* warnings) {
  std::string path;
  bool explicit_path = true;
  if (flags.Has("client-config")) {
    path = flags.Get("client-config");
  } else if (auto p = env("POSTROOM_CLIENT_CONFIG"); p.has_value() && !p->empty()) {
    path = *p;
  } else if (auto home = env("HOME"); home.has_value() && !home->empty()) {
    path = absl::StrCat(*home, "/.config/postroom/client.yaml");
    explicit_path = false;
  }
  ConnectionOptions options;
  std::map<std::string, std::string> file;
  if (!path.empty()) {
    absl::StatusOr<std::map<std::string, std::string>> read =
        ReadClientConfig(path, explicit_path, read_file, warnings, &options.client_config);
    if (!read.ok()) return read.status();
    file = *std::move(read);
  }

  // Each setting: (value, where it came from) by precedence.
  auto lookup = [&](const Setting& s) -> std::optional<std::pair<std::string, std::string>> {
    if (flags.Has(FlagName(s.key))) {
      return std::make_pair(flags.Get(FlagName(s.key)), absl::StrCat("--", FlagName(s.key)));
    }
    if (auto v = env(s.env); v.has_value() && !v->empty()) return std::make_pair(*v, s.env);
    if (auto it = file.find(s.key); it != file.end() && !it->second.empty()) {
      return std::make_pair(it->second, absl::StrCat(path, ": ", s.key));
    }
    return std::nullopt;
  };
  for (const Setting& s : kSettings) {
    auto found = lookup(s);
    if (!found.has_value()) continue;
    const auto& [value, where] = *found;
    const std::string key = s.key;
    if (key == "config_addr") options.config_addr = value;
    if (key == "router_addr") options.router_addr = value;
    if (key == "fetcher_addr") options.fetcher_addr = value;
    if (key == "sender_addr") options.sender_addr = value;
    if (key == "token") options.token = value;
    if (key == "ca_file") options.ca_file = value;
    if (key == "tls") {
      absl::StatusOr<bool> tls = ParseBool(where, value);
      if (!tls.ok()) return tls.status();
      options.tls = *tls;
    }
    if (key == "timeout") {
      absl::StatusOr<absl::Duration> d = ParseTimeout(value);
      if (!d.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", d.status().message()));
      }
      options.timeout = *d;
    }
  }
  return options;
}

}  // namespace postroom::ctl
