#pragma once

// The release (CMake's project version) and the commit a binary was built from
// ("<sha>-dirty" for uncommitted changes, "unknown" outside a git checkout): `--version`.
namespace postroom {
extern const char kVersion[];
extern const char kCommit[];
}  // namespace postroom
