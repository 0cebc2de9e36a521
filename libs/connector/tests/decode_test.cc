#include "libs/connector/decode.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "libs/connector/fields.h"
#include "tests/support/status_matchers.h"

namespace postroom::connector {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using postroom::testing::IsOk;
using postroom::testing::StatusIs;

std::string Json(const v1::Connector& c) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(c, &out, o).ok());
  return out;
}

v1::Connector Full() {
  v1::Connector c;
  c.set_name("support");
  c.set_protocol(v1::PROTOCOL_IMAP);
  c.set_direction(v1::DIRECTION_INCOMING);
  c.mutable_server()->set_host("imap.example.com");
  c.mutable_server()->set_port(993);
  c.mutable_auth()->set_username("support@example.com");
  c.mutable_auth()->set_password("hunter2");
  c.mutable_auth()->set_refresh_token("rt-1");
  c.set_primary_address("support@example.com");
  c.mutable_settings()->set_poll_interval_s(30);
  c.mutable_settings()->set_timeout_ms(5000);
  c.mutable_settings()->set_max_tries(2);
  c.mutable_settings()->set_cool_off_min(0);
  c.mutable_settings()->set_max_message_bytes(1 << 20);
  c.mutable_settings()->set_error_threshold(9);
  c.mutable_settings()->set_save_to_sent_items(false);  // An explicit false survives.
  c.set_display_name("Servicedesk Müller");
  c.mutable_settings()->set_time_zone("Europe/Berlin");
  c.mutable_settings()->add_skip_windows("22:00-06:00");
  return c;
}

// What the config service stores: no secrets, no output-only fields, and the sealed rows.
struct Stored {
  std::string name;
  std::string spec_json;
  SealedSecrets sealed_secrets;
};

Stored Store(const v1::Connector& c) {
  Stored s{c.name(), "", {}};
  for (const SecretField& f : SecretFields()) {
    std::string value = SecretValue(c, f);
    if (!value.empty()) s.sealed_secrets.push_back({f.name, "sealed(" + value + ")"});
  }
  v1::Connector spec = c;
  ClearSecrets(spec);
  ClearOutputOnly(spec);
  spec.clear_name();
  s.spec_json = Json(spec);
  return s;
}

// Opens "sealed(x)" when the owner is the one it was sealed for.
SecretOpener FakeOpener(std::vector<std::string>* owners) {
  return [owners](const std::string& sealed, const std::string& owner)
             -> absl::StatusOr<std::string> {
    owners->push_back(owner);
    if (sealed.rfind("sealed(", 0) != 0) return absl::DataLossError("tag mismatch");
    return sealed.substr(7, sealed.size() - 8);
  };
}

TEST(Decode, RoundTripsAStoredConnector) {
  const v1::Connector c = Full();
  Stored s = Store(c);
  ASSERT_EQ(s.spec_json.find("hunter2"), std::string::npos) << s.spec_json;
  std::vector<std::string> owners;
  absl::StatusOr<v1::Connector> got = Decode(s, FakeOpener(&owners));
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got, c))
      << got->DebugString() << "\nwant\n" << c.DebugString();
  EXPECT_THAT(owners, ::testing::ElementsAre("connector:support:password",
                                             "connector:support:refresh_token"));
}

// `cool_off_min: 0` is no cool-off: the stored 0 must survive JSON and decoding.
TEST(Decode, KeepsAnExplicitZero) {
  v1::Connector c = Full();
  Stored s = Store(c);
  EXPECT_THAT(s.spec_json, HasSubstr("\"cool_off_min\":0"));
  absl::StatusOr<v1::Connector> got = DecodeSpec("support", s.spec_json);
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_TRUE(got->settings().has_cool_off_min());
  EXPECT_EQ(got->settings().cool_off_min(), 0u);
}

TEST(Decode, FillsDefaultsForAbsentSettings) {
  absl::StatusOr<v1::Connector> got =
      DecodeSpec("gateway", R"({"protocol":"PROTOCOL_SMTP","settings":{"timeout_ms":1000}})");
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(got->name(), "gateway");
  EXPECT_EQ(got->settings().timeout_ms(), 1000u);
  EXPECT_EQ(got->settings().max_message_bytes(), 25u << 20);
  EXPECT_EQ(got->settings().cool_off_min(), 15u);
  EXPECT_EQ(got->settings().poll_interval_s(), 60u);
  EXPECT_EQ(got->settings().time_zone(), "UTC");
}

TEST(Decode, IgnoresFieldsANewerVersionStored) {
  EXPECT_THAT(DecodeSpec("support", R"({"primary_address":"a@b.example","shiny_new":{"x":1}})"),
              IsOk());
}

TEST(Decode, UnreadableSpecIsOneFailedPrecondition) {
  for (const std::string& bad : {std::string(""), std::string("{"), std::string("[]"),
                                 std::string(R"({"settings":{"cool_off_min":"soon"}})")}) {
    EXPECT_THAT(DecodeSpec("support", bad),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         AllOf(HasSubstr("connector \"support\": stored spec unreadable: "),
                               HasSubstr("re-apply it through the config service"))))
        << bad;
  }
}

TEST(Decode, RefusesASpecOverTheBoundUnread) {
  std::string huge = R"({"description":")" + std::string(kMaxSpecBytes, 'x') + R"("})";
  EXPECT_THAT(DecodeSpec("support", huge),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("a spec may hold")));
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += R"({"fallback":)";
  EXPECT_THAT(DecodeSpec("support", deep), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(Decode, SecretThatDoesNotOpenIsFailedPrecondition) {
  Stored s = Store(Full());
  s.sealed_secrets[0].second = "moved from another row";
  std::vector<std::string> owners;
  EXPECT_THAT(Decode(s, FakeOpener(&owners)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("connector \"support\": cannot open its password: "),
                             HasSubstr("tag mismatch"))));
}

TEST(Decode, SkipsSecretRowsOfUnknownFieldsAndNeedsNoOpener) {
  Stored s = Store(Full());
  s.sealed_secrets.push_back({"api_key", "sealed(k)"});
  std::vector<std::string> owners;
  absl::StatusOr<v1::Connector> got = Decode(s, FakeOpener(&owners));
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(owners.size(), 2u);
  absl::StatusOr<v1::Connector> no_secrets = Decode(s, SecretOpener());
  ASSERT_THAT(no_secrets.status(), IsOk());
  EXPECT_EQ(no_secrets->auth().password(), "");
}

}  // namespace
}  // namespace postroom::connector
