#pragma once

// Whether the receiving server vouches for the From address: Authentication-Results (RFC 8601)
// with SPF or DKIM passing in alignment with the From domain (DMARC, RFC 7489). Acknowledging
// a forged From is how backscatter happens, so a connector may ask for this first.
//
// Anyone can write an Authentication-Results header into the mail they send, so only headers
// whose authserv-id the connector trusts count, and of those only the topmost group: walking
// down from the top, the trusted headers found before the first Received field that follows
// the first of them. Below that Received line the headers were written before our receiving
// server saw the mail. The receiving server must add its own results (and, as RFC 8601
// section 5 asks, remove forged ones with its id): trust only such servers' ids.
// Pure functions of their input; thread-safe.
#include <string>
#include <vector>

#include "libs/mime/message.h"

namespace postroom::mime {

struct SenderAuthentication {
  bool passed = false;
  // Why: "dmarc=pass", "spf=pass smtp.mailfrom=a.example aligned with b.example",
  // "no Authentication-Results from a trusted server (mx.desk.example)", "spf=fail dkim=none
  // dmarc=none"...
  std::string detail;
};

// `trusted_authserv_ids`: compared case-insensitively. A message without a From domain fails.
SenderAuthentication CheckSenderAuthentication(const ParsedMessage& m,
                                               const std::vector<std::string>& trusted_authserv_ids);

}  // namespace postroom::mime
