#include "libs/secrets/random.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <climits>

#include "absl/strings/str_cat.h"

namespace postroom::secrets {

std::string TakeOpenSslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error recorded" : out;
}

absl::Status RandomBytes(unsigned char* out, size_t size) {
  while (size > 0) {
    int chunk = size > INT_MAX ? INT_MAX : static_cast<int>(size);
    if (RAND_bytes(out, chunk) != 1) {
      return absl::InternalError(absl::StrCat(
          "the system random generator (OpenSSL RAND_bytes) failed: ", TakeOpenSslErrors()));
    }
    out += chunk;
    size -= static_cast<size_t>(chunk);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RandomString(size_t size) {
  std::string out(size, '\0');
  if (absl::Status st = RandomBytes(reinterpret_cast<unsigned char*>(out.data()), size); !st.ok()) {
    return st;
  }
  return out;
}

}  // namespace postroom::secrets
