#ifndef FERRY_SERVING_INFERENCE_SERVICE_H_
#define FERRY_SERVING_INFERENCE_SERVICE_H_

// The transport-neutral core both frontends (api/v2 REST and gRPC) call. A
// frontend only decodes, calls one of these, and encodes; status mapping to
// HTTP / gRPC codes happens once per frontend (api/v2/status.h).
//
// Status codes used: InvalidArgument (bad input, 400), NotFound (unknown
// model/version, 404), Unavailable (not ready, queue full, draining: 503,
// with retry_after_ms set when the queue is full), DeadlineExceeded (request
// timeout in queue, 504 in Triton terms... Triton answers 400 "Request
// timeout expired"; see api/v2), Internal (backend fault, 500).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/serving/backend.h"
#include "ferry/serving/tensor.h"
#include "nlohmann/json.hpp"

namespace ferry::serving {

struct ServerMetadata {
  std::string name = "ferry";
  std::string version;
  std::vector<std::string> extensions;
};

struct ModelMetadataView {
  std::string name;
  std::vector<std::string> versions;  // versions currently loaded
  ModelMetadata metadata;             // of the requested (or routed default) version
};

// One row of the repository index (Triton's model repository extension).
struct RepositoryEntry {
  std::string name;
  std::string version;
  std::string state;   // "READY", "LOADING", "UNAVAILABLE", "UNLOADING"
  std::string reason;  // last load error, if any
};

// Called exactly once, on any thread.
using InferCallback = std::function<void(absl::StatusOr<InferResponse>)>;

class InferenceService {
 public:
  virtual ~InferenceService() = default;

  virtual bool Live() const = 0;
  // Ready: every configured model has a version READY and the server is not
  // draining.
  virtual bool Ready() const = 0;
  virtual ServerMetadata GetServerMetadata() const = 0;

  // `version` empty: the served name's current default version.
  virtual absl::StatusOr<ModelMetadataView> GetModelMetadata(const std::string& name,
                                                             const std::string& version) const = 0;
  virtual bool ModelReady(const std::string& name, const std::string& version) const = 0;
  // Triton-shaped model config JSON (name, platform, max_batch_size, input,
  // output, dynamic_batching, instance_group, version_policy).
  virtual absl::StatusOr<nlohmann::json> GetModelConfig(const std::string& name,
                                                        const std::string& version) const = 0;
  // Triton-shaped statistics JSON ({"model_stats": [...]}); empty name: all.
  virtual absl::StatusOr<nlohmann::json> GetModelStatistics(const std::string& name,
                                                            const std::string& version) const = 0;

  virtual std::vector<RepositoryEntry> RepositoryIndex(bool ready_only) const = 0;
  // Loads (or reloads: re-resolves the alias / re-reads the repository) a
  // model; returns when the new version serves or the load failed (the old
  // version keeps serving then).
  virtual absl::Status LoadModel(const std::string& name) = 0;
  virtual absl::Status UnloadModel(const std::string& name) = 0;

  // Asynchronous inference: validates, routes (canary/shadow/sticky), queues
  // into the version's batcher; `done` runs when the batch finished or the
  // request failed. Never blocks on the model.
  virtual void Infer(InferRequest request, InferCallback done) = 0;
};

}  // namespace ferry::serving

#endif  // FERRY_SERVING_INFERENCE_SERVICE_H_
