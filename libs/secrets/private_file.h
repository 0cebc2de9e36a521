#pragma once

// Reading and writing files that hold secrets (key files, token files). Thread-safe (no shared
// state); concurrent writers of the same path are the caller's problem.
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/secrets/secure_string.h"

namespace postroom::secrets {

// Reads a regular file whose contents are secret. `what` names it in messages ("secret key
// file"). Refuses a file that other users may read or write (mode & 0007): a secret readable by
// everyone on the host is already leaked, so failing loudly beats a warning nobody reads. Group
// access is allowed because Kubernetes gives mounted Secrets to the pod's fsGroup.
// NOT_FOUND: no such file. PERMISSION_DENIED: we may not read it. FAILED_PRECONDITION: not a
// regular file, or world-accessible (the message says which chmod fixes it). INVALID_ARGUMENT:
// larger than 1 MiB. INTERNAL: other I/O errors.
absl::StatusOr<SecureString> ReadPrivateFile(const std::string& path, std::string_view what);

// Creates `path` with mode 0600 and `contents`, flushed to disk. Never overwrites.
// ALREADY_EXISTS: the path exists. PERMISSION_DENIED / NOT_FOUND (missing folder) / INTERNAL.
absl::Status CreatePrivateFile(const std::string& path, std::string_view contents);

// Atomically replaces `path` with `contents` (mode 0600): writes `path`.tmp, flushes it and
// renames it over `path`, so a crash leaves the old file or the new, never half of one.
// ALREADY_EXISTS: a stale `path`.tmp exists (another writer, or a crash; check and delete it).
absl::Status ReplacePrivateFile(const std::string& path, std::string_view contents);

}  // namespace postroom::secrets
