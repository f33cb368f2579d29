#ifndef FERRY_SERVING_BACKEND_H_
#define FERRY_SERVING_BACKEND_H_

// ModelBackend: one loaded model version that can execute batches. The
// scheduler (batching/) and the model manager only see this interface, so a
// Python worker backend (sklearn / pyfunc) or LibTorch slots in by adding a
// factory to BackendRegistry, without touching scheduling or transport.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/serving/tensor.h"
#include "nlohmann/json.hpp"

namespace ferry::serving {

// One input or output of a model. shape uses -1 for a variable dimension;
// for batching models dims[0] is the batch dimension and is -1.
struct TensorSpec {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
  // True when the input is optional (MLflow signature "required": false).
  bool optional = false;
};

// What V2 metadata and the config/signature checks report.
struct ModelMetadata {
  std::string platform;  // e.g. "xgboost"
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Largest batch (dim 0 rows) one Execute() accepts; 0 = no batching, the
  // model takes unbatched tensors.
  int64_t max_batch_size = 0;
};

// Everything a backend needs to load one version.
struct LoadSpec {
  std::string model_name;
  std::string version;
  // Local directory holding the version's files: a Triton-style
  // <repo>/<model>/<version>/ directory or a downloaded MLflow model
  // directory (with an MLmodel file).
  std::string path;
  // Backend parameters from the model config (e.g. {"nthread": "2"}).
  std::map<std::string, std::string> parameters;
  // Threads the backend may use inside one Execute() (0: backend default).
  int threads = 1;
};

// A loaded model version. Thread safety: metadata() is safe from any thread;
// Execute() may be called concurrently from up to `instances` scheduler
// threads (implementations serialise internally if they must).
class ModelBackend {
 public:
  virtual ~ModelBackend() = default;

  virtual const ModelMetadata& metadata() const = 0;

  // Runs a few synthetic requests so the first real one does not pay for
  // lazy initialisation. Called once after load, before traffic switches.
  virtual absl::Status Warmup() = 0;

  // Executes one batch. `inputs` already passed CheckInputs() and are
  // concatenated along dim 0 across requests. `outputs` lists the outputs
  // wanted (empty: all). Returns outputs whose dim 0 equals the inputs' dim 0.
  // InvalidArgument for data the model rejects; Internal for backend faults.
  virtual absl::StatusOr<std::vector<Tensor>> Execute(std::span<const Tensor> inputs,
                                                      std::span<const RequestedOutput> outputs) = 0;
};

// Validates a request's inputs against the metadata: every required input
// present, no unknown name, datatype equal, shape compatible (-1 matches
// any), element data consistent. InvalidArgument names the input. Also
// checks requested output names.
absl::Status CheckInputs(const ModelMetadata& metadata, const InferRequest& request);

// Factory per model format ("xgboost", ...). Not thread-safe while
// registering; Create() is thread-safe.
class BackendRegistry {
 public:
  using Factory = std::function<absl::StatusOr<std::unique_ptr<ModelBackend>>(const LoadSpec&)>;
  void Register(std::string format, Factory factory);
  // NotFound for an unknown format.
  absl::StatusOr<std::unique_ptr<ModelBackend>> Create(const std::string& format,
                                                       const LoadSpec& spec) const;
  // A registry with every backend compiled into this binary.
  static const BackendRegistry& Default();

 private:
  std::map<std::string, Factory> factories_;
};

}  // namespace ferry::serving

#endif  // FERRY_SERVING_BACKEND_H_
