#include "ferry/tracking/service.h"

#include <array>
#include <random>

#include "ferry/common/ids.h"
#include "ferry/common/status.h"
#include "ferry/search/parser.h"
#include "ferry/tracking/validation.h"
#include "nlohmann/json.hpp"

namespace ferry::tracking {
namespace {

constexpr char kRunNameTag[] = "mlflow.runName";
constexpr char kUserTag[] = "mlflow.user";
constexpr char kLogModelHistoryTag[] = "mlflow.log-model.history";

absl::Status ExperimentIsActive(const store::Experiment& experiment) {
  if (experiment.lifecycle_stage != store::kLifecycleActive) {
    return absl::FailedPreconditionError("The experiment " + experiment.experiment_id +
                                         " must be in the 'active' state. Current state is " +
                                         experiment.lifecycle_stage + ".");
  }
  return absl::OkStatus();
}

const store::Tag* FindTag(const std::vector<store::Tag>& tags, std::string_view key) {
  for (const auto& t : tags) {
    if (t.key == key) return &t;
  }
  return nullptr;
}

}  // namespace

std::string GenerateRunName() {
  static constexpr std::array<const char*, 24> kAdjectives = {
      "amazing", "bold",  "brave",  "bright", "calm",   "clever", "gentle", "glamorous",
      "honest",  "kind",  "lively", "lucky",  "merry",  "nimble", "polite", "quiet",
      "rare",    "rogue", "shiny",  "silent", "smooth", "swift",  "upbeat", "wise"};
  static constexpr std::array<const char*, 24> kNouns = {
      "ant",  "bass",  "bear", "bird", "cat",   "crane", "deer",  "dove",
      "eel",  "finch", "fox",  "frog", "gull",  "hare",  "hawk",  "lark",
      "mole", "moth",  "newt", "owl",  "panda", "seal",  "shark", "wolf"};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> adj(0, kAdjectives.size() - 1), noun(0, kNouns.size() - 1);
  std::uniform_int_distribution<int> num(0, 999);
  return std::string(kAdjectives[adj(rng)]) + "-" + kNouns[noun(rng)] + "-" +
         std::to_string(num(rng));
}

absl::StatusOr<std::unique_ptr<TrackingService>> TrackingService::Create(
    const TrackingServiceOptions& options) {
  if (options.store == nullptr) return absl::InvalidArgumentError("TrackingService needs a store");
  if (options.clock == nullptr) return absl::InvalidArgumentError("TrackingService needs a clock");
  return std::unique_ptr<TrackingService>(new TrackingService(options));
}

// ---------------------------------------------------------------- experiments

void TrackingService::Audit(const RequestContext& ctx, AuditRecord record) {
  if (options_.audit != nullptr) options_.audit->Record(ctx, std::move(record));
}

namespace {
nlohmann::json ExperimentJson(const store::Experiment& e) {
  nlohmann::json tags = nlohmann::json::object();
  for (const auto& t : e.tags) tags[t.key] = t.value;
  return {{"experiment_id", e.experiment_id},
          {"name", e.name},
          {"artifact_location", e.artifact_location},
          {"lifecycle_stage", e.lifecycle_stage},
          {"tags", tags}};
}
nlohmann::json RunInfoJson(const store::RunInfo& r) {
  nlohmann::json j = {{"run_id", r.run_id},
                      {"run_name", r.run_name},
                      {"experiment_id", r.experiment_id},
                      {"status", r.status},
                      {"lifecycle_stage", r.lifecycle_stage}};
  if (r.end_time) j["end_time"] = *r.end_time;
  return j;
}
}  // namespace

absl::StatusOr<std::string> TrackingService::CreateExperiment(std::string_view name,
                                                              std::string_view artifact_location,
                                                              const std::vector<store::Tag>& tags,
                                                              const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateExperimentName(name));
  if (!artifact_location.empty())
    FERRY_RETURN_IF_ERROR(ValidateArtifactLocation(artifact_location));
  for (const auto& tag : tags) FERRY_RETURN_IF_ERROR(ValidateExperimentTag(tag));
  std::string location(artifact_location);
  if (location.empty()) location = options_.artifact_root_uri + "/{experiment_id}";
  FERRY_ASSIGN_OR_RETURN(std::string id, options_.store->CreateExperiment(name, location, tags));
  if (auto created = options_.store->GetExperiment(id); created.ok()) {
    Audit(ctx, {"experiment.create", "experiment", id, nullptr, ExperimentJson(*created)});
  }
  return id;
}

absl::StatusOr<store::Experiment> TrackingService::GetExperiment(std::string_view experiment_id) {
  FERRY_RETURN_IF_ERROR(ValidateExperimentId(experiment_id));
  return options_.store->GetExperiment(experiment_id);
}

absl::StatusOr<store::Experiment> TrackingService::GetExperimentByName(std::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError(
        "Missing value for required parameter 'experiment_name'. See the API docs for more "
        "information about request parameters.");
  }
  return options_.store->GetExperimentByName(name);
}

absl::StatusOr<store::Page<store::Experiment>> TrackingService::SearchExperiments(
    const SearchExperimentsRequest& r) {
  FERRY_RETURN_IF_ERROR(ValidateSearchMaxResults(r.max_results));
  store::ExperimentQuery query;
  FERRY_ASSIGN_OR_RETURN(query.filter, search::ParseFilter(r.filter, search::Entity::kExperiment));
  FERRY_ASSIGN_OR_RETURN(query.order_by,
                         search::ParseOrderByList(r.order_by, search::Entity::kExperiment));
  query.view_type = r.view_type;
  query.max_results = r.max_results;
  query.page_token = r.page_token;
  return options_.store->SearchExperiments(query);
}

absl::Status TrackingService::RenameExperiment(std::string_view experiment_id,
                                               std::string_view new_name,
                                               const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateExperimentId(experiment_id));
  FERRY_RETURN_IF_ERROR(ValidateExperimentName(new_name));
  FERRY_ASSIGN_OR_RETURN(auto experiment, options_.store->GetExperiment(experiment_id));
  FERRY_RETURN_IF_ERROR(ExperimentIsActive(experiment));
  FERRY_RETURN_IF_ERROR(options_.store->RenameExperiment(experiment_id, new_name));
  Audit(ctx, {"experiment.rename",
              "experiment",
              experiment.experiment_id,
              {{"name", experiment.name}},
              {{"name", std::string(new_name)}}});
  return absl::OkStatus();
}

absl::Status TrackingService::DeleteExperiment(std::string_view experiment_id,
                                               const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateExperimentId(experiment_id));
  if (experiment_id == store::kDefaultExperimentId) {
    return absl::InvalidArgumentError(
        "Cannot delete the default experiment '0'. This is an internally reserved experiment.");
  }
  FERRY_RETURN_IF_ERROR(options_.store->DeleteExperiment(experiment_id));
  Audit(ctx, {"experiment.delete",
              "experiment",
              std::string(experiment_id),
              {{"lifecycle_stage", store::kLifecycleActive}},
              {{"lifecycle_stage", store::kLifecycleDeleted}}});
  return absl::OkStatus();
}

absl::Status TrackingService::RestoreExperiment(std::string_view experiment_id,
                                                const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateExperimentId(experiment_id));
  FERRY_RETURN_IF_ERROR(options_.store->RestoreExperiment(experiment_id));
  Audit(ctx, {"experiment.restore",
              "experiment",
              std::string(experiment_id),
              {{"lifecycle_stage", store::kLifecycleDeleted}},
              {{"lifecycle_stage", store::kLifecycleActive}}});
  return absl::OkStatus();
}

absl::Status TrackingService::SetExperimentTag(std::string_view experiment_id,
                                               const store::Tag& tag, const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateExperimentId(experiment_id));
  FERRY_RETURN_IF_ERROR(ValidateExperimentTag(tag));
  FERRY_ASSIGN_OR_RETURN(auto experiment, options_.store->GetExperiment(experiment_id));
  FERRY_RETURN_IF_ERROR(ExperimentIsActive(experiment));
  FERRY_RETURN_IF_ERROR(options_.store->SetExperimentTag(experiment_id, tag));
  nlohmann::json before = nullptr;
  if (const auto* old = FindTag(experiment.tags, tag.key)) before = {{tag.key, old->value}};
  Audit(ctx, {"experiment.set_tag",
              "experiment",
              experiment.experiment_id,
              before,
              {{tag.key, tag.value}}});
  return absl::OkStatus();
}

absl::Status TrackingService::DeleteExperimentTag(std::string_view experiment_id,
                                                  std::string_view key, const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateExperimentId(experiment_id));
  FERRY_ASSIGN_OR_RETURN(auto experiment, options_.store->GetExperiment(experiment_id));
  FERRY_RETURN_IF_ERROR(ExperimentIsActive(experiment));
  FERRY_RETURN_IF_ERROR(options_.store->DeleteExperimentTag(experiment_id, key));
  nlohmann::json before = nullptr;
  if (const auto* old = FindTag(experiment.tags, key)) before = {{std::string(key), old->value}};
  Audit(ctx, {"experiment.delete_tag", "experiment", experiment.experiment_id, before, nullptr});
  return absl::OkStatus();
}

// ----------------------------------------------------------------------- runs

absl::StatusOr<store::Run> TrackingService::CreateRun(const CreateRunRequest& request,
                                                      const RequestContext& ctx) {
  std::string experiment_id =
      request.experiment_id.empty() ? store::kDefaultExperimentId : request.experiment_id;
  FERRY_RETURN_IF_ERROR(ValidateExperimentId(experiment_id));
  std::vector<store::Tag> tags;
  for (size_t i = 0; i < request.tags.size(); ++i) {
    FERRY_ASSIGN_OR_RETURN(auto tag,
                           ValidateRunTag(request.tags[i], "tags[" + std::to_string(i) + "]"));
    tags.push_back(std::move(tag));
  }
  FERRY_RETURN_IF_ERROR(ValidateRunName(request.run_name, tags));
  FERRY_ASSIGN_OR_RETURN(auto experiment, options_.store->GetExperiment(experiment_id));
  FERRY_RETURN_IF_ERROR(ExperimentIsActive(experiment));

  store::NewRun run;
  run.experiment_id = experiment_id;
  run.start_time = request.start_time.value_or(options_.clock->NowMillis());
  run.tags = tags;
  run.user_id = request.user_id;
  if (run.user_id.empty()) {
    if (const auto* user = FindTag(tags, kUserTag)) run.user_id = user->value;
  }
  // The run name: the field, else the mlflow.runName tag, else generated.
  const store::Tag* name_tag = FindTag(tags, kRunNameTag);
  run.run_name = request.run_name;
  if (run.run_name.empty() && name_tag != nullptr) run.run_name = name_tag->value;
  if (run.run_name.empty()) run.run_name = GenerateRunName();
  if (name_tag == nullptr) run.tags.push_back({kRunNameTag, run.run_name});
  std::string location = experiment.artifact_location;
  while (!location.empty() && location.back() == '/') location.pop_back();
  run.artifact_uri_template = location + "/{run_id}/artifacts";
  FERRY_ASSIGN_OR_RETURN(store::Run created, options_.store->CreateRun(run));
  Audit(ctx, {"run.create", "run", created.info.run_id, nullptr, RunInfoJson(created.info)});
  return created;
}

absl::StatusOr<store::Run> TrackingService::GetRun(std::string_view run_id) {
  FERRY_RETURN_IF_ERROR(ValidateRunId(run_id));
  return options_.store->GetRun(run_id);
}

absl::StatusOr<store::RunInfo> TrackingService::UpdateRun(std::string_view run_id,
                                                          const store::RunUpdate& update,
                                                          const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateRunId(run_id));
  if (update.status && *update.status != "RUNNING" && *update.status != "SCHEDULED" &&
      *update.status != "FINISHED" && *update.status != "FAILED" && *update.status != "KILLED") {
    return absl::InvalidArgumentError(
        "Invalid value '" + *update.status +
        "' for parameter 'status': must be one of RUNNING, SCHEDULED, "
        "FINISHED, FAILED, KILLED");
  }
  if (update.run_name) FERRY_RETURN_IF_ERROR(ValidateRunName(*update.run_name, {}));
  FERRY_ASSIGN_OR_RETURN(store::Run before, options_.store->GetRun(run_id));
  FERRY_ASSIGN_OR_RETURN(store::RunInfo after, options_.store->UpdateRun(run_id, update));
  Audit(ctx, {"run.update", "run", after.run_id, RunInfoJson(before.info), RunInfoJson(after)});
  return after;
}

absl::Status TrackingService::DeleteRun(std::string_view run_id, const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateRunId(run_id));
  FERRY_RETURN_IF_ERROR(options_.store->DeleteRun(run_id));
  Audit(ctx, {"run.delete",
              "run",
              std::string(run_id),
              {{"lifecycle_stage", store::kLifecycleActive}},
              {{"lifecycle_stage", store::kLifecycleDeleted}}});
  return absl::OkStatus();
}

absl::Status TrackingService::RestoreRun(std::string_view run_id, const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateRunId(run_id));
  FERRY_RETURN_IF_ERROR(options_.store->RestoreRun(run_id));
  Audit(ctx, {"run.restore",
              "run",
              std::string(run_id),
              {{"lifecycle_stage", store::kLifecycleDeleted}},
              {{"lifecycle_stage", store::kLifecycleActive}}});
  return absl::OkStatus();
}

absl::Status TrackingService::LogMetric(std::string_view run_id, store::Metric metric) {
  return LogBatch(run_id, {std::move(metric)}, {}, {});
}

absl::Status TrackingService::LogParam(std::string_view run_id, const store::Param& param) {
  return LogBatch(run_id, {}, {param}, {});
}

absl::Status TrackingService::SetTag(std::string_view run_id, const store::Tag& tag) {
  return LogBatch(run_id, {}, {}, {tag});
}

absl::Status TrackingService::DeleteTag(std::string_view run_id, std::string_view key) {
  FERRY_RETURN_IF_ERROR(ValidateRunId(run_id));
  return options_.store->DeleteTag(run_id, key);
}

absl::Status TrackingService::LogBatch(std::string_view run_id, std::vector<store::Metric> metrics,
                                       const std::vector<store::Param>& params,
                                       const std::vector<store::Tag>& tags) {
  FERRY_ASSIGN_OR_RETURN(LogBatchInput batch,
                         ValidateLogBatch(run_id, {std::move(metrics), params, tags}));
  for (auto& m : batch.metrics) m.run_id = std::string(run_id);
  return options_.store->LogBatch(run_id, batch.metrics, batch.params, batch.tags);
}

absl::Status TrackingService::LogInputs(std::string_view run_id,
                                        const std::vector<store::DatasetInput>& datasets,
                                        const std::vector<store::ModelInput>& models) {
  FERRY_RETURN_IF_ERROR(ValidateRunId(run_id));
  FERRY_RETURN_IF_ERROR(ValidateDatasetInputs(datasets));
  return options_.store->LogInputs(run_id, datasets, models);
}

absl::Status TrackingService::LogOutputs(std::string_view run_id,
                                         const std::vector<store::ModelOutput>& models) {
  FERRY_RETURN_IF_ERROR(ValidateRunId(run_id));
  return options_.store->LogOutputs(run_id, models);
}

absl::Status TrackingService::LogModel(std::string_view run_id, std::string_view model_json) {
  FERRY_RETURN_IF_ERROR(ValidateRunId(run_id));
  auto model = nlohmann::json::parse(model_json, nullptr, /*allow_exceptions=*/false);
  if (model.is_discarded() || !model.is_object()) {
    return absl::InvalidArgumentError("Invalid value for 'model_json': not a JSON object");
  }
  FERRY_ASSIGN_OR_RETURN(auto run, options_.store->GetRun(run_id));
  nlohmann::json history = nlohmann::json::array();
  if (const auto* tag = FindTag(run.tags, kLogModelHistoryTag)) {
    auto parsed = nlohmann::json::parse(tag->value, nullptr, false);
    if (parsed.is_array()) history = std::move(parsed);
  }
  history.push_back(std::move(model));
  return options_.store->LogBatch(run_id, {}, {}, {{kLogModelHistoryTag, history.dump()}});
}

absl::StatusOr<store::Page<store::Run>> TrackingService::SearchRuns(const SearchRunsRequest& r) {
  FERRY_RETURN_IF_ERROR(ValidateSearchMaxResults(r.max_results));
  for (const auto& id : r.experiment_ids) FERRY_RETURN_IF_ERROR(ValidateExperimentId(id));
  store::RunQuery query;
  query.experiment_ids = r.experiment_ids;
  FERRY_ASSIGN_OR_RETURN(query.filter, search::ParseFilter(r.filter, search::Entity::kRun));
  FERRY_ASSIGN_OR_RETURN(query.order_by,
                         search::ParseOrderByList(r.order_by, search::Entity::kRun));
  query.view_type = r.view_type;
  query.max_results = r.max_results;
  query.page_token = r.page_token;
  return options_.store->SearchRuns(query);
}

absl::StatusOr<store::Page<store::Metric>> TrackingService::GetMetricHistory(
    std::string_view run_id, std::string_view key, std::optional<int> max_results,
    std::string_view page_token) {
  FERRY_RETURN_IF_ERROR(ValidateRunId(run_id));
  FERRY_RETURN_IF_ERROR(ValidateMetricHistoryMaxResults(max_results.value_or(25000)));
  return options_.store->GetMetricHistory(run_id, key, max_results.value_or(25000), page_token);
}

absl::StatusOr<std::vector<store::Metric>> TrackingService::GetMetricHistoryBulkInterval(
    const std::vector<std::string>& run_ids, std::string_view key,
    std::optional<int64_t> start_step, std::optional<int64_t> end_step,
    std::optional<int> max_results) {
  FERRY_RETURN_IF_ERROR(
      ValidateMetricHistoryBulkInterval(run_ids.size(), max_results, start_step, end_step));
  for (const auto& id : run_ids) FERRY_RETURN_IF_ERROR(ValidateRunId(id));
  return options_.store->GetMetricHistoryBulkInterval(run_ids, key, start_step, end_step,
                                                      max_results.value_or(320));
}

// -------------------------------------------------------------- logged models

absl::StatusOr<store::LoggedModel> TrackingService::CreateLoggedModel(
    const CreateLoggedModelRequest& request) {
  FERRY_RETURN_IF_ERROR(ValidateExperimentId(request.experiment_id));
  for (const auto& p : request.params) FERRY_RETURN_IF_ERROR(ValidateParam(p).status());
  for (const auto& t : request.tags) FERRY_RETURN_IF_ERROR(ValidateRunTag(t).status());
  FERRY_ASSIGN_OR_RETURN(auto experiment, options_.store->GetExperiment(request.experiment_id));
  FERRY_RETURN_IF_ERROR(ExperimentIsActive(experiment));
  if (!request.source_run_id.empty()) {
    FERRY_RETURN_IF_ERROR(options_.store->GetRun(request.source_run_id).status());
  }
  store::LoggedModel model;
  model.model_id = "m-" + NewHexId();
  model.experiment_id = request.experiment_id;
  model.name = request.name.empty() ? GenerateRunName() : request.name;
  std::string location = experiment.artifact_location;
  while (!location.empty() && location.back() == '/') location.pop_back();
  model.artifact_uri = location + "/models/" + model.model_id + "/artifacts";
  model.creation_timestamp_ms = model.last_updated_timestamp_ms = options_.clock->NowMillis();
  model.model_type = request.model_type;
  model.source_run_id = request.source_run_id;
  model.params = request.params;
  model.tags = request.tags;
  return options_.store->CreateLoggedModel(model);
}

absl::StatusOr<store::LoggedModel> TrackingService::GetLoggedModel(std::string_view model_id) {
  return options_.store->GetLoggedModel(model_id);
}

absl::StatusOr<store::LoggedModel> TrackingService::FinalizeLoggedModel(std::string_view model_id,
                                                                        std::string_view status) {
  if (status != "LOGGED_MODEL_READY" && status != "LOGGED_MODEL_UPLOAD_FAILED" &&
      status != "LOGGED_MODEL_PENDING") {
    return absl::InvalidArgumentError("Invalid value '" + std::string(status) +
                                      "' for parameter 'status': must be LOGGED_MODEL_READY or "
                                      "LOGGED_MODEL_UPLOAD_FAILED");
  }
  return options_.store->FinalizeLoggedModel(model_id, status);
}

absl::Status TrackingService::SetLoggedModelTags(std::string_view model_id,
                                                 const std::vector<store::Tag>& tags) {
  for (const auto& t : tags) FERRY_RETURN_IF_ERROR(ValidateRunTag(t).status());
  return options_.store->SetLoggedModelTags(model_id, tags);
}

absl::Status TrackingService::DeleteLoggedModelTag(std::string_view model_id,
                                                   std::string_view key) {
  return options_.store->DeleteLoggedModelTag(model_id, key);
}

absl::Status TrackingService::LogLoggedModelParams(std::string_view model_id,
                                                   const std::vector<store::Param>& params) {
  for (const auto& p : params) FERRY_RETURN_IF_ERROR(ValidateParam(p).status());
  return options_.store->LogLoggedModelParams(model_id, params);
}

absl::Status TrackingService::DeleteLoggedModel(std::string_view model_id) {
  return options_.store->DeleteLoggedModel(model_id);
}

absl::StatusOr<store::Page<store::LoggedModel>> TrackingService::SearchLoggedModels(
    const SearchLoggedModelsRequest& request) {
  store::LoggedModelQuery query;
  query.experiment_ids = request.experiment_ids;
  FERRY_ASSIGN_OR_RETURN(query.filter,
                         search::ParseFilter(request.filter, search::Entity::kLoggedModel));
  query.order_by = request.order_by;
  query.max_results = request.max_results;
  query.page_token = request.page_token;
  return options_.store->SearchLoggedModels(query);
}

}  // namespace ferry::tracking
