#pragma once

// Email addresses as the pipeline compares them.
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "libs/connector/names.h"
#include "libs/mime/message.h"

namespace postroom::router {

std::string Lower(absl::string_view s);
using connector::DomainOf;
// Whether `domain` is `pattern` ("example.com", "@example.com") or below it; "*.example.com"
// matches only below it.
bool DomainWithin(const std::string& domain, absl::string_view pattern);
// Mailbox names that never read replies: acknowledging them only feeds loops.
bool IsNoReplyAddress(const std::string& address);
// The address the per-sender acknowledgement limit counts: lowercase, quotes removed, the
// local part's +tag dropped ("Jane+x"@Client.example -> jane@client.example).
std::string NormalizedSender(absl::string_view address);
void AppendAddresses(const std::vector<mime::Address>& from, std::vector<std::string>& to);

}  // namespace postroom::router
