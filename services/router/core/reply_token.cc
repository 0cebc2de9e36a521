// Reply tokens: "w<id>-<10 base32 chars>", an HMAC-SHA256 of the work item id, carried in the
// plus address of an acknowledgement's Reply-To (router_core.h).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/str_cat.h"
#include "re2/re2.h"
#include "services/router/core/router_core.h"

namespace postroom::router {
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

}  // namespace

std::string MakeReplyToken(const std::string& key, int64_t work_item_id) {
  std::string data = absl::StrCat("postroom-reply:", work_item_id);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return absl::StrCat("w", work_item_id, "-", Base32(md, len, 10));
}

int64_t VerifyReplyToken(const std::string& key, const std::string& token) {
  static const LazyRE2 kToken = {R"(w([0-9]{1,18})-([a-z2-7]{10}))"};
  int64_t id = 0;
  std::string sig;
  if (key.empty() || !RE2::FullMatch(token, *kToken, &id, &sig) || id <= 0) return 0;
  std::string want = MakeReplyToken(key, id);
  // Constant-time compare of equal-length strings.
  if (want.size() != token.size()) return 0;
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) diff |= want[i] ^ token[i];
  return diff == 0 ? id : 0;
}

}  // namespace postroom::router
