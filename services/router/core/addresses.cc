#include "services/router/core/addresses.h"


#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "re2/re2.h"

namespace postroom::router {

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

bool DomainWithin(const std::string& domain, absl::string_view pattern) {
  pattern = absl::StripPrefix(pattern, "@");
  if (absl::StartsWith(pattern, "*.")) {
    pattern.remove_prefix(2);
    return absl::EndsWith(domain, absl::StrCat(".", pattern));
  }
  return domain == pattern || absl::EndsWith(domain, absl::StrCat(".", pattern));
}

bool IsNoReplyAddress(const std::string& address) {
  static const LazyRE2 kNoReply = {
      R"(^(no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?)([+._-].*)?@)"};
  return RE2::PartialMatch(address, *kNoReply);
}

std::string NormalizedSender(absl::string_view address) {
  std::string out;
  out.reserve(address.size());
  for (char c : address) {
    if (c != '"') out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  size_t at = out.rfind('@');
  size_t plus = out.find('+');
  if (at != std::string::npos && plus != std::string::npos && plus < at && plus > 0) {
    out.erase(plus, at - plus);
  }
  return out;
}

namespace {

// The entry of `own` that `address` is, compared without case and +tag; null when none.
const std::string* OwnMatch(const std::vector<std::string>& own, absl::string_view address) {
  if (address.empty()) return nullptr;
  const std::string lower = Lower(address);
  const std::string untagged = NormalizedSender(address);
  for (const std::string& o : own) {
    if (!o.empty() && (o == lower || o == untagged)) return &o;
  }
  return nullptr;
}

}  // namespace

bool IsOwnAddress(const std::vector<std::string>& own, absl::string_view address) {
  return OwnMatch(own, address) != nullptr;
}

std::string SentTo(const std::vector<std::string>& own, const rules::MessageFacts& facts) {
  if (own.empty()) return "";
  for (const std::vector<std::string>* list :
       {&facts.delivered_to, &facts.x_original_to, &facts.to, &facts.cc}) {
    for (const std::string& address : *list) {
      if (const std::string* o = OwnMatch(own, address)) return *o;
    }
  }
  return own.front();
}

void AppendAddresses(const std::vector<mime::Address>& from, std::vector<std::string>& to) {
  for (const mime::Address& a : from) to.push_back(a.address);
}

}  // namespace postroom::router
