#include "ferry/serving/backends/xgboost/xgboost_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ferry/serving/backends/detect.h"
#include "ferry/serving/backends/xgboost/forest.h"

namespace ferry::serving {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

#define XGB_CHECK(call) ASSERT_EQ((call), 0) << XGBGetLastError()

constexpr int kFeatures = 5;

struct BoosterFree {
  void operator()(void* handle) const { XGBoosterFree(handle); }
};
using Booster = std::unique_ptr<void, BoosterFree>;

// Deterministic feature matrix [rows, kFeatures] with a few NaNs.
std::vector<float> MakeRows(int rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> x(rows * kFeatures);
  for (float& v : x) v = dist(rng);
  for (int i = 7; i < rows * kFeatures; i += 23) x[i] = std::nanf("");
  return x;
}

struct TrainOptions {
  std::string objective = "binary:logistic";
  int num_class = 0;
  std::string booster = "gbtree";
  int rounds = 10;
  std::string base_score;  // empty: libxgboost default
  int max_depth = 4;
  int rows = 300;
  // Feature 2 holds category codes 0..5 and is declared categorical.
  bool categorical = false;
  std::vector<std::pair<std::string, std::string>> params;  // more booster parameters
};

bool StartsWith(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

Booster Train(const TrainOptions& options) {
  const int rows = options.rows;
  std::vector<float> x = MakeRows(rows, 1);
  if (options.categorical) {
    for (int r = 0; r < rows; ++r) {
      float& v = x[r * kFeatures + 2];
      if (!std::isnan(v)) v = std::floor((v + 2.0f) * 1.5f);
    }
  }
  std::vector<float> y(rows);
  for (int r = 0; r < rows; ++r) {
    const float a = std::isnan(x[r * kFeatures]) ? 0 : x[r * kFeatures];
    const float b = std::isnan(x[r * kFeatures + 1]) ? 0 : x[r * kFeatures + 1];
    float score = a + 0.5f * b + 0.1f * static_cast<float>(r % 7);
    if (options.categorical && !std::isnan(x[r * kFeatures + 2])) {
      score += static_cast<int>(x[r * kFeatures + 2]) % 2 == 0 ? 1.0f : -1.0f;
    }
    const std::string& objective = options.objective;
    if (StartsWith(objective, "multi:")) {
      y[r] = static_cast<float>((score > 0.5f) + (score > -0.5f));
    } else if (StartsWith(objective, "binary:")) {
      y[r] = score > 0 ? 1.0f : 0.0f;
    } else if (objective == "reg:logistic") {
      y[r] = 1.0f / (1.0f + std::exp(-score));
    } else if (objective == "count:poisson" || objective == "reg:tweedie") {
      y[r] = std::floor(std::exp(score));
    } else if (objective == "reg:gamma" || objective == "reg:squaredlogerror") {
      y[r] = std::exp(score);
    } else {
      y[r] = score;
    }
  }
  DMatrixHandle train = nullptr;
  EXPECT_EQ(XGDMatrixCreateFromMat(x.data(), rows, kFeatures, NAN, &train), 0);
  EXPECT_EQ(XGDMatrixSetFloatInfo(train, "label", y.data(), rows), 0);
  if (options.categorical) {
    const char* types[kFeatures] = {"q", "q", "c", "q", "q"};
    EXPECT_EQ(XGDMatrixSetStrFeatureInfo(train, "feature_type", types, kFeatures), 0)
        << XGBGetLastError();
  }
  BoosterHandle booster = nullptr;
  EXPECT_EQ(XGBoosterCreate(&train, 1, &booster), 0);
  XGBoosterSetParam(booster, "objective", options.objective.c_str());
  XGBoosterSetParam(booster, "booster", options.booster.c_str());
  XGBoosterSetParam(booster, "max_depth", std::to_string(options.max_depth).c_str());
  XGBoosterSetParam(booster, "seed", "7");
  XGBoosterSetParam(booster, "verbosity", "0");
  if (options.num_class > 0) {
    XGBoosterSetParam(booster, "num_class", std::to_string(options.num_class).c_str());
  }
  if (!options.base_score.empty()) {
    XGBoosterSetParam(booster, "base_score", options.base_score.c_str());
  }
  if (options.categorical) XGBoosterSetParam(booster, "tree_method", "hist");
  for (const auto& [key, value] : options.params) {
    EXPECT_EQ(XGBoosterSetParam(booster, key.c_str(), value.c_str()), 0) << XGBGetLastError();
  }
  for (int i = 0; i < options.rounds; ++i) {
    EXPECT_EQ(XGBoosterUpdateOneIter(booster, i, train), 0) << XGBGetLastError();
  }
  XGDMatrixFree(train);
  return Booster(booster);
}

// Predictions of `booster` itself for `x`, as the backend's "predict" bytes.
std::string Expected(void* booster, const std::vector<float>& x, bool inplace = true) {
  const int64_t rows = static_cast<int64_t>(x.size()) / kFeatures;
  const std::string array = "{\"data\":[" + std::to_string(reinterpret_cast<uintptr_t>(x.data())) +
                            ",true],\"shape\":[" + std::to_string(rows) + "," +
                            std::to_string(kFeatures) + "],\"typestr\":\"<f4\",\"version\":3}";
  const char* config = R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,)"
                       R"("strict_shape":false,"cache_id":0,"missing":NaN})";
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* out = nullptr;
  if (inplace) {
    EXPECT_EQ(
        XGBoosterPredictFromDense(booster, array.c_str(), config, nullptr, &shape, &dims, &out), 0)
        << XGBGetLastError();
  } else {
    DMatrixHandle dmatrix = nullptr;
    EXPECT_EQ(XGDMatrixCreateFromDense(array.c_str(), R"({"missing":NaN,"nthread":1})", &dmatrix),
              0);
    EXPECT_EQ(XGBoosterPredictFromDMatrix(booster, dmatrix, config, &shape, &dims, &out), 0)
        << XGBGetLastError();
    XGDMatrixFree(dmatrix);
  }
  size_t count = 1;
  for (bst_ulong i = 0; i < dims; ++i) count *= shape[i];
  return std::string(reinterpret_cast<const char*>(out), count * sizeof(float));
}

Tensor MatrixTensor(const std::vector<float>& x, std::string name = "input-0") {
  Tensor t{.name = std::move(name),
           .datatype = DataType::kFp32,
           .shape = {static_cast<int64_t>(x.size()) / kFeatures, kFeatures}};
  t.data.assign(reinterpret_cast<const char*>(x.data()), x.size() * sizeof(float));
  return t;
}

template <typename T>
std::vector<T> Values(const Tensor& tensor) {
  std::vector<T> out(tensor.data.size() / sizeof(T));
  std::memcpy(out.data(), tensor.data.data(), out.size() * sizeof(T));
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

class XgboostBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "ferry_xgb_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  // A fresh model directory under the test's temp root.
  fs::path NewDir() {
    fs::path dir = root_ / ("m" + std::to_string(next_++));
    fs::create_directories(dir);
    return dir;
  }

  absl::StatusOr<std::unique_ptr<ModelBackend>> Load(
      const fs::path& dir, std::map<std::string, std::string> params = {}) {
    return CreateXgboostBackend(LoadSpec{.model_name = "m",
                                         .version = "1",
                                         .path = dir.string(),
                                         .parameters = std::move(params),
                                         .threads = 1});
  }

  fs::path root_;
  int next_ = 0;
};

TEST_F(XgboostBackendTest, BinaryModelMatchesTrainedBoosterInEveryFileFormat) {
  Booster booster = Train({});
  const std::vector<float> x = MakeRows(64, 2);
  const std::string expected = Expected(booster.get(), x);
  for (const char* name : {"model.json", "model.ubj", "model.bst", "model.xgb", "xgboost.model"}) {
    SCOPED_TRACE(name);
    const fs::path dir = NewDir();
    XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / name).c_str()));
    if (std::string(name) == "model.bst") {
      EXPECT_EQ(ReadFile(dir / name).substr(0, 4), "binf");  // legacy binary
    }
    auto backend = Load(dir);
    ASSERT_TRUE(backend.ok()) << backend.status();
    const ModelMetadata& meta = (*backend)->metadata();
    EXPECT_EQ(meta.platform, "xgboost");
    EXPECT_EQ(meta.max_batch_size, kXgboostDefaultMaxBatchSize);
    ASSERT_EQ(meta.inputs.size(), 1u);
    EXPECT_EQ(meta.inputs[0].name, "input-0");
    EXPECT_EQ(meta.inputs[0].datatype, DataType::kFp32);
    EXPECT_THAT(meta.inputs[0].shape, ElementsAre(-1, kFeatures));
    ASSERT_EQ(meta.outputs.size(), 2u);
    EXPECT_EQ(meta.outputs[0].name, "predict");
    EXPECT_THAT(meta.outputs[0].shape, ElementsAre(-1));
    EXPECT_EQ(meta.outputs[1].name, "label");
    EXPECT_EQ(meta.outputs[1].datatype, DataType::kInt64);
    ASSERT_TRUE((*backend)->Warmup().ok());

    const Tensor input = MatrixTensor(x);
    auto out = (*backend)->Execute({&input, 1}, {});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), 2u);
    EXPECT_EQ((*out)[0].name, "predict");
    EXPECT_THAT((*out)[0].shape, ElementsAre(64));
    EXPECT_EQ((*out)[0].data, expected);
    const std::vector<float> probs = Values<float>((*out)[0]);
    const std::vector<int64_t> labels = Values<int64_t>((*out)[1]);
    ASSERT_EQ(labels.size(), 64u);
    for (size_t i = 0; i < labels.size(); ++i) EXPECT_EQ(labels[i], probs[i] >= 0.5f ? 1 : 0);
  }
}

TEST_F(XgboostBackendTest, MultiClassSoftprobHasMatrixOutputAndArgmaxLabels) {
  Booster booster = Train({.objective = "multi:softprob", .num_class = 3});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_THAT((*backend)->metadata().outputs[0].shape, ElementsAre(-1, 3));
  const std::vector<float> x = MakeRows(10, 3);
  const Tensor input = MatrixTensor(x);
  const RequestedOutput wanted[] = {{.name = "label"}, {.name = "predict"}};
  auto out = (*backend)->Execute({&input, 1}, wanted);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].name, "label");
  EXPECT_THAT((*out)[1].shape, ElementsAre(10, 3));
  EXPECT_EQ((*out)[1].data, Expected(booster.get(), x));
  const std::vector<float> probs = Values<float>((*out)[1]);
  const std::vector<int64_t> labels = Values<int64_t>((*out)[0]);
  for (int r = 0; r < 10; ++r) {
    const auto row = probs.begin() + r * 3;
    EXPECT_EQ(labels[r], std::max_element(row, row + 3) - row);
  }
}

TEST_F(XgboostBackendTest, MultiClassSoftmaxLabelIsThePredictedClass) {
  Booster booster = Train({.objective = "multi:softmax", .num_class = 3});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.ubj").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  const std::vector<float> x = MakeRows(10, 4);
  const Tensor input = MatrixTensor(x);
  auto out = (*backend)->Execute({&input, 1}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].data, Expected(booster.get(), x));
  const std::vector<float> classes = Values<float>((*out)[0]);
  const std::vector<int64_t> labels = Values<int64_t>((*out)[1]);
  for (int r = 0; r < 10; ++r) EXPECT_EQ(labels[r], static_cast<int64_t>(classes[r]));
}

TEST_F(XgboostBackendTest, RegressionHasNoLabelOutput) {
  Booster booster = Train({.objective = "reg:squarederror"});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  ASSERT_EQ((*backend)->metadata().outputs.size(), 1u);
  const std::vector<float> x = MakeRows(5, 5);
  const Tensor input = MatrixTensor(x);
  auto out = (*backend)->Execute({&input, 1}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].data, Expected(booster.get(), x));
  const RequestedOutput label[] = {{.name = "label"}};
  EXPECT_EQ((*backend)->Execute({&input, 1}, label).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(XgboostBackendTest, GblinearModelsPredictThroughADMatrix) {
  Booster booster = Train({.booster = "gblinear"});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_FALSE(XgboostUsesNativeEvaluator(**backend));
  std::vector<float> x = MakeRows(8, 6);
  for (float& v : x) v = std::isnan(v) ? 0.0f : v;  // gblinear treats missing as 0 anyway
  const Tensor input = MatrixTensor(x);
  auto out = (*backend)->Execute({&input, 1}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].data, Expected(booster.get(), x, /*inplace=*/false));
}

TEST_F(XgboostBackendTest, ConvertsFp64AndIntegerInputs) {
  Booster booster = Train({});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  std::vector<float> x = MakeRows(6, 7);
  for (float& v : x) v = std::isnan(v) ? 1.0f : std::round(v);  // representable as int
  Tensor fp64{.name = "input-0", .datatype = DataType::kFp64, .shape = {6, kFeatures}};
  Tensor i64{.name = "input-0", .datatype = DataType::kInt64, .shape = {6, kFeatures}};
  for (float v : x) {
    const double d = v;
    const int64_t i = static_cast<int64_t>(v);
    fp64.data.append(reinterpret_cast<const char*>(&d), sizeof(d));
    i64.data.append(reinterpret_cast<const char*>(&i), sizeof(i));
  }
  const std::string expected = Expected(booster.get(), x);
  for (const Tensor* input : {&fp64, &i64}) {
    auto out = (*backend)->Execute({input, 1}, {});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].data, expected);
  }
}

TEST_F(XgboostBackendTest, RejectsWrongFeatureCountNamingInputAndWidth) {
  Booster booster = Train({});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  Tensor input{.name = "input-0", .datatype = DataType::kFp32, .shape = {2, 4}};
  input.data.resize(8 * sizeof(float));
  auto out = (*backend)->Execute({&input, 1}, {});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("input-0"));
  EXPECT_THAT(out.status().message(), HasSubstr("expects 5"));

  Tensor short_data{.name = "input-0", .datatype = DataType::kFp64, .shape = {2, kFeatures}};
  short_data.data.resize(3);
  EXPECT_EQ((*backend)->Execute({&short_data, 1}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(XgboostBackendTest, ZeroRowsGiveEmptyOutputs) {
  Booster booster = Train({.objective = "multi:softprob", .num_class = 3});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  const Tensor input = MatrixTensor({});
  auto out = (*backend)->Execute({&input, 1}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT((*out)[0].shape, ElementsAre(0, 3));
  EXPECT_TRUE((*out)[0].data.empty());
  EXPECT_THAT((*out)[1].shape, ElementsAre(0));
}

// Rewrites learner_model_param.base_score in a JSON model text.
std::string WithBaseScore(std::string model_json, const std::string& value) {
  const std::string key = "\"base_score\":\"";
  const size_t begin = model_json.find(key);
  EXPECT_NE(begin, std::string::npos);
  const size_t end = model_json.find('"', begin + key.size());
  return model_json.replace(begin + key.size(), end - begin - key.size(), value);
}

// The same for a UBJSON model as libxgboost writes it: the value is
// 'S' 'L' <8-byte big-endian length> <bytes>.
std::string WithUbjBaseScore(std::string model_ubj, const std::string& value) {
  const std::string key = "base_scoreSL";
  const size_t begin = model_ubj.find(key);
  EXPECT_NE(begin, std::string::npos);
  const size_t length_at = begin + key.size();
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i)
    length = (length << 8) | static_cast<uint8_t>(model_ubj[length_at + i]);
  std::string encoded(8, '\0');
  for (int i = 0; i < 8; ++i) encoded[i] = static_cast<char>(value.size() >> (8 * (7 - i)));
  return model_ubj.replace(length_at, 8 + length, encoded + value);
}

TEST_F(XgboostBackendTest, BracketedBaseScoreOfNewerXgboostPredictsLikeScalar) {
  Booster booster = Train({.base_score = "0.466"});
  const fs::path saved = NewDir() / "model.json";
  XGB_CHECK(XGBoosterSaveModel(booster.get(), saved.c_str()));
  const std::string model = ReadFile(saved);
  const fs::path scalar_dir = NewDir();
  const fs::path bracket_dir = NewDir();
  const fs::path bracket_ubj_dir = NewDir();
  WriteFile(scalar_dir / "model.json", WithBaseScore(model, "4.66E-1"));
  WriteFile(bracket_dir / "model.json", WithBaseScore(model, "[4.66E-1]"));
  // The same in UBJSON, the format xgboost >= 2.1 writes by default.
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (bracket_ubj_dir / "model.ubj").c_str()));
  WriteFile(bracket_ubj_dir / "model.ubj",
            WithUbjBaseScore(ReadFile(bracket_ubj_dir / "model.ubj"), "[4.66E-1]"));

  const std::vector<float> x = MakeRows(32, 8);
  const Tensor input = MatrixTensor(x);
  auto scalar = Load(scalar_dir);
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  auto scalar_out = (*scalar)->Execute({&input, 1}, {});
  ASSERT_TRUE(scalar_out.ok()) << scalar_out.status();
  for (const fs::path& dir : {bracket_dir, bracket_ubj_dir}) {
    SCOPED_TRACE(dir.string());
    auto bracket = Load(dir);
    ASSERT_TRUE(bracket.ok()) << bracket.status();
    auto bracket_out = (*bracket)->Execute({&input, 1}, {});
    ASSERT_TRUE(bracket_out.ok()) << bracket_out.status();
    EXPECT_EQ((*bracket_out)[0].data, (*scalar_out)[0].data);
  }

  // Without the fix libxgboost 1.7 predicts differently: the test can fail.
  BoosterHandle raw = nullptr;
  XGB_CHECK(XGBoosterCreate(nullptr, 0, &raw));
  Booster raw_owner(raw);
  XGB_CHECK(XGBoosterLoadModel(raw, (bracket_dir / "model.json").c_str()));
  EXPECT_NE(Expected(raw, x), (*scalar_out)[0].data);
}

TEST_F(XgboostBackendTest, VectorBaseScore) {
  Booster booster = Train({.objective = "multi:softprob", .num_class = 3, .base_score = "0.25"});
  const fs::path saved = NewDir() / "model.json";
  XGB_CHECK(XGBoosterSaveModel(booster.get(), saved.c_str()));
  const std::string model = ReadFile(saved);

  const fs::path distinct = NewDir();
  WriteFile(distinct / "model.json", WithBaseScore(model, "[2E-1,3E-1,5E-1]"));
  auto rejected = Load(distinct);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(rejected.status().message(), HasSubstr("base_score"));

  const fs::path equal = NewDir();
  WriteFile(equal / "model.json", WithBaseScore(model, "[2.5E-1, 2.5E-1, 2.5E-1]"));
  auto accepted = Load(equal);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  const std::vector<float> x = MakeRows(4, 9);
  const Tensor input = MatrixTensor(x);
  auto out = (*accepted)->Execute({&input, 1}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].data, Expected(booster.get(), x));
}

TEST_F(XgboostBackendTest, MlflowColumnSignatureMatchesColumnsToFeatureNames) {
  Booster booster = Train({});
  const char* names[] = {"a", "b", "c", "d", "e"};
  XGB_CHECK(XGBoosterSetStrFeatureInfo(booster.get(), "feature_name", names, kFeatures));
  const fs::path dir = NewDir();
  // JSON content under MLflow's usual name: feature names survive only in
  // JSON / UBJSON, and the backend sniffs the content, not the extension.
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  fs::rename(dir / "model.json", dir / "model.xgb");
  // Columns listed in reverse order; "c" is optional.
  WriteFile(dir / "MLmodel", R"(flavors:
  python_function: {loader_module: mlflow.xgboost, data: model.xgb}
  xgboost: {data: model.xgb, model_format: xgb, model_class: xgboost.core.Booster}
signature:
  inputs: '[{"type": "double", "name": "e", "required": true}, {"type": "double", "name": "d", "required": true},
    {"type": "double", "name": "c", "required": false}, {"type": "long", "name": "b", "required": true},
    {"type": "float", "name": "a", "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}]'
)");
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  const ModelMetadata& meta = (*backend)->metadata();
  ASSERT_EQ(meta.inputs.size(), 5u);
  EXPECT_EQ(meta.inputs[0].name, "e");
  EXPECT_EQ(meta.inputs[0].datatype, DataType::kFp64);
  EXPECT_THAT(meta.inputs[0].shape, ElementsAre(-1));
  EXPECT_TRUE(meta.inputs[2].optional);
  EXPECT_EQ(meta.inputs[3].datatype, DataType::kInt64);
  EXPECT_EQ(meta.outputs[0].name, "predict");

  constexpr int kRows = 6;
  std::vector<float> x = MakeRows(kRows, 10);
  for (int r = 0; r < kRows; ++r) {
    x[r * kFeatures + 1] = std::round(std::isnan(x[r * kFeatures + 1]) ? 0 : x[r * kFeatures + 1]);
    x[r * kFeatures + 2] = std::nanf("");  // column "c" is not sent
  }
  std::vector<Tensor> inputs;
  for (int feature : {4, 3, 1, 0}) {
    Tensor column{.name = names[feature], .shape = {kRows}};
    for (int r = 0; r < kRows; ++r) {
      const float v = x[r * kFeatures + feature];
      if (feature == 1) {
        const int64_t i = static_cast<int64_t>(v);
        column.datatype = DataType::kInt64;
        column.data.append(reinterpret_cast<const char*>(&i), sizeof(i));
      } else if (feature == 0) {
        column.datatype = DataType::kFp32;
        column.data.append(reinterpret_cast<const char*>(&v), sizeof(v));
      } else {
        const double d = v;
        column.datatype = DataType::kFp64;
        column.data.append(reinterpret_cast<const char*>(&d), sizeof(d));
      }
    }
    inputs.push_back(std::move(column));
  }
  inputs[0].shape = {kRows, 1};  // [-1, 1] columns are accepted too
  auto out = (*backend)->Execute(inputs, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].data, Expected(booster.get(), x));

  inputs.pop_back();  // required "a" missing
  auto missing = (*backend)->Execute(inputs, {});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("'a'"));
}

TEST_F(XgboostBackendTest, MlflowColumnsWithoutFeatureNamesFollowSignatureOrder) {
  Booster booster = Train({});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.bst").c_str()));
  WriteFile(dir / "MLmodel", R"(flavors:
  xgboost: {data: model.bst}
signature:
  inputs: '[{"type": "float", "name": "p"}, {"type": "float", "name": "q"}, {"type": "float", "name": "r"},
    {"type": "float", "name": "s"}, {"type": "float", "name": "t"}]'
)");
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  const std::vector<float> x = MakeRows(3, 11);
  std::vector<Tensor> inputs;
  for (int f = 0; f < kFeatures; ++f) {
    Tensor column{.name = std::string(1, "pqrst"[f]), .datatype = DataType::kFp32, .shape = {3}};
    for (int r = 0; r < 3; ++r) {
      column.data.append(reinterpret_cast<const char*>(&x[r * kFeatures + f]), sizeof(float));
    }
    inputs.push_back(std::move(column));
  }
  auto out = (*backend)->Execute(inputs, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].data, Expected(booster.get(), x));
}

TEST_F(XgboostBackendTest, MlflowTensorSignature) {
  Booster booster = Train({});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "m.ubj").c_str()));
  WriteFile(dir / "MLmodel", R"(flavors:
  xgboost: {data: m.ubj, model_format: ubj}
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 5]}}]'
  outputs: null
)");
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  const TensorSpec& in = (*backend)->metadata().inputs.at(0);
  EXPECT_EQ(in.name, "input-0");
  EXPECT_EQ(in.datatype, DataType::kFp64);
  EXPECT_THAT(in.shape, ElementsAre(-1, kFeatures));

  WriteFile(dir / "MLmodel", R"(flavors:
  xgboost: {data: m.ubj}
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 6]}}]'
)");
  auto mismatch = Load(dir);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(mismatch.status().message(), HasSubstr("6 features"));
}

TEST_F(XgboostBackendTest, LoadErrors) {
  EXPECT_EQ(Load(root_ / "absent").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Load(NewDir()).status().code(), absl::StatusCode::kNotFound);

  const fs::path corrupt = NewDir();
  WriteFile(corrupt / "model.json", "{\"learner\": 3");
  auto status = Load(corrupt).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("model.json"));

  const fs::path escape = NewDir();
  WriteFile(escape / "MLmodel", "flavors:\n  xgboost: {data: ../model.json}\n");
  EXPECT_EQ(Load(escape).status().code(), absl::StatusCode::kInvalidArgument);

  const fs::path missing_data = NewDir();
  WriteFile(missing_data / "MLmodel", "flavors:\n  xgboost: {data: model.xgb}\n");
  EXPECT_EQ(Load(missing_data).status().code(), absl::StatusCode::kNotFound);

  Booster booster = Train({});
  const fs::path good = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (good / "model.json").c_str()));
  EXPECT_EQ(Load(good, {{"max_batch_size", "0"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Load(good, {{"nthread", "x"}}).status().code(), absl::StatusCode::kInvalidArgument);
  auto sized = Load(good, {{"max_batch_size", "128"}, {"nthread", "2"}});
  ASSERT_TRUE(sized.ok()) << sized.status();
  EXPECT_EQ((*sized)->metadata().max_batch_size, 128);
}

TEST_F(XgboostBackendTest, ConcurrentExecuteIsConsistent) {
  Booster booster = Train({.objective = "multi:softprob", .num_class = 3, .rounds = 20});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  constexpr int kThreads = 8;
  std::vector<std::vector<float>> rows;
  std::vector<std::string> expected;
  for (int t = 0; t < kThreads; ++t) {
    rows.push_back(MakeRows(1 + 9 * t, 100 + t));
    expected.push_back(Expected(booster.get(), rows.back()));
  }
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const Tensor input = MatrixTensor(rows[t]);
      for (int i = 0; i < 20; ++i) {
        auto out = (*backend)->Execute({&input, 1}, {});
        if (!out.ok() || (*out)[0].data != expected[t]) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(mismatches, ::testing::Each(0));
}

TEST_F(XgboostBackendTest, DetectModelFormat) {
  EXPECT_EQ(DetectModelFormat((root_ / "absent").string()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(DetectModelFormat(NewDir().string()).status().code(), absl::StatusCode::kNotFound);

  Booster booster = Train({});
  const fs::path plain = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (plain / "model.ubj").c_str()));
  EXPECT_EQ(DetectModelFormat(plain.string()).value_or(""), "xgboost");

  const fs::path sklearn = NewDir();
  WriteFile(sklearn / "MLmodel",
            "flavors:\n  python_function: {loader_module: mlflow.sklearn}\n"
            "  sklearn: {pickled_model: model.pkl}\n");
  auto status = DetectModelFormat(sklearn.string()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("[python_function, sklearn]"));
  EXPECT_THAT(status.message(), HasSubstr("supported: xgboost"));

  const fs::path mlflow = NewDir();
  WriteFile(mlflow / "MLmodel", "flavors:\n  xgboost: {data: model.xgb}\n");
  EXPECT_EQ(DetectModelFormat(mlflow.string()).value_or(""), "xgboost");
}

TEST_F(XgboostBackendTest, DefaultRegistryCreatesXgboost) {
  Booster booster = Train({});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = BackendRegistry::Default().Create(
      "xgboost", LoadSpec{.model_name = "m", .version = "1", .path = dir.string()});
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->metadata().platform, "xgboost");
  EXPECT_EQ(BackendRegistry::Default().Create("onnx", LoadSpec{}).status().code(),
            absl::StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------
// Native tree evaluator (forest.h): bit equality with libxgboost.

// Rows [rows, kFeatures] for bit-equality checks: uniform in [-3, 3] (the
// training data spans [-2, 2]), ~10% NaN, ~25% exactly on one of the
// feature's split thresholds or one float ulp either side.
std::vector<float> ThresholdRows(const Forest& forest, int rows, unsigned seed) {
  const std::vector<std::vector<float>> thresholds = forest.SplitThresholds();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-3.0f, 3.0f);
  std::vector<float> x(rows * kFeatures);
  for (int r = 0; r < rows; ++r) {
    for (int f = 0; f < kFeatures; ++f) {
      const std::vector<float>& values = thresholds[f];
      const unsigned percent = rng() % 100;
      float& v = x[r * kFeatures + f];
      if (percent < 10) {
        v = std::nanf("");
      } else if (percent < 35 && !values.empty()) {
        v = values[rng() % values.size()];
        const unsigned variant = rng() % 3;
        if (variant == 1) v = std::nextafter(v, -INFINITY);
        if (variant == 2) v = std::nextafter(v, INFINITY);
      } else {
        v = uniform(rng);
      }
    }
  }
  return x;
}

// Equal bytes; otherwise reports the first float that differs.
void ExpectSameBits(const std::string& expected, const std::string& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  if (std::memcmp(expected.data(), actual.data(), expected.size()) == 0) return;
  for (size_t i = 0; i * sizeof(float) < expected.size(); ++i) {
    uint32_t want = 0, got = 0;
    std::memcpy(&want, expected.data() + i * sizeof(float), sizeof(float));
    std::memcpy(&got, actual.data() + i * sizeof(float), sizeof(float));
    if (want != got) {
      float want_value = 0, got_value = 0;
      std::memcpy(&want_value, &want, sizeof(float));
      std::memcpy(&got_value, &got, sizeof(float));
      ADD_FAILURE() << "float " << i << ": libxgboost " << std::hexfloat << want_value
                    << ", native " << got_value;
      return;
    }
  }
}

struct NativeCase {
  std::string name;
  TrainOptions options;
};

void PrintTo(const NativeCase& c, std::ostream* os) { *os << c.name; }

class NativeEvaluatorTest : public XgboostBackendTest,
                            public ::testing::WithParamInterface<NativeCase> {};

TEST_P(NativeEvaluatorTest, BitIdenticalToLibxgboost) {
  Booster booster = Train(GetParam().options);
  absl::StatusOr<Forest> forest = Forest::FromBooster(booster.get());
  ASSERT_TRUE(forest.ok()) << forest.status();
  EXPECT_GE(forest->num_trees(), 30);

  constexpr int kRows = 2500;
  const std::vector<float> x = ThresholdRows(*forest, kRows, 21);
  const std::string expected = Expected(booster.get(), x);
  ASSERT_EQ(expected.size(), kRows * forest->width() * sizeof(float));
  std::string batch(expected.size(), '\0');
  ASSERT_TRUE(
      forest->Predict(x.data(), kRows, kFeatures, reinterpret_cast<float*>(batch.data())).ok());
  ExpectSameBits(expected, batch);
  // One row per call, as a server predicts.
  std::string single(expected.size(), '\0');
  for (int r = 0; r < kRows; ++r) {
    ASSERT_TRUE(forest
                    ->Predict(x.data() + r * kFeatures, 1, kFeatures,
                              reinterpret_cast<float*>(single.data()) + r * forest->width())
                    .ok());
  }
  ExpectSameBits(expected, single);

  // The backend verifies and uses it.
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_TRUE(XgboostUsesNativeEvaluator(**backend));
  const Tensor input = MatrixTensor(x);
  auto out = (*backend)->Execute({&input, 1}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectSameBits(expected, (*out)[0].data);
}

TrainOptions Deep(TrainOptions options) {
  options.rounds = std::max(options.rounds, 30);
  options.max_depth = 6;
  options.rows = 2000;
  return options;
}

INSTANTIATE_TEST_SUITE_P(
    Objectives, NativeEvaluatorTest,
    ::testing::Values(
        NativeCase{"BinaryLogistic", Deep({.objective = "binary:logistic"})},
        NativeCase{"BinaryLogisticBase0466",
                   Deep({.objective = "binary:logistic", .base_score = "0.466"})},
        NativeCase{"RegLogistic", Deep({.objective = "reg:logistic"})},
        NativeCase{"BinaryLogitraw", Deep({.objective = "binary:logitraw"})},
        NativeCase{"BinaryLogitrawBase0466",
                   Deep({.objective = "binary:logitraw", .base_score = "0.466"})},
        NativeCase{"BinaryHinge", Deep({.objective = "binary:hinge"})},
        NativeCase{"SquaredError", Deep({.objective = "reg:squarederror"})},
        NativeCase{"SquaredErrorBase0466",
                   Deep({.objective = "reg:squarederror", .base_score = "0.466"})},
        NativeCase{"SquaredLogError", Deep({.objective = "reg:squaredlogerror"})},
        NativeCase{"PseudoHuber", Deep({.objective = "reg:pseudohubererror"})},
        NativeCase{"AbsoluteError", Deep({.objective = "reg:absoluteerror"})},
        NativeCase{"Poisson", Deep({.objective = "count:poisson"})},
        NativeCase{"Gamma", Deep({.objective = "reg:gamma"})},
        NativeCase{"Tweedie", Deep({.objective = "reg:tweedie",
                                    .params = {{"tweedie_variance_power", "1.3"}}})},
        NativeCase{"Softprob3", Deep({.objective = "multi:softprob", .num_class = 3})},
        NativeCase{"Softprob3Base025",
                   Deep({.objective = "multi:softprob", .num_class = 3, .base_score = "0.25"})},
        NativeCase{"Softmax3", Deep({.objective = "multi:softmax", .num_class = 3})},
        NativeCase{"Softprob3ParallelTrees", Deep({.objective = "multi:softprob",
                                                   .num_class = 3,
                                                   .rounds = 10,
                                                   .params = {{"num_parallel_tree", "3"},
                                                              {"subsample", "0.8"},
                                                              {"colsample_bynode", "0.8"}}})},
        // The exact updater and pruning (gamma) leave deleted nodes.
        NativeCase{"ExactPruned", Deep({.objective = "binary:logistic",
                                        .params = {{"tree_method", "exact"}, {"gamma", "2"}}})},
        NativeCase{"HistLossguide", Deep({.objective = "reg:squarederror",
                                          .params = {{"tree_method", "hist"},
                                                     {"grow_policy", "lossguide"},
                                                     {"max_leaves", "40"}}})}),
    [](const ::testing::TestParamInfo<NativeCase>& info) { return info.param.name; });

TEST_F(XgboostBackendTest, NativeEvaluatorReadsTheFixedBracketedBaseScore) {
  Booster booster = Train(Deep({.objective = "binary:logistic", .base_score = "0.466"}));
  const fs::path saved = NewDir() / "model.json";
  XGB_CHECK(XGBoosterSaveModel(booster.get(), saved.c_str()));
  const fs::path dir = NewDir();
  WriteFile(dir / "model.json", WithBaseScore(ReadFile(saved), "[4.66E-1]"));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_TRUE(XgboostUsesNativeEvaluator(**backend));
  auto forest = Forest::FromBooster(booster.get());
  ASSERT_TRUE(forest.ok()) << forest.status();
  const std::vector<float> x = ThresholdRows(*forest, 2000, 22);
  const Tensor input = MatrixTensor(x);
  auto out = (*backend)->Execute({&input, 1}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectSameBits(Expected(booster.get(), x), (*out)[0].data);
}

TEST_F(XgboostBackendTest, CategoricalModelsKeepTheCApi) {
  Booster booster = Train({.rounds = 10, .categorical = true});
  absl::StatusOr<Forest> forest = Forest::FromBooster(booster.get());
  EXPECT_EQ(forest.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(forest.status().message(), HasSubstr("categorical"));

  // UBJSON: the JSON text of a categorical model holds NaN split conditions.
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.ubj").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_FALSE(XgboostUsesNativeEvaluator(**backend));
  std::vector<float> x = MakeRows(50, 12);
  for (int r = 0; r < 50; ++r) {
    float& v = x[r * kFeatures + 2];
    if (!std::isnan(v)) v = std::floor((v + 2.0f) * 1.5f);
  }
  const Tensor input = MatrixTensor(x);
  auto out = (*backend)->Execute({&input, 1}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].data, Expected(booster.get(), x));

  // JSON: NaN split conditions (not JSON) before learner_model_param.
  const fs::path json_dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (json_dir / "model.json").c_str()));
  auto from_json = Load(json_dir);
  ASSERT_TRUE(from_json.ok()) << from_json.status();
  auto json_out = (*from_json)->Execute({&input, 1}, {});
  ASSERT_TRUE(json_out.ok()) << json_out.status();
  EXPECT_EQ((*json_out)[0].data, Expected(booster.get(), x));
}

TEST_F(XgboostBackendTest, DartModelsKeepTheCApi) {
  Booster booster = Train({.booster = "dart"});
  EXPECT_EQ(Forest::FromBooster(booster.get()).status().code(), absl::StatusCode::kUnimplemented);
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = Load(dir);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_FALSE(XgboostUsesNativeEvaluator(**backend));
  const std::vector<float> x = MakeRows(20, 13);
  const Tensor input = MatrixTensor(x);
  auto out = (*backend)->Execute({&input, 1}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].data, Expected(booster.get(), x));
}

TEST_F(XgboostBackendTest, XgboostNativeParameter) {
  Booster booster = Train({.objective = "multi:softprob", .num_class = 3});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  const std::vector<float> x = MakeRows(100, 14);
  const Tensor input = MatrixTensor(x);
  const std::string expected = Expected(booster.get(), x);
  for (const char* value : {"false", "true"}) {
    SCOPED_TRACE(value);
    auto backend = Load(dir, {{"xgboost_native", value}});
    ASSERT_TRUE(backend.ok()) << backend.status();
    EXPECT_EQ(XgboostUsesNativeEvaluator(**backend), std::string(value) == "true");
    auto out = (*backend)->Execute({&input, 1}, {});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].data, expected);
  }
  auto bad = Load(dir, {{"xgboost_native", "maybe"}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("xgboost_native"));
}

TEST_F(XgboostBackendTest, NativeWithSeveralThreadsLeavesLargeBatchesToLibxgboost) {
  Booster booster = Train({});
  const fs::path dir = NewDir();
  XGB_CHECK(XGBoosterSaveModel(booster.get(), (dir / "model.json").c_str()));
  auto backend = Load(dir, {{"nthread", "2"}});
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_TRUE(XgboostUsesNativeEvaluator(**backend));
  for (int rows : {1, 64, 65, 300}) {
    SCOPED_TRACE(rows);
    const std::vector<float> x = MakeRows(rows, 15);
    const Tensor input = MatrixTensor(x);
    auto out = (*backend)->Execute({&input, 1}, {});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].data, Expected(booster.get(), x));
  }
}

}  // namespace
}  // namespace ferry::serving
