#pragma once

// Encryption at rest for secrets (connector passwords, OAuth client secrets, refresh tokens).
//
// A Keyring holds one or more 256-bit keys, each with an id. The primary key (the first one in
// the key file) encrypts; every key decrypts. Each ciphertext carries the id of the key that
// sealed it, so rotating means: put a new key first, keep the old ones, re-encrypt stored rows
// with Reencrypt, then drop the old key. Associated data binds a ciphertext to its owner
// ("connector:support:password"): a ciphertext copied to another row fails to decrypt there.
//
// Encoded form for a text column: "v1:<key_id>:<base64(nonce || ciphertext || tag)>", with a
// 12-byte random nonce and a 16-byte tag.
//
// Status codes:
// - FAILED_PRECONDITION: the ciphertext names a key id this keyring lacks. Fix the state: add the
//   old key back to the key file.
// - DATA_LOSS: the stored value is not a well-formed sealed secret, or its tag does not verify
//   (altered, swapped between rows, or the key under that id is not the key that sealed it).
//   Not INVALID_ARGUMENT: the bytes come from our own storage, not from the API caller, and no
//   change to the request can fix them; the secret has to be written again.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace postroom::secrets {

inline constexpr char kSecretKeyFileEnv[] = "POSTROOM_SECRET_KEY_FILE";
inline constexpr char kSecretKeyEnv[] = "POSTROOM_SECRET_KEY";

// One sealed secret. `ciphertext` is the AES-256-GCM ciphertext followed by the 16-byte tag.
struct Sealed {
  std::string key_id;
  std::string nonce;
  std::string ciphertext;

  friend bool operator==(const Sealed&, const Sealed&) = default;
};

// "v1:<key_id>:<base64>". Pure.
std::string EncodeSealed(const Sealed& sealed);
// Reverses EncodeSealed. DATA_LOSS: not a v1 sealed secret; the message never echoes the value.
absl::StatusOr<Sealed> DecodeSealed(std::string_view encoded);

// True for 1-64 characters from [A-Za-z0-9._-]: no ':' (the encoding's separator) and nothing a
// log line or key file would need to quote.
bool IsValidKeyId(std::string_view key_id);

// Where LoadKeyring finds its keys: the values of POSTROOM_SECRET_KEY_FILE and
// POSTROOM_SECRET_KEY (unset or empty = nullopt).
struct KeyringSources {
  std::optional<std::string> key_file;
  std::optional<std::string> key_env;
};

// Immutable after construction, so every const method is thread-safe. Move-only: key material
// lives in exactly one place and is wiped (OPENSSL_cleanse) when the keyring is destroyed.
class Keyring {
 public:
  // Parses a key file: one key per line, `key_id key`, where key is 64 hex digits or the base64
  // (standard or URL-safe) of 32 bytes; the first key is primary; blank lines and lines starting
  // with '#' are ignored. `source` names the file in messages. INVALID_ARGUMENT, with the line
  // number, for: a line without exactly two fields, a bad key id, a key that does not decode or
  // is not 32 bytes, an all-zero key, a duplicate key id, or no key at all. Messages never
  // contain key material.
  static absl::StatusOr<Keyring> FromKeyFileContents(std::string_view contents,
                                                     std::string_view source);
  // Reads and parses the key file at `path` (ReadPrivateFile: refuses world-accessible files).
  static absl::StatusOr<Keyring> FromKeyFile(const std::string& path);
  // Parses POSTROOM_SECRET_KEY's value: `key_id:key`, or several joined by ',' (first is
  // primary), key encoded as in a key file. INVALID_ARGUMENT as for a key file.
  static absl::StatusOr<Keyring> FromEnvValue(std::string_view value);
  // From a file or an env value; exactly one must be set. FAILED_PRECONDITION: both or neither
  // (the message says how to make a key); otherwise as the two functions above.
  static absl::StatusOr<Keyring> Load(const KeyringSources& sources);
  // Load() with the process environment.
  static absl::StatusOr<Keyring> FromEnvironment();

  Keyring(Keyring&&) noexcept;
  Keyring& operator=(Keyring&&) noexcept;
  ~Keyring();

  const std::string& primary_key_id() const;
  std::vector<std::string> key_ids() const;  // Primary first, in file order.
  bool HasKey(std::string_view key_id) const;

  // Seals `plaintext` under the primary key with a fresh random nonce. INTERNAL: the random
  // generator or OpenSSL failed. INVALID_ARGUMENT: over 1 GiB.
  absl::StatusOr<Sealed> Encrypt(std::string_view plaintext,
                                 std::string_view associated_data) const;
  // Opens a secret sealed under any key of the ring with the same associated data.
  // FAILED_PRECONDITION: unknown key id. DATA_LOSS: malformed or does not verify.
  absl::StatusOr<std::string> Decrypt(const Sealed& sealed, std::string_view associated_data) const;
  // Decrypts with whichever key sealed it and seals again under the primary key (with a new
  // nonce, even if it was already primary). Errors as Decrypt and Encrypt.
  absl::StatusOr<Sealed> Reencrypt(const Sealed& sealed, std::string_view associated_data) const;
  // True when `sealed` is not under the primary key, i.e. a rotation job should Reencrypt it.
  bool NeedsReencrypt(const Sealed& sealed) const;

  // The same on the encoded text form.
  absl::StatusOr<std::string> EncryptToString(std::string_view plaintext,
                                              std::string_view associated_data) const;
  absl::StatusOr<std::string> DecryptString(std::string_view encoded,
                                            std::string_view associated_data) const;
  absl::StatusOr<std::string> ReencryptString(std::string_view encoded,
                                              std::string_view associated_data) const;

 private:
  struct Key;
  Keyring();
  // `where(n)` prefixes a message about line (or item) n; `source` names the whole input.
  static absl::StatusOr<Keyring> Parse(std::string_view contents,
                                       const std::function<std::string(int)>& where,
                                       std::string_view source);
  const Key* Find(std::string_view key_id) const;

  std::vector<std::unique_ptr<Key>> keys_;  // keys_[0] is primary; never empty once built.
};

// Returns a key-file line `key_id base64(32 random bytes)` with a trailing newline.
// INVALID_ARGUMENT: bad key id. INTERNAL: the random generator failed.
absl::StatusOr<std::string> GenerateKeyLine(std::string_view key_id);

// Creates a new key file at `path` (mode 0600) holding one fresh key `key_id`, for scripts.
// ALREADY_EXISTS: the file exists (use RotateKeyFile to add a key to it).
absl::Status GenerateKeyFile(const std::string& path, std::string_view key_id);

// Puts a fresh key `key_id` first in the existing key file at `path`, making it primary and
// keeping the others for decryption. Validates the file first and replaces it atomically.
// ALREADY_EXISTS: `key_id` is already in the file. Otherwise errors of FromKeyFile.
absl::Status RotateKeyFile(const std::string& path, std::string_view key_id);

}  // namespace postroom::secrets
