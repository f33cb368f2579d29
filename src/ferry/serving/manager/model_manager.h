#ifndef FERRY_SERVING_MANAGER_MODEL_MANAGER_H_
#define FERRY_SERVING_MANAGER_MODEL_MANAGER_H_

// ModelManager: the serving core behind both V2 frontends. For every served
// name it keeps an immutable ServingState (the loaded versions, each with its
// backend and dynamic batcher, and the traffic router between them) and
// publishes a new one atomically when a source resolves differently:
//
//   poll / POST .../load -> resolve refs -> load new versions beside the old
//   -> warm up -> publish the new state -> wait until no request holds the
//   old state -> drain the old batchers -> unload.
//
// A failed resolve or load leaves the current state serving and records the
// error (log line, ferry_model_load_failures_total, repository index).
// Requests take a snapshot of the state for the duration of Infer() only, so
// a switch never fails a request: a request either enqueued on the old
// version (which drains before unloading) or sees the new one.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/monitoring/inference_log.h"
#include "ferry/monitoring/prometheus.h"
#include "ferry/serving/backend.h"
#include "ferry/serving/batching/batch_queue.h"
#include "ferry/serving/inference_service.h"
#include "ferry/serving/manager/model_source.h"

namespace ferry::serving {

struct ServedModelOptions {
  std::string name;  // the name clients use in /v2/models/{name}
  std::shared_ptr<ModelSource> source;
  // Weighted refs (e.g. {"@champion", 90}, {"@challenger", 10}); empty:
  // the source's default ref takes all traffic.
  std::vector<std::pair<std::string, uint32_t>> traffic;
  // Ref of a shadow version: gets a copy of every request; its answer is
  // recorded in the inference log, never returned. Empty: none.
  std::string shadow_ref;
  // Batching for every version. A repository model with a config file takes
  // max_batch_size, dynamic_batching and instance_group from it instead
  // (Triton semantics: no dynamic_batching block = no batching).
  batching::BatcherOptions batching;
  int model_threads = 1;  // threads one Execute() may use
};

struct ModelManagerOptions {
  // How often sources are re-resolved (alias moves); 0 disables polling.
  int64_t poll_interval_ms = 5000;
  // Header whose value routes a request stickily (empty: none). When absent
  // on a request, the request id is hashed.
  const BackendRegistry* backends = nullptr;          // required
  monitoring::Registry* metrics = nullptr;            // required
  monitoring::InferenceLog* inference_log = nullptr;  // optional monitoring hook
  std::string server_version;
  Clock* clock = Clock::Real();
};

class ModelManager final : public InferenceService {
 public:
  static absl::StatusOr<std::unique_ptr<ModelManager>> Create(
      const ModelManagerOptions& options, std::vector<ServedModelOptions> models);
  ~ModelManager() override;

  // Loads every served model once. Returns the first error; models that
  // failed stay UNAVAILABLE (and are retried by polling).
  absl::Status LoadAll();
  // Starts the polling thread (if poll_interval_ms > 0).
  void StartPolling();
  // Stops polling, refuses new requests (Unavailable "draining"), drains
  // every batcher. Idempotent.
  void Drain();

  // Adds a model from a repository at runtime (repository load extension);
  // AlreadyExists if the name is served.
  absl::Status AddModel(ServedModelOptions model);
  void SetRepository(std::shared_ptr<const repository::ModelRepository> repository,
                     ServedModelOptions defaults);

  // InferenceService.
  bool Live() const override;
  bool Ready() const override;
  ServerMetadata GetServerMetadata() const override;
  absl::StatusOr<ModelMetadataView> GetModelMetadata(const std::string& name,
                                                     const std::string& version) const override;
  bool ModelReady(const std::string& name, const std::string& version) const override;
  absl::StatusOr<nlohmann::json> GetModelConfig(const std::string& name,
                                                const std::string& version) const override;
  absl::StatusOr<nlohmann::json> GetModelStatistics(const std::string& name,
                                                    const std::string& version) const override;
  std::vector<RepositoryEntry> RepositoryIndex(bool ready_only) const override;
  absl::Status LoadModel(const std::string& name) override;
  absl::Status UnloadModel(const std::string& name) override;
  void Infer(InferRequest request, InferCallback done) override;

  struct ServedModel;
  struct LoadedVersion;
  struct ServingState;

 private:
  explicit ModelManager(const ModelManagerOptions& options);
  std::shared_ptr<ServedModel> Find(const std::string& name) const;
  std::vector<std::shared_ptr<ServedModel>> AllModels() const;
  absl::Status Reload(ServedModel& model);
  absl::StatusOr<std::shared_ptr<LoadedVersion>> LoadVersion(ServedModel& model,
                                                             const ResolvedVersion& resolved);
  void Retire(std::weak_ptr<const ServingState> old_state,
              std::vector<std::shared_ptr<LoadedVersion>> retired);
  void PollLoop();
  void Collect(std::vector<monitoring::FamilySnapshot>& out) const;
  // What the inference log keeps of a request (moved into its record).
  struct LogInputs {
    std::string id;
    std::vector<Tensor> inputs;
  };
  std::shared_ptr<LogInputs> LogInputsOf(const InferRequest& request) const;
  void Finish(const ServedModel& model, const LoadedVersion& loaded, int64_t start_us,
              LogInputs* logged, absl::StatusOr<InferResponse> result, const InferCallback& done,
              std::string_view route);

  const ModelManagerOptions options_;
  mutable std::shared_mutex models_mu_;
  std::map<std::string, std::shared_ptr<ServedModel>> models_;  // guarded by models_mu_
  std::shared_ptr<const repository::ModelRepository> repository_;
  ServedModelOptions repository_defaults_;

  std::atomic<bool> draining_{false};
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stop_polling_ = false;  // guarded by poll_mu_
  std::thread poll_thread_;
  int64_t collector_id_ = 0;

  // Metric families (owned by options_.metrics).
  monitoring::CounterFamily* request_success_ = nullptr;
  monitoring::CounterFamily* request_failure_ = nullptr;
  monitoring::HistogramFamily* request_duration_ = nullptr;
  monitoring::GaugeFamily* load_duration_ = nullptr;
  monitoring::CounterFamily* load_failures_ = nullptr;
  monitoring::CounterFamily* shadow_requests_ = nullptr;
};

}  // namespace ferry::serving

#endif  // FERRY_SERVING_MANAGER_MODEL_MANAGER_H_
