#pragma once

// The names a connector's protocol, direction and status have in the database (the CHECK
// constraints of libs/store/migrations/0001_foundation.sql), in YAML and in logs.
#include <optional>

#include "absl/strings/string_view.h"
#include "postroom/v1/common.pb.h"

namespace postroom::connector {

// "" for an UNSPECIFIED (or unknown) value: nothing the database accepts.
absl::string_view ProtocolName(v1::Protocol p);
absl::string_view DirectionName(v1::Direction d);
absl::string_view StatusName(v1::ConnectorStatus s);

// std::nullopt for a name the database would refuse.
std::optional<v1::Protocol> ProtocolFromName(absl::string_view name);
std::optional<v1::Direction> DirectionFromName(absl::string_view name);
std::optional<v1::ConnectorStatus> StatusFromName(absl::string_view name);

bool IsIncoming(v1::Direction d);  // incoming or both
bool IsOutgoing(v1::Direction d);  // outgoing or both

// The domain of an address: what follows the last '@', as written (the MIME parser and config
// lowercase addresses); "" when there is none. A view into `address`.
absl::string_view DomainOf(absl::string_view address);

// A host name of letters, digits and hyphens in dot-separated labels (no IDN, no literal).
bool IsValidDomain(absl::string_view domain);
// local@domain with a valid domain and a local part without spaces, quotes or specials: what
// postroom stores, and what it sends automatic mail to ("moderator-address" is not one).
bool IsValidEmailAddress(absl::string_view address);

}  // namespace postroom::connector
