// postroom-keygen: makes secret keys and API tokens for scripts.
//   postroom-keygen                       print a key line `key_id base64key`
//   postroom-keygen --out FILE            create a new key file (mode 0600)
//   postroom-keygen --rotate FILE         add a new primary key to an existing key file
//   postroom-keygen --key-id ID ...       choose the key id (default: k<UTC yyyymmddhhmmss>)
//   postroom-keygen --token               print a random token (tokens-file lines hold hashes:
//                                         `postroom-config token create` writes them)
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/auth/role.h"
#include "libs/auth/token_authenticator.h"
#include "libs/base/version.h"
#include "libs/secrets/keyring.h"

namespace {

constexpr char kUsage[] =
    "usage: postroom-keygen [--key-id ID] [--out FILE | --rotate FILE]\n"
    "       postroom-keygen --token\n"
    "Prints a secret key line `key_id base64(32 bytes)` for POSTROOM_SECRET_KEY_FILE,\n"
    "or with --out creates a key file, or with --rotate makes a new key primary in one.\n"
    "--token prints a random API token; `postroom-config token create NAME ROLE --tokens-file F`\n"
    "makes one and adds its hash line to a tokens file.\n";

int Fail(const absl::Status& st) {
  std::fprintf(stderr, "postroom-keygen: %s\n", std::string(st.ToString()).c_str());
  return 1;
}

int Usage(const char* problem) {
  std::fprintf(stderr, "postroom-keygen: %s\n%s", problem, kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string key_id, out, rotate, name, role;
  bool token = false;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&](std::string& dst) {
      if (i + 1 >= args.size()) return false;
      dst = std::string(args[++i]);
      return true;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("postroom-keygen %s (commit %s)\n", postroom::kVersion, postroom::kCommit);
      return 0;
    } else if (a == "--token") {
      token = true;
    } else if (a == "--key-id") {
      if (!value(key_id)) return Usage("--key-id needs a value");
    } else if (a == "--out") {
      if (!value(out)) return Usage("--out needs a file");
    } else if (a == "--rotate") {
      if (!value(rotate)) return Usage("--rotate needs a file");
    } else if (a == "--name") {
      if (!value(name)) return Usage("--name needs a value");
    } else if (a == "--role") {
      if (!value(role)) return Usage("--role needs a value");
    } else {
      return Usage(("unknown argument " + std::string(a)).c_str());
    }
  }

  if (token) {
    if (!key_id.empty() || !out.empty() || !rotate.empty()) {
      return Usage("--token does not combine with --key-id, --out or --rotate");
    }
    if (!name.empty() || !role.empty()) {
      // A `name role token` line is no longer a tokens-file line: the file holds hashes.
      return Usage(
          "--name and --role are gone: `postroom-config token create NAME ROLE --tokens-file "
          "FILE` adds a token's hash line and prints the token");
    }
    absl::StatusOr<std::string> t = postroom::auth::GenerateToken();
    if (!t.ok()) return Fail(t.status());
    std::printf("%s\n", t->c_str());
    return 0;
  }
  if (!name.empty() || !role.empty()) return Usage("--name and --role need --token");
  if (!out.empty() && !rotate.empty()) return Usage("choose one of --out and --rotate");

  if (key_id.empty()) {
    key_id = "k" + absl::FormatTime("%Y%m%d%H%M%S", absl::Now(), absl::UTCTimeZone());
  }
  if (!out.empty()) {
    if (absl::Status st = postroom::secrets::GenerateKeyFile(out, key_id); !st.ok())
      return Fail(st);
    std::fprintf(stderr, "created %s with primary key %s\n", out.c_str(), key_id.c_str());
    return 0;
  }
  if (!rotate.empty()) {
    if (absl::Status st = postroom::secrets::RotateKeyFile(rotate, key_id); !st.ok()) {
      return Fail(st);
    }
    std::fprintf(stderr,
                 "%s: key %s is now primary; restart the services, then re-encrypt stored "
                 "secrets before removing older keys\n",
                 rotate.c_str(), key_id.c_str());
    return 0;
  }
  absl::StatusOr<std::string> line = postroom::secrets::GenerateKeyLine(key_id);
  if (!line.ok()) return Fail(line.status());
  std::fputs(line->c_str(), stdout);
  return 0;
}
