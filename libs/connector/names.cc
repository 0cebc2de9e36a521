#include "libs/connector/names.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace postroom::connector {
namespace {

// One table per enum, read both ways, so a name cannot be spelt twice.
constexpr std::pair<v1::Protocol, absl::string_view> kProtocols[] = {
    {v1::PROTOCOL_IMAP, "imap"},
    {v1::PROTOCOL_POP3, "pop3"},
    {v1::PROTOCOL_GRAPH, "graph"},
    {v1::PROTOCOL_SMTP, "smtp"},
};
constexpr std::pair<v1::Direction, absl::string_view> kDirections[] = {
    {v1::DIRECTION_INCOMING, "incoming"},
    {v1::DIRECTION_OUTGOING, "outgoing"},
    {v1::DIRECTION_BOTH, "both"},
};
constexpr std::pair<v1::ConnectorStatus, absl::string_view> kStatuses[] = {
    {v1::CONNECTOR_STATUS_DRAFT, "draft"},
    {v1::CONNECTOR_STATUS_ACTIVE, "active"},
    {v1::CONNECTOR_STATUS_DISABLED, "disabled"},
    {v1::CONNECTOR_STATUS_DISABLED_BY_SYSTEM, "disabled_by_system"},
};

template <typename E, size_t N>
absl::string_view NameOf(const std::pair<E, absl::string_view> (&table)[N], E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "";
}

template <typename E, size_t N>
std::optional<E> ValueOf(const std::pair<E, absl::string_view> (&table)[N],
                         absl::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

}  // namespace

absl::string_view ProtocolName(v1::Protocol p) { return NameOf(kProtocols, p); }
absl::string_view DirectionName(v1::Direction d) { return NameOf(kDirections, d); }
absl::string_view StatusName(v1::ConnectorStatus s) { return NameOf(kStatuses, s); }

std::optional<v1::Protocol> ProtocolFromName(absl::string_view name) {
  return ValueOf(kProtocols, name);
}
std::optional<v1::Direction> DirectionFromName(absl::string_view name) {
  return ValueOf(kDirections, name);
}
std::optional<v1::ConnectorStatus> StatusFromName(absl::string_view name) {
  return ValueOf(kStatuses, name);
}

bool IsIncoming(v1::Direction d) {
  return d == v1::DIRECTION_INCOMING || d == v1::DIRECTION_BOTH;
}
bool IsOutgoing(v1::Direction d) {
  return d == v1::DIRECTION_OUTGOING || d == v1::DIRECTION_BOTH;
}

absl::string_view DomainOf(absl::string_view address) {
  size_t at = address.rfind('@');
  return at == absl::string_view::npos ? absl::string_view() : address.substr(at + 1);
}

bool IsValidDomain(absl::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(domain, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char ch : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '-') return false;
    }
  }
  return true;
}

bool IsValidEmailAddress(absl::string_view address) {
  size_t at = address.rfind('@');
  if (at == absl::string_view::npos || at == 0 || at > 64) return false;
  absl::string_view local = address.substr(0, at);
  for (char ch : local) {
    if (ch <= ' ' || ch == '<' || ch == '>' || ch == '(' || ch == ')' || ch == ',' ||
        ch == ';' || ch == ':' || ch == '\\' || ch == '"' || ch == '[' || ch == ']') {
      return false;
    }
  }
  return IsValidDomain(address.substr(at + 1));
}

}  // namespace postroom::connector
