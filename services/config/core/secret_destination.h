#pragma once

// A stored secret is never sent to a new place: when an apply changes where a connector's
// secrets go (server, token endpoint, tenant, client), each stored secret must be given again
// in the same apply. Otherwise an admin could point the connector at their own host and
// receive the password the connector still holds. Pure functions.
#include <string>
#include <vector>

#include "libs/base/field_errors.h"
#include "postroom/v1/config.pb.h"

namespace postroom::config {

// The field paths of `after` that send secrets somewhere `before` did not (both defaulted).
std::vector<std::string> SecretDestinationChanges(const v1::Connector& before,
                                                  const v1::Connector& after);

// True when `after`'s auth method sends the secret `field` ("password", "client_secret",
// "refresh_token") at all.
bool UsesSecret(const v1::Connector& after, const std::string& field);

// The error for a stored secret `field` not given again although `changes` moved it.
FieldError SecretRequiredAgain(const std::string& field, const std::vector<std::string>& changes);

}  // namespace postroom::config
