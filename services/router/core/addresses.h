#pragma once

// Email addresses as the pipeline compares them.
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "libs/connector/names.h"
#include "libs/mime/message.h"
#include "libs/rules/message_facts.h"

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
// The connector's own address the mail was sent to: the first Delivered-To, then X-Original-To,
// To and Cc address that is one of `own` (primary address first, then aliases; lowercase),
// compared without case and +tag; none: the primary address (own.front(); "" when own is
// empty). Bcc'd mail names us only in the first two. One place: the route condition `to`, the
// acknowledgement's From and the desk's replies (through the stored summary) all use it.
std::string SentTo(const std::vector<std::string>& own, const rules::MessageFacts& facts);
// Whether `address` is one of `own` (lowercase), compared without case and +tag.
bool IsOwnAddress(const std::vector<std::string>& own, absl::string_view address);
void AppendAddresses(const std::vector<mime::Address>& from, std::vector<std::string>& to);

}  // namespace postroom::router
