#pragma once

// Where a secret (an OAuth2 client secret, a refresh token, a webhook signature) may be sent:
// to an https:// URL, or to http:// on this machine only. One check for every place that sends
// one, so "loopback" means the same everywhere.
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace postroom::net {

// True for "localhost", 127.0.0.0/8 in dotted-quad form and "::1" (bracketed or not). Anything
// else, including "localhost.evil.example" or "127.0.0.1.evil.example", is not loopback.
bool IsLoopbackHost(absl::string_view host);

// OK for https://host... and for http://loopback...; INVALID_ARGUMENT with a short reason
// otherwise (unparsable, another scheme, user info in the URL, http to a non-loopback host).
// The URL is parsed by libcurl, the library that later sends to it.
absl::Status CheckSecretUrl(const std::string& url);

}  // namespace postroom::net
