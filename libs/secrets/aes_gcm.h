#pragma once

// AES-256-GCM over OpenSSL 3's EVP interface: the one primitive that secrets at rest use.
// Stateless and thread-safe: every call owns its EVP_CIPHER_CTX.
#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace postroom::secrets {

inline constexpr size_t kAesGcmKeySize = 32;    // AES-256.
inline constexpr size_t kAesGcmNonceSize = 12;  // 96-bit IV, GCM's fast path (SP 800-38D).
inline constexpr size_t kAesGcmTagSize = 16;    // Full 128-bit tag; never truncated.

// Encrypts `plaintext` and authenticates it together with `associated_data` under `key`
// (kAesGcmKeySize bytes) and `nonce` (kAesGcmNonceSize bytes). Returns ciphertext || tag
// (plaintext.size() + kAesGcmTagSize bytes). A nonce must never repeat under one key: callers
// draw it from RandomBytes. INVALID_ARGUMENT: wrong key or nonce size, or input over 1 GiB.
// INTERNAL: OpenSSL failed.
absl::StatusOr<std::string> AesGcmSeal(std::string_view key, std::string_view nonce,
                                       std::string_view plaintext,
                                       std::string_view associated_data);

// Reverses AesGcmSeal. DATA_LOSS: the tag does not verify — the ciphertext, nonce or associated
// data changed, or the key differs from the one that sealed it; no plaintext is returned.
// INVALID_ARGUMENT: wrong key or nonce size, or `ciphertext_and_tag` shorter than a tag.
// INTERNAL: OpenSSL failed.
absl::StatusOr<std::string> AesGcmOpen(std::string_view key, std::string_view nonce,
                                       std::string_view ciphertext_and_tag,
                                       std::string_view associated_data);

}  // namespace postroom::secrets
