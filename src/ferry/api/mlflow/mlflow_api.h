#ifndef FERRY_API_MLFLOW_MLFLOW_API_H_
#define FERRY_API_MLFLOW_MLFLOW_API_H_

// The MLflow-compatible REST edge: registers MLflow's tracking, logged-model
// and artifact-proxy routes under /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/
// on a Router. Thin: JSON in, TrackingService / ArtifactStore call, JSON out;
// absl::Status is mapped to MLflow's {"error_code", "message"} in one place
// (StatusToResponse).

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ferry/artifacts/artifact_store.h"
#include "ferry/http/router.h"
#include "ferry/tracking/service.h"

namespace ferry::api::mlflow {

struct MlflowApiOptions {
  tracking::TrackingService* tracking = nullptr;  // not owned; required
  artifacts::ArtifactStore* artifacts = nullptr;  // not owned; required
  std::string version;                            // reported by /version
};

class MlflowApi {
 public:
  static absl::StatusOr<std::unique_ptr<MlflowApi>> Create(const MlflowApiOptions& options);
  ~MlflowApi();
  // Adds every route. The handlers point into this object: it must outlive
  // any server using `router`.
  void RegisterRoutes(http::Router* router);

  class Impl;

 private:
  explicit MlflowApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// MLflow's error body and HTTP status for a non-OK status:
//   InvalidArgument -> 400 INVALID_PARAMETER_VALUE, NotFound -> 404
//   RESOURCE_DOES_NOT_EXIST, AlreadyExists -> 400 RESOURCE_ALREADY_EXISTS,
//   FailedPrecondition -> 400 INVALID_PARAMETER_VALUE (as MLflow reports a
//   write to a deleted run), PermissionDenied -> 403
//   PERMISSION_DENIED, Unauthenticated -> 401 UNAUTHENTICATED,
//   ResourceExhausted -> 429 REQUEST_LIMIT_EXCEEDED, Unimplemented -> 501
//   NOT_IMPLEMENTED, anything else -> 500 INTERNAL_ERROR.
http::Response StatusToResponse(const absl::Status& status);

}  // namespace ferry::api::mlflow

#endif  // FERRY_API_MLFLOW_MLFLOW_API_H_
