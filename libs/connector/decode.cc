#include "libs/connector/decode.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "libs/connector/defaults.h"
#include "libs/connector/fields.h"

namespace postroom::connector {

absl::Status SpecUnreadable(absl::string_view connector, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("connector \"", connector, "\": stored spec unreadable: ", why,
                   "; re-apply it through the config service"));
}

absl::StatusOr<v1::Connector> DecodeSpec(absl::string_view connector,
                                         const std::string& spec_json) {
  if (spec_json.size() > kMaxSpecBytes) {
    return SpecUnreadable(connector, absl::StrCat(spec_json.size(), " bytes, over the ",
                                                  kMaxSpecBytes, " a spec may hold"));
  }
  v1::Connector c;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // Stored by a newer version: keep reading.
  auto st = google::protobuf::util::JsonStringToMessage(spec_json, &c, options);
  if (!st.ok()) return SpecUnreadable(connector, std::string(st.message()));
  c.set_name(std::string(connector));
  ApplySettingDefaults(*c.mutable_settings());
  return c;
}

absl::Status OpenSecrets(const SealedSecrets& sealed, const SecretOpener& open, v1::Connector& c) {
  for (const auto& [name, ciphertext] : sealed) {
    const SecretField* field = FindSecretField(name);
    if (field == nullptr) continue;
    absl::StatusOr<std::string> plain = open(ciphertext, SecretOwner(c.name(), name));
    if (!plain.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "connector \"", c.name(), "\": cannot open its ", name, ": ", plain.status().message(),
          " (is POSTROOM_SECRET_KEY_FILE the config's key?)"));
    }
    SetSecret(c, *field, *std::move(plain));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Connector> Decode(absl::string_view connector, const std::string& spec_json,
                                     const SealedSecrets& sealed, const SecretOpener& open) {
  absl::StatusOr<v1::Connector> c = DecodeSpec(connector, spec_json);
  if (!c.ok() || !open) return c;
  if (absl::Status st = OpenSecrets(sealed, open, *c); !st.ok()) return st;
  return c;
}

}  // namespace postroom::connector
