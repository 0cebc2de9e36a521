#include "libs/mime/authentication_results.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "libs/mime/charset.h"

namespace postroom::mime {
namespace {

// Bounds on what one message can make us read: no real receiving server writes more.
constexpr size_t kMaxHeaders = 16;
constexpr size_t kMaxResults = 32;

// One "method=result prop=value ..." of a header.
struct Result {
  std::string method;  // Lowercase, without "/version".
  std::string result;  // Lowercase.
  std::vector<std::pair<std::string, std::string>> props;  // "smtp.mailfrom" -> value.
};

struct ResultsHeader {
  std::string authserv_id;
  std::vector<Result> results;
};

// The value without (comments), which RFC 8601 allows almost anywhere. Linear; nesting is
// counted, and an unclosed comment ends the value.
std::string WithoutComments(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quoted) {
      if (c == '\\' && i + 1 < v.size()) {
        out.push_back(v[++i]);
        continue;
      }
      if (c == '"') quoted = false;
      out.push_back(c);
    } else if (depth > 0) {
      if (c == '\\') ++i;
      if (c == '(') ++depth;
      if (c == ')') --depth;
    } else if (c == '(') {
      depth = 1;
      out.push_back(' ');
    } else {
      if (c == '"') quoted = true;
      out.push_back(c);
    }
  }
  return out;
}

std::string Unquote(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

ResultsHeader ParseHeader(std::string_view value) {
  ResultsHeader h;
  std::string text = WithoutComments(value);
  std::vector<absl::string_view> parts = absl::StrSplit(text, ';');
  if (parts.empty()) return h;
  // authserv-id [version]
  std::vector<absl::string_view> id =
      absl::StrSplit(absl::StripAsciiWhitespace(parts[0]), absl::ByAnyChar(" \t\r\n"),
                     absl::SkipEmpty());
  if (!id.empty()) h.authserv_id = absl::AsciiStrToLower(id[0]);
  for (size_t i = 1; i < parts.size() && h.results.size() < kMaxResults; ++i) {
    std::vector<absl::string_view> tokens =
        absl::StrSplit(parts[i], absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
    if (tokens.empty()) continue;
    std::pair<absl::string_view, absl::string_view> mr = absl::StrSplit(tokens[0], '=');
    if (mr.second.empty()) continue;  // "none", or not a result.
    Result r;
    r.method = absl::AsciiStrToLower(std::pair<absl::string_view, absl::string_view>(
                                         absl::StrSplit(mr.first, '/'))
                                         .first);
    r.result = absl::AsciiStrToLower(Unquote(mr.second));
    for (size_t t = 1; t < tokens.size(); ++t) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(tokens[t], '=');
      if (!kv.second.empty()) {
        r.props.emplace_back(absl::AsciiStrToLower(kv.first),
                             absl::AsciiStrToLower(Unquote(kv.second)));
      }
    }
    h.results.push_back(std::move(r));
  }
  return h;
}

std::string DomainPart(const std::string& v) {
  size_t at = v.rfind('@');
  return at == std::string::npos ? v : v.substr(at + 1);
}

// DMARC's relaxed alignment, without the public suffix list: the same domain, or one below
// the other.
bool Aligned(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  return a == b || absl::EndsWith(a, absl::StrCat(".", b)) ||
         absl::EndsWith(b, absl::StrCat(".", a));
}

std::string Prop(const Result& r, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    for (const auto& [k, v] : r.props) {
      if (k == n) return DomainPart(v);
    }
  }
  return "";
}

}  // namespace

SenderAuthentication CheckSenderAuthentication(
    const ParsedMessage& m, const std::vector<std::string>& trusted_authserv_ids) {
  SenderAuthentication out;
  std::string from_domain = m.from.empty() ? "" : AsciiLower(DomainPart(m.from[0].address));
  std::vector<std::string> trusted;
  for (const std::string& id : trusted_authserv_ids) trusted.push_back(AsciiLower(id));
  std::vector<ResultsHeader> group;
  for (const mime::Header& h : m.headers) {
    if (!group.empty() && absl::EqualsIgnoreCase(h.name, "Received")) break;
    if (!absl::EqualsIgnoreCase(h.name, "Authentication-Results")) continue;
    ResultsHeader parsed = ParseHeader(h.value);
    if (std::find(trusted.begin(), trusted.end(), parsed.authserv_id) == trusted.end()) continue;
    group.push_back(std::move(parsed));
    if (group.size() >= kMaxHeaders) break;
  }
  if (group.empty()) {
    out.detail = absl::StrCat("no Authentication-Results from a trusted server (",
                              absl::StrJoin(trusted_authserv_ids, ", "), ")");
    return out;
  }
  if (from_domain.empty()) {
    out.detail = "no From domain to align with";
    return out;
  }
  std::vector<std::string> seen;
  for (const ResultsHeader& h : group) {
    for (const Result& r : h.results) {
      if (r.method != "spf" && r.method != "dkim" && r.method != "dmarc") continue;
      seen.push_back(absl::StrCat(r.method, "=", r.result));
      if (r.result != "pass") continue;
      if (r.method == "dmarc") {
        out.passed = true;
        out.detail = "dmarc=pass";
        return out;
      }
      std::string domain = r.method == "spf" ? Prop(r, {"smtp.mailfrom", "smtp.helo"})
                                             : Prop(r, {"header.d", "header.i"});
      if (Aligned(domain, from_domain)) {
        out.passed = true;
        out.detail = absl::StrCat(r.method, "=pass ", r.method == "spf" ? "smtp.mailfrom=" :
                                  "header.d=", domain, " aligned with From ", from_domain);
        return out;
      }
      seen.back() = absl::StrCat(r.method, "=pass for ", domain.empty() ? "?" : domain,
                                 ", not aligned with From ", from_domain);
    }
  }
  out.detail = seen.empty() ? "no spf, dkim or dmarc result" : absl::StrJoin(seen, " ");
  return out;
}

}  // namespace postroom::mime
