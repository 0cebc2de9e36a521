#pragma once

// Writes one sealed secret of a connector (`secrets` row), for services other than config that
// must keep a secret the outside world changed: the fetcher and config store a rotated OAuth
// refresh token here before they use the access token that came with it. The value is sealed by
// the caller (libs/secrets, associated data "connector:<name>:<field>"); this never sees
// plaintext. The connector's version does not change: the secret is the same credential, renewed.
#include <string>

#include "absl/status/status.h"
#include "libs/secrets/keyring.h"
#include "libs/store/database.h"

namespace postroom::store {

class PgSecretWriter {
 public:
  explicit PgSecretWriter(Database& db);
  // Inserts or replaces (connector `name`, `field`). NOT_FOUND: no such connector (deleted
  // meanwhile). UNAVAILABLE: database unreachable; the caller must not use what the secret
  // unlocks. Thread-safe.
  absl::Status Write(const std::string& connector, const std::string& field,
                     const std::string& key_id, const std::string& sealed);
  // Seals `refresh_token` with `keyring`'s primary key (associated data
  // connector::SecretOwner, as config seals it) and writes it: the rotated token an
  // OAuth2 endpoint returned, kept before the access token that came with it is used. The one
  // place config (a connection test), the fetcher and the sender (polls and deliveries) do it.
  absl::Status WriteRefreshToken(const secrets::Keyring& keyring, const std::string& connector,
                                 const std::string& refresh_token);

 private:
  Database& db_;
};

}  // namespace postroom::store
