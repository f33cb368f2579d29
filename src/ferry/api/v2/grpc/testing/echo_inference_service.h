#ifndef FERRY_API_V2_GRPC_TESTING_ECHO_INFERENCE_SERVICE_H_
#define FERRY_API_V2_GRPC_TESTING_ECHO_INFERENCE_SERVICE_H_

// Test double for serving::InferenceService: one model, "echo" (version
// "1"), that returns input i as output "OUTPUT<i>" with the same datatype,
// shape and bytes. Used by grpc_server_test.cc and the manual
// grpc_echo_server tool; header-only so no production library carries it.
//
// Fault injection through request parameters:
//   "fail_code" (int64): fail with that absl::StatusCode.
//   "hold" (bool): complete only after Release() (tests graceful shutdown).
// With Options::async_completion callbacks run on one completion thread
// (joined by the destructor); otherwise inline inside Infer().

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ferry/serving/inference_service.h"

namespace ferry::api::v2::testing {

class EchoInferenceService : public serving::InferenceService {
 public:
  struct Options {
    bool async_completion = false;
  };

  EchoInferenceService() : EchoInferenceService(Options{}) {}
  explicit EchoInferenceService(Options options) : options_(options) {}

  ~EchoInferenceService() override {
    Release();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (completer_.joinable()) completer_.join();
  }

  static constexpr const char* kModel = "echo";

  bool Live() const override { return true; }
  bool Ready() const override { return true; }
  serving::ServerMetadata GetServerMetadata() const override {
    return {.name = "ferry", .version = "0.1.0", .extensions = {"model_repository", "statistics"}};
  }

  absl::StatusOr<serving::ModelMetadataView> GetModelMetadata(
      const std::string& name, const std::string& version) const override {
    if (!Known(name, version)) return NotFound(name);
    serving::ModelMetadataView view{.name = name, .versions = {"1"}};
    view.metadata.platform = "ferry_echo";
    view.metadata.max_batch_size = 8;
    view.metadata.inputs = {
        {.name = "INPUT0", .datatype = serving::DataType::kFp32, .shape = {-1, 4}}};
    view.metadata.outputs = {
        {.name = "OUTPUT0", .datatype = serving::DataType::kFp32, .shape = {-1, 4}}};
    return view;
  }

  bool ModelReady(const std::string& name, const std::string& version) const override {
    return Known(name, version);
  }

  absl::StatusOr<nlohmann::json> GetModelConfig(const std::string& name,
                                                const std::string& version) const override {
    if (!Known(name, version)) return NotFound(name);
    return nlohmann::json::parse(R"({
      "name": "echo", "platform": "", "backend": "ferry_echo", "max_batch_size": 8,
      "version_policy": {"latest": {"num_versions": 1}},
      "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "format": "FORMAT_NONE",
                 "dims": [4], "is_shape_tensor": false, "allow_ragged_batch": false,
                 "optional": false}],
      "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [4],
                  "label_filename": "", "is_shape_tensor": false}],
      "dynamic_batching": {"preferred_batch_size": [4, 8], "max_queue_delay_microseconds": 100,
                           "preserve_ordering": false, "priority_levels": 2,
                           "default_priority_level": 1,
                           "default_queue_policy": {"timeout_action": "REJECT",
                                                    "default_timeout_microseconds": 0,
                                                    "allow_timeout_override": true,
                                                    "max_queue_size": 64},
                           "priority_queue_policy": {}},
      "instance_group": [{"name": "echo_0", "kind": "KIND_CPU", "count": 2, "gpus": [],
                          "secondary_devices": [], "profile": [], "passive": false,
                          "host_policy": ""}],
      "optimization": {"priority": "PRIORITY_DEFAULT"},
      "default_model_filename": "",
      "parameters": {"nthread": {"string_value": "2"}},
      "model_warmup": []
    })");
  }

  absl::StatusOr<nlohmann::json> GetModelStatistics(const std::string& name,
                                                    const std::string& version) const override {
    if (!name.empty() && !Known(name, version)) return NotFound(name);
    const uint64_t n = successes_.load();
    auto duration = [](uint64_t count, uint64_t ns) {
      return nlohmann::json{{"count", count}, {"ns", ns}};
    };
    nlohmann::json stats = {
        {"name", "echo"},
        {"version", "1"},
        {"last_inference", n == 0 ? 0 : 1700000000000ULL},
        {"inference_count", n},
        {"execution_count", n},
        {"inference_stats",
         {{"success", duration(n, 1000 * n)},
          {"fail", duration(failures_.load(), 0)},
          {"queue", duration(n, 100 * n)},
          {"compute_input", duration(n, 10 * n)},
          {"compute_infer", duration(n, 500 * n)},
          {"compute_output", duration(n, 10 * n)},
          {"cache_hit", duration(0, 0)},
          {"cache_miss", duration(0, 0)}}},
        {"batch_stats", nlohmann::json::array({{{"batch_size", 1},
                                                {"compute_input", duration(n, 10 * n)},
                                                {"compute_infer", duration(n, 500 * n)},
                                                {"compute_output", duration(n, 10 * n)}}})},
        {"memory_usage", nlohmann::json::array()}};
    return nlohmann::json{{"model_stats", nlohmann::json::array({stats})}};
  }

  std::vector<serving::RepositoryEntry> RepositoryIndex(bool ready_only) const override {
    std::vector<serving::RepositoryEntry> entries = {{"echo", "1", "READY", ""}};
    if (!ready_only) entries.push_back({"broken", "1", "UNAVAILABLE", "load failed"});
    return entries;
  }

  absl::Status LoadModel(const std::string& name) override {
    return name == kModel ? absl::OkStatus() : NotFound(name);
  }
  absl::Status UnloadModel(const std::string& name) override {
    return name == kModel ? absl::OkStatus() : NotFound(name);
  }

  void Infer(serving::InferRequest request, serving::InferCallback done) override {
    const nlohmann::json& params = request.parameters;
    const bool hold = params.is_object() && params.value("hold", false);
    std::unique_lock<std::mutex> lock(mu_);
    last_request_ = request;
    if (!options_.async_completion && !hold) {
      lock.unlock();
      Complete({std::move(request), std::move(done)});
      return;
    }
    if (!completer_.joinable()) completer_ = std::thread([this] { RunCompleter(); });
    if (hold && !released_) {
      held_.push_back({std::move(request), std::move(done)});
    } else {
      ready_.push_back({std::move(request), std::move(done)});
    }
    cv_.notify_all();
  }

  // Blocks until `n` "hold" requests are parked inside the service.
  void WaitForHeld(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return held_.size() >= n; });
  }
  // Lets every held (and future) "hold" request complete.
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    for (Pending& pending : held_) ready_.push_back(std::move(pending));
    held_.clear();
    cv_.notify_all();
  }

  serving::InferRequest last_request() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }

 private:
  static bool Known(const std::string& name, const std::string& version) {
    return name == kModel && (version.empty() || version == "1");
  }
  static absl::Status NotFound(const std::string& name) {
    return absl::NotFoundError(absl::StrCat("unknown model '", name, "'"));
  }

  struct Pending {
    serving::InferRequest request;
    serving::InferCallback done;
  };

  void Complete(Pending pending) {
    absl::StatusOr<serving::InferResponse> result = Echo(std::move(pending.request));
    (result.ok() ? successes_ : failures_).fetch_add(1);
    pending.done(std::move(result));
  }

  // One completion thread: async callbacks run off the caller's thread, in
  // queue order. Drains the queue before exiting.
  void RunCompleter() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
      if (ready_.empty()) return;
      Pending pending = std::move(ready_.front());
      ready_.pop_front();
      lock.unlock();
      Complete(std::move(pending));
      lock.lock();
    }
  }

  static absl::StatusOr<serving::InferResponse> Echo(serving::InferRequest request) {
    if (!Known(request.model_name, request.model_version)) return NotFound(request.model_name);
    if (request.parameters.is_object() && request.parameters.contains("fail_code")) {
      return absl::Status(static_cast<absl::StatusCode>(request.parameters["fail_code"].get<int>()),
                          "injected failure");
    }
    if (request.inputs.empty()) return absl::InvalidArgumentError("echo needs an input");
    serving::InferResponse response{.id = request.id, .model_name = "echo", .model_version = "1"};
    response.parameters = {{"echoed", true}, {"rows", request.BatchSize()}};
    for (size_t i = 0; i < request.inputs.size(); ++i) {
      serving::Tensor output = std::move(request.inputs[i]);
      output.name = absl::StrCat("OUTPUT", i);
      output.parameters = nullptr;
      bool wanted = request.outputs.empty();
      for (const auto& requested : request.outputs) wanted |= requested.name == output.name;
      if (wanted) response.outputs.push_back(std::move(output));
    }
    for (const auto& requested : request.outputs) {
      bool found = false;
      for (const auto& output : response.outputs) found |= output.name == requested.name;
      if (!found)
        return absl::InvalidArgumentError(absl::StrCat("unknown output '", requested.name, "'"));
    }
    return response;
  }

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread completer_;  // started by the first async request
  std::deque<Pending> ready_;
  std::vector<Pending> held_;
  serving::InferRequest last_request_;
  bool released_ = false;
  bool stopping_ = false;
  std::atomic<uint64_t> successes_{0};
  std::atomic<uint64_t> failures_{0};
};

}  // namespace ferry::api::v2::testing

#endif  // FERRY_API_V2_GRPC_TESTING_ECHO_INFERENCE_SERVICE_H_
