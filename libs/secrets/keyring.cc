#include "libs/secrets/keyring.h"

#include <openssl/crypto.h>

#include <array>
#include <cstdlib>
#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/secrets/aes_gcm.h"
#include "libs/secrets/private_file.h"
#include "libs/secrets/random.h"
#include "libs/secrets/secure_string.h"

namespace postroom::secrets {

struct Keyring::Key {
  std::string id;
  std::array<unsigned char, kAesGcmKeySize> bytes{};

  Key() = default;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key() { OPENSSL_cleanse(bytes.data(), bytes.size()); }

  std::string_view view() const {
    return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
};

namespace {

constexpr std::string_view kSealedPrefix = "v1:";

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Decodes a key written as 64 hex digits or as base64 of 32 bytes into `out`. On failure
// returns why, without echoing the text.
std::optional<std::string> DecodeKey(absl::string_view text,
                                     std::array<unsigned char, kAesGcmKeySize>& out) {
  SecureString decoded;
  // Base64 of 32 bytes is 43 or 44 characters, so an all-hex string of another length is a
  // hex key of the wrong size, and saying so beats reporting what its base64 reading gives.
  if (text.size() == 2 * kAesGcmKeySize && IsHex(text)) {
    decoded.mutable_str() = absl::HexStringToBytes(text);
  } else if (IsHex(text) && text.size() != 43 && text.size() != 44) {
    return absl::StrCat("is ", text.size(), " hex digits; need ", 2 * kAesGcmKeySize,
                        " (make one with postroom-keygen)");
  } else if (!absl::Base64Unescape(text, &decoded.mutable_str()) &&
             !absl::WebSafeBase64Unescape(text, &decoded.mutable_str())) {
    return "is neither 64 hex digits nor base64";
  }
  if (decoded.str().size() != kAesGcmKeySize) {
    return absl::StrCat("decodes to ", decoded.str().size(), " bytes; need ", kAesGcmKeySize,
                        " (make one with postroom-keygen)");
  }
  unsigned char any = 0;
  for (size_t i = 0; i < kAesGcmKeySize; ++i) {
    out[i] = static_cast<unsigned char>(decoded.str()[i]);
    any |= out[i];
  }
  if (any == 0) return "is all zeros, a placeholder rather than a key";
  return std::nullopt;
}

std::string KeyIdProblem(std::string_view id) {
  return absl::StrCat("key id \"", absl::CHexEscape(AbslView(id.substr(0, 80))),
                      "\" is invalid; use 1-64 characters from A-Z a-z 0-9 . _ -");
}

}  // namespace

bool IsValidKeyId(std::string_view key_id) {
  if (key_id.empty() || key_id.size() > 64) return false;
  for (char c : key_id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string EncodeSealed(const Sealed& sealed) {
  return absl::StrCat(AbslView(kSealedPrefix), sealed.key_id, ":",
                      absl::Base64Escape(absl::StrCat(sealed.nonce, sealed.ciphertext)));
}

absl::StatusOr<Sealed> DecodeSealed(std::string_view encoded) {
  auto malformed = [](std::string_view why) {
    return absl::DataLossError(
        absl::StrCat("stored secret is not a v1 sealed value (", AbslView(why),
                     "); it is corrupt or was written by hand: set the secret again"));
  };
  if (encoded.substr(0, kSealedPrefix.size()) != kSealedPrefix) {
    return malformed("no \"v1:\" prefix");
  }
  encoded.remove_prefix(kSealedPrefix.size());
  size_t colon = encoded.find(':');
  if (colon == std::string_view::npos) return malformed("no key id");
  Sealed sealed;
  sealed.key_id = std::string(encoded.substr(0, colon));
  if (!IsValidKeyId(sealed.key_id)) return malformed("bad key id");
  std::string raw;
  if (!absl::Base64Unescape(AbslView(encoded.substr(colon + 1)), &raw)) {
    return malformed("bad base64");
  }
  if (raw.size() < kAesGcmNonceSize + kAesGcmTagSize) return malformed("too short");
  sealed.nonce = raw.substr(0, kAesGcmNonceSize);
  sealed.ciphertext = raw.substr(kAesGcmNonceSize);
  return sealed;
}

Keyring::Keyring() = default;
Keyring::Keyring(Keyring&&) noexcept = default;
Keyring& Keyring::operator=(Keyring&&) noexcept = default;
Keyring::~Keyring() = default;

absl::StatusOr<Keyring> Keyring::FromKeyFileContents(std::string_view contents,
                                                     std::string_view source) {
  return Parse(
      contents, [&](int line_no) { return absl::StrCat(AbslView(source), ":", line_no, ": "); },
      source);
}

absl::StatusOr<Keyring> Keyring::Parse(std::string_view contents,
                                       const std::function<std::string(int)>& where,
                                       std::string_view source) {
  Keyring ring;
  std::vector<int> key_lines;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(AbslView(contents), '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);  // Also drops a CRLF file's '\r'.
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(line_no),
                       "expected `key_id key` (key: 64 hex digits or base64 of 32 bytes), found ",
                       fields.size(), " fields"));
    }
    std::string_view id(fields[0].data(), fields[0].size());
    if (!IsValidKeyId(id)) {
      return absl::InvalidArgumentError(absl::StrCat(where(line_no), KeyIdProblem(id)));
    }
    for (size_t i = 0; i < ring.keys_.size(); ++i) {
      if (ring.keys_[i]->id == id) {
        std::string first = where(key_lines[i]);
        first.resize(first.size() - 2);  // Drop the trailing ": ".
        return absl::InvalidArgumentError(absl::StrCat(where(line_no), "key id \"", fields[0],
                                                       "\" is defined twice (first at ", first,
                                                       "); key ids must be unique"));
      }
    }
    auto key = std::make_unique<Key>();
    key->id = std::string(id);
    if (std::optional<std::string> problem = DecodeKey(fields[1], key->bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(line_no), "key \"", fields[0], "\" ", *problem));
    }
    ring.keys_.push_back(std::move(key));
    key_lines.push_back(line_no);
  }
  if (ring.keys_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        AbslView(source), ": no keys; add a line `key_id key` (postroom-keygen prints one)"));
  }
  return ring;
}

absl::StatusOr<Keyring> Keyring::FromKeyFile(const std::string& path) {
  absl::StatusOr<SecureString> contents = ReadPrivateFile(path, "secret key file");
  if (!contents.ok()) return contents.status();
  return FromKeyFileContents(contents->view(), path);
}

absl::StatusOr<Keyring> Keyring::FromEnvValue(std::string_view value) {
  // Reuses the key-file parser: each item `id:key` becomes a line `id key`.
  SecureString as_file;
  as_file.mutable_str().reserve(value.size() + 1);
  int item_no = 0;
  for (absl::string_view item : absl::StrSplit(AbslView(value), ',')) {
    ++item_no;
    item = absl::StripAsciiWhitespace(item);
    size_t colon = item.find(':');
    if (colon == absl::string_view::npos || item.find_first_of(" \t\n#") != item.npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(kSecretKeyEnv, " item ", item_no,
                       ": expected `key_id:key` (key: base64 of 32 bytes or 64 hex digits), items "
                       "separated by ','"));
    }
    std::string& s = as_file.mutable_str();
    s.append(item.data(), colon);
    s.push_back(' ');
    s.append(item.data() + colon + 1, item.size() - colon - 1);
    s.push_back('\n');
  }
  return Parse(
      as_file.view(), [](int item) { return absl::StrCat(kSecretKeyEnv, " item ", item, ": "); },
      kSecretKeyEnv);
}

absl::StatusOr<Keyring> Keyring::Load(const KeyringSources& sources) {
  if (sources.key_file && sources.key_env) {
    return absl::FailedPreconditionError(
        absl::StrCat("both ", kSecretKeyFileEnv, " and ", kSecretKeyEnv,
                     " are set; set only one so it is clear which keys encrypt"));
  }
  if (sources.key_file) return FromKeyFile(*sources.key_file);
  if (sources.key_env) return FromEnvValue(*sources.key_env);
  return absl::FailedPreconditionError(
      absl::StrCat("no secret key: set ", kSecretKeyFileEnv,
                   " to a key file (create one with `postroom-keygen "
                   "--out FILE`) or ",
                   kSecretKeyEnv, "=key_id:base64key"));
}

absl::StatusOr<Keyring> Keyring::FromEnvironment() {
  auto get = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
  KeyringSources sources{get(kSecretKeyFileEnv), get(kSecretKeyEnv)};
  absl::StatusOr<Keyring> ring = Load(sources);
  if (sources.key_env) OPENSSL_cleanse(sources.key_env->data(), sources.key_env->size());
  return ring;
}

const std::string& Keyring::primary_key_id() const { return keys_.front()->id; }

std::vector<std::string> Keyring::key_ids() const {
  std::vector<std::string> ids;
  ids.reserve(keys_.size());
  for (const auto& k : keys_) ids.push_back(k->id);
  return ids;
}

bool Keyring::HasKey(std::string_view key_id) const { return Find(key_id) != nullptr; }

const Keyring::Key* Keyring::Find(std::string_view key_id) const {
  for (const auto& k : keys_) {
    if (k->id == key_id) return k.get();
  }
  return nullptr;
}

absl::StatusOr<Sealed> Keyring::Encrypt(std::string_view plaintext,
                                        std::string_view associated_data) const {
  const Key& key = *keys_.front();
  Sealed sealed;
  sealed.key_id = key.id;
  absl::StatusOr<std::string> nonce = RandomString(kAesGcmNonceSize);
  if (!nonce.ok()) return nonce.status();
  sealed.nonce = *std::move(nonce);
  absl::StatusOr<std::string> ct = AesGcmSeal(key.view(), sealed.nonce, plaintext, associated_data);
  if (!ct.ok()) {
    return absl::Status(ct.status().code(),
                        absl::StrCat("cannot encrypt secret for \"", AbslView(associated_data),
                                     "\": ", ct.status().message()));
  }
  sealed.ciphertext = *std::move(ct);
  return sealed;
}

absl::StatusOr<std::string> Keyring::Decrypt(const Sealed& sealed,
                                             std::string_view associated_data) const {
  const Key* key = Find(sealed.key_id);
  if (key == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot decrypt secret for \"", AbslView(associated_data), "\": it was sealed with key \"",
        sealed.key_id, "\", which is not in the keyring (have: ", absl::StrJoin(key_ids(), ", "),
        "); add the old key line back to the key file (", kSecretKeyFileEnv,
        ") below the primary key and restart"));
  }
  if (sealed.nonce.size() != kAesGcmNonceSize || sealed.ciphertext.size() < kAesGcmTagSize) {
    return absl::DataLossError(absl::StrCat("cannot decrypt secret for \"",
                                            AbslView(associated_data),
                                            "\": malformed sealed value (bad nonce or too short); "
                                            "set the secret again"));
  }
  absl::StatusOr<std::string> pt =
      AesGcmOpen(key->view(), sealed.nonce, sealed.ciphertext, associated_data);
  if (!pt.ok()) {
    std::string hint = pt.status().code() == absl::StatusCode::kDataLoss
                           ? absl::StrCat("; if key \"", sealed.key_id,
                                          "\" was regenerated under the same id, restore the "
                                          "old key, otherwise set the secret again")
                           : "";
    return absl::Status(pt.status().code(),
                        absl::StrCat("cannot decrypt secret for \"", AbslView(associated_data),
                                     "\": ", pt.status().message(), hint));
  }
  return pt;
}

absl::StatusOr<Sealed> Keyring::Reencrypt(const Sealed& sealed,
                                          std::string_view associated_data) const {
  absl::StatusOr<std::string> pt = Decrypt(sealed, associated_data);
  if (!pt.ok()) return pt.status();
  SecureString plaintext(*std::move(pt));
  return Encrypt(plaintext.view(), associated_data);
}

bool Keyring::NeedsReencrypt(const Sealed& sealed) const {
  return sealed.key_id != primary_key_id();
}

absl::StatusOr<std::string> Keyring::EncryptToString(std::string_view plaintext,
                                                     std::string_view associated_data) const {
  absl::StatusOr<Sealed> sealed = Encrypt(plaintext, associated_data);
  if (!sealed.ok()) return sealed.status();
  return EncodeSealed(*sealed);
}

absl::StatusOr<std::string> Keyring::DecryptString(std::string_view encoded,
                                                   std::string_view associated_data) const {
  absl::StatusOr<Sealed> sealed = DecodeSealed(encoded);
  if (!sealed.ok()) {
    return absl::Status(sealed.status().code(),
                        absl::StrCat("cannot decrypt secret for \"", AbslView(associated_data),
                                     "\": ", sealed.status().message()));
  }
  return Decrypt(*sealed, associated_data);
}

absl::StatusOr<std::string> Keyring::ReencryptString(std::string_view encoded,
                                                     std::string_view associated_data) const {
  absl::StatusOr<std::string> pt = DecryptString(encoded, associated_data);
  if (!pt.ok()) return pt.status();
  SecureString plaintext(*std::move(pt));
  return EncryptToString(plaintext.view(), associated_data);
}

absl::StatusOr<std::string> GenerateKeyLine(std::string_view key_id) {
  if (!IsValidKeyId(key_id)) return absl::InvalidArgumentError(KeyIdProblem(key_id));
  absl::StatusOr<std::string> raw = RandomString(kAesGcmKeySize);
  if (!raw.ok()) return raw.status();
  SecureString key(*std::move(raw));
  return absl::StrCat(AbslView(key_id), " ", absl::Base64Escape(key.str()), "\n");
}

absl::Status GenerateKeyFile(const std::string& path, std::string_view key_id) {
  absl::StatusOr<std::string> line = GenerateKeyLine(key_id);
  if (!line.ok()) return line.status();
  SecureString contents(absl::StrCat(
      "# postroom secret keys: `key_id base64(32 bytes)`; the first key encrypts, all decrypt.\n"
      "# To rotate: postroom-keygen --rotate THIS_FILE, then re-encrypt stored secrets.\n",
      *line));
  OPENSSL_cleanse(line->data(), line->size());
  absl::Status st = CreatePrivateFile(path, contents.view());
  if (st.code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(
        absl::StrCat("secret key file \"", path,
                     "\" already exists; it is never overwritten (to add a new primary key use "
                     "postroom-keygen --rotate ",
                     path, ")"));
  }
  return st;
}

absl::Status RotateKeyFile(const std::string& path, std::string_view key_id) {
  absl::StatusOr<SecureString> old_contents = ReadPrivateFile(path, "secret key file");
  if (!old_contents.ok()) return old_contents.status();
  absl::StatusOr<Keyring> ring = Keyring::FromKeyFileContents(old_contents->view(), path);
  if (!ring.ok()) return ring.status();
  if (ring->HasKey(key_id)) {
    return absl::AlreadyExistsError(absl::StrCat("secret key file \"", path,
                                                 "\" already has key \"", AbslView(key_id),
                                                 "\"; pick a new key id"));
  }
  absl::StatusOr<std::string> line = GenerateKeyLine(key_id);
  if (!line.ok()) return line.status();
  SecureString new_line(*std::move(line));
  // The new key goes above the first key line, after any leading comments, so it becomes primary.
  const std::string& old = old_contents->str();
  size_t insert_at = 0;
  while (insert_at < old.size()) {
    size_t eol = old.find('\n', insert_at);
    size_t end = eol == std::string::npos ? old.size() : eol + 1;
    absl::string_view l =
        absl::StripAsciiWhitespace(absl::string_view(old).substr(insert_at, end - insert_at));
    if (!l.empty() && l[0] != '#') break;
    insert_at = end;
  }
  SecureString contents;
  contents.mutable_str().reserve(old.size() + new_line.str().size() + 1);
  contents.mutable_str().append(old, 0, insert_at);
  if (insert_at > 0 && old[insert_at - 1] != '\n') contents.mutable_str().push_back('\n');
  contents.mutable_str().append(new_line.str());
  contents.mutable_str().append(old, insert_at, std::string::npos);
  return ReplacePrivateFile(path, contents.view());
}

}  // namespace postroom::secrets
