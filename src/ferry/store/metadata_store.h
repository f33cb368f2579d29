#ifndef FERRY_STORE_METADATA_STORE_H_
#define FERRY_STORE_METADATA_STORE_H_

// MetadataStore: durable storage of tracking metadata. All SQL lives behind
// this interface; implementations are picked by URI scheme (see Open()).
//
// Contract for every implementation (checked by store/testing/conformance):
// - Thread-safe: any method may be called from any thread concurrently.
//   Writes are serialised deliberately; callers never see "database is locked".
// - Durable: once a mutating call returns OK, the change survives the process
//   being killed (kill -9).
// - Atomic: a failed call changes nothing (LogBatch writes all or nothing).
// - Validation of client input (lengths, key names, batch limits) is the
//   tracking service's job; the store enforces only integrity: NotFound for
//   missing ids, AlreadyExists for duplicate names, InvalidArgument for a
//   changed param value, FailedPrecondition for writes to a deleted or
//   finished-and-deleted entity where MLflow forbids them.
// - Error messages name the entity and id, MLflow style, e.g.
//   "Run with id=abc not found", "Experiment 'x' already exists.".

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ferry/common/clock.h"
#include "ferry/search/ast.h"
#include "ferry/store/registry_store.h"
#include "ferry/store/types.h"

namespace ferry::store {

struct ExperimentQuery {
  search::Filter filter;
  std::vector<search::OrderBy> order_by;  // default: last_update_time DESC, experiment_id ASC
  ViewType view_type = ViewType::kActiveOnly;
  int max_results = 1000;
  std::string page_token;
};

struct RunQuery {
  std::vector<std::string> experiment_ids;
  search::Filter filter;
  std::vector<search::OrderBy> order_by;  // default: start_time DESC, run_id ASC
  ViewType view_type = ViewType::kActiveOnly;
  int max_results = 1000;
  std::string page_token;
};

struct LoggedModelQuery {
  std::vector<std::string> experiment_ids;
  search::Filter filter;
  std::vector<search::OrderBy> order_by;  // default: creation_timestamp DESC, model_id ASC
  int max_results = 100;
  std::string page_token;
};

struct NewRun {
  std::string experiment_id;
  std::string user_id;
  std::string run_name;  // empty: the store does NOT invent one; the service does
  int64_t start_time = 0;
  std::vector<Tag> tags;
  // Where the run's artifacts live. The store appends nothing: the caller
  // passes a template in which "{run_id}" is replaced by the new id.
  std::string artifact_uri_template;
};

struct RunUpdate {
  std::optional<std::string> status;
  std::optional<int64_t> end_time;
  std::optional<std::string> run_name;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // --- experiments ---
  // Returns the new experiment id. AlreadyExists if the name is taken (also
  // by a deleted experiment). `artifact_location` may contain "{experiment_id}".
  virtual absl::StatusOr<std::string> CreateExperiment(std::string_view name,
                                                       std::string_view artifact_location,
                                                       const std::vector<Tag>& tags) = 0;
  virtual absl::StatusOr<Experiment> GetExperiment(std::string_view experiment_id) = 0;
  virtual absl::StatusOr<Experiment> GetExperimentByName(std::string_view name) = 0;
  virtual absl::StatusOr<Page<Experiment>> SearchExperiments(const ExperimentQuery& query) = 0;
  virtual absl::Status RenameExperiment(std::string_view experiment_id,
                                        std::string_view new_name) = 0;
  // Deleting also marks the experiment's runs deleted, as MLflow does.
  virtual absl::Status DeleteExperiment(std::string_view experiment_id) = 0;
  virtual absl::Status RestoreExperiment(std::string_view experiment_id) = 0;
  virtual absl::Status SetExperimentTag(std::string_view experiment_id, const Tag& tag) = 0;
  virtual absl::Status DeleteExperimentTag(std::string_view experiment_id,
                                           std::string_view key) = 0;

  // --- runs ---
  virtual absl::StatusOr<Run> CreateRun(const NewRun& run) = 0;
  virtual absl::StatusOr<Run> GetRun(std::string_view run_id) = 0;
  virtual absl::StatusOr<RunInfo> UpdateRun(std::string_view run_id, const RunUpdate& update) = 0;
  virtual absl::Status DeleteRun(std::string_view run_id) = 0;
  virtual absl::Status RestoreRun(std::string_view run_id) = 0;
  // Atomic. Params are immutable: re-logging the same value is a no-op, a
  // different value is InvalidArgument naming the key, old and new value.
  // Metrics append to history and update the latest-metric table. Tags are
  // last-write-wins; the tag "mlflow.runName" also sets run_name.
  virtual absl::Status LogBatch(std::string_view run_id, const std::vector<Metric>& metrics,
                                const std::vector<Param>& params, const std::vector<Tag>& tags) = 0;
  virtual absl::Status DeleteTag(std::string_view run_id, std::string_view key) = 0;
  virtual absl::Status LogInputs(std::string_view run_id, const std::vector<DatasetInput>& datasets,
                                 const std::vector<ModelInput>& models) = 0;
  virtual absl::Status LogOutputs(std::string_view run_id,
                                  const std::vector<ModelOutput>& models) = 0;
  virtual absl::StatusOr<Page<Run>> SearchRuns(const RunQuery& query) = 0;

  // --- metric history ---
  // Ordered by (step, timestamp). NotFound for an unknown run.
  virtual absl::StatusOr<Page<Metric>> GetMetricHistory(std::string_view run_id,
                                                        std::string_view key, int max_results,
                                                        std::string_view page_token) = 0;
  // Up to `max_results` points per run, sampled evenly across the steps in
  // [start_step, end_step] (both optional), always keeping the first and last
  // step, as MLflow's get-history-bulk-interval does. Sorted by run, step.
  virtual absl::StatusOr<std::vector<Metric>> GetMetricHistoryBulkInterval(
      const std::vector<std::string>& run_ids, std::string_view key,
      std::optional<int64_t> start_step, std::optional<int64_t> end_step, int max_results) = 0;

  // --- MLflow 3 logged models ---
  virtual absl::StatusOr<LoggedModel> CreateLoggedModel(
      const LoggedModel& model) = 0;  // id assigned by caller
  virtual absl::StatusOr<LoggedModel> GetLoggedModel(std::string_view model_id) = 0;
  virtual absl::StatusOr<LoggedModel> FinalizeLoggedModel(std::string_view model_id,
                                                          std::string_view status) = 0;
  virtual absl::Status SetLoggedModelTags(std::string_view model_id,
                                          const std::vector<Tag>& tags) = 0;
  virtual absl::Status DeleteLoggedModelTag(std::string_view model_id, std::string_view key) = 0;
  virtual absl::Status LogLoggedModelParams(std::string_view model_id,
                                            const std::vector<Param>& params) = 0;
  virtual absl::Status DeleteLoggedModel(std::string_view model_id) = 0;
  virtual absl::StatusOr<Page<LoggedModel>> SearchLoggedModels(const LoggedModelQuery& query) = 0;

  // The model registry and governance records kept in the same database.
  // Never null; owned by (and lives as long as) this store.
  virtual RegistryStore* registry() = 0;
};

struct StoreOptions {
  // SQLAlchemy-style, as MLflow users write it: "sqlite:///rel/path.db"
  // (relative to the working directory), "sqlite:////abs/path.db",
  // "sqlite:///:memory:" (tests). Later: postgresql://.
  std::string uri;
  Clock* clock = Clock::Real();  // not owned; must outlive the store
  // Artifact location given to experiment "0" and to experiments created
  // without one; "{experiment_id}" is substituted.
  std::string default_artifact_root = "mlflow-artifacts:/{experiment_id}";
};

// Opens (creating and migrating as needed) the store named by options.uri.
// InvalidArgument for an unknown scheme or malformed URI.
absl::StatusOr<std::unique_ptr<MetadataStore>> OpenMetadataStore(const StoreOptions& options);

}  // namespace ferry::store

#endif  // FERRY_STORE_METADATA_STORE_H_
