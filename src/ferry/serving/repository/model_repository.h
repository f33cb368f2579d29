#ifndef FERRY_SERVING_REPOSITORY_MODEL_REPOSITORY_H_
#define FERRY_SERVING_REPOSITORY_MODEL_REPOSITORY_H_

// A Triton-style local model repository, for serving without a registry:
//
//   <root>/<model>/config.pbtxt      (or config.json; optional)
//   <root>/<model>/<version>/...      one numeric directory per version
//
// config.pbtxt is Triton's ModelConfig in protobuf text format; config.json
// is the same message in protobuf JSON form (what Triton's config endpoint
// and load API use). Only the fields Ferry serves with are read (see
// RepositoryModelConfig); other fields are skipped and reported in
// `ignored_fields` (Load() also logs them), so real Triton configurations
// still load.
//
// Thread safety: every function here is thread-safe; ModelRepository holds
// no mutable state and reads the directory on each call.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/serving/backend.h"
#include "nlohmann/json.hpp"

namespace ferry::serving::repository {

// Which version directories are served (Triton's version_policy).
struct VersionPolicy {
  enum class Kind { kLatest, kAll, kSpecific };
  Kind kind = Kind::kLatest;
  // kLatest: the `num_versions` highest-numbered versions (>= 1).
  uint32_t num_versions = 1;
  // kSpecific: exactly these versions, ascending, no duplicates.
  std::vector<int64_t> versions;
};

// A model's configuration as Ferry uses it. Defaults are Triton's defaults
// for an absent field.
struct RepositoryModelConfig {
  std::string name;
  std::string platform;  // e.g. "xgboost"; may be empty
  std::string backend;   // e.g. "fil", "xgboost"; may be empty
  // 0: no batching, tensors are used as configured. > 0: every input and
  // output gains a leading batch dimension (-1 in `shape`).
  int64_t max_batch_size = 0;
  // Shapes include the batch dimension (-1) when max_batch_size > 0.
  // kBytes is Triton's TYPE_STRING.
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;

  // True when the config has a dynamic_batching block (even an empty one).
  // The fields below keep their defaults when it is false.
  bool dynamic_batching_enabled = false;
  std::vector<int64_t> preferred_batch_sizes;  // each in [1, max_batch_size]
  int64_t max_queue_delay_us = 0;
  // 0: no priority levels. Otherwise levels are 1 (highest) .. priority_levels
  // and default_priority_level is in that range.
  uint32_t priority_levels = 0;
  uint32_t default_priority_level = 0;
  uint64_t default_timeout_us = 0;  // 0: no queue timeout
  size_t max_queue_size = 0;        // 0: unbounded

  // Sum of `count` over instance_group entries (a missing count is 1); 1 when
  // the config has no instance_group. Ferry runs every instance on the CPU,
  // whatever `kind` says.
  int instance_count = 1;
  std::map<std::string, std::string> parameters;  // parameters[k].string_value
  VersionPolicy version_policy;

  // Configuration fields Ferry skipped, as dotted paths without list
  // indices ("sequence_batching", "input.allow_ragged_batch",
  // "dynamic_batching.priority_queue_policy"), first-seen order, no repeats.
  // Also lists modelled settings Ferry does not honour: a GPU instance
  // "instance_group.kind", "dynamic_batching.preserve_ordering",
  // "dynamic_batching.default_queue_policy.timeout_action" (DELAY) and
  // "....allow_timeout_override".
  std::vector<std::string> ignored_fields;
};

// Parses config.pbtxt content. `source` names the file in messages. Every
// error is InvalidArgument with a valid UTF-8 message starting with
// `source`: syntax errors as "<source>:<line>:<column>: <message>" (1-based),
// invalid values (dims of 0, unknown datatype, a preferred batch size above
// max_batch_size, strings that are not UTF-8, nesting deeper than 100, ...)
// naming the field. `name` is left as written (possibly empty). Lists of
// unknown messages written Triton's way (`model_warmup [ {...} ]`), which
// protobuf's parser cannot skip, are accepted.
absl::StatusOr<RepositoryModelConfig> ParseModelConfigText(std::string_view text,
                                                           std::string_view source);
// Same for config.json (protobuf JSON: snake_case or lowerCamel keys, int64s
// as numbers or strings, enums by name). Unknown keys are skipped.
absl::StatusOr<RepositoryModelConfig> ParseModelConfigJson(std::string_view text,
                                                           std::string_view source);

// The backend format name (as BackendRegistry knows it) a config asks for:
// "xgboost" for backend or platform "xgboost", and for Triton's FIL backend
// ("fil") with parameter model_type xgboost, xgboost_json or xgboost_ubj.
// Empty when the config does not say; the caller then detects the format from
// the version directory's files.
std::string FormatFromConfig(const RepositoryModelConfig& config);

// The config as Triton's `GET /v2/models/{m}/config` returns it: protobuf
// JSON with snake_case names, primitive fields printed even when default,
// enums by name, int64 fields (dims, versions, microseconds) as JSON numbers.
// `dims` exclude the batch dimension, as in the config file. One
// instance_group "<name>_0" of kind KIND_CPU (where Ferry runs) with
// `instance_count`. Blocks Ferry has no equivalent for (optimization,
// sequence_batching, ...) are absent. Parses back with ParseModelConfigJson.
nlohmann::json ToTritonConfigJson(const RepositoryModelConfig& config);

struct RepositoryVersion {
  int64_t version = 0;
  std::string path;  // absolute, symlinks resolved, inside the repository root
};

struct RepositoryModel {
  RepositoryModelConfig config;
  std::string path;         // absolute model directory
  std::string config_path;  // the config file read; empty when there is none
  // Versions the version policy selects, ascending. Never empty.
  std::vector<RepositoryVersion> versions;
};

class ModelRepository {
 public:
  // Largest config file read (bytes); a larger one is InvalidArgument.
  static constexpr size_t kMaxConfigBytes = 4 << 20;
  // Longest model name accepted, in bytes.
  static constexpr size_t kMaxModelNameLength = 256;

  // `root` must be an existing directory; it is canonicalised (absolute,
  // symlinks resolved) and every path handed out stays inside it.
  // NotFound if it does not exist, InvalidArgument if it is not a directory.
  static absl::StatusOr<std::unique_ptr<ModelRepository>> Open(const std::string& root);

  const std::string& root() const { return root_; }

  // Names of the models in the repository, sorted: subdirectories holding a
  // config file or at least one version directory. Hidden entries (leading
  // '.'), names Load() would reject and directories whose real path leaves
  // the root are skipped (the last are logged).
  absl::StatusOr<std::vector<std::string>> ListModels() const;

  // Reads one model: its config (config.pbtxt, else config.json; without
  // either, defaults with name = `name`) and the version directories its
  // version policy selects. Version directories are named by a positive
  // decimal number without leading zeros; other entries are ignored, as
  // Triton does.
  //
  // Errors: InvalidArgument for an invalid name (empty, '/', '\\', control
  // characters, leading '.', not UTF-8, longer than kMaxModelNameLength), for
  // a model directory, config file or version directory that resolves outside
  // the root, for a bad config, and for a config whose `name` differs from
  // the directory name. NotFound when the model directory does not exist,
  // when it has no version directory, or when a version listed by a
  // `specific` policy is missing. Internal when a directory cannot be read.
  //
  // Only the model directory, config file and version directories are
  // confined to the root; files inside a version directory are the backend's
  // to open.
  absl::StatusOr<RepositoryModel> Load(const std::string& name) const;

  // Checks a model name with the rules Load() applies. InvalidArgument says
  // why.
  static absl::Status ValidateModelName(std::string_view name);

 private:
  explicit ModelRepository(std::string root) : root_(std::move(root)) {}

  std::string root_;  // canonical
};

}  // namespace ferry::serving::repository

#endif  // FERRY_SERVING_REPOSITORY_MODEL_REPOSITORY_H_
