#include "ferry/serving/manager/model_manager.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ferry/common/ids.h"
#include "ferry/common/status.h"
#include "ferry/serving/backends/detect.h"
#include "ferry/serving/batching/dynamic_batcher.h"
#include "ferry/serving/classification.h"
#include "ferry/serving/routing/traffic.h"
#include "spdlog/spdlog.h"

namespace ferry::serving {

using nlohmann::json;

struct ModelManager::LoadedVersion {
  std::string version;
  std::string path;
  std::string format;
  std::optional<repository::RepositoryModelConfig> config;
  batching::BatcherOptions batching;
  std::unique_ptr<ModelBackend> backend;
  std::unique_ptr<batching::DynamicBatcher> batcher;
  ModelMetadata metadata;  // backend metadata, max_batch_size from batching
  double load_seconds = 0;
  std::atomic<int64_t> last_inference_ms{0};
  // This version's series, looked up once at load (the registry keeps them).
  monitoring::Counter* success = nullptr;
  monitoring::Histogram* duration = nullptr;
};

struct ModelManager::ServingState {
  std::map<std::string, std::shared_ptr<LoadedVersion>> versions;
  std::shared_ptr<TrafficRouter> router;
  std::string default_version;                  // highest-weight primary
  std::map<std::string, std::string> resolved;  // ref -> version
  std::string shadow_version;                   // empty: none
};

struct ModelManager::ServedModel {
  ServedModelOptions options;
  std::mutex load_mu;  // one reload at a time
  mutable std::mutex state_mu;
  std::shared_ptr<const ServingState> state;  // guarded by state_mu; null until loaded
  std::string status = "LOADING";             // guarded by state_mu
  std::string last_error;                     // guarded by state_mu
  bool unloaded = false;                      // guarded by state_mu

  std::shared_ptr<const ServingState> Snapshot() const {
    std::lock_guard lock(state_mu);
    return state;
  }
};

namespace {

std::string_view FailureReason(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return "invalid";
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
      return "rejected";
    case absl::StatusCode::kDeadlineExceeded:
      return "timeout";
    default:
      return "backend";
  }
}

std::string TritonDataType(DataType type) { return "TYPE_" + std::string(DataTypeName(type)); }

json TensorConfigJson(const TensorSpec& spec, bool batched) {
  std::vector<int64_t> dims = spec.shape;
  if (batched && !dims.empty()) dims.erase(dims.begin());
  std::string type =
      spec.datatype == DataType::kBytes ? "TYPE_STRING" : TritonDataType(spec.datatype);
  return json{{"name", spec.name}, {"data_type", type}, {"dims", dims}};
}

json Duration(int64_t count, int64_t us) { return json{{"count", count}, {"ns", us * 1000}}; }

}  // namespace

ModelManager::ModelManager(const ModelManagerOptions& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<ModelManager>> ModelManager::Create(
    const ModelManagerOptions& options, std::vector<ServedModelOptions> models) {
  if (options.backends == nullptr || options.metrics == nullptr)
    return absl::InvalidArgumentError(
        "ModelManager needs a backend registry and a metrics registry");
  std::unique_ptr<ModelManager> manager(new ModelManager(options));
  auto* m = options.metrics;
  std::vector<std::string> mv = {"model", "version"};
  FERRY_ASSIGN_OR_RETURN(manager->request_success_,
                         m->AddCounter({.name = "ferry_inference_request_success_total",
                                        .help = "Inference requests answered successfully",
                                        .label_names = mv}));
  FERRY_ASSIGN_OR_RETURN(
      manager->request_failure_,
      m->AddCounter({.name = "ferry_inference_request_failure_total",
                     .help = "Inference requests that failed, by reason (invalid, rejected, "
                             "timeout, backend)",
                     .label_names = {"model", "version", "reason"}}));
  FERRY_ASSIGN_OR_RETURN(
      manager->request_duration_,
      m->AddHistogram({.name = "ferry_inference_request_duration_seconds",
                       .help = "End-to-end inference latency inside the server (queue + compute)",
                       .label_names = mv},
                      monitoring::ExponentialBuckets(0.00005, 2, 16)));
  FERRY_ASSIGN_OR_RETURN(manager->load_duration_,
                         m->AddGauge({.name = "ferry_model_load_duration_seconds",
                                      .help = "Time to load and warm up a model version",
                                      .label_names = mv}));
  FERRY_ASSIGN_OR_RETURN(
      manager->load_failures_,
      m->AddCounter({.name = "ferry_model_load_failures_total",
                     .help = "Failed model (re)loads; the old version kept serving",
                     .label_names = {"model"}}));
  FERRY_ASSIGN_OR_RETURN(manager->shadow_requests_,
                         m->AddCounter({.name = "ferry_inference_shadow_requests_total",
                                        .help = "Requests copied to a shadow version",
                                        .label_names = mv}));
  for (auto& model : models) FERRY_RETURN_IF_ERROR(manager->AddModel(std::move(model)));
  ModelManager* raw = manager.get();
  manager->collector_id_ =
      m->AddCollector([raw](std::vector<monitoring::FamilySnapshot>& out) { raw->Collect(out); });
  return manager;
}

ModelManager::~ModelManager() {
  Drain();
  if (collector_id_ != 0) options_.metrics->RemoveCollector(collector_id_);
}

absl::Status ModelManager::AddModel(ServedModelOptions options) {
  if (options.source == nullptr) return absl::InvalidArgumentError("served model without a source");
  auto model = std::make_shared<ServedModel>();
  model->options = std::move(options);
  if (model->options.traffic.empty())
    model->options.traffic.emplace_back(model->options.source->DefaultRef(), 100);
  std::unique_lock lock(models_mu_);
  if (models_.contains(model->options.name))
    return absl::AlreadyExistsError(
        absl::StrCat("model '", model->options.name, "' is already served"));
  models_[model->options.name] = std::move(model);
  return absl::OkStatus();
}

void ModelManager::SetRepository(std::shared_ptr<const repository::ModelRepository> repository,
                                 ServedModelOptions defaults) {
  repository_ = std::move(repository);
  repository_defaults_ = std::move(defaults);
}

std::vector<std::shared_ptr<ModelManager::ServedModel>> ModelManager::AllModels() const {
  std::shared_lock lock(models_mu_);
  std::vector<std::shared_ptr<ServedModel>> models;
  for (const auto& [name, model] : models_) models.push_back(model);
  return models;
}

std::shared_ptr<ModelManager::ServedModel> ModelManager::Find(const std::string& name) const {
  std::shared_lock lock(models_mu_);
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : it->second;
}

absl::Status ModelManager::LoadAll() {
  std::vector<std::shared_ptr<ServedModel>> models = AllModels();
  absl::Status first = absl::OkStatus();
  for (auto& model : models) {
    absl::Status status = Reload(*model);
    if (!status.ok() && first.ok()) first = status;
  }
  return first;
}

absl::StatusOr<std::shared_ptr<ModelManager::LoadedVersion>> ModelManager::LoadVersion(
    ServedModel& model, const ResolvedVersion& resolved) {
  int64_t start_us = options_.clock->MonotonicMicros();
  auto loaded = std::make_shared<LoadedVersion>();
  loaded->version = resolved.version;
  loaded->path = resolved.path;
  loaded->config = resolved.config;
  loaded->format = resolved.format;
  if (loaded->format.empty()) {
    FERRY_ASSIGN_OR_RETURN(loaded->format, DetectModelFormat(resolved.path));
  }
  LoadSpec spec{.model_name = model.options.name,
                .version = resolved.version,
                .path = resolved.path,
                .threads = model.options.model_threads};
  batching::BatcherOptions batching = model.options.batching;
  if (resolved.config) {
    const auto& c = *resolved.config;
    spec.parameters = c.parameters;
    // A config file governs its model, as in Triton: max_batch_size 0 or no
    // dynamic_batching block means every request executes on its own.
    batching.max_batch_size = c.dynamic_batching_enabled ? c.max_batch_size : 0;
    batching.preferred_batch_sizes.clear();
    if (c.dynamic_batching_enabled) {
      batching.preferred_batch_sizes = c.preferred_batch_sizes;
      batching.max_queue_delay_us = c.max_queue_delay_us;
      if (c.max_queue_size > 0) batching.max_queue_size = static_cast<int64_t>(c.max_queue_size);
      if (c.priority_levels > 0) {
        batching.priority_levels = c.priority_levels;
        batching.default_priority_level = c.default_priority_level;
      }
      batching.default_timeout_us = static_cast<int64_t>(c.default_timeout_us);
    }
    batching.instances = std::max(1, c.instance_count);
  }
  batching.clock = options_.clock;
  FERRY_ASSIGN_OR_RETURN(loaded->backend, options_.backends->Create(loaded->format, spec));
  FERRY_RETURN_IF_ERROR(loaded->backend->Warmup());
  loaded->metadata = loaded->backend->metadata();
  loaded->metadata.max_batch_size = 0;  // the batcher enforces max_batch_size
  ModelBackend* backend = loaded->backend.get();
  FERRY_ASSIGN_OR_RETURN(loaded->batcher,
                         batching::DynamicBatcher::Create(
                             batching, [backend](std::span<const Tensor> inputs,
                                                 std::span<const RequestedOutput> outputs) {
                               return backend->Execute(inputs, outputs);
                             }));
  loaded->batching = batching;
  loaded->load_seconds = (options_.clock->MonotonicMicros() - start_us) / 1e6;
  std::string_view labels[] = {model.options.name, loaded->version};
  load_duration_->WithLabels(labels).Set(loaded->load_seconds);
  loaded->success = &request_success_->WithLabels(labels);
  loaded->duration = &request_duration_->WithLabels(labels);
  spdlog::info("model {} version {} loaded from {} ({}, {:.1f} ms)", model.options.name,
               loaded->version, loaded->path, loaded->format, loaded->load_seconds * 1000);
  return loaded;
}

absl::Status ModelManager::Reload(ServedModel& model) {
  std::lock_guard load_lock(model.load_mu);
  auto current = model.Snapshot();
  auto fail = [&](absl::Status status) {
    std::string_view labels[] = {model.options.name};
    load_failures_->WithLabels(labels).Increment();
    spdlog::error("model {} ({}): load failed, {}: {}", model.options.name,
                  model.options.source->Describe(),
                  current ? "the loaded version keeps serving" : "not serving", status.ToString());
    std::lock_guard lock(model.state_mu);
    model.last_error = std::string(status.message());
    if (!model.state) model.status = "UNAVAILABLE";
    return status;
  };
  // Resolve every ref first: nothing changes unless all resolve.
  std::map<std::string, ResolvedVersion> by_ref;
  std::vector<std::string> refs;
  for (const auto& [ref, weight] : model.options.traffic) refs.push_back(ref);
  if (!model.options.shadow_ref.empty()) refs.push_back(model.options.shadow_ref);
  for (const auto& ref : refs) {
    if (by_ref.contains(ref)) continue;
    auto resolved = model.options.source->Resolve(ref);
    if (!resolved.ok()) return fail(resolved.status());
    by_ref[ref] = std::move(*resolved);
  }
  auto next = std::make_shared<ServingState>();
  for (const auto& [ref, resolved] : by_ref) next->resolved[ref] = resolved.version;
  if (current && current->resolved == next->resolved) return absl::OkStatus();  // nothing moved

  for (const auto& [ref, resolved] : by_ref) {
    if (next->versions.contains(resolved.version)) continue;
    if (current && current->versions.contains(resolved.version)) {
      next->versions[resolved.version] = current->versions.at(resolved.version);
      continue;
    }
    auto loaded = LoadVersion(model, resolved);
    if (!loaded.ok()) return fail(loaded.status());
    next->versions[resolved.version] = *loaded;
  }
  TrafficPolicy policy;
  std::map<std::string, uint32_t> weights;
  for (const auto& [ref, weight] : model.options.traffic) weights[next->resolved[ref]] += weight;
  uint32_t best = 0;
  for (const auto& [version, weight] : weights) {
    policy.splits.push_back({.version = version, .weight = weight});
    if (weight > best || next->default_version.empty()) {
      if (weight > best) best = weight;
      next->default_version = version;
    }
  }
  if (!model.options.shadow_ref.empty()) {
    next->shadow_version = next->resolved[model.options.shadow_ref];
    policy.shadow_version = next->shadow_version;
  }
  auto router = TrafficRouter::Create(policy);
  if (!router.ok()) return fail(router.status());
  next->router = std::shared_ptr<TrafficRouter>(std::move(*router));

  std::vector<std::shared_ptr<LoadedVersion>> retired;
  if (current) {
    for (const auto& [version, loaded] : current->versions)
      if (!next->versions.contains(version)) retired.push_back(loaded);
  }
  std::weak_ptr<const ServingState> old_state = current;
  std::vector<std::string> served;
  for (const auto& [version, w] : weights) served.push_back(absl::StrCat(version, ":", w));
  {
    std::lock_guard lock(model.state_mu);
    model.state = next;
    model.status = "READY";
    model.last_error.clear();
    model.unloaded = false;
  }
  spdlog::info("model {}: serving versions [{}]{}", model.options.name, absl::StrJoin(served, ", "),
               next->shadow_version.empty() ? "" : " shadow " + next->shadow_version);
  current.reset();
  Retire(old_state, std::move(retired));
  return absl::OkStatus();
}

// Waits until no request still holds the old state (requests hold it only
// while enqueueing), then drains and unloads the retired versions.
void ModelManager::Retire(std::weak_ptr<const ServingState> old_state,
                          std::vector<std::shared_ptr<LoadedVersion>> retired) {
  while (!old_state.expired()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  for (auto& loaded : retired) {
    loaded->batcher->Stop();
    spdlog::info("version {} drained and unloaded", loaded->version);
  }
}

void ModelManager::StartPolling() {
  if (options_.poll_interval_ms <= 0 || poll_thread_.joinable()) return;
  poll_thread_ = std::thread([this] { PollLoop(); });
}

void ModelManager::PollLoop() {
  std::unique_lock lock(poll_mu_);
  while (!stop_polling_) {
    poll_cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms));
    if (stop_polling_) break;
    lock.unlock();
    std::vector<std::shared_ptr<ServedModel>> models = AllModels();
    for (auto& model : models) {
      {
        std::lock_guard state_lock(model->state_mu);
        if (model->unloaded) continue;
      }
      (void)Reload(*model);  // errors are logged and counted
    }
    lock.lock();
  }
}

void ModelManager::Drain() {
  {
    std::lock_guard lock(poll_mu_);
    stop_polling_ = true;
  }
  poll_cv_.notify_all();
  if (poll_thread_.joinable()) poll_thread_.join();
  if (draining_.exchange(true)) return;
  std::vector<std::shared_ptr<ServedModel>> models = AllModels();
  for (auto& model : models) {
    auto state = model->Snapshot();
    if (!state) continue;
    for (auto& [version, loaded] : state->versions) loaded->batcher->Stop();
  }
}

bool ModelManager::Live() const { return true; }

bool ModelManager::Ready() const {
  if (draining_.load()) return false;
  std::shared_lock lock(models_mu_);
  for (const auto& [name, model] : models_) {
    std::lock_guard state_lock(model->state_mu);
    if (!model->unloaded && model->state == nullptr) return false;
  }
  return true;
}

ServerMetadata ModelManager::GetServerMetadata() const {
  return ServerMetadata{.name = "ferry",
                        .version = options_.server_version,
                        .extensions = {"classification", "model_repository", "model_configuration",
                                       "statistics", "binary_tensor_data"}};
}

namespace {

absl::Status UnknownModel(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("Request for unknown model: '", name, "' is not found"));
}

}  // namespace

absl::StatusOr<ModelMetadataView> ModelManager::GetModelMetadata(const std::string& name,
                                                                 const std::string& version) const {
  auto model = Find(name);
  if (!model) return UnknownModel(name);
  auto state = model->Snapshot();
  if (!state) return absl::UnavailableError(absl::StrCat("model '", name, "' is not ready"));
  std::string v = version.empty() ? state->default_version : version;
  auto it = state->versions.find(v);
  if (it == state->versions.end())
    return absl::NotFoundError(
        absl::StrCat("Request for unknown model: '", name, "' version ", v, " is not found"));
  ModelMetadataView view{.name = name, .metadata = it->second->metadata};
  for (const auto& [ver, loaded] : state->versions) view.versions.push_back(ver);
  return view;
}

bool ModelManager::ModelReady(const std::string& name, const std::string& version) const {
  if (draining_.load()) return false;
  auto model = Find(name);
  if (!model) return false;
  auto state = model->Snapshot();
  if (!state) return false;
  return version.empty() || state->versions.contains(version);
}

absl::StatusOr<json> ModelManager::GetModelConfig(const std::string& name,
                                                  const std::string& version) const {
  auto model = Find(name);
  if (!model) return UnknownModel(name);
  auto state = model->Snapshot();
  if (!state) return absl::UnavailableError(absl::StrCat("model '", name, "' is not ready"));
  std::string v = version.empty() ? state->default_version : version;
  auto it = state->versions.find(v);
  if (it == state->versions.end())
    return absl::NotFoundError(absl::StrCat("model '", name, "' version ", v, " is not loaded"));
  const LoadedVersion& lv = *it->second;
  const auto& b = lv.batching;
  bool batched = b.max_batch_size > 0;
  json config = lv.config ? repository::ToTritonConfigJson(*lv.config) : json::object();
  config["name"] = name;
  if (!config.contains("platform") || config["platform"] == "")
    config["platform"] = lv.metadata.platform;
  if (!config.contains("backend") || config["backend"] == "") config["backend"] = lv.format;
  config["max_batch_size"] = b.max_batch_size;
  json inputs = json::array(), outputs = json::array();
  for (const auto& s : lv.backend->metadata().inputs)
    inputs.push_back(TensorConfigJson(s, batched));
  for (const auto& s : lv.backend->metadata().outputs)
    outputs.push_back(TensorConfigJson(s, batched));
  config["input"] = inputs;
  config["output"] = outputs;
  if (batched) {
    config["dynamic_batching"] = {{"preferred_batch_size", b.preferred_batch_sizes},
                                  {"max_queue_delay_microseconds", b.max_queue_delay_us},
                                  {"priority_levels", b.priority_levels},
                                  {"default_priority_level", b.default_priority_level},
                                  {"default_queue_policy",
                                   {{"max_queue_size", b.max_queue_size},
                                    {"default_timeout_microseconds", b.default_timeout_us}}}};
  }
  config["instance_group"] =
      json::array({{{"name", name}, {"kind", "KIND_CPU"}, {"count", b.instances}}});
  return config;
}

absl::StatusOr<json> ModelManager::GetModelStatistics(const std::string& name,
                                                      const std::string& version) const {
  std::vector<std::shared_ptr<ServedModel>> models;
  if (name.empty()) {
    models = AllModels();
  } else {
    auto model = Find(name);
    if (!model) return UnknownModel(name);
    models.push_back(model);
  }
  json stats = json::array();
  for (const auto& model : models) {
    auto state = model->Snapshot();
    if (!state) continue;
    for (const auto& [v, lv] : state->versions) {
      if (!version.empty() && v != version) continue;
      batching::BatcherStats s = lv->batcher->Stats();
      int64_t failures = 0;
      for (const auto& [reason, count] : s.failure_count) failures += count;
      int64_t per_exec = s.execution_count > 0 ? s.compute_us_total / s.execution_count : 0;
      json batch_stats = json::array();
      for (const auto& [size, count] : s.batch_size_count) {
        batch_stats.push_back({{"batch_size", size},
                               {"compute_input", Duration(count, 0)},
                               {"compute_infer", Duration(count, per_exec * count)},
                               {"compute_output", Duration(count, 0)}});
      }
      stats.push_back(
          {{"name", model->options.name},
           {"version", v},
           {"last_inference", lv->last_inference_ms.load()},
           {"inference_count", s.inference_count},
           {"execution_count", s.execution_count},
           {"inference_stats",
            {{"success", Duration(s.success_count, s.queue_us_total + s.compute_us_total)},
             {"fail", Duration(failures, 0)},
             {"queue", Duration(s.success_count, s.queue_us_total)},
             {"compute_input", Duration(s.execution_count, 0)},
             {"compute_infer", Duration(s.execution_count, s.compute_us_total)},
             {"compute_output", Duration(s.execution_count, 0)},
             {"cache_hit", Duration(0, 0)},
             {"cache_miss", Duration(0, 0)}}},
           {"batch_stats", batch_stats}});
    }
  }
  return json{{"model_stats", stats}};
}

std::vector<RepositoryEntry> ModelManager::RepositoryIndex(bool ready_only) const {
  std::vector<RepositoryEntry> entries;
  std::set<std::string> served;
  for (const auto& model : AllModels()) {
    const std::string& name = model->options.name;
    served.insert(name);
    std::lock_guard state_lock(model->state_mu);
    if (model->unloaded) {
      if (!ready_only)
        entries.push_back({.name = name, .state = "UNAVAILABLE", .reason = "unloaded"});
      continue;
    }
    if (model->state) {
      for (const auto& [version, loaded] : model->state->versions)
        entries.push_back(
            {.name = name, .version = version, .state = "READY", .reason = model->last_error});
    } else if (!ready_only) {
      entries.push_back({.name = name, .state = model->status, .reason = model->last_error});
    }
  }
  // Directory listing outside models_mu_: it reads the disk.
  if (repository_ && !ready_only) {
    auto listed = repository_->ListModels();
    if (listed.ok()) {
      for (const auto& name : *listed)
        if (!served.contains(name))
          entries.push_back({.name = name, .state = "UNAVAILABLE", .reason = "not loaded"});
    }
  }
  return entries;
}

absl::Status ModelManager::LoadModel(const std::string& name) {
  auto model = Find(name);
  if (!model) {
    if (!repository_) return UnknownModel(name);
    FERRY_RETURN_IF_ERROR(repository_->Load(name).status());
    ServedModelOptions options = repository_defaults_;
    options.name = name;
    FERRY_ASSIGN_OR_RETURN(options.source, CreateRepositorySource(repository_, name));
    absl::Status added = AddModel(std::move(options));
    if (!added.ok() && !absl::IsAlreadyExists(added)) return added;
    model = Find(name);
  }
  {
    std::lock_guard lock(model->state_mu);
    model->unloaded = false;
  }
  return Reload(*model);
}

absl::Status ModelManager::UnloadModel(const std::string& name) {
  auto model = Find(name);
  if (!model) return UnknownModel(name);
  std::lock_guard load_lock(model->load_mu);
  std::shared_ptr<const ServingState> old;
  {
    std::lock_guard lock(model->state_mu);
    old = std::move(model->state);
    model->state = nullptr;
    model->unloaded = true;
    model->status = "UNAVAILABLE";
  }
  if (!old) return absl::OkStatus();
  std::vector<std::shared_ptr<LoadedVersion>> retired;
  for (auto& [v, loaded] : old->versions) retired.push_back(loaded);
  std::weak_ptr<const ServingState> weak = old;
  old.reset();
  Retire(weak, std::move(retired));
  return absl::OkStatus();
}

// The hook needs the inputs after the batcher consumed the request; null
// when no inference log is configured.
std::shared_ptr<ModelManager::LogInputs> ModelManager::LogInputsOf(
    const InferRequest& request) const {
  if (options_.inference_log == nullptr) return nullptr;
  return std::make_shared<LogInputs>(LogInputs{request.id, request.inputs});
}

void ModelManager::Finish(const ServedModel& model, const LoadedVersion& loaded, int64_t start_us,
                          LogInputs* logged, absl::StatusOr<InferResponse> result,
                          const InferCallback& done, std::string_view route) {
  int64_t latency_us = options_.clock->MonotonicMicros() - start_us;
  if (result.ok()) {
    loaded.success->Increment();
    loaded.duration->Observe(latency_us / 1e6);
    result->model_name = model.options.name;
    result->model_version = loaded.version;
  } else {
    std::string_view labels[] = {model.options.name, loaded.version,
                                 FailureReason(result.status())};
    request_failure_->WithLabels(labels).Increment();
  }
  if (logged != nullptr) {
    monitoring::InferenceRecord record{.id = std::move(logged->id),
                                       .model = model.options.name,
                                       .version = loaded.version,
                                       .inputs = std::move(logged->inputs),
                                       .latency_us = latency_us,
                                       .timestamp_ms = options_.clock->NowMillis(),
                                       .route = std::string(route),
                                       .ok = result.ok()};
    if (result.ok()) record.outputs = result->outputs;
    options_.inference_log->TryPush(std::move(record));
  }
  if (done) done(std::move(result));
}

void ModelManager::Infer(InferRequest request, InferCallback done) {
  if (draining_.load()) return done(absl::UnavailableError("server is draining"));
  auto model = Find(request.model_name);
  if (!model) return done(UnknownModel(request.model_name));
  auto state = model->Snapshot();
  if (!state)
    return done(
        absl::UnavailableError(absl::StrCat("model '", request.model_name, "' is not ready")));
  if (request.id.empty()) request.id = NewUuid();
  std::string version;
  std::string shadow;
  std::string_view route = "primary";
  if (!request.model_version.empty()) {
    version = request.model_version;
    if (!state->versions.contains(version))
      return done(
          absl::NotFoundError(absl::StrCat("Request for unknown model: '", request.model_name,
                                           "' version ", version, " is not found")));
  } else if (state->versions.size() == 1 && state->shadow_version.empty()) {
    version = state->default_version;  // one version: nothing to route
  } else {
    auto choice = state->router->Choose(request.route_key.empty() ? request.id : request.route_key);
    version = choice.version;
    if (choice.shadow_version) shadow = *choice.shadow_version;
    if (version != state->default_version) route = "canary";
  }
  const auto& loaded = state->versions.at(version);
  if (absl::Status valid = CheckInputs(loaded->metadata, request); !valid.ok()) {
    std::string_view labels[] = {model->options.name, version, "invalid"};
    request_failure_->WithLabels(labels).Increment();
    return done(valid);
  }
  // Triton's classification extension: remembered here, applied to the answer.
  std::shared_ptr<std::vector<RequestedOutput>> classify;
  for (const auto& output : request.outputs) {
    auto count = ClassificationCount(output);
    if (!count.ok()) return done(count.status());
    if (count->has_value())
      classify = std::make_shared<std::vector<RequestedOutput>>(request.outputs);
  }
  if (classify) {
    done = [classify, done = std::move(done)](absl::StatusOr<InferResponse> result) {
      if (result.ok()) {
        if (absl::Status s = ApplyClassification(*classify, *result); !s.ok()) result = s;
      }
      done(std::move(result));
    };
  }
  int64_t start_us = options_.clock->MonotonicMicros();
  loaded->last_inference_ms.store(options_.clock->NowMillis());
  if (!shadow.empty() && shadow != version && state->versions.contains(shadow)) {
    const auto& shadow_loaded = state->versions.at(shadow);
    if (CheckInputs(shadow_loaded->metadata, request).ok()) {
      std::string_view labels[] = {model->options.name, shadow};
      shadow_requests_->WithLabels(labels).Increment();
      std::shared_ptr<LogInputs> logged = LogInputsOf(request);
      // Raw pointers: a version's callbacks all run before its batcher's
      // Stop() returns, and Retire() keeps the version alive until then.
      shadow_loaded->batcher->Enqueue(request, [this, model, lv = shadow_loaded.get(), start_us,
                                                logged](absl::StatusOr<InferResponse> result) {
        Finish(*model, *lv, start_us, logged.get(), std::move(result), nullptr, "shadow");
      });
    }
  }
  std::shared_ptr<LogInputs> logged = LogInputsOf(request);
  loaded->batcher->Enqueue(
      std::move(request), [this, model, lv = loaded.get(), start_us, logged, route,
                           done = std::move(done)](absl::StatusOr<InferResponse> result) {
        Finish(*model, *lv, start_us, logged.get(), std::move(result), done, route);
      });
}

void ModelManager::Collect(std::vector<monitoring::FamilySnapshot>& out) const {
  monitoring::FamilySnapshot count{.name = "ferry_inference_count_total",
                                   .help = "Inferences (rows) executed",
                                   .type = monitoring::MetricType::kCounter};
  monitoring::FamilySnapshot exec{.name = "ferry_inference_exec_count_total",
                                  .help = "Model executions (batches)",
                                  .type = monitoring::MetricType::kCounter};
  monitoring::FamilySnapshot queue{.name = "ferry_inference_queue_duration_us_total",
                                   .help = "Cumulative time requests waited in the queue",
                                   .type = monitoring::MetricType::kCounter};
  monitoring::FamilySnapshot compute{.name = "ferry_inference_compute_duration_us_total",
                                     .help = "Cumulative model execution time",
                                     .type = monitoring::MetricType::kCounter};
  monitoring::FamilySnapshot pending{.name = "ferry_inference_pending_request_count",
                                     .help = "Requests queued or executing",
                                     .type = monitoring::MetricType::kGauge};
  monitoring::FamilySnapshot batch{.name = "ferry_inference_batch_size",
                                   .help = "Rows per model execution",
                                   .type = monitoring::MetricType::kHistogram};
  monitoring::FamilySnapshot dropped{
      .name = "ferry_inference_log_dropped_total",
      .help = "Inference records the monitoring hook dropped (queue full)",
      .type = monitoring::MetricType::kCounter};
  static const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256};
  std::vector<std::shared_ptr<ServedModel>> models = AllModels();
  for (const auto& model : models) {
    auto state = model->Snapshot();
    if (!state) continue;
    for (const auto& [v, lv] : state->versions) {
      std::vector<std::pair<std::string, std::string>> labels = {{"model", model->options.name},
                                                                 {"version", v}};
      batching::BatcherStats s = lv->batcher->Stats();
      count.samples.push_back({.labels = labels, .value = double(s.inference_count)});
      exec.samples.push_back({.labels = labels, .value = double(s.execution_count)});
      queue.samples.push_back({.labels = labels, .value = double(s.queue_us_total)});
      compute.samples.push_back({.labels = labels, .value = double(s.compute_us_total)});
      pending.samples.push_back({.labels = labels, .value = double(lv->batcher->pending())});
      std::vector<uint64_t> buckets(kBatchBounds.size() + 1, 0);
      double sum = 0;
      for (const auto& [size, n] : s.batch_size_count) {
        size_t i = std::lower_bound(kBatchBounds.begin(), kBatchBounds.end(), double(size)) -
                   kBatchBounds.begin();
        buckets[i] += n;
        sum += double(size) * n;
      }
      monitoring::AppendHistogramSamples(labels, kBatchBounds, buckets, sum, batch);
    }
  }
  if (options_.inference_log != nullptr)
    dropped.samples.push_back({.value = double(options_.inference_log->dropped())});
  for (auto* f : {&count, &exec, &queue, &compute, &pending, &batch, &dropped})
    out.push_back(std::move(*f));
}

}  // namespace ferry::serving
