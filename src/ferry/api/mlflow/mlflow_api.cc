#include "ferry/api/mlflow/mlflow_api.h"

#include <functional>

#include "ferry/api/mlflow/entities.h"
#include "ferry/api/mlflow/json_request.h"
#include "ferry/api/mlflow/routes.h"
#include "ferry/artifacts/path.h"
#include "ferry/common/status.h"
#include "ferry/common/url.h"
#include "ferry/tracking/validation.h"
#include "spdlog/spdlog.h"

namespace ferry::api::mlflow {

using nlohmann::json;

http::Response StatusToResponse(const absl::Status& status) {
  int http_status = 500;
  const char* code = "INTERNAL_ERROR";
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      http_status = 400;
      code = "INVALID_PARAMETER_VALUE";
      break;
    case absl::StatusCode::kNotFound:
      http_status = 404;
      code = "RESOURCE_DOES_NOT_EXIST";
      break;
    case absl::StatusCode::kAlreadyExists:
      http_status = 400;
      code = "RESOURCE_ALREADY_EXISTS";
      break;
    // MLflow reports writes to deleted runs/experiments as
    // INVALID_PARAMETER_VALUE, and clients match on it.
    case absl::StatusCode::kFailedPrecondition:
      http_status = 400;
      code = "INVALID_PARAMETER_VALUE";
      break;
    case absl::StatusCode::kPermissionDenied:
      http_status = 403;
      code = "PERMISSION_DENIED";
      break;
    case absl::StatusCode::kUnauthenticated:
      http_status = 401;
      code = "UNAUTHENTICATED";
      break;
    case absl::StatusCode::kResourceExhausted:
      http_status = 429;
      code = "REQUEST_LIMIT_EXCEEDED";
      break;
    case absl::StatusCode::kUnimplemented:
      http_status = 501;
      code = "NOT_IMPLEMENTED";
      break;
    default:
      spdlog::error("internal error: {}", std::string(status.message()));
      break;
  }
  json body = {{"error_code", code}, {"message", std::string(status.message())}};
  return http::Response::Json(http_status,
                              body.dump(-1, ' ', false, json::error_handler_t::replace));
}

namespace {

absl::StatusOr<store::ViewType> ParseViewType(const json& msg, std::string_view field) {
  FERRY_ASSIGN_OR_RETURN(auto v, GetOptionalString(msg, field));
  if (!v || *v == "ACTIVE_ONLY" || *v == "1") return store::ViewType::kActiveOnly;
  if (*v == "DELETED_ONLY" || *v == "2") return store::ViewType::kDeletedOnly;
  if (*v == "ALL" || *v == "3") return store::ViewType::kAll;
  // Integers arrive as numbers in JSON bodies.
  return absl::InvalidArgumentError("Invalid value '" + *v + "' for parameter '" +
                                    std::string(field) +
                                    "': must be ACTIVE_ONLY, DELETED_ONLY or ALL");
}

absl::StatusOr<store::ViewType> ViewTypeField(const json& msg, std::string_view field) {
  auto it = msg.find(std::string(field));
  if (it != msg.end() && it->is_number_integer()) {
    switch (it->get<int>()) {
      case 1:
        return store::ViewType::kActiveOnly;
      case 2:
        return store::ViewType::kDeletedOnly;
      case 3:
        return store::ViewType::kAll;
      default:
        break;
    }
  }
  return ParseViewType(msg, field);
}

absl::StatusOr<std::string> RunIdField(const json& msg) {
  FERRY_ASSIGN_OR_RETURN(auto run_id, GetOptionalString(msg, "run_id"));
  if (!run_id || run_id->empty()) {
    FERRY_ASSIGN_OR_RETURN(run_id, GetOptionalString(msg, "run_uuid"));
  }
  if (!run_id || run_id->empty()) return MissingParameter("run_id");
  return *run_id;
}

// Maps an artifact URI the server issued ("mlflow-artifacts:/a/b",
// "mlflow-artifacts://host:port/a/b") to a path in the artifact store.
// Any other URI is not ours to read.
absl::StatusOr<std::string> ArtifactStorePath(std::string_view uri) {
  constexpr std::string_view kScheme = "mlflow-artifacts:";
  if (!uri.starts_with(kScheme)) {
    return absl::InvalidArgumentError("artifact URI '" + std::string(uri) +
                                      "' is not served by this server's artifact store");
  }
  uri.remove_prefix(kScheme.size());
  if (uri.starts_with("//")) {
    uri.remove_prefix(2);
    size_t slash = uri.find('/');
    uri = slash == std::string_view::npos ? std::string_view() : uri.substr(slash);
  }
  while (uri.starts_with("/")) uri.remove_prefix(1);
  return artifacts::CanonicalizeRelativePath(uri);
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return std::string(a) + "/" + std::string(b);
}

// Decodes a raw path tail once and canonicalises it.
absl::StatusOr<std::string> ClientArtifactPath(std::string_view raw, bool already_decoded) {
  std::string decoded;
  if (already_decoded) {
    decoded = std::string(raw);
  } else {
    FERRY_ASSIGN_OR_RETURN(decoded, PercentDecode(raw));
  }
  return artifacts::CanonicalizeRelativePath(decoded);
}

class ArtifactUpload : public http::BodySink {
 public:
  explicit ArtifactUpload(std::unique_ptr<artifacts::UploadSink> sink) : sink_(std::move(sink)) {}
  absl::Status Write(std::string_view chunk) override { return sink_->Write(chunk); }
  http::Response Finish() override {
    absl::Status st = sink_->Commit();
    if (!st.ok()) return StatusToResponse(st);
    return Ok(json::object());
  }
  void Abort() override { sink_->Abort(); }

 private:
  std::unique_ptr<artifacts::UploadSink> sink_;
};

http::Response FileResponse(artifacts::ArtifactStore* store, std::string_view path) {
  auto file = store->ResolveForRead(path);
  if (!file.ok()) return StatusToResponse(file.status());
  http::Response r;
  r.content_type = "application/octet-stream";
  r.file_path = *file;
  return r;
}

}  // namespace

class MlflowApi::Impl {
 public:
  explicit Impl(const MlflowApiOptions& options)
      : tracking_(options.tracking), artifacts_(options.artifacts), version_(options.version) {}

  void Register(http::Router* router) {
    for (const char* prefix : {"/api/2.0/mlflow", "/ajax-api/2.0/mlflow"}) {
      RegisterTracking(router, prefix);
    }
    for (const char* prefix : {"/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"}) {
      RegisterArtifactProxy(router, prefix);
    }
    // What the mlflow 3 client asks before choosing upload strategies: Ferry
    // serves artifacts through its proxy, without multipart or presigned URLs.
    for (const char* path : {"/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"}) {
      router->Add("GET", path, [](http::Request&) {
        json info = {{"store_type", "SqlStore"},
                     {"workspaces_enabled", false},
                     {"trace_archival_enabled", false},
                     {"multipart_uploads_enabled", false},
                     {"multipart_downloads_enabled", false},
                     {"presigned_upload_run_id_supported", false},
                     {"presigned_upload_model_id_supported", false},
                     {"features_enabled", {{"gateway", false}}}};
        return Ok(info);
      });
    }
    router->Add("GET", "/health", [](http::Request&) { return http::Response::Text(200, "OK"); });
    router->Add("GET", "/version",
                [this](http::Request&) { return http::Response::Text(200, version_); });
    for (const char* path : {"/get-artifact", "/ajax-api/2.0/mlflow/get-artifact"}) {
      router->Add("GET", path, [this](http::Request& req) { return ServeRunArtifact(req); });
    }
    router->SetErrorFormatter(StatusToResponse);
    router->SetNotFound([](http::Request& request) {
      json body = {{"error_code", "ENDPOINT_NOT_FOUND"},
                   {"message", "No API endpoint found for " + request.method + " " + request.path}};
      return http::Response::Json(404, body.dump(-1, ' ', false, json::error_handler_t::replace));
    });
  }

 private:
  void Add(http::Router* router, std::string_view method, const std::string& prefix,
           std::string_view path, Endpoint endpoint) {
    router->Add(method, prefix + std::string(path), Wrap(std::move(endpoint)));
  }

  void RegisterTracking(http::Router* router, const std::string& p) {
    // ---- experiments
    Add(router, "POST", p, "/experiments/create",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(auto location, GetOptionalString(m, "artifact_location"));
          FERRY_ASSIGN_OR_RETURN(auto tags, TagsFromJson(m, "tags"));
          FERRY_ASSIGN_OR_RETURN(std::string id, tracking_->CreateExperiment(
                                                     name, location.value_or(""), tags, Ctx(req)));
          return json{{"experiment_id", id}};
        });
    Add(router, "GET", p, "/experiments/get",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string id, GetString(m, "experiment_id"));
          FERRY_ASSIGN_OR_RETURN(auto e, tracking_->GetExperiment(id));
          return json{{"experiment", ToJson(e)}};
        });
    Add(router, "GET", p, "/experiments/get-by-name",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "experiment_name"));
          FERRY_ASSIGN_OR_RETURN(auto e, tracking_->GetExperimentByName(name));
          return json{{"experiment", ToJson(e)}};
        });
    auto search_experiments = [this](const json& m, http::Request&) -> absl::StatusOr<json> {
      tracking::SearchExperimentsRequest r;
      FERRY_ASSIGN_OR_RETURN(auto max_results, GetOptionalInt(m, "max_results"));
      if (max_results)
        r.max_results = static_cast<int>(std::clamp<int64_t>(*max_results, -1, INT32_MAX));
      FERRY_ASSIGN_OR_RETURN(auto filter, GetOptionalString(m, "filter"));
      r.filter = filter.value_or("");
      FERRY_ASSIGN_OR_RETURN(r.order_by, GetStringList(m, "order_by"));
      FERRY_ASSIGN_OR_RETURN(r.view_type, ViewTypeField(m, "view_type"));
      FERRY_ASSIGN_OR_RETURN(auto token, GetOptionalString(m, "page_token"));
      r.page_token = token.value_or("");
      FERRY_ASSIGN_OR_RETURN(auto page, tracking_->SearchExperiments(r));
      json out = json::object();
      json list = json::array();
      for (const auto& e : page.items) list.push_back(ToJson(e));
      if (!list.empty()) out["experiments"] = std::move(list);
      if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
      return out;
    };
    Add(router, "POST", p, "/experiments/search", search_experiments);
    Add(router, "GET", p, "/experiments/search", search_experiments);
    Add(router, "POST", p, "/experiments/update",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string id, GetString(m, "experiment_id"));
          FERRY_ASSIGN_OR_RETURN(auto new_name, GetOptionalString(m, "new_name"));
          if (new_name) FERRY_RETURN_IF_ERROR(tracking_->RenameExperiment(id, *new_name, Ctx(req)));
          return json::object();
        });
    Add(router, "POST", p, "/experiments/delete",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string id, GetString(m, "experiment_id"));
          FERRY_RETURN_IF_ERROR(tracking_->DeleteExperiment(id, Ctx(req)));
          return json::object();
        });
    Add(router, "POST", p, "/experiments/restore",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string id, GetString(m, "experiment_id"));
          FERRY_RETURN_IF_ERROR(tracking_->RestoreExperiment(id, Ctx(req)));
          return json::object();
        });
    Add(router, "POST", p, "/experiments/set-experiment-tag",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string id, GetString(m, "experiment_id"));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "key"));
          FERRY_ASSIGN_OR_RETURN(auto value, GetOptionalString(m, "value"));
          FERRY_RETURN_IF_ERROR(
              tracking_->SetExperimentTag(id, {key, value.value_or("")}, Ctx(req)));
          return json::object();
        });
    Add(router, "POST", p, "/experiments/delete-experiment-tag",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string id, GetString(m, "experiment_id"));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "key"));
          FERRY_RETURN_IF_ERROR(tracking_->DeleteExperimentTag(id, key, Ctx(req)));
          return json::object();
        });

    // ---- runs
    Add(router, "POST", p, "/runs/create",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          tracking::CreateRunRequest r;
          FERRY_ASSIGN_OR_RETURN(auto experiment_id, GetOptionalString(m, "experiment_id"));
          r.experiment_id = experiment_id.value_or("");
          FERRY_ASSIGN_OR_RETURN(auto user_id, GetOptionalString(m, "user_id"));
          r.user_id = user_id.value_or("");
          if (r.user_id.empty()) r.user_id = std::string(req.Header("X-Ferry-User"));
          FERRY_ASSIGN_OR_RETURN(auto run_name, GetOptionalString(m, "run_name"));
          r.run_name = run_name.value_or("");
          FERRY_ASSIGN_OR_RETURN(r.start_time, GetOptionalInt(m, "start_time"));
          FERRY_ASSIGN_OR_RETURN(r.tags, TagsFromJson(m, "tags"));
          FERRY_ASSIGN_OR_RETURN(auto run, tracking_->CreateRun(r, Ctx(req)));
          return json{{"run", ToJson(run)}};
        });
    Add(router, "GET", p, "/runs/get",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, RunIdField(m));
          FERRY_ASSIGN_OR_RETURN(auto run, tracking_->GetRun(run_id));
          return json{{"run", ToJson(run)}};
        });
    Add(router, "POST", p, "/runs/update",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, RunIdField(m));
          store::RunUpdate update;
          FERRY_ASSIGN_OR_RETURN(update.status, GetOptionalString(m, "status"));
          FERRY_ASSIGN_OR_RETURN(update.end_time, GetOptionalInt(m, "end_time"));
          FERRY_ASSIGN_OR_RETURN(update.run_name, GetOptionalString(m, "run_name"));
          if (update.run_name && update.run_name->empty()) update.run_name.reset();
          FERRY_ASSIGN_OR_RETURN(auto info, tracking_->UpdateRun(run_id, update, Ctx(req)));
          return json{{"run_info", ToJson(info)}};
        });
    Add(router, "POST", p, "/runs/delete",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, RunIdField(m));
          FERRY_RETURN_IF_ERROR(tracking_->DeleteRun(run_id, Ctx(req)));
          return json::object();
        });
    Add(router, "POST", p, "/runs/restore",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, RunIdField(m));
          FERRY_RETURN_IF_ERROR(tracking_->RestoreRun(run_id, Ctx(req)));
          return json::object();
        });
    Add(router, "POST", p, "/runs/log-metric",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, RunIdField(m));
          FERRY_ASSIGN_OR_RETURN(auto metric, MetricFromJson(m));
          FERRY_RETURN_IF_ERROR(tracking_->LogMetric(run_id, std::move(metric)));
          return json::object();
        });
    Add(router, "POST", p, "/runs/log-parameter",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, RunIdField(m));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "key"));
          FERRY_ASSIGN_OR_RETURN(auto value, GetOptionalString(m, "value"));
          FERRY_RETURN_IF_ERROR(tracking_->LogParam(run_id, {key, value.value_or("")}));
          return json::object();
        });
    Add(router, "POST", p, "/runs/set-tag",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, RunIdField(m));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "key"));
          FERRY_ASSIGN_OR_RETURN(auto value, GetOptionalString(m, "value"));
          FERRY_RETURN_IF_ERROR(tracking_->SetTag(run_id, {key, value.value_or("")}));
          return json::object();
        });
    Add(router, "POST", p, "/runs/delete-tag",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, GetString(m, "run_id"));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "key"));
          FERRY_RETURN_IF_ERROR(tracking_->DeleteTag(run_id, key));
          return json::object();
        });
    Add(router, "POST", p, "/runs/log-batch",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_RETURN_IF_ERROR(tracking::ValidateBatchLogRequestSize(req.body.size()));
          FERRY_ASSIGN_OR_RETURN(std::string run_id, GetString(m, "run_id"));
          FERRY_ASSIGN_OR_RETURN(auto metric_items, GetObjectList(m, "metrics"));
          std::vector<store::Metric> metrics;
          metrics.reserve(metric_items.size());
          for (const auto& item : metric_items) {
            FERRY_ASSIGN_OR_RETURN(auto metric, MetricFromJson(item));
            metrics.push_back(std::move(metric));
          }
          FERRY_ASSIGN_OR_RETURN(auto params, ParamsFromJson(m, "params"));
          FERRY_ASSIGN_OR_RETURN(auto tags, TagsFromJson(m, "tags"));
          FERRY_RETURN_IF_ERROR(tracking_->LogBatch(run_id, std::move(metrics), params, tags));
          return json::object();
        });
    Add(router, "POST", p, "/runs/log-inputs",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, GetString(m, "run_id"));
          FERRY_ASSIGN_OR_RETURN(auto datasets, DatasetInputsFromJson(m));
          FERRY_ASSIGN_OR_RETURN(auto model_items, GetObjectList(m, "models"));
          std::vector<store::ModelInput> models;
          for (const auto& item : model_items) {
            FERRY_ASSIGN_OR_RETURN(std::string model_id, GetString(item, "model_id"));
            models.push_back({model_id});
          }
          FERRY_RETURN_IF_ERROR(tracking_->LogInputs(run_id, datasets, models));
          return json::object();
        });
    Add(router, "POST", p, "/runs/outputs",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, GetString(m, "run_id"));
          FERRY_ASSIGN_OR_RETURN(auto model_items, GetObjectList(m, "models"));
          std::vector<store::ModelOutput> models;
          for (const auto& item : model_items) {
            FERRY_ASSIGN_OR_RETURN(std::string model_id, GetString(item, "model_id"));
            FERRY_ASSIGN_OR_RETURN(auto step, GetOptionalInt(item, "step"));
            models.push_back({model_id, step.value_or(0)});
          }
          FERRY_RETURN_IF_ERROR(tracking_->LogOutputs(run_id, models));
          return json::object();
        });
    Add(router, "POST", p, "/runs/log-model",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, GetString(m, "run_id"));
          FERRY_ASSIGN_OR_RETURN(std::string model_json, GetString(m, "model_json"));
          FERRY_RETURN_IF_ERROR(tracking_->LogModel(run_id, model_json));
          return json::object();
        });
    auto search_runs = [this](const json& m, http::Request&) -> absl::StatusOr<json> {
      tracking::SearchRunsRequest r;
      FERRY_ASSIGN_OR_RETURN(r.experiment_ids, GetStringList(m, "experiment_ids"));
      FERRY_ASSIGN_OR_RETURN(auto filter, GetOptionalString(m, "filter"));
      r.filter = filter.value_or("");
      FERRY_ASSIGN_OR_RETURN(r.view_type, ViewTypeField(m, "run_view_type"));
      FERRY_ASSIGN_OR_RETURN(auto max_results, GetOptionalInt(m, "max_results"));
      if (max_results)
        r.max_results = static_cast<int>(std::clamp<int64_t>(*max_results, -1, INT32_MAX));
      FERRY_ASSIGN_OR_RETURN(r.order_by, GetStringList(m, "order_by"));
      FERRY_ASSIGN_OR_RETURN(auto token, GetOptionalString(m, "page_token"));
      r.page_token = token.value_or("");
      FERRY_ASSIGN_OR_RETURN(auto page, tracking_->SearchRuns(r));
      json out = json::object();
      json list = json::array();
      for (const auto& run : page.items) list.push_back(ToJson(run));
      if (!list.empty()) out["runs"] = std::move(list);
      if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
      return out;
    };
    Add(router, "POST", p, "/runs/search", search_runs);
    Add(router, "GET", p, "/runs/search", search_runs);

    // ---- metric history
    Add(router, "GET", p, "/metrics/get-history",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, RunIdField(m));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "metric_key"));
          FERRY_ASSIGN_OR_RETURN(auto max_results, GetOptionalInt(m, "max_results"));
          FERRY_ASSIGN_OR_RETURN(auto token, GetOptionalString(m, "page_token"));
          std::optional<int> limit;
          if (max_results)
            limit = static_cast<int>(std::clamp<int64_t>(*max_results, -1, INT32_MAX));
          FERRY_ASSIGN_OR_RETURN(
              auto page, tracking_->GetMetricHistory(run_id, key, limit, token.value_or("")));
          json list = json::array();
          for (const auto& metric : page.items) list.push_back(ToJson(metric));
          json out = {{"metrics", std::move(list)}};
          if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
          return out;
        });
    Add(router, "GET", p, "/metrics/get-history-bulk-interval",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(auto run_ids, GetStringList(m, "run_ids"));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "metric_key"));
          FERRY_ASSIGN_OR_RETURN(auto start_step, GetOptionalInt(m, "start_step"));
          FERRY_ASSIGN_OR_RETURN(auto end_step, GetOptionalInt(m, "end_step"));
          FERRY_ASSIGN_OR_RETURN(auto max_results, GetOptionalInt(m, "max_results"));
          std::optional<int> limit;
          if (max_results)
            limit = static_cast<int>(std::clamp<int64_t>(*max_results, -1, INT32_MAX));
          FERRY_ASSIGN_OR_RETURN(auto metrics, tracking_->GetMetricHistoryBulkInterval(
                                                   run_ids, key, start_step, end_step, limit));
          json list = json::array();
          for (const auto& metric : metrics) list.push_back(ToJson(metric));
          return json{{"metrics", std::move(list)}};
        });
    // The UI's bulk history: every point of `metric_key` for each run_id.
    Add(router, "GET", p, "/metrics/get-history-bulk",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(auto run_ids, GetStringList(m, "run_id"));
          if (run_ids.empty()) return MissingParameter("run_id");
          if (run_ids.size() > 100) {
            return absl::InvalidArgumentError(
                "GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received " +
                std::to_string(run_ids.size()) + " run_ids.");
          }
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "metric_key"));
          FERRY_ASSIGN_OR_RETURN(auto max_results, GetOptionalInt(m, "max_results"));
          int limit = static_cast<int>(std::clamp<int64_t>(max_results.value_or(25000), 1, 25000));
          json list = json::array();
          for (const auto& run_id : run_ids) {
            FERRY_ASSIGN_OR_RETURN(auto page, tracking_->GetMetricHistory(run_id, key, limit, ""));
            for (auto& metric : page.items) {
              metric.run_id = run_id;
              list.push_back(ToJson(metric));
              if (static_cast<int>(list.size()) >= limit) break;
            }
          }
          return json{{"metrics", std::move(list)}};
        });

    // ---- MLflow 3 logged models
    Add(router, "POST", p, "/logged-models",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          tracking::CreateLoggedModelRequest r;
          FERRY_ASSIGN_OR_RETURN(r.experiment_id, GetString(m, "experiment_id"));
          FERRY_ASSIGN_OR_RETURN(auto name, GetOptionalString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(auto model_type, GetOptionalString(m, "model_type"));
          FERRY_ASSIGN_OR_RETURN(auto source_run_id, GetOptionalString(m, "source_run_id"));
          r.name = name.value_or("");
          r.model_type = model_type.value_or("");
          r.source_run_id = source_run_id.value_or("");
          FERRY_ASSIGN_OR_RETURN(r.params, ParamsFromJson(m, "params"));
          FERRY_ASSIGN_OR_RETURN(r.tags, TagsFromJson(m, "tags"));
          FERRY_ASSIGN_OR_RETURN(auto model, tracking_->CreateLoggedModel(r));
          return json{{"model", ToJson(model)}};
        });
    Add(router, "GET", p, "/logged-models/{model_id}",
        [this](const json&, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(auto model, tracking_->GetLoggedModel(ModelId(req)));
          return json{{"model", ToJson(model)}};
        });
    Add(router, "PATCH", p, "/logged-models/{model_id}",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(auto status, GetOptionalString(m, "status"));
          auto it = m.find("status");
          if (it != m.end() && it->is_number_integer()) {
            static constexpr const char* kStatuses[] = {
                "LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY",
                "LOGGED_MODEL_UPLOAD_FAILED"};
            int v = it->get<int>();
            if (v >= 0 && v < 4) status = kStatuses[v];
          }
          if (!status) return MissingParameter("status");
          FERRY_ASSIGN_OR_RETURN(auto model, tracking_->FinalizeLoggedModel(ModelId(req), *status));
          return json{{"model", ToJson(model)}};
        });
    Add(router, "DELETE", p, "/logged-models/{model_id}",
        [this](const json&, http::Request& req) -> absl::StatusOr<json> {
          FERRY_RETURN_IF_ERROR(tracking_->DeleteLoggedModel(ModelId(req)));
          return json::object();
        });
    Add(router, "PATCH", p, "/logged-models/{model_id}/tags",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(auto tags, TagsFromJson(m, "tags"));
          FERRY_RETURN_IF_ERROR(tracking_->SetLoggedModelTags(ModelId(req), tags));
          FERRY_ASSIGN_OR_RETURN(auto model, tracking_->GetLoggedModel(ModelId(req)));
          return json{{"model", ToJson(model)}};
        });
    Add(router, "DELETE", p, "/logged-models/{model_id}/tags/{tag_key}",
        [this](const json&, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string key, PercentDecode(req.PathParam("tag_key")));
          FERRY_RETURN_IF_ERROR(tracking_->DeleteLoggedModelTag(ModelId(req), key));
          return json::object();
        });
    Add(router, "POST", p, "/logged-models/{model_id}/params",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(auto params, ParamsFromJson(m, "params"));
          FERRY_RETURN_IF_ERROR(tracking_->LogLoggedModelParams(ModelId(req), params));
          return json::object();
        });
    Add(router, "POST", p, "/logged-models/search",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          tracking::SearchLoggedModelsRequest r;
          FERRY_ASSIGN_OR_RETURN(r.experiment_ids, GetStringList(m, "experiment_ids"));
          FERRY_ASSIGN_OR_RETURN(auto filter, GetOptionalString(m, "filter"));
          r.filter = filter.value_or("");
          FERRY_ASSIGN_OR_RETURN(auto max_results, GetOptionalInt(m, "max_results"));
          if (max_results)
            r.max_results = static_cast<int>(std::clamp<int64_t>(*max_results, -1, INT32_MAX));
          FERRY_ASSIGN_OR_RETURN(auto token, GetOptionalString(m, "page_token"));
          r.page_token = token.value_or("");
          FERRY_ASSIGN_OR_RETURN(auto order_items, GetObjectList(m, "order_by"));
          for (const auto& item : order_items) {
            FERRY_ASSIGN_OR_RETURN(std::string field, GetString(item, "field_name"));
            FERRY_ASSIGN_OR_RETURN(auto ascending, GetOptionalBool(item, "ascending"));
            search::OrderBy order;
            if (field.starts_with("metrics.")) {
              order.key_type = search::KeyType::kMetric;
              order.key = field.substr(8);
            } else {
              order.key_type = search::KeyType::kAttribute;
              order.key = field;
            }
            order.ascending = ascending.value_or(true);
            r.order_by.push_back(std::move(order));
          }
          FERRY_ASSIGN_OR_RETURN(auto page, tracking_->SearchLoggedModels(r));
          json list = json::array();
          for (const auto& model : page.items) list.push_back(ToJson(model));
          json out = {{"models", std::move(list)}};
          if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
          return out;
        });
    // Logged-model artifact listing and download (used when the client does
    // not talk to the artifact proxy directly).
    Add(router, "GET", p, "/logged-models/{model_id}/artifacts/directories",
        [this](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(auto model, tracking_->GetLoggedModel(ModelId(req)));
          FERRY_ASSIGN_OR_RETURN(std::string root, ArtifactStorePath(model.artifact_uri));
          FERRY_ASSIGN_OR_RETURN(auto sub, GetOptionalString(m, "artifact_directory_path"));
          return ListUnder(root, sub.value_or(""));
        });
    router->Add("GET", p + "/logged-models/{model_id}/artifacts/files", [this](http::Request& req) {
      auto m = DecodeRequest(req);
      if (!m.ok()) return StatusToResponse(m.status());
      auto model = tracking_->GetLoggedModel(ModelId(req));
      if (!model.ok()) return StatusToResponse(model.status());
      auto root = ArtifactStorePath(model->artifact_uri);
      if (!root.ok()) return StatusToResponse(root.status());
      auto sub = GetString(*m, "artifact_file_path");
      if (!sub.ok()) return StatusToResponse(sub.status());
      auto path = ClientArtifactPath(*sub, /*already_decoded=*/true);
      if (!path.ok()) return StatusToResponse(path.status());
      return FileResponse(artifacts_, JoinPath(*root, *path));
    });

    // ---- run artifacts through the tracking API
    Add(router, "GET", p, "/artifacts/list",
        [this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string run_id, RunIdField(m));
          FERRY_ASSIGN_OR_RETURN(auto run, tracking_->GetRun(run_id));
          FERRY_ASSIGN_OR_RETURN(std::string root, ArtifactStorePath(run.info.artifact_uri));
          FERRY_ASSIGN_OR_RETURN(auto sub, GetOptionalString(m, "path"));
          FERRY_ASSIGN_OR_RETURN(json out, ListUnder(root, sub.value_or("")));
          out["root_uri"] = run.info.artifact_uri;
          return out;
        });
  }

  static std::string ModelId(const http::Request& req) {
    auto decoded = PercentDecode(req.PathParam("model_id"));
    return decoded.ok() ? *decoded : std::string(req.PathParam("model_id"));
  }

  // Lists `sub` (client-supplied, relative) under store path `root`; entry
  // paths are relative to `root`, as MLflow's artifacts/list returns them.
  absl::StatusOr<json> ListUnder(const std::string& root, std::string_view sub) {
    FERRY_ASSIGN_OR_RETURN(std::string rel, ClientArtifactPath(sub, /*already_decoded=*/true));
    FERRY_ASSIGN_OR_RETURN(auto files, artifacts_->List(JoinPath(root, rel)));
    json list = json::array();
    for (const auto& f : files) {
      std::string_view path = f.path;
      if (path.starts_with(root)) path.remove_prefix(root.size());
      while (path.starts_with("/")) path.remove_prefix(1);
      json entry = {{"path", std::string(path)}, {"is_dir", f.is_dir}};
      if (!f.is_dir) entry["file_size"] = f.file_size;
      list.push_back(std::move(entry));
    }
    json out = json::object();
    if (!list.empty()) out["files"] = std::move(list);
    return out;
  }

  void RegisterArtifactProxy(http::Router* router, const std::string& p) {
    router->AddStream(
        "PUT", p + "/artifacts/{*path}",
        [this](http::Request& req) -> absl::StatusOr<std::unique_ptr<http::BodySink>> {
          FERRY_ASSIGN_OR_RETURN(std::string path,
                                 ClientArtifactPath(req.PathParam("path"), false));
          if (path.empty()) return absl::InvalidArgumentError("artifact path must not be empty");
          FERRY_ASSIGN_OR_RETURN(auto sink, artifacts_->BeginUpload(path));
          return std::unique_ptr<http::BodySink>(new ArtifactUpload(std::move(sink)));
        });
    router->Add("GET", p + "/artifacts/{*path}", [this](http::Request& req) {
      auto path = ClientArtifactPath(req.PathParam("path"), false);
      if (!path.ok()) return StatusToResponse(path.status());
      return FileResponse(artifacts_, *path);
    });
    router->Add("DELETE", p + "/artifacts/{*path}", [this](http::Request& req) {
      auto path = ClientArtifactPath(req.PathParam("path"), false);
      if (!path.ok()) return StatusToResponse(path.status());
      absl::Status st = artifacts_->Delete(*path);
      if (!st.ok()) return StatusToResponse(st);
      return Ok(json::object());
    });
    // Listing: entries carry base names, as MLflow's proxy returns them.
    router->Add(
        "GET", p + "/artifacts",
        Wrap([this](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(auto sub, GetOptionalString(m, "path"));
          FERRY_ASSIGN_OR_RETURN(std::string path,
                                 ClientArtifactPath(sub.value_or(""), /*already_decoded=*/true));
          FERRY_ASSIGN_OR_RETURN(auto files, artifacts_->List(path));
          json list = json::array();
          for (const auto& f : files) {
            size_t slash = f.path.rfind('/');
            json entry = {{"path", slash == std::string::npos ? f.path : f.path.substr(slash + 1)},
                          {"is_dir", f.is_dir}};
            if (!f.is_dir) entry["file_size"] = f.file_size;
            list.push_back(std::move(entry));
          }
          json out = json::object();
          if (!list.empty()) out["files"] = std::move(list);
          return out;
        }));
  }

  http::Response ServeRunArtifact(http::Request& req) {
    auto m = DecodeRequest(req);
    if (!m.ok()) return StatusToResponse(m.status());
    auto run_id = RunIdField(*m);
    if (!run_id.ok()) return StatusToResponse(run_id.status());
    auto run = tracking_->GetRun(*run_id);
    if (!run.ok()) return StatusToResponse(run.status());
    auto root = ArtifactStorePath(run->info.artifact_uri);
    if (!root.ok()) return StatusToResponse(root.status());
    auto sub = GetString(*m, "path");
    if (!sub.ok()) return StatusToResponse(sub.status());
    auto path = ClientArtifactPath(*sub, /*already_decoded=*/true);
    if (!path.ok()) return StatusToResponse(path.status());
    return FileResponse(artifacts_, JoinPath(*root, *path));
  }

 private:
  tracking::TrackingService* tracking_;
  artifacts::ArtifactStore* artifacts_;
  std::string version_;
};

absl::StatusOr<std::unique_ptr<MlflowApi>> MlflowApi::Create(const MlflowApiOptions& options) {
  if (options.tracking == nullptr || options.artifacts == nullptr) {
    return absl::InvalidArgumentError("MlflowApi needs a tracking service and an artifact store");
  }
  return std::unique_ptr<MlflowApi>(new MlflowApi(std::make_unique<Impl>(options)));
}

MlflowApi::MlflowApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MlflowApi::~MlflowApi() = default;
void MlflowApi::RegisterRoutes(http::Router* router) { impl_->Register(router); }

}  // namespace ferry::api::mlflow
