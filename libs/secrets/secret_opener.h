#pragma once

// Opens a sealed secret for a service core. Cores take the interface (tests give a fake); the
// services pass KeyringSecretOpener over the keyring loaded at start.
#include <string>

#include "absl/status/statusor.h"
#include "libs/secrets/keyring.h"

namespace postroom::secrets {

// Thread-safe.
class SecretOpener {
 public:
  virtual ~SecretOpener() = default;
  // `owner` is the associated data the secret was sealed with, e.g. "connector:support:password".
  virtual absl::StatusOr<std::string> Open(const std::string& sealed, const std::string& owner) = 0;
};

class KeyringSecretOpener : public SecretOpener {
 public:
  // `keyring` must outlive this.
  explicit KeyringSecretOpener(const Keyring& keyring) : keyring_(keyring) {}
  absl::StatusOr<std::string> Open(const std::string& sealed, const std::string& owner) override {
    return keyring_.DecryptString(sealed, owner);
  }

 private:
  const Keyring& keyring_;
};

}  // namespace postroom::secrets
