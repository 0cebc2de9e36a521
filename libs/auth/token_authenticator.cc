#include "libs/auth/token_authenticator.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/status_macros.h"
#include "libs/secrets/private_file.h"
#include "libs/secrets/random.h"
#include "libs/secrets/secure_string.h"

namespace postroom::auth {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '@' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

bool IsPrintableToken(absl::string_view token) {
  for (char c : token) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status CheckName(absl::string_view name, absl::string_view where) {
  if (!IsValidName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "token name \"", absl::CHexEscape(name.substr(0, 80)),
                     "\" is invalid; use 1-64 characters from A-Z a-z 0-9 . _ @ -"));
  }
  if (name == "system") {
    return absl::InvalidArgumentError(absl::StrCat(
        where,
        "token name \"system\" is reserved for the services' own audit entries; pick another"));
  }
  return absl::OkStatus();
}

absl::Status CheckToken(absl::string_view token, absl::string_view where) {
  if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat(where, "a token is ", token.size(),
                                                   " characters; use ", kMinTokenLength, " to ",
                                                   kMaxTokenLength));
  }
  if (!IsPrintableToken(token)) {
    return absl::InvalidArgumentError(absl::StrCat(where, "a token has non-printable characters"));
  }
  return absl::OkStatus();
}

// The third field: `sha256:` and 64 lowercase hex digits. A plaintext token there is refused
// with the way to convert it: the file must not be a copy of every credential.
absl::StatusOr<TokenHash> ParseStoredHash(absl::string_view name, absl::string_view stored,
                                          absl::string_view where) {
  constexpr absl::string_view kPrefix = "sha256:";
  if (!absl::StartsWith(stored, kPrefix)) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "token \"", name,
        "\" is stored in plaintext; the tokens file holds only hashes, `name role "
        "sha256:<hex>`: replace the third field with sha256: and the output of `printf %s "
        "TOKEN | sha256sum`, or make a new token with `postroom-config token create ",
        name, " ROLE --tokens-file FILE`"));
  }
  absl::string_view hex = stored.substr(kPrefix.size());
  bool lower_hex = hex.size() == 64;
  for (char c : hex) lower_hex = lower_hex && (absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'));
  if (!lower_hex) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "token \"", name, "\" has a bad hash; after sha256: put 64 lowercase hex digits"));
  }
  const std::string bytes = absl::HexStringToBytes(hex);
  TokenHash hash{};
  std::copy(bytes.begin(), bytes.end(), hash.begin());
  return hash;
}

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(
      absl::StrCat(why,
                   "; send the header `authorization: Bearer <token>` with a token from the "
                   "tokens file (",
                   kTokensFileEnv, ")"));
}

}  // namespace

absl::StatusOr<TokenHash> HashToken(std::string_view token) {
  TokenHash out{};
  unsigned int len = 0;
  if (EVP_Digest(token.data(), token.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != out.size()) {
    return absl::InternalError(
        absl::StrCat("SHA-256 of a token failed in OpenSSL: ", secrets::TakeOpenSslErrors()));
  }
  return out;
}

absl::StatusOr<std::vector<TokenEntry>> ParseTokensFile(std::string_view contents,
                                                        std::string_view source) {
  std::vector<TokenEntry> entries;
  std::vector<int> entry_lines;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(AbslView(contents), '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = absl::StrCat(AbslView(source), ":", line_no, ": ");
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "expected `name role sha256:<hex>`, found ", fields.size(), " fields"));
    }
    absl::string_view name = fields[0], role_name = fields[1], stored = fields[2];
    if (absl::Status st = CheckName(name, where); !st.ok()) return st;
    std::optional<Role> role = ParseRole(std::string_view(role_name.data(), role_name.size()));
    if (!role) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "token \"", name, "\" has unknown role \"",
          absl::CHexEscape(role_name.substr(0, 40)), "\"; use viewer, operator or admin"));
    }
    absl::StatusOr<TokenHash> hash = ParseStoredHash(name, stored, where);
    if (!hash.ok()) return hash.status();
    TokenEntry entry{std::string(name), *role, *hash};
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].name == entry.name) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "token name \"", name, "\" is used twice (first on line ",
                         entry_lines[i], "); names must be unique: they are the audit actor"));
      }
      if (entries[i].token_sha256 == entry.token_sha256) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "token \"", name, "\" has the same token as \"", entries[i].name,
                         "\" on line ", entry_lines[i], "; every name needs its own token"));
      }
    }
    entries.push_back(std::move(entry));
    entry_lines.push_back(line_no);
  }
  if (entries.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(source),
                     ": no tokens; add one with `postroom-config token create NAME ROLE "
                     "--tokens-file FILE`"));
  }
  return entries;
}

absl::StatusOr<std::string> TokenFileLine(std::string_view name, Role role,
                                          std::string_view token) {
  POSTROOM_RETURN_IF_ERROR(CheckName(AbslView(name), ""));
  POSTROOM_RETURN_IF_ERROR(CheckToken(AbslView(token), ""));
  absl::StatusOr<TokenHash> hash = HashToken(token);
  if (!hash.ok()) return hash.status();
  return absl::StrCat(AbslView(name), " ", AbslView(RoleName(role)), " sha256:",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(hash->data()), hash->size())),
                      "\n");
}

absl::StatusOr<std::string> CreateToken(const std::string& path, std::string_view name, Role role) {
  std::string contents;
  absl::StatusOr<secrets::SecureString> existing = secrets::ReadPrivateFile(path, "tokens file");
  if (existing.ok()) {
    contents = std::string(existing->view());
    absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokensFile(contents, path);
    if (!entries.ok()) {
      return absl::Status(entries.status().code(),
                          absl::StrCat("fix the tokens file first: ", entries.status().message()));
    }
    for (const TokenEntry& e : *entries) {
      if (e.name == name) {
        return absl::AlreadyExistsError(
            absl::StrCat(path, " already has a token named \"", AbslView(name),
                         "\"; remove its line to revoke it, or pick another name"));
      }
    }
    if (!contents.empty() && contents.back() != '\n') contents += '\n';
  } else if (existing.status().code() != absl::StatusCode::kNotFound) {
    return existing.status();
  }
  absl::StatusOr<std::string> token = GenerateToken();
  if (!token.ok()) return token.status();
  absl::StatusOr<std::string> line = TokenFileLine(name, role, *token);
  if (!line.ok()) return line.status();
  contents += *line;
  absl::Status written = existing.ok() ? secrets::ReplacePrivateFile(path, contents)
                                       : secrets::CreatePrivateFile(path, contents);
  if (!written.ok()) return written;
  return token;
}

absl::StatusOr<std::string> GenerateToken() {
  absl::StatusOr<std::string> raw = secrets::RandomString(32);
  if (!raw.ok()) return raw.status();
  secrets::SecureString bytes(*std::move(raw));
  return absl::WebSafeBase64Escape(bytes.str());  // Unpadded in Abseil.
}

TokenAuthenticator::TokenAuthenticator(std::string path, std::shared_ptr<const Table> table)
    : path_(std::move(path)), table_(std::move(table)) {}

absl::StatusOr<std::shared_ptr<const TokenAuthenticator::Table>> TokenAuthenticator::LoadTable(
    const std::string& path) {
  absl::StatusOr<secrets::SecureString> contents = secrets::ReadPrivateFile(path, "tokens file");
  if (!contents.ok()) return contents.status();
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokensFile(contents->view(), path);
  if (!entries.ok()) return entries.status();
  auto table = std::make_shared<Table>();
  table->entries = *std::move(entries);
  return std::shared_ptr<const Table>(std::move(table));
}

absl::StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::FromFile(std::string path) {
  absl::StatusOr<std::shared_ptr<const Table>> table = LoadTable(path);
  if (!table.ok()) return table.status();
  return std::unique_ptr<TokenAuthenticator>(
      new TokenAuthenticator(std::move(path), *std::move(table)));
}

absl::StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::FromEnvironment() {
  const char* path = std::getenv(kTokensFileEnv);
  if (path == nullptr || *path == '\0') {
    return absl::FailedPreconditionError(
        absl::StrCat(kTokensFileEnv,
                     " is not set; point it at a tokens file with lines `name role token` "
                     "(mode 600)"));
  }
  return FromFile(path);
}

absl::StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::FromContents(
    std::string_view contents) {
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokensFile(contents, "tokens");
  if (!entries.ok()) return entries.status();
  auto table = std::make_shared<Table>();
  table->entries = *std::move(entries);
  return std::unique_ptr<TokenAuthenticator>(new TokenAuthenticator("", std::move(table)));
}

std::shared_ptr<const TokenAuthenticator::Table> TokenAuthenticator::Current() const {
  std::shared_lock lock(mu_);
  return table_;
}

absl::StatusOr<Principal> TokenAuthenticator::Authenticate(std::string_view authorization) const {
  absl::string_view value = absl::StripAsciiWhitespace(AbslView(authorization));
  if (value.empty()) return Unauthenticated("missing bearer token");
  constexpr absl::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme) ||
      (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t')) {
    return Unauthenticated("authorization is not a bearer token");
  }
  absl::string_view token = absl::StripLeadingAsciiWhitespace(value.substr(kScheme.size()));
  absl::StatusOr<TokenHash> presented = HashToken(std::string_view(token.data(), token.size()));
  if (!presented.ok()) return presented.status();
  std::shared_ptr<const Table> table = Current();
  // Every entry is compared, match or not, so the time taken does not say which one matched.
  const TokenEntry* found = nullptr;
  for (const TokenEntry& entry : table->entries) {
    const bool equal =
        CRYPTO_memcmp(entry.token_sha256.data(), presented->data(), presented->size()) == 0;
    if (equal) found = &entry;
  }
  if (found == nullptr) return Unauthenticated("unknown or revoked bearer token");
  return Principal{found->name, found->role};
}

absl::Status TokenAuthenticator::Reload() {
  if (path_.empty()) {
    return absl::FailedPreconditionError(
        "tokens were given as text, not as a file; there is nothing to reload (set " +
        std::string(kTokensFileEnv) + ")");
  }
  absl::StatusOr<std::shared_ptr<const Table>> table = LoadTable(path_);
  if (!table.ok()) {
    return absl::Status(table.status().code(),
                        absl::StrCat("tokens not reloaded, the previous tokens stay in force: ",
                                     table.status().message()));
  }
  std::shared_ptr<const Table> old;
  {
    std::unique_lock lock(mu_);
    old = std::exchange(table_, *std::move(table));
  }
  // `old` is released here, outside the lock, so freeing a large table never blocks readers.
  return absl::OkStatus();
}

size_t TokenAuthenticator::token_count() const { return Current()->entries.size(); }

}  // namespace postroom::auth
