#include "libs/auth/role.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace postroom::auth {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::StatusIs;
using ::testing::Eq;
using ::testing::Optional;

TEST(Role, NamesRoundTrip) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    EXPECT_THAT(ParseRole(RoleName(r)), Optional(r));
  }
}

TEST(Role, UnknownOrMiscasedNamesAreRejected) {
  EXPECT_EQ(ParseRole("root"), std::nullopt);
  EXPECT_EQ(ParseRole("Admin"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
}

TEST(Role, OrderIsViewerOperatorAdmin) {
  EXPECT_TRUE(RoleAtLeast(Role::kAdmin, Role::kOperator));
  EXPECT_TRUE(RoleAtLeast(Role::kOperator, Role::kOperator));
  EXPECT_TRUE(RoleAtLeast(Role::kOperator, Role::kViewer));
  EXPECT_FALSE(RoleAtLeast(Role::kViewer, Role::kOperator));
  EXPECT_FALSE(RoleAtLeast(Role::kOperator, Role::kAdmin));
}

TEST(Authorize, SufficientRoleIsOk) {
  EXPECT_THAT(Authorize({"ops", Role::kOperator}, Role::kOperator, "enabling a connector"), IsOk());
  EXPECT_THAT(Authorize({"root", Role::kAdmin}, Role::kViewer, "listing connectors"), IsOk());
}

TEST(Authorize, InsufficientRoleIsPermissionDeniedNamingTokenRoleAndAction) {
  EXPECT_THAT(Authorize({"ci", Role::kViewer}, Role::kOperator, "enabling a connector"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("token \"ci\" has role viewer; enabling a connector needs operator")));
  EXPECT_THAT(Authorize({"ops", Role::kOperator}, Role::kAdmin, ""),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("token \"ops\" has role operator; this call needs admin")));
}

}  // namespace
}  // namespace postroom::auth
