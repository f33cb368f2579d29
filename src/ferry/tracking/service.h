#ifndef FERRY_TRACKING_SERVICE_H_
#define FERRY_TRACKING_SERVICE_H_

// TrackingService: experiment-tracking logic with no transport. It validates
// client input (validation.h, MLflow's limits), fills in what the server
// decides (run names, artifact URIs, timestamps) and calls the
// MetadataStore. API edges (api/mlflow) only translate JSON to and from these
// calls. Thread-safe (the store is).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/common/audit_sink.h"
#include "ferry/common/clock.h"
#include "ferry/store/metadata_store.h"

namespace ferry::tracking {

struct TrackingServiceOptions {
  store::MetadataStore* store = nullptr;  // not owned; required
  Clock* clock = Clock::Real();           // not owned
  AuditSink* audit = nullptr;  // not owned; experiment and run-lifecycle changes are recorded
  // Root URI of the artifact proxy; experiments get "<root>/<experiment_id>",
  // runs "<experiment artifact_location>/<run_id>/artifacts".
  std::string artifact_root_uri = "mlflow-artifacts:";
};

struct SearchRunsRequest {
  std::vector<std::string> experiment_ids;
  std::string filter;
  std::vector<std::string> order_by;
  store::ViewType view_type = store::ViewType::kActiveOnly;
  int max_results = 1000;
  std::string page_token;
};

struct SearchExperimentsRequest {
  std::string filter;
  std::vector<std::string> order_by;
  store::ViewType view_type = store::ViewType::kActiveOnly;
  int max_results = 1000;
  std::string page_token;
};

struct SearchLoggedModelsRequest {
  std::vector<std::string> experiment_ids;
  std::string filter;
  std::vector<search::OrderBy> order_by;  // already structured in the REST API
  int max_results = 100;
  std::string page_token;
};

struct CreateRunRequest {
  std::string experiment_id;
  std::string user_id;
  std::string run_name;
  std::optional<int64_t> start_time;
  std::vector<store::Tag> tags;
};

struct CreateLoggedModelRequest {
  std::string experiment_id;
  std::string name;
  std::string model_type;
  std::string source_run_id;
  std::vector<store::Param> params;
  std::vector<store::Tag> tags;
};

class TrackingService {
 public:
  static absl::StatusOr<std::unique_ptr<TrackingService>> Create(
      const TrackingServiceOptions& options);

  // Experiments.
  absl::StatusOr<std::string> CreateExperiment(std::string_view name,
                                               std::string_view artifact_location,
                                               const std::vector<store::Tag>& tags,
                                               const RequestContext& ctx = {});
  absl::StatusOr<store::Experiment> GetExperiment(std::string_view experiment_id);
  absl::StatusOr<store::Experiment> GetExperimentByName(std::string_view name);
  absl::StatusOr<store::Page<store::Experiment>> SearchExperiments(
      const SearchExperimentsRequest& r);
  absl::Status RenameExperiment(std::string_view experiment_id, std::string_view new_name,
                                const RequestContext& ctx = {});
  absl::Status DeleteExperiment(std::string_view experiment_id, const RequestContext& ctx = {});
  absl::Status RestoreExperiment(std::string_view experiment_id, const RequestContext& ctx = {});
  absl::Status SetExperimentTag(std::string_view experiment_id, const store::Tag& tag,
                                const RequestContext& ctx = {});
  absl::Status DeleteExperimentTag(std::string_view experiment_id, std::string_view key,
                                   const RequestContext& ctx = {});

  // Runs.
  absl::StatusOr<store::Run> CreateRun(const CreateRunRequest& request,
                                       const RequestContext& ctx = {});
  absl::StatusOr<store::Run> GetRun(std::string_view run_id);
  absl::StatusOr<store::RunInfo> UpdateRun(std::string_view run_id, const store::RunUpdate& update,
                                           const RequestContext& ctx = {});
  absl::Status DeleteRun(std::string_view run_id, const RequestContext& ctx = {});
  absl::Status RestoreRun(std::string_view run_id, const RequestContext& ctx = {});
  absl::Status LogMetric(std::string_view run_id, store::Metric metric);
  absl::Status LogParam(std::string_view run_id, const store::Param& param);
  absl::Status SetTag(std::string_view run_id, const store::Tag& tag);
  absl::Status DeleteTag(std::string_view run_id, std::string_view key);
  absl::Status LogBatch(std::string_view run_id, std::vector<store::Metric> metrics,
                        const std::vector<store::Param>& params,
                        const std::vector<store::Tag>& tags);
  absl::Status LogInputs(std::string_view run_id, const std::vector<store::DatasetInput>& datasets,
                         const std::vector<store::ModelInput>& models);
  absl::Status LogOutputs(std::string_view run_id, const std::vector<store::ModelOutput>& models);
  // Appends `model_json` to the run's "mlflow.log-model.history" tag, as MLflow does.
  absl::Status LogModel(std::string_view run_id, std::string_view model_json);
  absl::StatusOr<store::Page<store::Run>> SearchRuns(const SearchRunsRequest& request);

  // Metric history.
  absl::StatusOr<store::Page<store::Metric>> GetMetricHistory(std::string_view run_id,
                                                              std::string_view key,
                                                              std::optional<int> max_results,
                                                              std::string_view page_token);
  absl::StatusOr<std::vector<store::Metric>> GetMetricHistoryBulkInterval(
      const std::vector<std::string>& run_ids, std::string_view key,
      std::optional<int64_t> start_step, std::optional<int64_t> end_step,
      std::optional<int> max_results);

  // Logged models (MLflow 3).
  absl::StatusOr<store::LoggedModel> CreateLoggedModel(const CreateLoggedModelRequest& request);
  absl::StatusOr<store::LoggedModel> GetLoggedModel(std::string_view model_id);
  absl::StatusOr<store::LoggedModel> FinalizeLoggedModel(std::string_view model_id,
                                                         std::string_view status);
  absl::Status SetLoggedModelTags(std::string_view model_id, const std::vector<store::Tag>& tags);
  absl::Status DeleteLoggedModelTag(std::string_view model_id, std::string_view key);
  absl::Status LogLoggedModelParams(std::string_view model_id,
                                    const std::vector<store::Param>& params);
  absl::Status DeleteLoggedModel(std::string_view model_id);
  absl::StatusOr<store::Page<store::LoggedModel>> SearchLoggedModels(
      const SearchLoggedModelsRequest& request);

  store::MetadataStore* store() const { return options_.store; }
  const TrackingServiceOptions& options() const { return options_; }

 private:
  explicit TrackingService(TrackingServiceOptions options) : options_(std::move(options)) {}
  void Audit(const RequestContext& ctx, AuditRecord record);
  TrackingServiceOptions options_;
};

// "<adjective>-<animal>-<number>", MLflow's style of generated run names.
std::string GenerateRunName();

}  // namespace ferry::tracking

#endif  // FERRY_TRACKING_SERVICE_H_
