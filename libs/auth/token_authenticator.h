#pragma once

// Bearer-token authentication from a tokens file (POSTROOM_TOKENS_FILE).
//
// File format, one token per line: `name role sha256:<64 lowercase hex>`, the SHA-256 of the
// token; blank lines and lines starting with '#' are ignored. name: 1-64 characters from
// A-Z a-z 0-9 . _ @ -, unique, not "system" (the audit log's actor for the services' own
// changes). role: viewer, operator or admin. The file holds no token itself, so reading it (a
// backup, a mounted Secret, a support bundle) gives no access; `postroom-config token create`
// makes a token, prints it once and adds its line (CreateToken). A line with a plaintext token
// (the format before) is refused with the way to convert it, not accepted with a warning: a
// file that still holds tokens is the leak the hashes exist to prevent.
//
// A presented token is hashed and compared with every stored hash using CRYPTO_memcmp, so
// timing reveals neither which bytes matched nor, being over hashes, anything about a token.
#include <array>
#include <cstddef>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/auth/role.h"

namespace postroom::auth {

inline constexpr char kTokensFileEnv[] = "POSTROOM_TOKENS_FILE";
inline constexpr size_t kMinTokenLength = 16;
inline constexpr size_t kMaxTokenLength = 512;

using TokenHash = std::array<unsigned char, 32>;

// SHA-256 of `token`. INTERNAL: OpenSSL failed (only if it cannot allocate).
absl::StatusOr<TokenHash> HashToken(std::string_view token);

struct TokenEntry {
  std::string name;
  Role role = Role::kViewer;
  TokenHash token_sha256{};
};

// Parses a tokens file's text; `source` names it in messages. INVALID_ARGUMENT with
// "source:line: " for: not exactly three fields, a bad or reserved name, an unknown role, a
// third field that is not `sha256:` and 64 lowercase hex digits (a plaintext token gets the
// migration advice), a duplicate name, a duplicate hash, or no token at all. Messages never
// contain a token.
absl::StatusOr<std::vector<TokenEntry>> ParseTokensFile(std::string_view contents,
                                                        std::string_view source);

// 32 random bytes as unpadded base64url (43 characters). INTERNAL: the random generator failed.
absl::StatusOr<std::string> GenerateToken();

// The tokens-file line for `token`: "name role sha256:<hex>\n". INVALID_ARGUMENT: a bad or
// reserved name, or a token of other than 16-512 printable characters.
absl::StatusOr<std::string> TokenFileLine(std::string_view name, Role role, std::string_view token);

// Makes a new token for `name`, adds its hash line to the tokens file at `path` (created with
// mode 0600 when missing, else replaced atomically) and returns the token, which is kept
// nowhere: the caller shows it once. The running services pick the line up within seconds.
// ALREADY_EXISTS: the file has that name. The errors of TokenFileLine, of ParseTokensFile for
// the existing file (which is left as it is), and of reading and writing private files.
absl::StatusOr<std::string> CreateToken(const std::string& path, std::string_view name, Role role);

// Authenticates `authorization` header values against the loaded tokens. Thread-safe: Reload()
// swaps the token table atomically while Authenticate() runs on other threads; a call sees the
// old table or the new, never a mix.
class TokenAuthenticator {
 public:
  // Loads the tokens file at `path` (refused if world-accessible, as for secret key files).
  // Errors: those of ReadPrivateFile (NOT_FOUND, PERMISSION_DENIED, FAILED_PRECONDITION) and
  // ParseTokensFile (INVALID_ARGUMENT).
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromFile(std::string path);
  // FromFile(getenv(POSTROOM_TOKENS_FILE)). FAILED_PRECONDITION: the variable is unset.
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromEnvironment();
  // From a tokens file's text, for tests and embedded defaults; the text is not kept, so
  // Reload() then fails with FAILED_PRECONDITION. Errors of ParseTokensFile.
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromContents(
      std::string_view contents);

  TokenAuthenticator(const TokenAuthenticator&) = delete;
  TokenAuthenticator& operator=(const TokenAuthenticator&) = delete;

  // Accepts `Bearer <token>` (scheme case-insensitive, RFC 7235). UNAUTHENTICATED: empty or
  // missing value, another scheme, or a token not in the table (revoked or mistyped); the
  // message never echoes the token. INTERNAL: hashing failed in OpenSSL.
  absl::StatusOr<Principal> Authenticate(std::string_view authorization) const;

  // Re-reads the file and swaps the table in, so tokens rotate without a restart. On error the
  // current tokens stay in force and the error (as FromFile's) is returned.
  // FAILED_PRECONDITION: built FromContents, so there is no file.
  absl::Status Reload();

  size_t token_count() const;
  // The file path, or "" when built FromContents.
  const std::string& path() const { return path_; }

 private:
  struct Table {
    std::vector<TokenEntry> entries;
  };
  TokenAuthenticator(std::string path, std::shared_ptr<const Table> table);
  static absl::StatusOr<std::shared_ptr<const Table>> LoadTable(const std::string& path);
  std::shared_ptr<const Table> Current() const;

  const std::string path_;
  // Guards only the copy or swap of table_; lookups run on the copy without a lock, and a table
  // lives until its last reader drops it. std::shared_mutex rather than absl::Mutex or
  // std::atomic<std::shared_ptr>: Debian's Abseil is not TSan-instrumented and libstdc++ 12's
  // atomic shared_ptr uses an unannotated lock bit, so TSan reported both as races.
  mutable std::shared_mutex mu_;
  std::shared_ptr<const Table> table_;  // Guarded by mu_.
};

}  // namespace postroom::auth
