#include "libs/mime/auto_response.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/mime/charset.h"

namespace postroom::mime {
namespace {

constexpr char kPrefix[] = "auto_response_suppressed:";

std::string_view TrimView(std::string_view s) {
  absl::string_view t = absl::StripAsciiWhitespace(absl::string_view(s.data(), s.size()));
  return std::string_view(t.data(), t.size());
}

bool AllDigits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool FromOwnAddress(const ParsedMessage& m, const std::vector<std::string>& own) {
  if (own.empty()) return false;
  auto is_own = [&](const std::string& address) {
    std::string lower = AsciiLower(address);
    if (lower.empty()) return false;
    if (std::find(own.begin(), own.end(), lower) != own.end()) return true;
    // help+anything@ is help@'s mailbox too.
    size_t at = lower.rfind('@');
    size_t plus = lower.find('+');
    if (at == std::string::npos || plus == std::string::npos || plus > at) return false;
    lower.erase(plus, at - plus);
    return std::find(own.begin(), own.end(), lower) != own.end();
  };
  for (const std::vector<Address>* list : {&m.from, &m.sender}) {
    for (const Address& a : *list) {
      if (is_own(a.address)) return true;
    }
  }
  return is_own(m.return_path);
}

}  // namespace

bool SuppressesAutoReply(std::string_view value) {
  for (absl::string_view item : absl::StrSplit(absl::string_view(value.data(), value.size()),
                                               absl::ByAnyChar(",; "), absl::SkipEmpty())) {
    std::string v = absl::AsciiStrToLower(item);
    if (v == "all" || v == "oof" || v == "autoreply") return true;
  }
  return false;
}

bool IsPostroomMessageId(std::string_view id) {
  // postroom.<kind>.<digits>.<digits>@<domain>
  size_t at = id.rfind('@');
  if (at == std::string_view::npos || at + 1 >= id.size()) return false;
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(id.data(), at), '.');
  if (parts.size() != 4 || parts[0] != "postroom" || parts[1].empty()) return false;
  for (char c : parts[1]) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return AllDigits(std::string_view(parts[2].data(), parts[2].size())) &&
         AllDigits(std::string_view(parts[3].data(), parts[3].size()));
}

std::vector<std::string> AutoResponseSuppressedReasons(const ParsedMessage& m,
                                                       const AutoResponseOptions& options) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& signal) { out.push_back(absl::StrCat(kPrefix, signal)); };
  for (std::string_view v : m.HeaderValues("Auto-Submitted")) {
    std::string lower = AsciiLower(TrimView(v));
    // "no" (also "no; comment") is a person's mail: RFC 3834 section 5.
    if (lower != "no" && lower.rfind("no;", 0) != 0 && lower.rfind("no ", 0) != 0) {
      add("auto-submitted");
      break;
    }
  }
  if (m.FindHeader("X-Loop") != nullptr) add("x-loop");
  for (std::string_view v : m.HeaderValues("X-Auto-Response-Suppress")) {
    if (SuppressesAutoReply(v)) {
      add("x-auto-response-suppress");
      break;
    }
  }
  if (m.has_null_return_path) add("null-return-path");
  for (std::string_view v : m.HeaderValues("Precedence")) {
    std::string p = AsciiLower(TrimView(v));
    if (p == "bulk" || p == "junk" || p == "list") {
      add(absl::StrCat("precedence-", p));
      break;
    }
  }
  if (m.FindHeader("X-Autoreply") != nullptr) add("x-autoreply");
  if (m.FindHeader("X-Autorespond") != nullptr) add("x-autorespond");
  for (const char* list : {"id", "unsubscribe", "post", "help", "subscribe", "owner", "archive"}) {
    if (m.FindHeader(absl::StrCat("List-", list)) != nullptr) add(absl::StrCat("list-", list));
  }
  if (FromOwnAddress(m, options.own_addresses)) add("own-address");
  if (IsPostroomMessageId(m.message_id)) add("own-message-id");
  return out;
}

}  // namespace postroom::mime
