#ifndef FERRY_STORE_TYPES_H_
#define FERRY_STORE_TYPES_H_

// Tracking entities as the MetadataStore stores them. Field names follow
// MLflow's REST API so the API edge maps them one to one. Times are
// milliseconds since the Unix epoch.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ferry::store {

inline constexpr char kLifecycleActive[] = "active";
inline constexpr char kLifecycleDeleted[] = "deleted";
inline constexpr char kDefaultExperimentId[] = "0";
inline constexpr char kDefaultExperimentName[] = "Default";

enum class ViewType { kActiveOnly, kDeletedOnly, kAll };

struct Tag {
  std::string key;
  std::string value;
  bool operator==(const Tag&) const = default;
};

struct Experiment {
  std::string experiment_id;
  std::string name;
  std::string artifact_location;
  std::string lifecycle_stage = kLifecycleActive;
  int64_t creation_time = 0;
  int64_t last_update_time = 0;
  std::vector<Tag> tags;  // sorted by key
};

struct Metric {
  std::string key;
  double value = 0;  // may be NaN or +-inf
  int64_t timestamp = 0;
  int64_t step = 0;
  // MLflow 3 extensions; empty when not given.
  std::string run_id;
  std::string model_id;
  std::string dataset_name;
  std::string dataset_digest;
};

struct Param {
  std::string key;
  std::string value;
  bool operator==(const Param&) const = default;
};

// RUNNING | SCHEDULED | FINISHED | FAILED | KILLED
struct RunInfo {
  std::string run_id;
  std::string run_name;
  std::string experiment_id;
  std::string user_id;
  std::string status = "RUNNING";
  int64_t start_time = 0;
  std::optional<int64_t> end_time;
  std::string artifact_uri;
  std::string lifecycle_stage = kLifecycleActive;
};

struct Dataset {
  std::string name;
  std::string digest;
  std::string source_type;
  std::string source;
  std::string schema;   // optional JSON text
  std::string profile;  // optional JSON text
};

struct DatasetInput {
  std::vector<Tag> tags;  // input tags, e.g. mlflow.data.context=train
  Dataset dataset;
};

struct ModelInput {
  std::string model_id;
};

struct ModelOutput {
  std::string model_id;
  int64_t step = 0;
};

struct Run {
  RunInfo info;
  std::vector<Metric>
      metrics;                // latest value per key (max step, then max timestamp, then max value)
  std::vector<Param> params;  // sorted by key
  std::vector<Tag> tags;      // sorted by key
  std::vector<DatasetInput> dataset_inputs;
  std::vector<ModelInput> model_inputs;
  std::vector<ModelOutput> model_outputs;
};

// MLflow 3 logged model. status: LOGGED_MODEL_PENDING | LOGGED_MODEL_READY |
// LOGGED_MODEL_UPLOAD_FAILED.
struct LoggedModel {
  std::string model_id;
  std::string experiment_id;
  std::string name;
  std::string artifact_uri;
  int64_t creation_timestamp_ms = 0;
  int64_t last_updated_timestamp_ms = 0;
  std::string status = "LOGGED_MODEL_PENDING";
  std::string status_message;
  std::string model_type;
  std::string source_run_id;
  std::vector<Tag> tags;
  std::vector<Param> params;
  std::vector<Metric> metrics;
};

// One page of results plus the opaque token for the next (empty at the end).
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;
};

}  // namespace ferry::store

#endif  // FERRY_STORE_TYPES_H_
