#ifndef FERRY_STORE_SQLITE_INTERNAL_SEARCH_SQL_H_
#define FERRY_STORE_SQLITE_INTERNAL_SEARCH_SQL_H_

// Translates search queries (search::Filter + order_by) into one SQLite
// SELECT with bound parameters. Values never enter the SQL text; only
// placeholders, fixed column names and aliases do.
//
// Runs: metric clauses join latest_metrics, param and tag clauses join their
// tables (one join per distinct key, which the (key, value, run_id) indexes
// serve), dataset clauses are EXISTS over inputs. Ordering by a key puts runs
// without it last in both directions, and for metrics NaN after numbers, as
// MLflow does.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/store/metadata_store.h"
#include "ferry/store/registry_store.h"
#include "ferry/store/sqlite/internal/connection.h"

namespace ferry::store::sqlite_internal {

// Column lists the built statements select, in this order.
inline constexpr char kRunColumns[] =
    "r.id, r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, "
    "r.artifact_uri, r.lifecycle_stage";
inline constexpr char kExperimentColumns[] =
    "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, "
    "e.last_update_time";
inline constexpr char kLoggedModelColumns[] =
    "lm.model_id, lm.experiment_id, lm.name, lm.artifact_uri, lm.creation_timestamp_ms, "
    "lm.last_updated_timestamp_ms, lm.status, lm.status_message, lm.model_type, "
    "lm.source_run_id";
inline constexpr char kRegisteredModelColumns[] =
    "rm.name, rm.creation_time, rm.last_updated_time, rm.description, rm.user_id";
inline constexpr char kModelVersionColumns[] =
    "mv.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description, mv.user_id, "
    "mv.current_stage, mv.source, mv.run_id, mv.run_link, mv.model_id, mv.status, "
    "mv.status_message";

struct SearchSql {
  std::string sql;  // empty: the result is empty without asking the database
  std::vector<SqlValue> binds;
};

// A run search as consecutive SELECTs ("segments"): the result is segment 0's
// rows, then segment 1's, and so on. Each segment's SQL ends in
// "LIMIT ? OFFSET ?" whose two values the caller appends to `binds`;
// counts[i] is SELECT count(*) over segment i, for turning a page offset
// into per-segment offsets. No segments: the result is empty.
struct RunSearchPlan {
  std::vector<SearchSql> segments;
  std::vector<SearchSql> counts;
};

// A filter that its index says matches fewer rows than this drives the
// query (SQLite loops over those rows and sorts them).
inline constexpr int64_t kSelectiveRows = 5000;

// Runs a probe (a SELECT count(*) capped at kSelectiveRows) and returns the
// count. The planner calls it to find selective filters.
using RunSearchEstimator = std::function<absl::StatusOr<int64_t>(const SearchSql& probe)>;

// InvalidArgument for keys, comparators or values runs do not support.
absl::StatusOr<RunSearchPlan> BuildRunSearch(const RunQuery& query,
                                             const RunSearchEstimator& estimate);

// These select max_results + 1 rows from `offset` so the caller can tell
// whether another page exists.
absl::StatusOr<SearchSql> BuildExperimentSearch(const ExperimentQuery& query, int64_t offset);
absl::StatusOr<SearchSql> BuildLoggedModelSearch(const LoggedModelQuery& query, int64_t offset);
// Registry searches, MLflow's SQLAlchemy registry store semantics: tag
// clauses match models (versions) that have the tag with a matching value;
// registered models default to name ASC; versions end in name ASC,
// version DESC unless ordered by those already.
absl::StatusOr<SearchSql> BuildRegisteredModelSearch(const RegisteredModelQuery& query,
                                                     int64_t offset);
absl::StatusOr<SearchSql> BuildModelVersionSearch(const ModelVersionQuery& query, int64_t offset);

}  // namespace ferry::store::sqlite_internal

#endif  // FERRY_STORE_SQLITE_INTERNAL_SEARCH_SQL_H_
