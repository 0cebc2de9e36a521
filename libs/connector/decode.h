#pragma once

// The one decoder of a stored connector: the spec JSON the config service wrote (proto field
// names, no secrets, no output-only fields) and the row's sealed secrets become the typed
// v1::Connector, with the setting defaults filled in and the secrets opened.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "postroom/v1/config.pb.h"

namespace postroom::connector {

// (field, sealed) rows of the `secrets` table, field as SecretField::name.
using SealedSecrets = std::vector<std::pair<std::string, std::string>>;
// Opens one sealed secret; `owner` is SecretOwner(connector, field). Thread-safe if the caller
// decodes from several threads.
using SecretOpener =
    std::function<absl::StatusOr<std::string>(const std::string& sealed, const std::string& owner)>;

// Adapts any object with `Open(sealed, owner)` (secrets::SecretOpener, config's SecretSealer);
// nullptr gives an empty opener: secrets stay unopened.
template <typename Opener>
SecretOpener OpenWith(Opener* opener) {
  if (opener == nullptr) return {};
  return [opener](const std::string& sealed, const std::string& owner) {
    return opener->Open(sealed, owner);
  };
}

// A spec longer than this is refused unread: the config service writes a few KiB.
inline constexpr size_t kMaxSpecBytes = 1 << 20;

// The one error for a stored spec that cannot be read, in every service: FAILED_PRECONDITION
// "connector \"<name>\": stored spec unreadable: <why>; re-apply it through the config service".
absl::Status SpecUnreadable(absl::string_view connector, absl::string_view why);

// The stored spec of `connector` with its name set and the setting defaults applied; no secrets.
// Fields a newer version stored are ignored. SpecUnreadable for JSON that does not parse or is
// over kMaxSpecBytes.
absl::StatusOr<v1::Connector> DecodeSpec(absl::string_view connector, const std::string& spec_json);

// Opens every sealed secret into `c` (its name is the owner's). Rows for a field this version
// does not know are skipped. FAILED_PRECONDITION "connector \"<name>\": cannot open its <field>:
// ..." when one does not open (another key file, or a ciphertext moved between rows).
absl::Status OpenSecrets(const SealedSecrets& sealed, const SecretOpener& open, v1::Connector& c);

// DecodeSpec, then OpenSecrets unless `open` is empty.
absl::StatusOr<v1::Connector> Decode(absl::string_view connector, const std::string& spec_json,
                                     const SealedSecrets& sealed, const SecretOpener& open);

// For any store record with `name`, `spec_json` and `sealed_secrets`.
template <typename Record>
absl::StatusOr<v1::Connector> Decode(const Record& r, const SecretOpener& open) {
  return Decode(r.name, r.spec_json, r.sealed_secrets, open);
}

}  // namespace postroom::connector
