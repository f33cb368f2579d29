#ifndef FERRY_STORE_SQLITE_INTERNAL_SCHEMA_H_
#define FERRY_STORE_SQLITE_INTERNAL_SCHEMA_H_

// The SQLite schema as an ordered list of migrations. Each migration runs
// once, in its own write transaction, and records its number in
// schema_version; a database whose version is newer than the last migration
// here is refused (an older binary must not write to a newer schema).

#include "absl/status/status.h"
#include "ferry/store/sqlite/internal/connection.h"

namespace ferry::store::sqlite_internal {

// The version the last migration leaves the database at.
int LatestSchemaVersion();

// The version recorded in the database; 0 for a new database.
absl::StatusOr<int> CurrentSchemaVersion(Connection* conn);

// Applies every migration newer than the database's version.
absl::Status Migrate(Connection* conn);

}  // namespace ferry::store::sqlite_internal

#endif  // FERRY_STORE_SQLITE_INTERNAL_SCHEMA_H_
