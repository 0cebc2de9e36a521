#include "libs/secrets/aes_gcm.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace postroom::secrets {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::StatusIs;
using ::testing::HasSubstr;

std::string Hex(const char* hex) { return absl::HexStringToBytes(hex); }

// AES-256 cases 13-16 of McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", the
// vectors NIST's GCM validation uses for 96-bit IVs.
struct Vector {
  const char* name;
  const char* key;
  const char* iv;
  const char* plaintext;
  const char* aad;
  const char* ciphertext;
  const char* tag;
};

constexpr char kKey1[] = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr char kIv1[] = "cafebabefacedbaddecaf888";
constexpr Vector kVectors[] = {
    {"TestCase13", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"TestCase14", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"TestCase15", kKey1, kIv1,
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
     "49a6b525b16aedf5aa0de657ba637b391aafd255",
     "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
     "56828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"TestCase16", kKey1, kIv1,
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
     "49a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
     "56828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

class AesGcmKnownAnswer : public ::testing::TestWithParam<Vector> {};

TEST_P(AesGcmKnownAnswer, SealProducesTheSpecifiedCiphertextAndTag) {
  const Vector& v = GetParam();
  EXPECT_THAT(AesGcmSeal(Hex(v.key), Hex(v.iv), Hex(v.plaintext), Hex(v.aad)),
              IsOkAndHolds(Hex(v.ciphertext) + Hex(v.tag)));
}

TEST_P(AesGcmKnownAnswer, OpenRecoversThePlaintext) {
  const Vector& v = GetParam();
  EXPECT_THAT(AesGcmOpen(Hex(v.key), Hex(v.iv), Hex(v.ciphertext) + Hex(v.tag), Hex(v.aad)),
              IsOkAndHolds(Hex(v.plaintext)));
}

TEST_P(AesGcmKnownAnswer, OpenRejectsEveryFlippedBit) {
  const Vector& v = GetParam();
  const std::string sealed = Hex(v.ciphertext) + Hex(v.tag);
  for (size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = sealed;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      ASSERT_THAT(AesGcmOpen(Hex(v.key), Hex(v.iv), bad, Hex(v.aad)),
                  StatusIs(absl::StatusCode::kDataLoss))
          << "byte " << byte << " bit " << bit;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(McGrewViega, AesGcmKnownAnswer, ::testing::ValuesIn(kVectors),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(AesGcm, OpenWithOtherAssociatedDataFails) {
  const std::string key(32, 'k'), nonce(12, 'n');
  absl::StatusOr<std::string> sealed = AesGcmSeal(key, nonce, "hunter2", "connector:a:password");
  ASSERT_THAT(sealed, IsOk());
  EXPECT_THAT(AesGcmOpen(key, nonce, *sealed, "connector:b:password"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("tag mismatch")));
}

TEST(AesGcm, OpenWithOtherKeyFails) {
  const std::string nonce(12, 'n');
  absl::StatusOr<std::string> sealed = AesGcmSeal(std::string(32, 'a'), nonce, "x", "");
  ASSERT_THAT(sealed, IsOk());
  EXPECT_THAT(AesGcmOpen(std::string(32, 'b'), nonce, *sealed, ""),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AesGcm, OpenWithTruncatedInputFails) {
  const std::string key(32, 'k'), nonce(12, 'n');
  absl::StatusOr<std::string> sealed = AesGcmSeal(key, nonce, "secret", "");
  ASSERT_THAT(sealed, IsOk());
  EXPECT_THAT(AesGcmOpen(key, nonce, sealed->substr(0, sealed->size() - 1), ""),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(AesGcmOpen(key, nonce, sealed->substr(0, 15), ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shorter than")));
}

TEST(AesGcm, WrongKeyOrNonceSizeIsInvalidArgument) {
  EXPECT_THAT(AesGcmSeal(std::string(16, 'k'), std::string(12, 'n'), "x", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key is 16 bytes")));
  EXPECT_THAT(AesGcmSeal(std::string(32, 'k'), std::string(16, 'n'), "x", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nonce is 16 bytes")));
  EXPECT_THAT(AesGcmOpen(std::string(31, 'k'), std::string(12, 'n'), std::string(20, 'c'), ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AesGcm, BinaryPlaintextWithNulBytesRoundTrips) {
  const std::string key(32, '\x01'), nonce(12, '\x02');
  const std::string plaintext("a\0b\0\xff", 5);
  absl::StatusOr<std::string> sealed = AesGcmSeal(key, nonce, plaintext, std::string("\0", 1));
  ASSERT_THAT(sealed, IsOk());
  EXPECT_EQ(sealed->size(), plaintext.size() + kAesGcmTagSize);
  EXPECT_THAT(AesGcmOpen(key, nonce, *sealed, std::string("\0", 1)), IsOkAndHolds(plaintext));
  // An empty AD differs from a one-byte NUL AD.
  EXPECT_THAT(AesGcmOpen(key, nonce, *sealed, ""), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace postroom::secrets
