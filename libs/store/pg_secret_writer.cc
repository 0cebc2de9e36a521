#include "libs/store/pg_secret_writer.h"

#include "absl/strings/str_cat.h"
#include "libs/connector/fields.h"

namespace postroom::store {

PgSecretWriter::PgSecretWriter(Database& db) : db_(db) {
  db_.Prepare("secret_write",
              "INSERT INTO secrets (connector_id, field, key_id, sealed, updated_at) "
              "SELECT id, $2, $3, $4, now() FROM connectors WHERE name = $1 "
              "ON CONFLICT (connector_id, field) DO UPDATE SET key_id = excluded.key_id, "
              "sealed = excluded.sealed, updated_at = excluded.updated_at");
}

absl::Status PgSecretWriter::Write(const std::string& connector, const std::string& field,
                                   const std::string& key_id, const std::string& sealed) {
  return db_.Transact([&](pqxx::work& t) -> absl::Status {
    pqxx::result r = t.exec_prepared("secret_write", connector, field, key_id, sealed);
    if (r.affected_rows() == 0) {
      return absl::NotFoundError(absl::StrCat("connector \"", connector,
                                              "\" no longer exists; its ", field, " was not kept"));
    }
    return absl::OkStatus();
  });
}

absl::Status PgSecretWriter::WriteRefreshToken(const secrets::Keyring& keyring,
                                               const std::string& connector,
                                               const std::string& refresh_token) {
  const std::string field = "refresh_token";
  absl::StatusOr<secrets::Sealed> sealed =
      keyring.Encrypt(refresh_token, connector::SecretOwner(connector, field));
  if (!sealed.ok()) return sealed.status();
  return Write(connector, field, sealed->key_id, secrets::EncodeSealed(*sealed));
}

}  // namespace postroom::store
