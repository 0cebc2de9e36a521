#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace postroom::secrets {

// Fills `out` with `size` bytes from OpenSSL's CSPRNG (RAND_bytes). Thread-safe.
// INTERNAL: the generator failed (no entropy source); nothing sensible to retry.
absl::Status RandomBytes(unsigned char* out, size_t size);

// `size` random bytes as a string. Errors as RandomBytes.
absl::StatusOr<std::string> RandomString(size_t size);

// Describes and clears OpenSSL's thread-local error queue, for error messages.
std::string TakeOpenSslErrors();

}  // namespace postroom::secrets
