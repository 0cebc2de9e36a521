#pragma once

// Roles and the authorization check. Pure and thread-safe.
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace postroom::auth {

// Ordered: each role may do everything the roles below it may. viewer reads; operator also
// enables, disables and tests connectors; admin also changes configuration.
enum class Role { kViewer = 1, kOperator = 2, kAdmin = 3 };

std::string_view RoleName(Role role);  // "viewer", "operator", "admin".
// Exact lowercase names only; nullopt for anything else.
std::optional<Role> ParseRole(std::string_view name);
inline bool RoleAtLeast(Role have, Role need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

// Who made a call. `name` is the token's name from the tokens file and is what the audit log
// records as the actor.
struct Principal {
  std::string name;
  Role role = Role::kViewer;

  friend bool operator==(const Principal&, const Principal&) = default;
};

// OK when `principal` has at least `required`. `action` is a gerund phrase for the message
// ("enabling a connector"). PERMISSION_DENIED:
// `token "ci" has role viewer; enabling a connector needs operator`.
absl::Status Authorize(const Principal& principal, Role required, std::string_view action);

}  // namespace postroom::auth
