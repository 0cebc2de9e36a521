#include "libs/auth/role.h"

#include "absl/strings/str_cat.h"

namespace postroom::auth {
namespace {
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

absl::Status Authorize(const Principal& principal, Role required, std::string_view action) {
  if (RoleAtLeast(principal.role, required)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("token \"", principal.name, "\" has role ", AbslView(RoleName(principal.role)),
                   "; ", action.empty() ? absl::string_view("this call") : AbslView(action),
                   " needs ", AbslView(RoleName(required))));
}

}  // namespace postroom::auth
