// libFuzzer target: what Microsoft Graph and its token endpoint answer. The input is an HTTP
// response body (after a first byte for the status and retry attempt); it goes through every
// parser the Graph and OAuth clients apply to a body: JSON, a delta page, Graph's error
// object, the token response, and the Retry-After decision (the body doubles as the header).
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "libs/mail/graph_client.h"
#include "libs/mail/json_value.h"
#include "libs/mail/oauth_token_client.h"

using namespace postroom::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr int kStatuses[] = {200, 400, 401, 403, 404, 410, 429, 500, 503};
  const int status = kStatuses[data[0] % (sizeof kStatuses / sizeof kStatuses[0])];
  const int attempt = data[0] >> 4;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);

  auto json = ParseJson(body);
  if (json.ok()) {
    (void)JsonString(*json, "id");
    (void)JsonNumber(*json, "expires_in", 0);
    (void)JsonField(*json, "value");
  }
  (void)ParseDeltaPage(body);
  (void)GraphHttpStatus(GraphHttpError("delta", status, body));
  (void)ParseTokenResponse(status, body);
  GraphOptions options;
  (void)DecideRetry(status, body.substr(0, 256), attempt, options,
                    absl::FromUnixSeconds(1'800'000'000));
  return 0;
}
