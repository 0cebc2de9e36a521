#include "libs/secrets/keyring.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/secrets/aes_gcm.h"
#include "libs/secrets/test_files.h"
#include "tests/support/status_matchers.h"

namespace postroom::secrets {
namespace {

using ::postroom::secrets::testing::FileMode;
using ::postroom::secrets::testing::ReadFile;
using ::postroom::secrets::testing::TempDir;
using ::postroom::secrets::testing::WriteFile;
using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kAd[] = "connector:support:password";
// Two fixed keys: one written in hex, one in base64, as a key file may hold either.
const std::string kKeyAHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kKeyBB64 = absl::Base64Escape(std::string(32, '\x42'));

Keyring MustParse(const std::string& contents) {
  absl::StatusOr<Keyring> ring = Keyring::FromKeyFileContents(contents, "keys");
  EXPECT_THAT(ring, IsOk());
  if (!ring.ok()) std::abort();
  return *std::move(ring);
}

Keyring RingA() { return MustParse("a " + kKeyAHex + "\n"); }
Keyring RingBThenA() { return MustParse("b " + kKeyBB64 + "\na " + kKeyAHex + "\n"); }

TEST(Keyring, EncryptThenDecryptRoundTrips) {
  Keyring ring = RingA();
  absl::StatusOr<Sealed> sealed = ring.Encrypt("hunter2", kAd);
  ASSERT_THAT(sealed, IsOk());
  EXPECT_EQ(sealed->key_id, "a");
  EXPECT_EQ(sealed->nonce.size(), kAesGcmNonceSize);
  EXPECT_EQ(sealed->ciphertext.size(), 7 + kAesGcmTagSize);
  EXPECT_THAT(sealed->ciphertext, Not(HasSubstr("hunter2")));
  EXPECT_THAT(ring.Decrypt(*sealed, kAd), IsOkAndHolds("hunter2"));
}

TEST(Keyring, EmptyPlaintextRoundTrips) {
  Keyring ring = RingA();
  absl::StatusOr<std::string> enc = ring.EncryptToString("", kAd);
  ASSERT_THAT(enc, IsOk());
  EXPECT_THAT(ring.DecryptString(*enc, kAd), IsOkAndHolds(""));
}

TEST(Keyring, DecryptWithOtherAssociatedDataIsDataLoss) {
  Keyring ring = RingA();
  absl::StatusOr<Sealed> sealed = ring.Encrypt("hunter2", "connector:support:password");
  ASSERT_THAT(sealed, IsOk());
  EXPECT_THAT(ring.Decrypt(*sealed, "connector:billing:password"),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("connector:billing:password"), HasSubstr("tag mismatch"))));
}

TEST(Keyring, TamperedCiphertextIsDataLoss) {
  Keyring ring = RingA();
  absl::StatusOr<Sealed> sealed = ring.Encrypt("hunter2", kAd);
  ASSERT_THAT(sealed, IsOk());
  Sealed bad = *sealed;
  bad.ciphertext[0] = static_cast<char>(bad.ciphertext[0] ^ 0x01);
  EXPECT_THAT(ring.Decrypt(bad, kAd), StatusIs(absl::StatusCode::kDataLoss));
  bad = *sealed;
  bad.nonce[11] = static_cast<char>(bad.nonce[11] ^ 0x80);
  EXPECT_THAT(ring.Decrypt(bad, kAd), StatusIs(absl::StatusCode::kDataLoss));
  bad = *sealed;
  bad.ciphertext.back() = static_cast<char>(bad.ciphertext.back() ^ 0x01);  // In the tag.
  EXPECT_THAT(ring.Decrypt(bad, kAd), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(Keyring, MalformedSealedValueIsDataLoss) {
  Keyring ring = RingA();
  Sealed sealed{"a", "short", std::string(20, 'c')};
  EXPECT_THAT(ring.Decrypt(sealed, kAd), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("nonce")));
  sealed = Sealed{"a", std::string(12, 'n'), "tiny"};
  EXPECT_THAT(ring.Decrypt(sealed, kAd), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(Keyring, SameKeyIdWithDifferentKeyMaterialIsDataLossWithHint) {
  absl::StatusOr<Sealed> sealed = RingA().Encrypt("hunter2", kAd);
  ASSERT_THAT(sealed, IsOk());
  Keyring regenerated = MustParse("a " + kKeyBB64 + "\n");
  EXPECT_THAT(regenerated.Decrypt(*sealed, kAd),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("regenerated under the same id")));
}

TEST(Keyring, UnknownKeyIdIsFailedPreconditionNamingTheKey) {
  absl::StatusOr<Sealed> sealed = RingBThenA().Encrypt("hunter2", kAd);
  ASSERT_THAT(sealed, IsOk());
  ASSERT_EQ(sealed->key_id, "b");
  EXPECT_THAT(RingA().Decrypt(*sealed, kAd),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("key \"b\""), HasSubstr("have: a"),
                             HasSubstr("add the old key"), HasSubstr(kAd))));
}

TEST(Keyring, NoncesDifferAcrossCalls) {
  Keyring ring = RingA();
  std::set<std::string> nonces, ciphertexts;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<Sealed> sealed = ring.Encrypt("same plaintext", kAd);
    ASSERT_THAT(sealed, IsOk());
    nonces.insert(sealed->nonce);
    ciphertexts.insert(sealed->ciphertext);
  }
  EXPECT_EQ(nonces.size(), 1000u);
  EXPECT_EQ(ciphertexts.size(), 1000u);
}

TEST(Keyring, RotationOldKeyDecryptsAndNewPrimaryEncrypts) {
  absl::StatusOr<Sealed> old_sealed = RingA().Encrypt("hunter2", kAd);
  ASSERT_THAT(old_sealed, IsOk());

  Keyring rotated = RingBThenA();
  EXPECT_EQ(rotated.primary_key_id(), "b");
  EXPECT_THAT(rotated.key_ids(), ElementsAre("b", "a"));
  EXPECT_TRUE(rotated.NeedsReencrypt(*old_sealed));
  EXPECT_THAT(rotated.Decrypt(*old_sealed, kAd), IsOkAndHolds("hunter2"));

  absl::StatusOr<Sealed> reencrypted = rotated.Reencrypt(*old_sealed, kAd);
  ASSERT_THAT(reencrypted, IsOk());
  EXPECT_EQ(reencrypted->key_id, "b");
  EXPECT_FALSE(rotated.NeedsReencrypt(*reencrypted));
  EXPECT_THAT(rotated.Decrypt(*reencrypted, kAd), IsOkAndHolds("hunter2"));

  // Once every row is re-encrypted the old key can go.
  Keyring only_new = MustParse("b " + kKeyBB64 + "\n");
  EXPECT_THAT(only_new.Decrypt(*reencrypted, kAd), IsOkAndHolds("hunter2"));
  EXPECT_THAT(only_new.Decrypt(*old_sealed, kAd), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(Keyring, ReencryptWithWrongAssociatedDataFailsAndSealsNothing) {
  Keyring ring = RingBThenA();
  absl::StatusOr<Sealed> sealed = RingA().Encrypt("hunter2", kAd);
  ASSERT_THAT(sealed, IsOk());
  EXPECT_THAT(ring.Reencrypt(*sealed, "connector:other:password"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(Keyring, EncodedFormRoundTripsAndRotates) {
  absl::StatusOr<std::string> enc = RingA().EncryptToString("hunter2", kAd);
  ASSERT_THAT(enc, IsOk());
  EXPECT_THAT(*enc, StartsWith("v1:a:"));
  Keyring rotated = RingBThenA();
  absl::StatusOr<std::string> re = rotated.ReencryptString(*enc, kAd);
  ASSERT_THAT(re, IsOk());
  EXPECT_THAT(*re, StartsWith("v1:b:"));
  EXPECT_THAT(rotated.DecryptString(*re, kAd), IsOkAndHolds("hunter2"));
}

TEST(SealedEncoding, EncodeDecodeRoundTrips) {
  Sealed sealed{"k2026.x_y-1", std::string(12, '\x07'),
                std::string("\0\xff\x10 tag-bytes-16b..", 20)};
  std::string encoded = EncodeSealed(sealed);
  EXPECT_THAT(DecodeSealed(encoded), IsOkAndHolds(sealed));
}

TEST(SealedEncoding, MalformedValuesAreDataLossWithoutEchoingThem) {
  for (const char* bad : {"", "hunter2", "v2:a:AAAA", "v1:", "v1:a", "v1:bad id:AAAA",
                          "v1:a:!!!notbase64", "v1:a:AAAAAAAA"}) {
    EXPECT_THAT(DecodeSealed(bad),
                StatusIs(absl::StatusCode::kDataLoss,
                         AllOf(HasSubstr("set the secret again"), Not(HasSubstr("hunter2")))))
        << bad;
  }
  EXPECT_THAT(RingA().DecryptString("plaintext-password", kAd),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(kAd)));
}

TEST(Keyring, ConcurrentEncryptAndDecryptAgree) {
  const Keyring ring = RingBThenA();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&ring, &failures, t] {
      for (int i = 0; i < 500; ++i) {
        std::string pt = absl::StrCat("secret-", t, "-", i);
        absl::StatusOr<std::string> enc = ring.EncryptToString(pt, kAd);
        if (!enc.ok()) {
          ++failures[t];
          continue;
        }
        absl::StatusOr<std::string> dec = ring.DecryptString(*enc, kAd);
        if (!dec.ok() || *dec != pt) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(failures, ElementsAre(0, 0, 0, 0));
}

// --- Key file parsing ---

TEST(KeyFile, CommentsBlankLinesCrlfAndBothEncodingsAreAccepted) {
  absl::StatusOr<Keyring> ring = Keyring::FromKeyFileContents(
      "# postroom keys\r\n\r\n  new  " + kKeyBB64 + "  \r\n# older\nold\t" + kKeyAHex + "\n",
      "keys");
  ASSERT_THAT(ring, IsOk());
  EXPECT_THAT(ring->key_ids(), ElementsAre("new", "old"));
  EXPECT_EQ(ring->primary_key_id(), "new");
}

TEST(KeyFile, HexAndBase64OfTheSameBytesAreTheSameKey) {
  const std::string bytes = absl::HexStringToBytes(kKeyAHex);
  absl::StatusOr<Sealed> sealed = RingA().Encrypt("x", kAd);
  ASSERT_THAT(sealed, IsOk());
  EXPECT_THAT(MustParse("a " + absl::Base64Escape(bytes)).Decrypt(*sealed, kAd), IsOkAndHolds("x"));
  EXPECT_THAT(MustParse("a " + absl::WebSafeBase64Escape(bytes)).Decrypt(*sealed, kAd),
              IsOkAndHolds("x"));
}

struct BadFile {
  const char* name;
  std::string contents;
  const char* message;
};

void PrintTo(const BadFile& f, std::ostream* os) { *os << f.name; }

class KeyFileRefusal : public ::testing::TestWithParam<BadFile> {};

TEST_P(KeyFileRefusal, IsInvalidArgumentWithLineNumberAndNoKeyMaterial) {
  const BadFile& f = GetParam();
  absl::StatusOr<Keyring> ring = Keyring::FromKeyFileContents(f.contents, "/etc/postroom/keys");
  EXPECT_THAT(ring, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(f.message)));
  EXPECT_THAT(ring.status().message(), Not(HasSubstr(kKeyAHex)));
  EXPECT_THAT(ring.status().message(), Not(HasSubstr(kKeyBB64)));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, KeyFileRefusal,
    ::testing::Values(
        BadFile{"Empty", "", "no keys"}, BadFile{"OnlyComments", "# nothing\n\n", "no keys"},
        BadFile{"OneField", "# c\n" + kKeyAHex + "\n",
                "/etc/postroom/keys:2: expected `key_id key`"},
        BadFile{"ThreeFields", "a " + kKeyAHex + " extra\n", ":1: expected `key_id key`"},
        BadFile{"ShortHex", "a 0011223344\n", ":1: key \"a\" is 10 hex digits; need 64"},
        BadFile{"LongBase64", "a " + absl::Base64Escape(std::string(48, 'x')) + "\n",
                "decodes to 48 bytes"},
        BadFile{"BadEncoding", "a not*base64*or*hex\n", "neither 64 hex digits nor base64"},
        BadFile{"AllZero", "a " + std::string(64, '0') + "\n", "all zeros"},
        BadFile{"BadKeyId", "a:b " + kKeyAHex + "\n", ":1: key id \"a:b\" is invalid"},
        BadFile{"DuplicateId", "a " + kKeyAHex + "\n\na " + kKeyBB64 + "\n",
                ":3: key id \"a\" is defined twice (first at /etc/postroom/keys:1)"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(KeyFile, WorldReadableFileIsRefused) {
  TempDir dir;
  WriteFile(dir.File("keys"), "a " + kKeyAHex + "\n", 0644);
  EXPECT_THAT(Keyring::FromKeyFile(dir.File("keys")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("chmod 600")));
}

TEST(KeyFile, LoadsFromPrivateFile) {
  TempDir dir;
  WriteFile(dir.File("keys"), "b " + kKeyBB64 + "\na " + kKeyAHex + "\n", 0600);
  absl::StatusOr<Keyring> ring = Keyring::FromKeyFile(dir.File("keys"));
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(ring->primary_key_id(), "b");
}

// --- Environment value and source selection ---

TEST(KeyEnv, SingleAndMultipleKeysParse) {
  absl::StatusOr<Keyring> one = Keyring::FromEnvValue("k1:" + kKeyBB64);
  ASSERT_THAT(one, IsOk());
  EXPECT_THAT(one->key_ids(), ElementsAre("k1"));
  absl::StatusOr<Keyring> two = Keyring::FromEnvValue("k2:" + kKeyBB64 + ", k1:" + kKeyAHex);
  ASSERT_THAT(two, IsOk());
  EXPECT_THAT(two->key_ids(), ElementsAre("k2", "k1"));
}

TEST(KeyEnv, BadItemsAreRefusedWithItemNumber) {
  EXPECT_THAT(Keyring::FromEnvValue(kKeyBB64),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("POSTROOM_SECRET_KEY item 1"), HasSubstr("key_id:key"),
                             Not(HasSubstr(kKeyBB64)))));
  EXPECT_THAT(Keyring::FromEnvValue("k1:" + kKeyBB64 + ",k2:abcd"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("POSTROOM_SECRET_KEY item 2: key \"k2\" is 4 hex digits")));
  EXPECT_THAT(Keyring::FromEnvValue("k1:" + kKeyBB64 + ",k1:" + kKeyAHex),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("defined twice (first at POSTROOM_SECRET_KEY item 1)")));
}

TEST(KeyringLoad, NeitherSourceIsFailedPreconditionSayingHowToMakeAKey) {
  EXPECT_THAT(Keyring::Load({}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("POSTROOM_SECRET_KEY_FILE"), HasSubstr("postroom-keygen"))));
}

TEST(KeyringLoad, BothSourcesAreFailedPrecondition) {
  EXPECT_THAT(Keyring::Load({"/some/file", "k:" + kKeyBB64}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("set only one")));
}

TEST(KeyringLoad, EnvValueIsUsedWhenNoFile) {
  absl::StatusOr<Keyring> ring = Keyring::Load({std::nullopt, "k:" + kKeyBB64});
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(ring->primary_key_id(), "k");
}

TEST(KeyringLoad, FileIsUsedWhenNoEnvValue) {
  TempDir dir;
  WriteFile(dir.File("keys"), "f " + kKeyAHex + "\n", 0600);
  absl::StatusOr<Keyring> ring = Keyring::Load({dir.File("keys"), std::nullopt});
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(ring->primary_key_id(), "f");
}

// --- Generating and rotating key files ---

TEST(GenerateKeyFile, CreatesPrivateLoadableFileAndRefusesToOverwrite) {
  TempDir dir;
  const std::string path = dir.File("keys");
  ASSERT_THAT(GenerateKeyFile(path, "k1"), IsOk());
  EXPECT_EQ(FileMode(path), 0600u);
  const std::string first = ReadFile(path);
  absl::StatusOr<Keyring> ring = Keyring::FromKeyFile(path);
  ASSERT_THAT(ring, IsOk());
  EXPECT_EQ(ring->primary_key_id(), "k1");
  EXPECT_THAT(GenerateKeyFile(path, "k2"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("--rotate")));
  EXPECT_EQ(ReadFile(path), first);
}

TEST(GenerateKeyFile, BadKeyIdIsInvalidArgumentAndCreatesNothing) {
  TempDir dir;
  EXPECT_THAT(GenerateKeyFile(dir.File("keys"), "has space"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(FileMode(dir.File("keys")), 0u);
}

TEST(GenerateKeyLine, KeysAreRandom) {
  absl::StatusOr<std::string> a = GenerateKeyLine("k"), b = GenerateKeyLine("k");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(*a, *b);
  EXPECT_THAT(Keyring::FromKeyFileContents(*a, "line"), IsOk());
}

TEST(RotateKeyFile, NewKeyBecomesPrimaryAndOldSecretsStillDecrypt) {
  TempDir dir;
  const std::string path = dir.File("keys");
  ASSERT_THAT(GenerateKeyFile(path, "k1"), IsOk());
  absl::StatusOr<Keyring> before = Keyring::FromKeyFile(path);
  ASSERT_THAT(before, IsOk());
  absl::StatusOr<std::string> old_secret = before->EncryptToString("hunter2", kAd);
  ASSERT_THAT(old_secret, IsOk());

  ASSERT_THAT(RotateKeyFile(path, "k2"), IsOk());
  EXPECT_EQ(FileMode(path), 0600u);
  absl::StatusOr<Keyring> after = Keyring::FromKeyFile(path);
  ASSERT_THAT(after, IsOk());
  EXPECT_THAT(after->key_ids(), ElementsAre("k2", "k1"));
  EXPECT_THAT(after->DecryptString(*old_secret, kAd), IsOkAndHolds("hunter2"));
  EXPECT_THAT(ReadFile(path), StartsWith("# postroom secret keys"));
  EXPECT_THAT(RotateKeyFile(path, "k1"), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(RotateKeyFile, InvalidExistingFileIsLeftUntouched) {
  TempDir dir;
  const std::string path = dir.File("keys");
  WriteFile(path, "a short\n", 0600);
  EXPECT_THAT(RotateKeyFile(path, "k2"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ReadFile(path), "a short\n");
}

}  // namespace
}  // namespace postroom::secrets
