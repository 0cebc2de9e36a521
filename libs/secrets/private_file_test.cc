#include "libs/secrets/private_file.h"

#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/secrets/test_files.h"
#include "tests/support/status_matchers.h"

namespace postroom::secrets {
namespace {

using ::postroom::secrets::testing::FileMode;
using ::postroom::secrets::testing::ReadFile;
using ::postroom::secrets::testing::TempDir;
using ::postroom::secrets::testing::WriteFile;
using ::postroom::testing::IsOk;
using ::postroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ReadPrivateFile, OwnerOnlyFileIsRead) {
  TempDir dir;
  WriteFile(dir.File("k"), "line\n", 0600);
  absl::StatusOr<SecureString> got = ReadPrivateFile(dir.File("k"), "secret key file");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->str(), "line\n");
}

TEST(ReadPrivateFile, GroupReadableFileIsReadForKubernetesFsGroup) {
  TempDir dir;
  WriteFile(dir.File("k"), "x", 0640);
  EXPECT_THAT(ReadPrivateFile(dir.File("k"), "secret key file"), IsOk());
}

TEST(ReadPrivateFile, WorldReadableFileIsRefusedWithChmodAdvice) {
  TempDir dir;
  WriteFile(dir.File("k"), "x", 0644);
  EXPECT_THAT(ReadPrivateFile(dir.File("k"), "secret key file"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("secret key file"), HasSubstr("mode 0644"),
                             HasSubstr("chmod 600"))));
}

TEST(ReadPrivateFile, MissingFileIsNotFound) {
  TempDir dir;
  EXPECT_THAT(ReadPrivateFile(dir.File("absent"), "tokens file"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("tokens file")));
}

TEST(ReadPrivateFile, DirectoryIsRefused) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  EXPECT_THAT(ReadPrivateFile(dir.path(), "tokens file"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a regular file")));
}

TEST(ReadPrivateFile, FileOverOneMebibyteIsRefused) {
  TempDir dir;
  WriteFile(dir.File("big"), std::string((1 << 20) + 1, 'a'), 0600);
  EXPECT_THAT(ReadPrivateFile(dir.File("big"), "tokens file"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 MiB")));
}

TEST(CreatePrivateFile, CreatesOwnerOnlyFileAndNeverOverwrites) {
  TempDir dir;
  ASSERT_THAT(CreatePrivateFile(dir.File("new"), "first"), IsOk());
  EXPECT_EQ(FileMode(dir.File("new")), 0600u);
  EXPECT_THAT(CreatePrivateFile(dir.File("new"), "second"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReadFile(dir.File("new")), "first");
}

TEST(ReplacePrivateFile, ReplacesContentsAndLeavesNoTemporaryFile) {
  TempDir dir;
  WriteFile(dir.File("f"), "old", 0640);
  ASSERT_THAT(ReplacePrivateFile(dir.File("f"), "new"), IsOk());
  EXPECT_EQ(ReadFile(dir.File("f")), "new");
  EXPECT_EQ(FileMode(dir.File("f")), 0600u);
  EXPECT_NE(::access(dir.File("f.tmp").c_str(), F_OK), 0);
}

TEST(ReplacePrivateFile, StaleTemporaryFileIsReportedAndOriginalKept) {
  TempDir dir;
  WriteFile(dir.File("f"), "old", 0600);
  WriteFile(dir.File("f.tmp"), "stale", 0600);
  EXPECT_THAT(ReplacePrivateFile(dir.File("f"), "new"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReadFile(dir.File("f")), "old");
}

}  // namespace
}  // namespace postroom::secrets
