#ifndef FERRY_SERVING_BACKENDS_MLMODEL_H_
#define FERRY_SERVING_BACKENDS_MLMODEL_H_

// Reader for the `MLmodel` file at the root of an MLflow model directory:
// which flavors it has, where the xgboost flavor keeps its model file, and
// the signature mapped to V2 tensor specs. Only what Ferry's backends need is
// read; every other key is ignored.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/serving/backend.h"

namespace ferry::serving {

inline constexpr std::string_view kMlmodelFileName = "MLmodel";

struct MlflowModelInfo {
  // Keys under `flavors`, in file order (e.g. {"python_function", "xgboost"}).
  std::vector<std::string> flavors;
  // flavors.xgboost.data: the model file, relative to the model directory.
  // Empty when there is no xgboost flavor.
  std::string xgboost_data;
  // flavors.xgboost.model_format ("xgb", "json", "ubj", ...). Informational:
  // the xgboost backend sniffs the file content. Empty when absent.
  std::string xgboost_format;
  // flavors.xgboost.model_class (e.g. "xgboost.sklearn.XGBClassifier").
  std::string model_class;
  // signature.inputs / signature.outputs; nullopt when the MLmodel has no
  // signature or the field is null.
  //   Column-based: one spec per column, shape [-1], optional = !required;
  //   an unnamed column i is "input-<i>" ("output-<i>" for outputs).
  //   Tensor-based: the tensor-spec's dtype and shape; unnamed tensors are
  //   "input-0", "input-1", ... ("output-0", ... for outputs).
  std::optional<std::vector<TensorSpec>> signature_inputs;
  std::optional<std::vector<TensorSpec>> signature_outputs;
  // True when signature_inputs is column-based (a DataFrame schema).
  bool column_signature = false;

  bool HasFlavor(std::string_view name) const;
};

// Reads `<dir>/MLmodel`. NotFound when the file does not exist;
// InvalidArgument naming the file and the field when it is malformed (bad
// YAML, `flavors` missing or not a map, xgboost flavor without `data`,
// signature JSON that does not parse, an unknown or unsupported MLflow type
// such as "array" or "datetime64[ns]").
absl::StatusOr<MlflowModelInfo> ReadMlflowModel(const std::string& dir);

// Parses MLmodel YAML text; `source` names it in error messages.
absl::StatusOr<MlflowModelInfo> ParseMlflowModel(std::string_view yaml, std::string_view source);

// Maps an MLflow column type ("double", "long", ...) or a numpy dtype name
// ("float32", "<U10", "object", ...) to a V2 datatype; nullopt if unknown.
std::optional<DataType> MlflowColumnType(std::string_view type);
std::optional<DataType> NumpyDtype(std::string_view dtype);

}  // namespace ferry::serving

#endif  // FERRY_SERVING_BACKENDS_MLMODEL_H_
