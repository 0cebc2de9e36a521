#include "libs/auth/token_authenticator.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/secrets/test_files.h"
#include "tests/support/status_matchers.h"

namespace postroom::auth {
namespace {

using ::postroom::secrets::testing::TempDir;
using ::postroom::secrets::testing::WriteFile;
using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
constexpr char kCiToken[] = "ci-token-0123456789abcdef";
constexpr char kOpsToken[] = "ops-token-0123456789abcdef";

// The third field of a tokens-file line, made apart from the code under test.
std::string Hashed(std::string_view token) {
  TokenHash h = *HashToken(token);
  return "sha256:" + absl::BytesToHexString(
                         absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

std::string Tokens() {
  return absl::StrCat("# name role sha256:<hex>\n", "root admin ", Hashed(kAdminToken), "\n", "\n",
                      "ci viewer ", Hashed(kCiToken), "\n", "ops operator ", Hashed(kOpsToken),
                      "\n");
}

std::unique_ptr<TokenAuthenticator> Must(absl::StatusOr<std::unique_ptr<TokenAuthenticator>> a) {
  EXPECT_THAT(a, IsOk());
  if (!a.ok()) std::abort();
  return *std::move(a);
}

Principal P(const char* name, Role role) { return Principal{name, role}; }

TEST(TokenAuthenticator, BearerTokenYieldsItsPrincipal) {
  auto auth = Must(TokenAuthenticator::FromContents(Tokens()));
  EXPECT_EQ(auth->token_count(), 3u);
  EXPECT_THAT(auth->Authenticate(absl::StrCat("Bearer ", kAdminToken)),
              IsOkAndHolds(P("root", Role::kAdmin)));
  EXPECT_THAT(auth->Authenticate(absl::StrCat("Bearer ", kCiToken)),
              IsOkAndHolds(P("ci", Role::kViewer)));
  EXPECT_THAT(auth->Authenticate(absl::StrCat("Bearer ", kOpsToken)),
              IsOkAndHolds(P("ops", Role::kOperator)));
}

TEST(TokenAuthenticator, SchemeIsCaseInsensitiveAndSurroundingSpaceIgnored) {
  auto auth = Must(TokenAuthenticator::FromContents(Tokens()));
  EXPECT_THAT(auth->Authenticate(absl::StrCat("bearer ", kCiToken)), IsOk());
  EXPECT_THAT(auth->Authenticate(absl::StrCat("BEARER\t", kCiToken)), IsOk());
  EXPECT_THAT(auth->Authenticate(absl::StrCat("  Bearer   ", kCiToken, " \r\n")), IsOk());
}

TEST(TokenAuthenticator, MissingHeaderIsUnauthenticatedSayingWhatToSend) {
  auto auth = Must(TokenAuthenticator::FromContents(Tokens()));
  EXPECT_THAT(auth->Authenticate(""), StatusIs(absl::StatusCode::kUnauthenticated,
                                               AllOf(HasSubstr("missing bearer token"),
                                                     HasSubstr("authorization: Bearer <token>"))));
  EXPECT_THAT(auth->Authenticate("   "), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(TokenAuthenticator, OtherSchemesAndBareTokensAreUnauthenticated) {
  auto auth = Must(TokenAuthenticator::FromContents(Tokens()));
  for (std::string value :
       {std::string(kCiToken), absl::StrCat("Basic ", kCiToken), absl::StrCat("Bearer", kCiToken),
        std::string("Bearer"), std::string("Bearer   ")}) {
    EXPECT_THAT(auth->Authenticate(value), StatusIs(absl::StatusCode::kUnauthenticated)) << value;
  }
}

TEST(TokenAuthenticator, UnknownTokenIsUnauthenticatedAndNotEchoed) {
  auto auth = Must(TokenAuthenticator::FromContents(Tokens()));
  const std::string wrong = "wrong-token-0123456789abcdef";
  EXPECT_THAT(auth->Authenticate("Bearer " + wrong),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("unknown or revoked"), Not(HasSubstr(wrong)))));
  // A prefix or an extension of a real token is a different token.
  EXPECT_THAT(auth->Authenticate(absl::StrCat("Bearer ", std::string(kCiToken).substr(0, 20))),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth->Authenticate(absl::StrCat("Bearer ", kCiToken, "x")),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(TokenAuthenticator, AuthenticatedPrincipalIsAuthorizedByRole) {
  auto auth = Must(TokenAuthenticator::FromContents(Tokens()));
  absl::StatusOr<Principal> ci = auth->Authenticate(absl::StrCat("Bearer ", kCiToken));
  ASSERT_THAT(ci, IsOk());
  EXPECT_THAT(Authorize(*ci, Role::kViewer, "listing connectors"), IsOk());
  EXPECT_THAT(Authorize(*ci, Role::kOperator, "enabling a connector"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "token \"ci\" has role viewer; enabling a connector needs operator"));
}

// --- Tokens file validation ---

struct BadFile {
  const char* name;
  std::string contents;
  const char* message;
};

void PrintTo(const BadFile& f, std::ostream* os) { *os << f.name; }

class TokensFileRefusal : public ::testing::TestWithParam<BadFile> {};

TEST_P(TokensFileRefusal, IsInvalidArgumentWithLineNumberAndNoToken) {
  const BadFile& f = GetParam();
  absl::StatusOr<std::vector<TokenEntry>> got = ParseTokensFile(f.contents, "tokens.txt");
  EXPECT_THAT(got, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(f.message)));
  EXPECT_THAT(got.status().message(), Not(HasSubstr(kCiToken)));
  EXPECT_THAT(got.status().message(), Not(HasSubstr(kAdminToken)));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TokensFileRefusal,
    ::testing::Values(
        BadFile{"Empty", "", "tokens.txt: no tokens"},
        BadFile{"OnlyComments", "# none yet\n", "no tokens"},
        BadFile{"TwoFields", absl::StrCat("# c\nci ", kCiToken, "\n"),
                "tokens.txt:2: expected `name role sha256:<hex>`, found 2 fields"},
        BadFile{"FourFields", absl::StrCat("ci viewer ", Hashed(kCiToken), " extra\n"),
                "found 4 fields"},
        BadFile{"UnknownRole", absl::StrCat("ci superuser ", Hashed(kCiToken), "\n"),
                "tokens.txt:1: token \"ci\" has unknown role \"superuser\"; use viewer, "
                "operator or admin"},
        BadFile{"PlaintextToken", absl::StrCat("root admin ", kAdminToken, "\n"),
                "tokens.txt:1: token \"root\" is stored in plaintext; the tokens file holds only "
                "hashes"},
        BadFile{"ShortHash", "root admin sha256:abcdef\n",
                "tokens.txt:1: token \"root\" has a bad hash; after sha256: put 64 lowercase "
                "hex digits"},
        BadFile{"UppercaseHash", "root admin sha256:" + std::string(64, 'A') + "\n", "bad hash"},
        BadFile{"NotHexHash", "root admin sha256:" + std::string(64, 'g') + "\n", "bad hash"},
        BadFile{"BadName", absl::StrCat("c/i viewer ", Hashed(kCiToken), "\n"),
                "token name \"c/i\" is invalid"},
        BadFile{"ReservedName", absl::StrCat("system admin ", Hashed(kAdminToken), "\n"),
                "reserved"},
        BadFile{
            "DuplicateName",
            absl::StrCat("ci viewer ", Hashed(kCiToken), "\nci admin ", Hashed(kAdminToken), "\n"),
            "tokens.txt:2: token name \"ci\" is used twice (first on line 1)"},
        BadFile{
            "DuplicateToken",
            absl::StrCat("ci viewer ", Hashed(kCiToken), "\n\nroot admin ", Hashed(kCiToken), "\n"),
            "tokens.txt:3: token \"root\" has the same token as \"ci\" on line 1"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ParseTokensFile, KeepsOnlyHashesOfTokens) {
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokensFile(Tokens(), "t");
  ASSERT_THAT(entries, IsOk());
  ASSERT_THAT(*entries, SizeIs(3));
  EXPECT_EQ((*entries)[1].name, "ci");
  EXPECT_THAT((*entries)[1].token_sha256, ::testing::Eq(*HashToken(kCiToken)));
}

TEST(HashToken, MatchesSha256OfAbc) {
  absl::StatusOr<TokenHash> h = HashToken("abc");
  ASSERT_THAT(h, IsOk());
  const unsigned char kExpected[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                       0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                       0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                       0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  EXPECT_TRUE(std::equal(h->begin(), h->end(), kExpected));
}

TEST(GenerateToken, IsUnpaddedBase64UrlOf32RandomBytesAndAcceptedByTheFile) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::string> t = GenerateToken();
    ASSERT_THAT(t, IsOk());
    EXPECT_THAT(*t, MatchesRegex("[A-Za-z0-9_-]{43}"));
    seen.insert(*t);
  }
  EXPECT_EQ(seen.size(), 100u);
  absl::StatusOr<std::string> line = TokenFileLine("ci", Role::kViewer, *seen.begin());
  ASSERT_THAT(line, IsOk());
  auto auth = Must(TokenAuthenticator::FromContents(*line));
  EXPECT_THAT(auth->Authenticate("Bearer " + *seen.begin()), IsOkAndHolds(P("ci", Role::kViewer)));
}

// --- Files and reloading ---

TEST(TokenAuthenticatorFile, WorldReadableTokensFileIsRefused) {
  TempDir dir;
  WriteFile(dir.File("tokens"), Tokens(), 0644);
  EXPECT_THAT(TokenAuthenticator::FromFile(dir.File("tokens")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("tokens file"), HasSubstr("chmod 600"))));
}

TEST(TokenAuthenticatorFile, MissingFileIsNotFound) {
  TempDir dir;
  EXPECT_THAT(TokenAuthenticator::FromFile(dir.File("absent")),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(TokenAuthenticatorFile, ReloadRotatesTokensWithoutRestart) {
  TempDir dir;
  const std::string path = dir.File("tokens");
  WriteFile(path, absl::StrCat("ci viewer ", Hashed(kCiToken), "\n"), 0600);
  auto auth = Must(TokenAuthenticator::FromFile(path));
  EXPECT_EQ(auth->path(), path);
  ASSERT_THAT(auth->Authenticate(absl::StrCat("Bearer ", kCiToken)), IsOk());

  // ci's token is replaced and an operator is added.
  const std::string new_ci = "ci-rotated-0123456789abcdef";
  WriteFile(path,
            absl::StrCat("ci viewer ", Hashed(new_ci), "\nops operator ", Hashed(kOpsToken), "\n"),
            0600);
  EXPECT_THAT(auth->Authenticate(absl::StrCat("Bearer ", kCiToken)), IsOk());  // Until reload.
  ASSERT_THAT(auth->Reload(), IsOk());
  EXPECT_EQ(auth->token_count(), 2u);
  EXPECT_THAT(auth->Authenticate(absl::StrCat("Bearer ", kCiToken)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth->Authenticate("Bearer " + new_ci), IsOkAndHolds(P("ci", Role::kViewer)));
  EXPECT_THAT(auth->Authenticate(absl::StrCat("Bearer ", kOpsToken)),
              IsOkAndHolds(P("ops", Role::kOperator)));
}

TEST(TokenAuthenticatorFile, FailedReloadKeepsCurrentTokens) {
  TempDir dir;
  const std::string path = dir.File("tokens");
  WriteFile(path, absl::StrCat("ci viewer ", Hashed(kCiToken), "\n"), 0600);
  auto auth = Must(TokenAuthenticator::FromFile(path));
  WriteFile(path, "ci viewer short-plaintext-token\n", 0600);
  EXPECT_THAT(auth->Reload(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("previous tokens stay in force"),
                             HasSubstr(":1: token \"ci\" is stored in plaintext"))));
  EXPECT_THAT(auth->Authenticate(absl::StrCat("Bearer ", kCiToken)), IsOk());
}

TEST(TokenAuthenticatorFile, ReloadOfTextTokensIsFailedPrecondition) {
  auto auth = Must(TokenAuthenticator::FromContents(Tokens()));
  EXPECT_THAT(auth->Reload(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(auth->token_count(), 3u);
}

TEST(TokenAuthenticatorFile, ConcurrentAuthenticateDuringReloadSeesOldOrNewTable) {
  TempDir dir;
  const std::string path = dir.File("tokens");
  // Both files accept the admin token; they differ only in ci's role.
  const std::string a =
      absl::StrCat("root admin ", Hashed(kAdminToken), "\nci viewer ", Hashed(kCiToken), "\n");
  const std::string b =
      absl::StrCat("root admin ", Hashed(kAdminToken), "\nci operator ", Hashed(kCiToken), "\n");
  WriteFile(path, a, 0600);
  auto auth = Must(TokenAuthenticator::FromFile(path));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        if (!auth->Authenticate(absl::StrCat("Bearer ", kAdminToken)).ok()) ++failures;
        absl::StatusOr<Principal> ci = auth->Authenticate(absl::StrCat("Bearer ", kCiToken));
        if (!ci.ok() || ci->name != "ci") ++failures;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    WriteFile(path, i % 2 == 0 ? b : a, 0600);
    if (!auth->Reload().ok()) ++failures;
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
}

// --- Creating tokens ---

TEST(TokenFileLine, IsNameRoleAndTheTokensSha256) {
  EXPECT_THAT(TokenFileLine("ci", Role::kOperator, kCiToken),
              IsOkAndHolds(absl::StrCat("ci operator ", Hashed(kCiToken), "\n")));
  EXPECT_THAT(TokenFileLine("system", Role::kAdmin, kCiToken),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reserved")));
  EXPECT_THAT(TokenFileLine("ci", Role::kAdmin, "short"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("5 characters")));
}

TEST(CreateToken, AddsOnlyTheHashToAPrivateFileAndTheTokenAuthenticates) {
  TempDir dir;
  const std::string path = dir.File("tokens");
  absl::StatusOr<std::string> first = CreateToken(path, "local-admin", Role::kAdmin);
  ASSERT_THAT(first, IsOk());
  absl::StatusOr<std::string> second = CreateToken(path, "svc", Role::kOperator);
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(*first, *second);

  auto auth = Must(TokenAuthenticator::FromFile(path));  // Also checks mode 0600.
  EXPECT_EQ(auth->token_count(), 2u);
  EXPECT_THAT(auth->Authenticate("Bearer " + *first), IsOkAndHolds(P("local-admin", Role::kAdmin)));
  EXPECT_THAT(auth->Authenticate("Bearer " + *second), IsOkAndHolds(P("svc", Role::kOperator)));
  std::string text = secrets::testing::ReadFile(path);
  EXPECT_THAT(text, AllOf(Not(HasSubstr(*first)), Not(HasSubstr(*second)),
                          HasSubstr(Hashed(*first)), HasSubstr(Hashed(*second))));
}

TEST(CreateToken, RefusesATakenNameAndABadFileLeavingTheFileAsItWas) {
  TempDir dir;
  const std::string path = dir.File("tokens");
  ASSERT_THAT(CreateToken(path, "ci", Role::kViewer), IsOk());
  const std::string before = secrets::testing::ReadFile(path);
  EXPECT_THAT(
      CreateToken(path, "ci", Role::kAdmin),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already has a token named \"ci\"")));
  EXPECT_EQ(secrets::testing::ReadFile(path), before);

  const std::string old_format = dir.File("old");
  WriteFile(old_format, absl::StrCat("ci viewer ", kCiToken, "\n"), 0600);
  EXPECT_THAT(CreateToken(old_format, "ops", Role::kOperator),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("fix the tokens file first"), HasSubstr("plaintext"))));
  EXPECT_EQ(secrets::testing::ReadFile(old_format), absl::StrCat("ci viewer ", kCiToken, "\n"));
  EXPECT_THAT(CreateToken(path, "bad/name", Role::kViewer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid")));
}

}  // namespace
}  // namespace postroom::auth
