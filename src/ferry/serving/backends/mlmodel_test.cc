#include "ferry/serving/backends/mlmodel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ferry::serving {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kColumnModel[] = R"(artifact_path: model
flavors:
  python_function:
    data: model.xgb
    env:
      conda: conda.yaml
    loader_module: mlflow.xgboost
    python_version: 3.11.4
  xgboost:
    code: null
    data: model.xgb
    model_class: xgboost.sklearn.XGBClassifier
    model_format: xgb
    xgb_version: 3.2.0
mlflow_version: 2.20.0
model_uuid: 0f6a
signature:
  inputs: '[{"type": "double", "name": "f0", "required": true}, {"type": "long", "name":
    "f1", "required": false}, {"type": "boolean", "name": "f2", "required": true}, {"type":
    "string", "name": "f3", "required": true}, {"type": "integer", "name": "f4"},
    {"type": "float", "name": "f5"}, {"type": "binary", "name": "f6"}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
)";

TEST(MlmodelTest, ColumnSignature) {
  auto info = ParseMlflowModel(kColumnModel, "MLmodel");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->flavors, ElementsAre("python_function", "xgboost"));
  EXPECT_TRUE(info->HasFlavor("xgboost"));
  EXPECT_FALSE(info->HasFlavor("sklearn"));
  EXPECT_EQ(info->xgboost_data, "model.xgb");
  EXPECT_EQ(info->xgboost_format, "xgb");
  EXPECT_EQ(info->model_class, "xgboost.sklearn.XGBClassifier");
  EXPECT_TRUE(info->column_signature);
  ASSERT_TRUE(info->signature_inputs.has_value());
  const std::vector<TensorSpec>& in = *info->signature_inputs;
  ASSERT_EQ(in.size(), 7u);
  EXPECT_EQ(in[0].name, "f0");
  EXPECT_EQ(in[0].datatype, DataType::kFp64);
  EXPECT_THAT(in[0].shape, ElementsAre(-1));
  EXPECT_FALSE(in[0].optional);
  EXPECT_EQ(in[1].datatype, DataType::kInt64);
  EXPECT_TRUE(in[1].optional);
  EXPECT_EQ(in[2].datatype, DataType::kBool);
  EXPECT_EQ(in[3].datatype, DataType::kBytes);
  EXPECT_EQ(in[4].datatype, DataType::kInt32);
  EXPECT_FALSE(in[4].optional);  // "required" absent: required (older MLflow)
  EXPECT_EQ(in[5].datatype, DataType::kFp32);
  EXPECT_EQ(in[6].datatype, DataType::kBytes);
  ASSERT_TRUE(info->signature_outputs.has_value());
  ASSERT_EQ(info->signature_outputs->size(), 1u);
  EXPECT_EQ((*info->signature_outputs)[0].name, "output-0");
  EXPECT_EQ((*info->signature_outputs)[0].datatype, DataType::kInt64);
}

TEST(MlmodelTest, TensorSignatureNamesUnnamedTensors) {
  auto info = ParseMlflowModel(R"(flavors:
  xgboost: {data: model.ubj, model_format: ubj}
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 30]}},
    {"type": "tensor", "tensor-spec": {"dtype": "<U10", "shape": [-1]}},
    {"type": "tensor", "name": "ids", "tensor-spec": {"dtype": "int64", "shape": [-1, 2]}}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
)",
                               "MLmodel");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_FALSE(info->column_signature);
  const std::vector<TensorSpec>& in = *info->signature_inputs;
  ASSERT_EQ(in.size(), 3u);
  EXPECT_EQ(in[0].name, "input-0");
  EXPECT_EQ(in[0].datatype, DataType::kFp32);
  EXPECT_THAT(in[0].shape, ElementsAre(-1, 30));
  EXPECT_EQ(in[1].name, "input-1");
  EXPECT_EQ(in[1].datatype, DataType::kBytes);
  EXPECT_EQ(in[2].name, "ids");
  EXPECT_EQ(in[2].datatype, DataType::kInt64);
  EXPECT_EQ((*info->signature_outputs)[0].name, "output-0");
  EXPECT_EQ((*info->signature_outputs)[0].datatype, DataType::kFp64);
}

TEST(MlmodelTest, NoSignatureAndNoXgboostFlavor) {
  auto info = ParseMlflowModel("flavors:\n  sklearn: {pickled_model: model.pkl}\n", "MLmodel");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->flavors, ElementsAre("sklearn"));
  EXPECT_TRUE(info->xgboost_data.empty());
  EXPECT_FALSE(info->signature_inputs.has_value());
  EXPECT_FALSE(info->signature_outputs.has_value());
  EXPECT_FALSE(info->column_signature);

  auto null_signature = ParseMlflowModel(
      "flavors:\n  xgboost: {data: m.json}\nsignature:\n  inputs: null\n", "MLmodel");
  ASSERT_TRUE(null_signature.ok()) << null_signature.status();
  EXPECT_FALSE(null_signature->signature_inputs.has_value());
  EXPECT_TRUE(null_signature->xgboost_format.empty());
}

struct MalformedCase {
  const char* yaml;
  const char* field;
};

TEST(MlmodelTest, MalformedFilesNameTheField) {
  const MalformedCase cases[] = {
      {"artifact_path: model\n", "flavors"},
      {"flavors: [a, b]\n", "flavors"},
      {"flavors:\n  xgboost: {model_format: xgb}\n", "flavors.xgboost.data"},
      {"flavors:\n  xgboost: {data: [1, 2]}\n", "flavors.xgboost.data"},
      {"flavors: {xgboost: {data: m}}\nsignature:\n  inputs: 'not json'\n", "signature.inputs"},
      {"flavors: {xgboost: {data: m}}\nsignature:\n  inputs: '{\"type\": \"double\"}'\n",
       "signature.inputs"},
      {"flavors: {xgboost: {data: m}}\nsignature:\n  inputs: '[{\"name\": \"x\"}]'\n",
       "signature.inputs[0].type"},
      {"flavors: {xgboost: {data: m}}\nsignature:\n  inputs: '[{\"type\": \"double\"}, "
       "{\"type\": \"datetime\", \"name\": \"t\"}]'\n",
       "signature.inputs[1].type"},
      {"flavors: {xgboost: {data: m}}\nsignature:\n  inputs: '[{\"type\": \"array\", "
       "\"items\": {\"type\": \"double\"}}]'\n",
       "signature.inputs[0].type"},
      {"flavors: {xgboost: {data: m}}\nsignature:\n  outputs: '[{\"type\": \"tensor\"}]'\n",
       "signature.outputs[0].tensor-spec"},
      {"flavors: {xgboost: {data: m}}\nsignature:\n  inputs: '[{\"type\": \"tensor\", "
       "\"tensor-spec\": {\"dtype\": \"datetime64[ns]\", \"shape\": [-1]}}]'\n",
       "signature.inputs[0].tensor-spec.dtype"},
      {"flavors: {xgboost: {data: m}}\nsignature:\n  inputs: '[{\"type\": \"tensor\", "
       "\"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1, \"x\"]}}]'\n",
       "signature.inputs[0].tensor-spec.shape"},
      {"flavors: {xgboost: {data: m}}\nsignature:\n  inputs: '[{\"type\": \"tensor\", "
       "\"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1]}}, {\"type\": \"double\"}]'\n",
       "mixes tensor and column"},
      {"flavors: {xgboost: {data: m}}\nsignature:\n  inputs: '[{\"type\": \"double\", "
       "\"required\": \"yes\"}]'\n",
       "signature.inputs[0].required"},
      {"flavors: {xgboost: {data: m}\n", "MLmodel"},  // bad YAML
  };
  for (const MalformedCase& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto info = ParseMlflowModel(c.yaml, "/models/x/MLmodel");
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(info.status().message(), HasSubstr("/models/x/MLmodel"));
    EXPECT_THAT(info.status().message(), HasSubstr(c.field));
  }
}

TEST(MlmodelTest, DtypeMapping) {
  EXPECT_EQ(NumpyDtype("float32"), DataType::kFp32);
  EXPECT_EQ(NumpyDtype("<f8"), DataType::kFp64);
  EXPECT_EQ(NumpyDtype("float16"), DataType::kFp16);
  EXPECT_EQ(NumpyDtype("uint8"), DataType::kUint8);
  EXPECT_EQ(NumpyDtype("int32"), DataType::kInt32);
  EXPECT_EQ(NumpyDtype("bool"), DataType::kBool);
  EXPECT_EQ(NumpyDtype("object"), DataType::kBytes);
  EXPECT_EQ(NumpyDtype("str"), DataType::kBytes);
  EXPECT_EQ(NumpyDtype("<U10"), DataType::kBytes);
  EXPECT_EQ(NumpyDtype("|S5"), DataType::kBytes);
  EXPECT_EQ(NumpyDtype("datetime64[ns]"), std::nullopt);
  EXPECT_EQ(NumpyDtype("U1x"), std::nullopt);
  EXPECT_EQ(MlflowColumnType("double"), DataType::kFp64);
  EXPECT_EQ(MlflowColumnType("boolean"), DataType::kBool);
  EXPECT_EQ(MlflowColumnType("datetime"), std::nullopt);
}

TEST(MlmodelTest, ReadFromDirectory) {
  std::string pattern = (std::filesystem::temp_directory_path() / "ferry_mlmodel_XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::filesystem::path dir = pattern;
  EXPECT_EQ(ReadMlflowModel(dir.string()).status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir / "MLmodel") << kColumnModel;
  auto info = ReadMlflowModel(dir.string());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->xgboost_data, "model.xgb");
  std::ofstream(dir / "MLmodel") << "flavors: 3\n";
  auto bad = ReadMlflowModel(dir.string());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr((dir / "MLmodel").string()));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry::serving
