#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace postroom {

// SHA-256 of `data` as the raw 32 bytes (OpenSSL).
std::string Sha256(absl::string_view data);

// HMAC-SHA256 of `data` under `key` as the raw 32 bytes (OpenSSL).
std::string HmacSha256(absl::string_view key, absl::string_view data);

}  // namespace postroom
