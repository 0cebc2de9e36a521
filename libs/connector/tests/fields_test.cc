#include "libs/connector/fields.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace postroom::connector {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Paths() {
  std::vector<std::string> out;
  for (const SecretField& f : SecretFields()) out.push_back(f.path);
  return out;
}

// The secrets live in a nested message (auth): found there by the field option alone.
TEST(SecretFields, FoundByTheirOptionInNestedMessages) {
  EXPECT_THAT(Paths(), ElementsAre("auth.password", "auth.client_secret", "auth.refresh_token"));
  for (const SecretField& f : SecretFields()) {
    ASSERT_NE(f.has_flag, nullptr) << f.path << " has no has_" << f.name;
    EXPECT_EQ(f.has_flag->name(), "has_" + f.name);
    EXPECT_EQ(f.chain.size(), 2u) << f.path;
  }
}

// The secrets table keys them by their own name: two alike would share one row.
TEST(SecretFields, NamesAreUnique) {
  std::set<std::string> names;
  for (const SecretField& f : SecretFields()) EXPECT_TRUE(names.insert(f.name).second) << f.name;
  EXPECT_EQ(FindSecretField("client_secret"), &SecretFields()[1]);
  EXPECT_EQ(FindSecretField("username"), nullptr);
  EXPECT_EQ(FindSecretField(""), nullptr);
}

TEST(SecretFields, ReadWriteAndFlagThroughReflection) {
  v1::Connector c;
  const SecretField& pw = *FindSecretField("password");
  SetSecret(c, pw, "hunter2");
  SetHasSecret(c, pw, true);
  EXPECT_EQ(c.auth().password(), "hunter2");
  EXPECT_TRUE(c.auth().has_password());
  EXPECT_EQ(SecretValue(c, pw), "hunter2");
  EXPECT_EQ(SecretValue(c, *FindSecretField("refresh_token")), "");

  c.mutable_auth()->set_refresh_token("rt");
  c.mutable_auth()->set_username("kept");
  ClearSecrets(c);
  EXPECT_EQ(c.auth().password(), "");
  EXPECT_EQ(c.auth().refresh_token(), "");
  EXPECT_EQ(c.auth().username(), "kept");
  EXPECT_TRUE(c.auth().has_password());
}

TEST(SecretOwner, IsConnectorNameField) {
  EXPECT_EQ(SecretOwner("support", "password"), "connector:support:password");
}

TEST(ClearOutputOnly, ClearsMarkedFieldsAtEveryDepth) {
  v1::Connector c;
  c.set_name("support");
  c.set_status(v1::CONNECTOR_STATUS_ACTIVE);
  c.set_version(7);
  c.set_modified_by("alice");
  c.set_modified_at_unix_ms(1);
  c.mutable_state()->set_last_check_unix_ms(2);
  c.mutable_auth()->set_has_client_secret(true);
  c.mutable_auth()->set_client_id("id");
  c.mutable_settings()->set_cool_off_min(0);
  ClearOutputOnly(c);
  EXPECT_EQ(c.name(), "support");
  EXPECT_EQ(c.status(), v1::CONNECTOR_STATUS_UNSPECIFIED);
  EXPECT_EQ(c.version(), 0);
  EXPECT_EQ(c.modified_by(), "");
  EXPECT_EQ(c.modified_at_unix_ms(), 0);
  EXPECT_FALSE(c.has_state());
  EXPECT_FALSE(c.auth().has_client_secret());
  EXPECT_EQ(c.auth().client_id(), "id");
  EXPECT_TRUE(c.settings().has_cool_off_min());
}

}  // namespace
}  // namespace postroom::connector
