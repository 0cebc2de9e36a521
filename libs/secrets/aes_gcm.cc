#include "libs/secrets/aes_gcm.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "libs/secrets/random.h"

namespace postroom::secrets {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// EVP takes int lengths; secrets are small, so a generous cap keeps every cast exact.
constexpr size_t kMaxInput = size_t{1} << 30;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("AES-256-GCM: OpenSSL ", what, " failed: ", TakeOpenSslErrors()));
}

absl::Status CheckSizes(std::string_view key, std::string_view nonce, size_t data_size,
                        size_t ad_size) {
  if (key.size() != kAesGcmKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM: key is ", key.size(), " bytes; need ", kAesGcmKeySize));
  }
  if (nonce.size() != kAesGcmNonceSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM: nonce is ", nonce.size(), " bytes; need ", kAesGcmNonceSize));
  }
  if (data_size > kMaxInput || ad_size > kMaxInput) {
    return absl::InvalidArgumentError("AES-256-GCM: input over 1 GiB; secrets are small values");
  }
  return absl::OkStatus();
}

// Sets up `ctx` for one operation with key and 96-bit nonce, and feeds the associated data.
absl::Status Init(EVP_CIPHER_CTX* ctx, bool encrypt, std::string_view key, std::string_view nonce,
                  std::string_view associated_data) {
  auto init = encrypt ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;
  if (init(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1) return OpenSslError("init");
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) !=
      1) {
    return OpenSslError("set IV length");
  }
  if (init(ctx, nullptr, nullptr, Bytes(key), Bytes(nonce)) != 1) return OpenSslError("set key");
  if (!associated_data.empty()) {
    int len = 0;
    auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
    if (update(ctx, nullptr, &len, Bytes(associated_data),
               static_cast<int>(associated_data.size())) != 1) {
      return OpenSslError("associated data");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> AesGcmSeal(std::string_view key, std::string_view nonce,
                                       std::string_view plaintext,
                                       std::string_view associated_data) {
  if (absl::Status st = CheckSizes(key, nonce, plaintext.size(), associated_data.size());
      !st.ok()) {
    return st;
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return OpenSslError("EVP_CIPHER_CTX_new");
  if (absl::Status st = Init(ctx.get(), /*encrypt=*/true, key, nonce, associated_data); !st.ok()) {
    return st;
  }
  std::string out(plaintext.size() + kAesGcmTagSize, '\0');
  auto* out_bytes = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  size_t written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), out_bytes, &len, Bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1) {
      return OpenSslError("encrypt");
    }
    written = static_cast<size_t>(len);
  }
  if (EVP_EncryptFinal_ex(ctx.get(), out_bytes + written, &len) != 1) {
    return OpenSslError("encrypt final");
  }
  written += static_cast<size_t>(len);
  if (written != plaintext.size()) return OpenSslError("encrypt length check");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAesGcmTagSize),
                          out_bytes + written) != 1) {
    return OpenSslError("get tag");
  }
  return out;
}

absl::StatusOr<std::string> AesGcmOpen(std::string_view key, std::string_view nonce,
                                       std::string_view ciphertext_and_tag,
                                       std::string_view associated_data) {
  if (absl::Status st = CheckSizes(key, nonce, ciphertext_and_tag.size(), associated_data.size());
      !st.ok()) {
    return st;
  }
  if (ciphertext_and_tag.size() < kAesGcmTagSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM: sealed data is ", ciphertext_and_tag.size(),
                     " bytes, shorter than the ", kAesGcmTagSize, "-byte tag"));
  }
  const size_t ct_size = ciphertext_and_tag.size() - kAesGcmTagSize;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return OpenSslError("EVP_CIPHER_CTX_new");
  if (absl::Status st = Init(ctx.get(), /*encrypt=*/false, key, nonce, associated_data); !st.ok()) {
    return st;
  }
  std::string out(ct_size, '\0');
  auto* out_bytes = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  size_t written = 0;
  if (ct_size > 0) {
    if (EVP_DecryptUpdate(ctx.get(), out_bytes, &len, Bytes(ciphertext_and_tag),
                          static_cast<int>(ct_size)) != 1) {
      OPENSSL_cleanse(out.data(), out.size());
      return OpenSslError("decrypt");
    }
    written = static_cast<size_t>(len);
  }
  // EVP wants a mutable pointer for the expected tag, so copy it out of the const input.
  unsigned char tag[kAesGcmTagSize];
  std::copy_n(Bytes(ciphertext_and_tag) + ct_size, kAesGcmTagSize, tag);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAesGcmTagSize), tag) !=
      1) {
    OPENSSL_cleanse(out.data(), out.size());
    return OpenSslError("set tag");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out_bytes + written, &len) != 1) {
    // Unverified plaintext must not outlive the failed check.
    OPENSSL_cleanse(out.data(), out.size());
    TakeOpenSslErrors();  // A tag mismatch leaves nothing useful on the queue; keep it clean.
    return absl::DataLossError(
        "AES-256-GCM: authentication tag mismatch (ciphertext, nonce or associated data altered, "
        "or a different key)");
  }
  return out;
}

}  // namespace postroom::secrets
