#ifndef FERRY_SERVING_BACKENDS_DETECT_H_
#define FERRY_SERVING_BACKENDS_DETECT_H_

#include <string>

#include "absl/status/statusor.h"

namespace ferry::serving {

// The BackendRegistry format that can serve the model directory `dir`:
// "xgboost" when `dir/MLmodel` has an xgboost flavor or, without an MLmodel,
// when an xgboost model file (model.json, model.ubj, ...) exists.
// Errors: NotFound when `dir` does not exist or holds no recognisable model;
// FailedPrecondition when the MLmodel's flavors have no backend in this
// build (the message lists them and the supported formats);
// InvalidArgument for a malformed MLmodel.
absl::StatusOr<std::string> DetectModelFormat(const std::string& dir);

}  // namespace ferry::serving

#endif  // FERRY_SERVING_BACKENDS_DETECT_H_
