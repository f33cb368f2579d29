#ifndef FERRY_TRACKING_VALIDATION_H_
#define FERRY_TRACKING_VALIDATION_H_

// Input validation for the tracking API with MLflow's limits and messages.
//
// Source of truth: mlflow/utils/validation.py of MLflow 3.x (the version
// with invalid_value()/exceeds_maximum_length()), plus the checks MLflow
// makes in mlflow/server/handlers.py and
// mlflow/store/tracking/sqlalchemy_store.py. Every function returns OK or
// InvalidArgument (MLflow's INVALID_PARAMETER_VALUE) whose message is
// MLflow's wording. Lengths are counted in Unicode code points, as Python's
// len() does, not in bytes; inputs are UTF-8 (the JSON layer guarantees it).
//
// Absent fields (MLflow's "None") are the JSON layer's business: use
// MissingValueMessage() there. The functions here see values that exist.
//
// Where Ferry deliberately differs from MLflow it says so beside the
// function. All functions are pure and thread-safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ferry/store/types.h"
#include "nlohmann/json_fwd.hpp"

namespace ferry::tracking {

// --- Limits (names follow MLflow's constants) ------------------------------

inline constexpr int64_t kMaxEntityKeyLength = 250;              // MAX_ENTITY_KEY_LENGTH
inline constexpr int64_t kMaxParamValueLength = 6000;            // MAX_PARAM_VAL_LENGTH
inline constexpr int64_t kMaxTagValueLength = 8000;              // MAX_TAG_VAL_LENGTH
inline constexpr int64_t kMaxExperimentNameLength = 500;         // MAX_EXPERIMENT_NAME_LENGTH
inline constexpr int64_t kMaxExperimentTagKeyLength = 250;       // MAX_EXPERIMENT_TAG_KEY_LENGTH
inline constexpr int64_t kMaxExperimentTagValueLength = 5000;    // MAX_EXPERIMENT_TAG_VAL_LENGTH
inline constexpr int64_t kMaxRunNameLength = 250;                // runs.name is String(250)
inline constexpr int64_t kMaxParamsTagsPerBatch = 100;           // MAX_PARAMS_TAGS_PER_BATCH
inline constexpr int64_t kMaxMetricsPerBatch = 1000;             // MAX_METRICS_PER_BATCH
inline constexpr int64_t kMaxEntitiesPerBatch = 1000;            // MAX_ENTITIES_PER_BATCH
inline constexpr int64_t kMaxBatchLogRequestBytes = 1'000'000;   // MAX_BATCH_LOG_REQUEST_SIZE
inline constexpr int64_t kMaxDatasetNameLength = 500;            // MAX_DATASET_NAME_SIZE
inline constexpr int64_t kMaxDatasetDigestLength = 36;           // MAX_DATASET_DIGEST_SIZE
inline constexpr int64_t kMaxDatasetSourceLength = 65'535;       // MAX_DATASET_SOURCE_SIZE
inline constexpr int64_t kMaxDatasetSchemaLength = 1'048'575;    // MAX_DATASET_SCHEMA_SIZE
inline constexpr int64_t kMaxDatasetProfileLength = 16'777'215;  // MAX_DATASET_PROFILE_SIZE
inline constexpr int64_t kMaxInputTagKeyLength = 255;            // MAX_INPUT_TAG_KEY_SIZE
inline constexpr int64_t kMaxInputTagValueLength = 500;          // MAX_INPUT_TAG_VALUE_SIZE
// Default of the MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable.
inline constexpr int64_t kDefaultMaxArtifactLocationLength = 2048;
inline constexpr int64_t kSearchMaxResultsDefault = 1000;       // SEARCH_MAX_RESULTS_DEFAULT
inline constexpr int64_t kSearchMaxResultsThreshold = 50'000;   // SEARCH_MAX_RESULTS_THRESHOLD
inline constexpr int64_t kGetMetricHistoryMaxResults = 25'000;  // GET_METRIC_HISTORY_MAX_RESULTS
inline constexpr int64_t kMaxResultsPerRunBulkInterval = 2500;  // handlers.MAX_RESULTS_PER_RUN
inline constexpr int64_t kMaxRunIdsMetricHistoryBulk = 100;     // MAX_RUNS_GET_METRIC_HISTORY_BULK
inline constexpr int64_t kMaxExperimentIdsSearchDatasets = 20;  // handlers.search_datasets_impl

// Appended by MLflow to every request-schema error (handlers.py).
inline constexpr char kSeeApiDocs[] =
    " See the API docs for more information about request parameters.";

// What to do with a param value over 6000 or a run tag value over 8000
// characters. MLflow 3 truncates by default (MLFLOW_TRUNCATE_LONG_VALUES=true,
// server side, with a warning); older MLflow releases rejected.
enum class LongValues { kTruncate, kReject };

struct ValidationOptions {
  LongValues long_values = LongValues::kTruncate;  // MLflow 3 default
  // MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH; default 2048.
  int64_t max_artifact_location_length = kDefaultMaxArtifactLocationLength;
};

// --- Message builders (MLflow wording) -------------------------------------

// "Invalid value <json> for parameter '<path>' supplied: <message>" (or
// ending in "supplied." without a message). <json> is Python's
// json.dumps(value, sort_keys=True, separators=(",", ":")), ensure_ascii.
std::string InvalidValueMessage(std::string_view path, const nlohmann::json& value,
                                std::string_view message = "");
// "Missing value for required parameter '<path>'."
std::string MissingValueMessage(std::string_view path);
// "'<path>' exceeds the maximum length of <limit> characters"
std::string ExceedsMaximumLengthMessage(std::string_view path, int64_t limit);

// --- Keys -------------------------------------------------------------------

// Metric, param and tag keys: only alphanumerics (Unicode, as Python's \w),
// '_', '-', '.', ' ', ':' and '/', and the key must be its own
// posixpath.normpath() (no "..", ".", "//", leading or trailing '/').
// `path` is the JSON path named in the message ("key", "params[3].key").
// Length is checked by the entity validators below, not here.
absl::Status ValidateMetricName(std::string_view name, std::string_view path = "name");
absl::Status ValidateParamName(std::string_view name, std::string_view path = "key");
absl::Status ValidateTagName(std::string_view name, std::string_view path = "key");

// --- Entities ---------------------------------------------------------------

// Name rules, timestamp >= 0, key length <= 250. The value is a double, so
// it is numeric by construction; NaN and +-inf are allowed as in MLflow.
// `path` is "" for LogMetric and "metrics[i]" inside a batch.
absl::Status ValidateMetric(const store::Metric& metric, std::string_view path = "");

// Name rules, key <= 250, value <= 6000 (truncated or rejected per
// options). Returns the param to store. `path` as for ValidateMetric.
absl::StatusOr<store::Param> ValidateParam(const store::Param& param, std::string_view path = "",
                                           const ValidationOptions& options = {});

// Run tag: name rules, key <= 250, value <= 8000 (truncated or rejected per
// options). Returns the tag to store.
absl::StatusOr<store::Tag> ValidateRunTag(const store::Tag& tag, std::string_view path = "",
                                          const ValidationOptions& options = {});

// Experiment tag: name rules, key <= 250, value <= 5000 (always rejected).
absl::Status ValidateExperimentTag(const store::Tag& tag);

// Non-empty, <= 500 characters.
absl::Status ValidateExperimentName(std::string_view name);

// <= 250 characters (Ferry: MLflow has no message, its runs.name column is
// String(250)); if `tags` hold mlflow.runName too, both must agree. An empty
// `run_name` is fine (the service generates one).
absl::Status ValidateRunName(std::string_view run_name, const std::vector<store::Tag>& tags);

// ^[a-zA-Z0-9][\w\-]{0,255}$ (Ferry: \w is ASCII here; run ids are
// server-generated hex, and Python's '$' also accepted a trailing newline).
absl::Status ValidateRunId(std::string_view run_id, std::string_view path = "run_id");

// ^[a-zA-Z0-9][\w\-]{0,63}$ (ASCII \w, as for run ids).
absl::Status ValidateExperimentId(std::string_view experiment_id);

// Experiment artifact_location: not a runs:/ URI, <= max length, no URL
// fragment or ';' params, and no ".." in the (repeatedly decoded) query —
// MLflow's checks against CVE-2023-6909 / CVE-2024-1483 / CVE-2024-3848.
// Ferry rejects any '#', even an empty fragment, which urlparse ignores.
absl::Status ValidateArtifactLocation(std::string_view location,
                                      const ValidationOptions& options = {});

// --- LogBatch ---------------------------------------------------------------

// At most 1000 metrics, 100 params, 100 tags, 1000 in total.
absl::Status ValidateBatchLogLimits(size_t metrics, size_t params, size_t tags);
// The raw JSON body is at most 1,000,000 bytes.
absl::Status ValidateBatchLogRequestSize(size_t bytes);
// No param key twice in one batch.
absl::Status ValidateParamKeysUnique(const std::vector<store::Param>& params);

struct LogBatchInput {
  std::vector<store::Metric> metrics;
  std::vector<store::Param> params;
  std::vector<store::Tag> tags;
};

// Everything MLflow's SqlAlchemyStore.log_batch checks, in one call: run id,
// counts, every metric/param/tag (paths "metrics[i]", ...), unique param
// keys. Returns the batch to store (long values possibly truncated).
// Ferry checks the counts before the entries (MLflow does it after), so an
// oversized batch costs no per-entry work.
absl::StatusOr<LogBatchInput> ValidateLogBatch(std::string_view run_id, LogBatchInput batch,
                                               const ValidationOptions& options = {});

// --- Datasets (LogInputs) ---------------------------------------------------

// name <= 500, digest <= 36, source <= 65535, schema <= 1048575,
// profile <= 16777215 (checked in that order).
absl::Status ValidateDataset(const store::Dataset& dataset);
// Input tag: key <= 255, value <= 500.
absl::Status ValidateInputTag(const store::Tag& tag);
// Every dataset, then its tags, in order.
absl::Status ValidateDatasetInputs(const std::vector<store::DatasetInput>& inputs);

// --- Paging and request shapes ----------------------------------------------

// SearchRuns / SearchExperiments: 1 <= max_results <= 50000.
absl::Status ValidateSearchMaxResults(int64_t max_results);
// GetMetricHistory page size: 1 <= max_results <= 25000. (Ferry: MLflow's
// server takes any positive page size; its own client never asks for more
// than GET_METRIC_HISTORY_MAX_RESULTS, so the cap costs MLflow clients
// nothing and bounds the work per request.)
absl::Status ValidateMetricHistoryMaxResults(int64_t max_results);
// get-history-bulk: 1..100 run ids.
absl::Status ValidateMetricHistoryBulkRunIds(size_t run_ids);
// get-history-bulk-interval: 1..100 run ids (handler message), max_results
// in 1..2500, start_step and end_step both or neither, start <= end.
absl::Status ValidateMetricHistoryBulkInterval(size_t run_ids, std::optional<int64_t> max_results,
                                               std::optional<int64_t> start_step,
                                               std::optional<int64_t> end_step);
// SearchDatasets: 1..20 experiment ids.
absl::Status ValidateSearchDatasetsExperimentIds(size_t experiment_ids);

// --- JSON field coercion, as MLflow's request parsing does ------------------

// A metric value: a JSON number, or a string protobuf's JSON parser takes
// for a double ("NaN", "Infinity", "-Infinity", "1.5", ...). Anything else
// (bool, null, object, "abc") is InvalidArgument with MLflow's schema
// message naming `path`.
absl::StatusOr<double> ParseMetricValue(const nlohmann::json& value, std::string_view path);
// An int64 field (timestamp, step, max_results): a JSON integer, an
// integral JSON float, or a decimal integer string, within int64.
absl::StatusOr<int64_t> ParseInt64(const nlohmann::json& value, std::string_view path);

// --- Helpers shared with the tests ------------------------------------------

// Number of code points in UTF-8 text (Python's len()).
int64_t CodePointLength(std::string_view utf8);
// The first `limit` code points of `utf8` (Python's value[:limit]).
std::string TruncateCodePoints(std::string_view utf8, int64_t limit);
// Python's posixpath.normpath().
std::string PosixNormPath(std::string_view path);
// Python's repr() of a float ("1.0", "1e+16", "nan", "-inf").
std::string PythonFloatRepr(double value);

}  // namespace ferry::tracking

#endif  // FERRY_TRACKING_VALIDATION_H_
