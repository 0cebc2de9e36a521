#include "libs/secrets/secure_string.h"

#include <openssl/crypto.h>

namespace postroom::secrets {

SecureString& SecureString::operator=(SecureString&& other) noexcept {
  if (this != &other) {
    Wipe();
    s_ = std::move(other.s_);
  }
  return *this;
}

SecureString::~SecureString() { Wipe(); }

void SecureString::Wipe() {
  if (s_ != nullptr && !s_->empty()) OPENSSL_cleanse(s_->data(), s_->size());
}

}  // namespace postroom::secrets
