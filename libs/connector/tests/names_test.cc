#include "libs/connector/names.h"

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"

namespace postroom::connector {
namespace {

using ::testing::UnorderedElementsAreArray;

// The quoted values of `CHECK (<column> IN ('a', 'b'))` in the migration that creates
// connectors: read from the file, so a value added there and not here fails this test.
std::vector<std::string> CheckValues(const std::string& column) {
  const char* root = std::getenv("POSTROOM_SOURCE_DIR");
  EXPECT_NE(root, nullptr) << "run through ctest, or set POSTROOM_SOURCE_DIR";
  if (root == nullptr) return {};
  std::ifstream in(std::string(root) + "/libs/store/migrations/0001_foundation.sql");
  std::stringstream sql;
  sql << in.rdbuf();
  std::string list;
  EXPECT_TRUE(RE2::PartialMatch(sql.str(), "CHECK \\(" + column + " IN \\(([^)]*)\\)\\)", &list))
      << column;
  std::vector<std::string> out;
  re2::StringPiece rest(list);
  std::string value;
  while (RE2::FindAndConsume(&rest, "'([^']*)'", &value)) out.push_back(value);
  EXPECT_FALSE(out.empty()) << column;
  return out;
}

// Every named value of the enum is a value the column accepts and back, and nothing is missing.
template <typename E>
void ExpectCheckValues(const std::string& column, const google::protobuf::EnumDescriptor* d,
                       absl::string_view (*name)(E),
                       std::optional<E> (*from_name)(absl::string_view)) {
  std::vector<std::string> named;
  for (int i = 0; i < d->value_count(); ++i) {
    absl::string_view n = name(static_cast<E>(d->value(i)->number()));
    if (!n.empty()) named.emplace_back(n);
  }
  std::vector<std::string> db = CheckValues(column);
  EXPECT_THAT(named, UnorderedElementsAreArray(db)) << column;
  for (const std::string& n : db) {
    std::optional<E> value = from_name(n);
    ASSERT_TRUE(value.has_value()) << column << " " << n;
    EXPECT_EQ(name(*value), n);
  }
}

TEST(Names, ProtocolsAreTheDatabaseCheckValues) {
  ExpectCheckValues("protocol", v1::Protocol_descriptor(), ProtocolName, ProtocolFromName);
}
TEST(Names, DirectionsAreTheDatabaseCheckValues) {
  ExpectCheckValues("direction", v1::Direction_descriptor(), DirectionName, DirectionFromName);
}
TEST(Names, StatusesAreTheDatabaseCheckValues) {
  ExpectCheckValues("status", v1::ConnectorStatus_descriptor(), StatusName, StatusFromName);
}

TEST(Names, UnspecifiedAndUnknownHaveNoName) {
  EXPECT_EQ(ProtocolName(v1::PROTOCOL_UNSPECIFIED), "");
  EXPECT_EQ(DirectionName(v1::DIRECTION_UNSPECIFIED), "");
  EXPECT_EQ(StatusName(v1::CONNECTOR_STATUS_UNSPECIFIED), "");
  EXPECT_FALSE(ProtocolFromName("IMAP").has_value());
  EXPECT_FALSE(DirectionFromName("").has_value());
  EXPECT_FALSE(StatusFromName("enabled").has_value());
}

TEST(Names, IncomingAndOutgoing) {
  EXPECT_TRUE(IsIncoming(v1::DIRECTION_INCOMING));
  EXPECT_TRUE(IsIncoming(v1::DIRECTION_BOTH));
  EXPECT_FALSE(IsIncoming(v1::DIRECTION_OUTGOING));
  EXPECT_TRUE(IsOutgoing(v1::DIRECTION_OUTGOING));
  EXPECT_TRUE(IsOutgoing(v1::DIRECTION_BOTH));
  EXPECT_FALSE(IsOutgoing(v1::DIRECTION_INCOMING));
  EXPECT_FALSE(IsOutgoing(v1::DIRECTION_UNSPECIFIED));
}

TEST(DomainOf, IsWhatFollowsTheLastAt) {
  EXPECT_EQ(DomainOf("jane@example.com"), "example.com");
  EXPECT_EQ(DomainOf("Jane@Example.COM"), "Example.COM");
  EXPECT_EQ(DomainOf("\"a@b\"@c.example"), "c.example");
  EXPECT_EQ(DomainOf("no-at-sign"), "");
  EXPECT_EQ(DomainOf("trailing@"), "");
  EXPECT_EQ(DomainOf(""), "");
}

}  // namespace
}  // namespace postroom::connector
