#include "tools/postroomctl/args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace postroom::ctl {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<FlagSpec> kSpecs = {
    {"output", 'o', true, false, "FORMAT", ""},
    {"filename", 'f', true, true, "FILE", ""},
    {"strict-version", 0, false, false, "", ""},
    {"token", 0, true, false, "TOKEN", ""},
};

TEST(ParseArgs, AcceptsEveryFlagFormAnywhere) {
  absl::StatusOr<ParsedArgs> a = ParseArgs({"connectors", "-o", "yaml", "support", "--token=t",
                                            "-fa.yaml", "-f=b.yaml", "-f", "-", "--strict-version"},
                                           kSpecs);
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(a->positionals, ElementsAre("connectors", "support"));
  EXPECT_EQ(a->Get("output"), "yaml");
  EXPECT_EQ(a->Get("token"), "t");
  EXPECT_THAT(a->GetAll("filename"), ElementsAre("a.yaml", "b.yaml", "-"));
  EXPECT_TRUE(a->GetBool("strict-version"));
}

TEST(ParseArgs, DoubleDashEndsFlags) {
  absl::StatusOr<ParsedArgs> a = ParseArgs({"get", "--", "-o"}, kSpecs);
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(a->positionals, ElementsAre("get", "-o"));
}

TEST(ParseArgs, SwitchTakesOnlyTrueOrFalse) {
  EXPECT_FALSE(ParseArgs({"--strict-version=false"}, kSpecs)->GetBool("strict-version"));
  EXPECT_THAT(ParseArgs({"--strict-version=yes"}, kSpecs),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is a switch")));
}

TEST(ParseArgs, RefusesUnknownMissingAndRepeatedFlags) {
  EXPECT_THAT(ParseArgs({"--outptu", "yaml"}, kSpecs),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown flag --outptu"));
  EXPECT_THAT(ParseArgs({"-x"}, kSpecs),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown flag -x"));
  EXPECT_THAT(ParseArgs({"-o"}, kSpecs),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a value")));
  EXPECT_THAT(ParseArgs({"-o", "json", "-o", "yaml"}, kSpecs),
              StatusIs(absl::StatusCode::kInvalidArgument, "flag --output given twice"));
}

TEST(FindFirstPositional, SkipsGlobalFlagsAndTheirValues) {
  EXPECT_THAT(FindFirstPositional({"--token", "abc", "get", "x"}, kSpecs), IsOkAndHolds(2));
  EXPECT_THAT(FindFirstPositional({"--token=abc"}, kSpecs), IsOkAndHolds(-1));
  EXPECT_THAT(FindFirstPositional({"--nope", "get"}, kSpecs),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FlagHelp, AlignsDescriptions) {
  EXPECT_EQ(FlagHelp({{"output", 'o', true, false, "FORMAT", "format"},
                      {"dry-run", 0, false, false, "", "no calls"}}),
            "  -o, --output FORMAT   format\n"
            "      --dry-run         no calls\n");
}

}  // namespace
}  // namespace postroom::ctl
