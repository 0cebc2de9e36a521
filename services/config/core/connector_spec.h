#pragma once

// The connector model's rules: provider presets, defaults, and validation. Pure functions.
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "libs/base/field_errors.h"
#include "libs/connector/names.h"
#include "postroom/v1/config.pb.h"

namespace postroom::config {

// Fills what the provider preset and the protocol imply where the caller left it empty: host,
// port, TLS mode, OAuth2 endpoint and scope, connection setting defaults, the INBOX folder.
// Never overrides a value the caller set.
void ApplyDefaults(v1::Connector& c);

// Every problem of an (already defaulted) connector, with field paths. Secrets count as present
// when given or when has_* says one is stored.
std::vector<FieldError> ValidateConnector(const v1::Connector& c);

// True when two connectors differ in what a connection test checks (protocol, server, auth
// including secrets, mailbox, folders): a passing test of one says nothing of the other.
bool ConnectionSettingsDiffer(const v1::Connector& a, const v1::Connector& b);

bool IsIncoming(const v1::Connector& c);

// Which mailbox an incoming connector reads, whatever it is named:
// "<protocol>://<username>@<host>:<port>[/<shared_mailbox>][;tenant=<tenant_id>]", lowercase.
// A deleted connector's fetch position is kept under it (docs/fetcher.md).
std::string MailboxIdentity(const v1::Connector& c);
bool IsOutgoing(const v1::Connector& c);

// Syntax checks shared by the other validators.
bool IsValidObjectName(absl::string_view name);  // [a-z0-9][a-z0-9_-]{0,62}
using connector::IsValidDomain;
using connector::IsValidEmailAddress;

}  // namespace postroom::config
