#pragma once

#include <climits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/store/database.h"
#include "libs/store/migrations.h"

namespace postroom::store {

// Applies the embedded migrations in order, each in its own transaction, then, in one more
// transaction, every function and view file whose content changed since it was last applied
// (schema_repeatables records name and SHA-256), all under a session advisory lock so that
// concurrent migrators (several pods, a Job) apply each step once. Returns the schema version
// reached.
absl::StatusOr<int> Migrate(Database& db);

// Tests: a database as an older release left it (numbered migrations up to a version, no
// function files), or function files of their own.
struct MigrateOptions {
  int up_to_version = INT_MAX;
  bool repeatables = true;
};
absl::StatusOr<int> Migrate(Database& db, const std::vector<Migration>& migrations,
                            const std::vector<Repeatable>& repeatables,
                            const MigrateOptions& options);

// The version the database is at (0 for an empty database).
absl::StatusOr<int> CurrentSchemaVersion(Database& db);

// OK when the database is at least at `needed`; FAILED_PRECONDITION saying to run
// `postroom-config migrate` otherwise. A database newer than this binary knows is fine
// (migrations are additive), so a rollout can migrate before it upgrades.
absl::Status RequireSchemaVersion(Database& db, int needed);

}  // namespace postroom::store
