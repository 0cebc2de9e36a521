#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/store/database.h"

namespace postroom::store {

// Applies the embedded migrations in order, each in its own transaction, under a session
// advisory lock so that concurrent migrators (several pods, a Job) apply each step once.
// Returns the schema version reached.
absl::StatusOr<int> Migrate(Database& db);

// The version the database is at (0 for an empty database).
absl::StatusOr<int> CurrentSchemaVersion(Database& db);

// OK when the database is at least at `needed`; FAILED_PRECONDITION saying to run
// `postroom-config migrate` otherwise. A database newer than this binary knows is fine
// (migrations are additive), so a rollout can migrate before it upgrades.
absl::Status RequireSchemaVersion(Database& db, int needed);

}  // namespace postroom::store
