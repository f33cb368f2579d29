#ifndef FERRY_STORE_SQLITE_INTERNAL_LIKE_H_
#define FERRY_STORE_SQLITE_INTERNAL_LIKE_H_

// MLflow's LIKE / ILIKE for SQLite. SQLite's built-in LIKE folds ASCII case,
// and PRAGMA case_sensitive_like is deprecated and per-connection global, so
// the store registers two deterministic functions instead:
//   ferry_like(value, pattern)   case-sensitive
//   ferry_ilike(value, pattern)  ASCII case-insensitive (what MLflow's
//                                lower(x) LIKE lower(y) does on SQLite)
// '%' matches any run of characters, '_' exactly one UTF-8 character; there
// is no escape character (MLflow passes patterns through unescaped).
// NULL in either argument yields NULL, as LIKE does.

#include <sqlite3.h>

#include <string_view>

#include "absl/status/status.h"

namespace ferry::store::sqlite_internal {

enum class CaseSensitivity { kSensitive, kInsensitive };

bool LikeMatch(std::string_view value, std::string_view pattern, CaseSensitivity sensitivity);

// Registers ferry_like and ferry_ilike on `db`.
absl::Status RegisterLikeFunctions(sqlite3* db);

}  // namespace ferry::store::sqlite_internal

#endif  // FERRY_STORE_SQLITE_INTERNAL_LIKE_H_
