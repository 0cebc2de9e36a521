#include "libs/secrets/reply_token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/base/log.h"
#include "libs/secrets/keyring.h"
#include "libs/secrets/private_file.h"
#include "re2/re2.h"

namespace postroom::secrets {
namespace {

// Lowercase RFC 4648 base32 without padding: plus-address tags survive lowercasing.
std::string Base32(const unsigned char* data, size_t n, size_t chars) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  uint64_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < n && out.size() < chars; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5 && out.size() < chars) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

absl::StatusOr<std::string> KeyFromFile(const std::string& path) {
  absl::StatusOr<SecureString> file = ReadPrivateFile(
      path, absl::StrCat("reply-token key file (", kReplyTokenKeyFileEnv, ")"));
  if (!file.ok()) return file.status();
  std::string trimmed(absl::StripAsciiWhitespace(file->str()));
  if (trimmed.size() < 16) {
    return absl::FailedPreconditionError(absl::StrCat(
        "reply-token key file ", path, " holds ", trimmed.size(),
        " characters: use at least 16 random ones (e.g. `openssl rand -base64 32`)"));
  }
  return trimmed;
}

std::string Sign(const std::string& key, const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return Base32(md, len, 10);
}

// Days since 1970-01-01 UTC: six digits last until the year 4707.
int64_t DayOf(absl::Time t) { return absl::ToUnixSeconds(t) / 86400; }

}  // namespace

std::string MakeReplyToken(const std::string& key, int64_t work_item_id, absl::Time issued) {
  const int64_t day = std::max<int64_t>(0, DayOf(issued));
  return absl::StrCat("w", work_item_id, "-", day, "-",
                      Sign(key, absl::StrCat("postroom-reply:", work_item_id, ":", day)));
}

std::string MakeUndatedReplyToken(const std::string& key, int64_t work_item_id) {
  return absl::StrCat("w", work_item_id, "-",
                      Sign(key, absl::StrCat("postroom-reply:", work_item_id)));
}

ReplyTokenClaims CheckReplyToken(const std::string& key, const std::string& token) {
  static const LazyRE2 kToken = {R"(w([0-9]{1,18})(?:-([0-9]{1,6}))?-([a-z2-7]{10}))"};
  int64_t id = 0;
  std::string day;
  std::string sig;
  if (key.empty() || !RE2::FullMatch(token, *kToken, &id, &day, &sig) || id <= 0) return {};
  int64_t day_number = 0;
  if (!day.empty() && !absl::SimpleAtoi(day, &day_number)) return {};
  const std::string want =
      day.empty() ? MakeUndatedReplyToken(key, id)
                  : MakeReplyToken(key, id, absl::FromUnixSeconds(day_number * 86400));
  // Constant-time compare of equal-length strings ("w7-012-…" re-made is "w7-12-…": refused).
  if (want.size() != token.size()) return {};
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) diff |= want[i] ^ token[i];
  if (diff != 0) return {};
  ReplyTokenClaims claims{.work_item_id = id};
  if (!day.empty()) claims.issued = absl::FromUnixSeconds(day_number * 86400);
  return claims;
}

int64_t VerifyReplyToken(const std::string& key, const std::string& token) {
  return CheckReplyToken(key, token).work_item_id;
}

bool ReplyTokenExpired(absl::Time issued, int days, absl::Time now) {
  return days > 0 && DayOf(now) - DayOf(issued) > days;
}

std::string ReplyTokenAddress(const std::string& address, const std::string& token) {
  size_t at = address.rfind('@');
  if (token.empty() || at == std::string::npos) return "";
  return absl::StrCat(address.substr(0, at), "+", token, address.substr(at));
}

absl::StatusOr<std::string> ReplyTokenKeyFromEnvironment(const std::string& key_file) {
  if (!key_file.empty()) return KeyFromFile(key_file);
  if (std::string key = Env(kReplyTokenKeyEnv); !key.empty()) return key;
  if (std::string path = Env(kReplyTokenKeyFileEnv); !path.empty()) return KeyFromFile(path);
  absl::StatusOr<Keyring> keyring = Keyring::FromEnvironment();
  if (!keyring.ok()) {
    LogWarning("reply_tokens_off",
               {{"why", "neither POSTROOM_REPLY_TOKEN_KEY(_FILE) nor a secrets keyring is set"}});
    return std::string();
  }
  // The keyring exposes no raw key bytes, so the HMAC key is the key source itself (the
  // validated key file or variable): secret, and the same on every replica.
  std::string material = Env(kSecretKeyEnv);
  if (material.empty()) {
    if (FILE* f = std::fopen(Env(kSecretKeyFileEnv).c_str(), "rb")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) material.append(buf, n);
      std::fclose(f);
    }
  }
  return absl::StrCat("keyring:", keyring->primary_key_id(), ":", material);
}

}  // namespace postroom::secrets
