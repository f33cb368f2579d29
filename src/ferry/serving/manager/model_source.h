#ifndef FERRY_SERVING_MANAGER_MODEL_SOURCE_H_
#define FERRY_SERVING_MANAGER_MODEL_SOURCE_H_

// Where served model versions come from (TF Serving's "source" role): a
// source turns a reference ("@champion", "3", "" = default) into a concrete
// version whose files are on local disk. The ModelManager polls sources and
// loads what they resolve to.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/serving/repository/model_repository.h"

namespace ferry::serving {

struct ResolvedVersion {
  std::string version;  // e.g. "3"
  std::string path;     // local directory with the version's files
  std::string format;   // backend format ("xgboost"); empty: detect from files
  // The model's Triton-style config when it came from a repository.
  std::optional<repository::RepositoryModelConfig> config;
};

class ModelSource {
 public:
  virtual ~ModelSource() = default;
  // Human-readable origin for logs and the repository index.
  virtual std::string Describe() const = 0;
  // The reference used when no traffic policy names one.
  virtual std::string DefaultRef() const = 0;
  // Resolves `ref` and makes its files local (downloading if needed).
  // Thread-compatible: the manager calls it from one thread at a time.
  virtual absl::StatusOr<ResolvedVersion> Resolve(const std::string& ref) = 0;
};

// A model in a Ferry / MLflow registry: refs are "@alias" or a version
// number. Files are fetched through the tracking server's artifact proxy
// (mlflow-artifacts) into `cache_dir/<model>/<version>/` once per version.
struct RegistrySourceOptions {
  std::string tracking_uri;      // "http://127.0.0.1:5000"
  std::string registered_model;  // registry name
  std::string default_ref;       // "@champion" or "3"
  std::string cache_dir;         // local download cache (created if missing)
};
absl::StatusOr<std::unique_ptr<ModelSource>> CreateRegistrySource(
    const RegistrySourceOptions& options);

// A model in a Triton-style repository: refs are version numbers; the
// default ref is the newest version the version policy serves.
absl::StatusOr<std::unique_ptr<ModelSource>> CreateRepositorySource(
    std::shared_ptr<const repository::ModelRepository> repository, std::string model);

// Parses "NAME=models:/REG@ALIAS" or "NAME=models:/REG/VERSION" (NAME= may
// be omitted: the registered model's name is served). Returns (served name,
// registered model, ref).
struct ModelReference {
  std::string served_name;
  std::string registered_model;
  std::string ref;
};
absl::StatusOr<ModelReference> ParseModelReference(const std::string& spec);

}  // namespace ferry::serving

#endif  // FERRY_SERVING_MANAGER_MODEL_SOURCE_H_
