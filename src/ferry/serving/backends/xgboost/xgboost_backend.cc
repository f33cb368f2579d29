#include "ferry/serving/backends/xgboost/xgboost_backend.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ferry/common/status.h"
#include "ferry/serving/backends/mlmodel.h"
#include "ferry/serving/backends/xgboost/forest.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace ferry::serving {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kModelFileNames[] = {"model.json", "model.ubj", "model.bst", "model.xgb",
                                           "xgboost.model"};
constexpr char kPredictOutput[] = "predict";
constexpr char kLabelOutput[] = "label";
// Inplace prediction of every tree, transformed by the objective. cache_id is
// required by libxgboost 1.7 ("Invalid cast, from Null to Integer" without).
constexpr char kPredictConfig[] =
    R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,)"
    R"("strict_shape":false,"cache_id":0,"missing":NaN})";
constexpr char kDMatrixConfig[] = R"({"missing":NaN,"nthread":1})";

// libxgboost's last error for this thread, without the stack trace it appends.
std::string XgbError() {
  std::string_view error = XGBGetLastError();
  if (size_t pos = error.find("\nStack trace"); pos != std::string_view::npos) {
    error = error.substr(0, pos);
  }
  return std::string(error);
}

std::string XgbVersion() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return absl::StrCat(major, ".", minor, ".", patch);
}

struct BoosterDeleter {
  void operator()(void* handle) const { XGBoosterFree(handle); }
};
using BoosterPtr = std::unique_ptr<void, BoosterDeleter>;

struct DMatrixDeleter {
  void operator()(void* handle) const { XGDMatrixFree(handle); }
};
using DMatrixPtr = std::unique_ptr<void, DMatrixDeleter>;

// Proxy DMatrix handles for inplace prediction. Creating one per call costs
// about as much as predicting a row (~45 us of ~60 us), so each Execute()
// borrows one; at most one handle per concurrent caller is ever created.
class ProxyPool {
 public:
  ProxyPool() = default;
  ProxyPool(const ProxyPool&) = delete;
  ProxyPool& operator=(const ProxyPool&) = delete;
  ~ProxyPool() {
    for (DMatrixHandle handle : free_) XGDMatrixFree(handle);
  }

  // A proxy for the caller's exclusive use until Release().
  absl::StatusOr<DMatrixHandle> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        DMatrixHandle handle = free_.back();
        free_.pop_back();
        return handle;
      }
    }
    DMatrixHandle handle = nullptr;
    if (XGProxyDMatrixCreate(&handle) != 0) {
      return absl::InternalError(absl::StrCat("XGProxyDMatrixCreate: ", XgbError()));
    }
    return handle;
  }

  void Release(DMatrixHandle handle) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(handle);
  }

 private:
  std::mutex mu_;
  std::vector<DMatrixHandle> free_;
};

// ---------------------------------------------------------------------------
// Locating the model file.

struct ModelLocation {
  std::string file;
  std::optional<MlflowModelInfo> mlflow;
};

absl::StatusOr<ModelLocation> LocateModel(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("model directory ", dir, " does not exist"));
  }
  ModelLocation location;
  absl::StatusOr<MlflowModelInfo> info = ReadMlflowModel(dir);
  if (info.ok()) {
    location.mlflow = *std::move(info);
  } else if (!absl::IsNotFound(info.status())) {
    return info.status();
  }
  if (location.mlflow && location.mlflow->HasFlavor("xgboost")) {
    const fs::path data(location.mlflow->xgboost_data);
    if (data.is_absolute() ||
        std::any_of(data.begin(), data.end(), [](const fs::path& part) { return part == ".."; })) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, "/MLmodel: flavors.xgboost.data '", data.string(),
                       "' must be a path inside the model directory"));
    }
    const fs::path file = fs::path(dir) / data;
    if (!fs::is_regular_file(file, ec)) {
      return absl::NotFoundError(
          absl::StrCat(dir, "/MLmodel: flavors.xgboost.data '", data.string(), "' does not exist"));
    }
    location.file = file.string();
    return location;
  }
  for (const char* name : kModelFileNames) {
    const fs::path file = fs::path(dir) / name;
    if (fs::is_regular_file(file, ec)) {
      location.file = file.string();
      return location;
    }
  }
  return absl::NotFoundError(absl::StrCat("no xgboost model in ", dir,
                                          ": expected an MLmodel with an xgboost flavor or one of ",
                                          absl::StrJoin(kModelFileNames, ", ")));
}

// ---------------------------------------------------------------------------
// base_score compatibility fix.

// SAX handler that stops at learner.learner_model_param.base_score.
class BaseScoreFinder {
 public:
  using Json = nlohmann::json;

  bool null() { return Scalar(std::nullopt); }
  bool boolean(bool) { return Scalar(std::nullopt); }
  bool number_integer(Json::number_integer_t value) { return Scalar(absl::StrCat(value)); }
  bool number_unsigned(Json::number_unsigned_t value) { return Scalar(absl::StrCat(value)); }
  bool number_float(Json::number_float_t value, const Json::string_t&) {
    return Scalar(absl::StrCat(value));
  }
  bool string(Json::string_t& value) { return Scalar(value); }
  bool binary(Json::binary_t&) { return Scalar(std::nullopt); }
  bool start_object(size_t) {
    frames_.push_back({.is_array = false, .key = {}});
    return true;
  }
  bool key(Json::string_t& key) {
    frames_.back().key = key;
    return true;
  }
  bool end_object() {
    // learner_model_param closed without base_score: nothing more to find.
    if (AtModelParam()) return Stop();
    frames_.pop_back();
    return true;
  }
  bool start_array(size_t) {
    frames_.push_back({.is_array = true, .key = {}});
    return true;
  }
  bool end_array() {
    frames_.pop_back();
    return true;
  }
  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception& e) {
    error_ = absl::StrCat(e.what(), " (byte ", position, ")");
    return false;
  }

  bool done() const { return done_; }
  const std::optional<std::string>& base_score() const { return base_score_; }
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    bool is_array;
    std::string key;
  };

  // True when the innermost open container is learner.learner_model_param.
  bool AtModelParam() const {
    return frames_.size() == 3 && !frames_[0].is_array && frames_[0].key == "learner" &&
           !frames_[1].is_array && frames_[1].key == "learner_model_param" && !frames_[2].is_array;
  }
  bool Scalar(std::optional<std::string> value) {
    if (AtModelParam() && frames_[2].key == "base_score") {
      base_score_ = std::move(value);
      return Stop();
    }
    return true;
  }
  bool Stop() {
    done_ = true;
    return false;
  }

  std::vector<Frame> frames_;
  std::optional<std::string> base_score_;
  std::string error_;
  bool done_ = false;
};

enum class FileFormat { kJson, kUbjson, kLegacyBinary };

FileFormat SniffFormat(std::string_view bytes) {
  if (bytes.size() < 2 || bytes[0] != '{') return FileFormat::kLegacyBinary;
  // Text JSON continues with a key or whitespace; UBJSON with a length marker.
  const char next = bytes[1];
  if (next == '"' || next == '}' || next == ' ' || next == '\n' || next == '\r' || next == '\t') {
    return FileFormat::kJson;
  }
  return FileFormat::kUbjson;
}

// Reads learner_model_param.base_score from a JSON / UBJSON model file and,
// when it is the bracketed form of xgboost >= 2.0, sets it on the booster.
absl::Status FixBaseScore(void* booster, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", file));
  std::string bytes = std::move(buffer).str();
  const FileFormat format = SniffFormat(bytes);
  if (format == FileFormat::kLegacyBinary) return absl::OkStatus();  // stores a float
  // Categorical splits are written as NaN conditions, which nlohmann rejects.
  if (format == FileFormat::kJson) bytes = JsonNonFiniteToNull(bytes);

  BaseScoreFinder finder;
  try {
    json::sax_parse(
        bytes.begin(), bytes.end(), &finder,
        format == FileFormat::kJson ? json::input_format_t::json : json::input_format_t::ubjson,
        /*strict=*/false);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read learner_model_param.base_score from ", file, ": ", e.what()));
  }
  if (!finder.done()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read learner_model_param.base_score from ", file, ": ",
                     finder.error().empty() ? "field not found" : finder.error()));
  }
  if (!finder.base_score()) return absl::OkStatus();
  absl::string_view text = *finder.base_score();
  if (!absl::ConsumePrefix(&text, "[") || !absl::ConsumeSuffix(&text, "]")) {
    return absl::OkStatus();  // a plain number: libxgboost 1.7 reads it itself
  }
  std::vector<absl::string_view> tokens = absl::StrSplit(text, ',', absl::SkipWhitespace());
  std::vector<double> values;
  for (absl::string_view& token : tokens) {
    token = absl::StripAsciiWhitespace(token);
    double value = 0;
    if (!absl::SimpleAtod(token, &value)) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": learner_model_param.base_score '",
                                                     *finder.base_score(), "' is not a number"));
    }
    values.push_back(value);
  }
  if (values.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": learner_model_param.base_score '",
                                                   *finder.base_score(), "' is empty"));
  }
  if (std::any_of(values.begin(), values.end(), [&](double v) { return v != values[0]; })) {
    return absl::FailedPreconditionError(absl::StrCat(
        file, ": learner_model_param.base_score ", *finder.base_score(),
        " is a per-target intercept (written by xgboost >= 3.0); libxgboost ", XgbVersion(),
        " in this build supports a single base_score only. Retrain or re-save the model with a "
        "scalar base_score."));
  }
  const std::string value(tokens[0]);
  if (XGBoosterSetParam(booster, "base_score", value.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("setting base_score: ", XgbError()));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Conversions.

template <typename T>
void CopyAs(const std::string& data, int64_t count, float* out, int64_t stride) {
  for (int64_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, data.data() + i * sizeof(T), sizeof(T));
    out[i * stride] = static_cast<float>(value);
  }
}

// Writes `count` elements of `tensor` as floats to out[0], out[stride], ...
absl::Status ConvertToFloat(const Tensor& tensor, int64_t count, float* out, int64_t stride) {
  const size_t size = DataTypeSize(tensor.datatype);
  if (size == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", tensor.name, "': BYTES data cannot feed an xgboost model"));
  }
  if (tensor.data.size() != static_cast<size_t>(count) * size) {
    return absl::InvalidArgumentError(absl::StrCat("input '", tensor.name, "' holds ",
                                                   tensor.data.size(), " bytes; expected ",
                                                   static_cast<size_t>(count) * size));
  }
  if (tensor.datatype == DataType::kBool) {
    CopyAs<uint8_t>(tensor.data, count, out, stride);
  } else if (tensor.datatype == DataType::kFp16) {
    for (int64_t i = 0; i < count; ++i) {
      uint16_t half;
      std::memcpy(&half, tensor.data.data() + i * 2, 2);
      out[i * stride] = HalfToFloat(half);
    }
  } else {
    VisitNumericType(tensor.datatype,
                     [&](auto tag) { CopyAs<decltype(tag)>(tensor.data, count, out, stride); });
  }
  return absl::OkStatus();
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// ---------------------------------------------------------------------------
// The backend.

enum class LabelRule {
  kNone,
  kProbability,  // binary:logistic: p >= 0.5
  kMargin,       // binary:logitraw: margin >= 0
  kValue,        // binary:hinge, multi:softmax: the prediction is the class
  kArgmax,       // multi:softprob
};

enum class InputLayout { kMatrix, kColumns };

struct ModelFacts {
  int64_t num_feature = 0;
  int64_t num_class = 0;
  int64_t num_target = 1;
  std::string objective;
  std::string booster;
};

struct NativeOptions {
  bool enabled = true;  // spec.parameters["xgboost_native"]
  int64_t nthread = 0;  // the booster's nthread (0: libxgboost's default, all cores)
  std::string model;    // names the model in log lines
};

// libxgboost's CPU predictor hands rows to its threads in blocks of 64
// (kBlockOfRowsSize), so up to 64 rows it predicts on one thread and the
// native evaluator only saves time. Larger batches go to libxgboost when it
// may use several threads; both give the same bits.
constexpr int64_t kNativeMultiThreadMaxRows = 64;

// Probe rows the native evaluator must reproduce bit for bit before use:
// zeros, all-NaN, all +inf and all -inf; then rounds of threshold rows where
// every feature sits exactly on one of its split thresholds, one float ulp
// below it, or one ulp above it; then pseudo-random rows (fixed seed) over the
// thresholds' range with ~10% NaNs and ~20% values on or next to thresholds.
class ProbeRows {
 public:
  static constexpr int64_t kSpecialRows = 4;
  static constexpr int64_t kMaxThresholdRounds = 2048;
  static constexpr int64_t kRandomRows = 512;

  explicit ProbeRows(const Forest& forest) : thresholds_(forest.SplitThresholds()) {
    for (const std::vector<float>& values : thresholds_) {
      rounds_ = std::max<int64_t>(rounds_, static_cast<int64_t>(values.size()));
    }
    rounds_ = std::min(rounds_, kMaxThresholdRounds);
  }

  int64_t size() const { return kSpecialRows + 3 * rounds_ + kRandomRows; }
  bool is_threshold_row(int64_t index) const {
    return index >= kSpecialRows && index < kSpecialRows + 3 * rounds_;
  }

  // Writes probe row `index` (0 <= index < size()) to row[0, num_feature).
  void Fill(int64_t index, float* row) const {
    const int64_t n = static_cast<int64_t>(thresholds_.size());
    constexpr float kInf = std::numeric_limits<float>::infinity();
    if (index < kSpecialRows) {
      const float values[kSpecialRows] = {0.0f, std::numeric_limits<float>::quiet_NaN(), kInf,
                                          -kInf};
      std::fill(row, row + n, values[index]);
      return;
    }
    index -= kSpecialRows;
    if (index < 3 * rounds_) {
      const int64_t round = index / 3;
      const int variant = static_cast<int>(index % 3);
      for (int64_t f = 0; f < n; ++f) {
        const std::vector<float>& values = thresholds_[f];
        const int64_t count = static_cast<int64_t>(values.size());
        if (count == 0) {
          row[f] = 0.0f;
          continue;
        }
        const int64_t pick = count <= rounds_ ? round % count : round * count / rounds_;
        row[f] = Nudge(values[pick], variant);
      }
      return;
    }
    std::mt19937_64 rng(0x5eedf0e57ull + static_cast<uint64_t>(index));
    const auto uniform = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
    for (int64_t f = 0; f < n; ++f) {
      const std::vector<float>& values = thresholds_[f];
      const double u = uniform();
      if (u < 0.1) {
        row[f] = std::numeric_limits<float>::quiet_NaN();
      } else if (u < 0.3 && !values.empty()) {
        const size_t pick = static_cast<size_t>(uniform() * values.size());
        row[f] = Nudge(values[std::min(pick, values.size() - 1)], static_cast<int>(rng() % 3));
      } else {
        double lo = -1.0, hi = 1.0;
        if (!values.empty()) {
          lo = values.front();
          hi = values.back();
          const double pad =
              std::max({0.1 * (hi - lo), 1e-3 * std::max(std::abs(lo), std::abs(hi)), 1e-6});
          lo -= pad;
          hi += pad;
        }
        row[f] = static_cast<float>(lo + uniform() * (hi - lo));
      }
    }
  }

 private:
  static float Nudge(float value, int variant) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    if (variant == 1) return std::nextafter(value, -kInf);
    if (variant == 2) return std::nextafter(value, kInf);
    return value;
  }

  std::vector<std::vector<float>> thresholds_;
  int64_t rounds_ = 0;
};

class XgboostBackend final : public ModelBackend {
 public:
  // Builds the metadata from the model facts and the MLflow signature, then
  // predicts one row to learn the output width (which also finishes
  // libxgboost's lazy configuration before any concurrent use).
  static absl::StatusOr<std::unique_ptr<XgboostBackend>> Create(
      BoosterPtr booster, const ModelFacts& facts, const std::optional<MlflowModelInfo>& mlflow,
      std::vector<std::string> feature_names, int64_t max_batch_size, const NativeOptions& native) {
    // gblinear has no inplace prediction in libxgboost 1.7.
    const bool inplace = facts.booster != "gblinear";
    std::unique_ptr<XgboostBackend> backend(new XgboostBackend(std::move(booster), inplace));
    backend->feature_names_ = std::move(feature_names);
    FERRY_RETURN_IF_ERROR(backend->Init(facts, mlflow, max_batch_size));
    backend->TryNative(native);
    return backend;
  }

  const ModelMetadata& metadata() const override { return metadata_; }

  // True when Predict() uses the native tree evaluator.
  bool native() const { return forest_.has_value(); }

  absl::Status Warmup() override {
    constexpr int64_t kRows = 4;
    std::vector<float> zeros(kRows * num_feature_, 0.0f);
    return Run(zeros.data(), kRows, {}).status();
  }

  absl::StatusOr<std::vector<Tensor>> Execute(std::span<const Tensor> inputs,
                                              std::span<const RequestedOutput> outputs) override {
    std::vector<float> scratch;
    const float* matrix = nullptr;
    int64_t rows = 0;
    if (layout_ == InputLayout::kMatrix) {
      FERRY_RETURN_IF_ERROR(BuildFromMatrix(inputs, &scratch, &matrix, &rows));
    } else {
      FERRY_RETURN_IF_ERROR(BuildFromColumns(inputs, &scratch, &rows));
      matrix = scratch.data();
    }
    return Run(matrix, rows, outputs);
  }

 private:
  XgboostBackend(BoosterPtr booster, bool inplace)
      : booster_(std::move(booster)), inplace_(inplace) {}

  absl::Status Init(const ModelFacts& facts, const std::optional<MlflowModelInfo>& mlflow,
                    int64_t max_batch_size) {
    num_feature_ = facts.num_feature;
    metadata_.platform = kXgboostFormat;
    metadata_.max_batch_size = max_batch_size;
    if (mlflow && mlflow->signature_inputs) {
      if (mlflow->column_signature) {
        FERRY_RETURN_IF_ERROR(InitColumns(*mlflow->signature_inputs));
      } else {
        FERRY_RETURN_IF_ERROR(InitTensor(*mlflow->signature_inputs));
      }
    } else {
      layout_ = InputLayout::kMatrix;
      metadata_.inputs.push_back(
          {.name = "input-0", .datatype = DataType::kFp32, .shape = {-1, num_feature_}});
    }

    std::vector<float> zeros(num_feature_, 0.0f);
    FERRY_ASSIGN_OR_RETURN(std::string ignored, Predict(zeros.data(), 1));
    (void)ignored;
    if (facts.num_target <= 1) {
      if (facts.objective == "binary:logistic") label_rule_ = LabelRule::kProbability;
      if (facts.objective == "binary:logitraw") label_rule_ = LabelRule::kMargin;
      if (facts.objective == "binary:hinge") label_rule_ = LabelRule::kValue;
      if (facts.objective == "multi:softmax") label_rule_ = LabelRule::kValue;
      if (facts.objective == "multi:softprob") label_rule_ = LabelRule::kArgmax;
    }
    if (label_rule_ != LabelRule::kArgmax && label_rule_ != LabelRule::kNone && width_ != 1) {
      label_rule_ = LabelRule::kNone;  // unexpected shape: do not guess labels
    }
    TensorSpec predict{.name = kPredictOutput, .datatype = DataType::kFp32, .shape = {-1}};
    if (width_ > 1) predict.shape.push_back(width_);
    metadata_.outputs.push_back(std::move(predict));
    if (label_rule_ != LabelRule::kNone) {
      metadata_.outputs.push_back(
          {.name = kLabelOutput, .datatype = DataType::kInt64, .shape = {-1}});
    }
    return absl::OkStatus();
  }

  absl::Status InitTensor(const std::vector<TensorSpec>& specs) {
    if (specs.size() != 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("the MLmodel signature has ", specs.size(),
                       " input tensors; the xgboost backend takes exactly one"));
    }
    TensorSpec spec = specs[0];
    if (spec.shape.size() != 2) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the MLmodel signature input '", spec.name, "' has shape ", ShapeString(spec.shape),
          "; the xgboost backend needs [-1, ", num_feature_, "]"));
    }
    if (spec.shape[1] != -1 && spec.shape[1] != num_feature_) {
      return absl::FailedPreconditionError(
          absl::StrCat("the MLmodel signature input '", spec.name, "' has ", spec.shape[1],
                       " features per row but the model expects ", num_feature_));
    }
    if (spec.datatype == DataType::kBytes) {
      return absl::FailedPreconditionError(
          absl::StrCat("the MLmodel signature input '", spec.name,
                       "' is a string tensor; xgboost needs numbers"));
    }
    spec.shape = {-1, num_feature_};
    spec.optional = false;
    layout_ = InputLayout::kMatrix;
    metadata_.inputs.push_back(std::move(spec));
    return absl::OkStatus();
  }

  absl::Status InitColumns(const std::vector<TensorSpec>& specs) {
    if (static_cast<int64_t>(specs.size()) != num_feature_) {
      return absl::FailedPreconditionError(absl::StrCat("the MLmodel signature has ", specs.size(),
                                                        " input columns but the model expects ",
                                                        num_feature_, " features"));
    }
    // Match columns to features by name when the model knows its feature
    // names and every column is one of them; otherwise by position.
    std::map<std::string, int64_t> by_name;
    for (size_t i = 0; i < feature_names_.size(); ++i) by_name.emplace(feature_names_[i], i);
    const bool use_names = static_cast<int64_t>(feature_names_.size()) == num_feature_ &&
                           static_cast<int64_t>(by_name.size()) == num_feature_ &&
                           std::all_of(specs.begin(), specs.end(), [&](const TensorSpec& spec) {
                             return by_name.count(spec.name) > 0;
                           });
    std::vector<bool> taken(num_feature_, false);
    for (size_t i = 0; i < specs.size(); ++i) {
      const TensorSpec& spec = specs[i];
      if (spec.datatype == DataType::kBytes) {
        return absl::FailedPreconditionError(
            absl::StrCat("the MLmodel signature column '", spec.name,
                         "' holds strings; the xgboost backend needs numeric columns"));
      }
      const int64_t feature = use_names ? by_name[spec.name] : static_cast<int64_t>(i);
      if (taken[feature]) {
        return absl::FailedPreconditionError(
            absl::StrCat("the MLmodel signature names column '", spec.name, "' twice"));
      }
      taken[feature] = true;
      column_feature_.push_back(feature);
      column_index_.emplace(spec.name, i);
      metadata_.inputs.push_back(
          {.name = spec.name, .datatype = spec.datatype, .shape = {-1}, .optional = spec.optional});
    }
    layout_ = InputLayout::kColumns;
    return absl::OkStatus();
  }

  absl::Status BuildFromMatrix(std::span<const Tensor> inputs, std::vector<float>* scratch,
                               const float** matrix, int64_t* rows) const {
    const std::string& name = metadata_.inputs[0].name;
    const Tensor* input = nullptr;
    for (const Tensor& tensor : inputs) {
      if (tensor.name == name) input = &tensor;
    }
    if (input == nullptr && inputs.size() == 1) input = &inputs[0];
    if (input == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("missing input '", name, "'"));
    }
    if (input->shape.size() != 2 || input->shape[0] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("input '", input->name, "' has shape ",
                                                     ShapeString(input->shape), "; expected [-1, ",
                                                     num_feature_, "]"));
    }
    if (input->shape[1] != num_feature_) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", input->name, "' has ", input->shape[1],
                       " features per row; the model expects ", num_feature_));
    }
    *rows = input->shape[0];
    if (*rows > std::numeric_limits<int64_t>::max() / 8 / num_feature_) {
      return absl::InvalidArgumentError(absl::StrCat("input '", input->name, "' is too large"));
    }
    const int64_t count = *rows * num_feature_;
    if (input->datatype == DataType::kFp32 &&
        input->data.size() == static_cast<size_t>(count) * sizeof(float) &&
        reinterpret_cast<uintptr_t>(input->data.data()) % alignof(float) == 0) {
      *matrix = reinterpret_cast<const float*>(input->data.data());  // no copy
      return absl::OkStatus();
    }
    scratch->resize(count);
    FERRY_RETURN_IF_ERROR(ConvertToFloat(*input, count, scratch->data(), 1));
    *matrix = scratch->data();
    return absl::OkStatus();
  }

  absl::Status BuildFromColumns(std::span<const Tensor> inputs, std::vector<float>* scratch,
                                int64_t* rows) const {
    *rows = -1;
    std::vector<const Tensor*> columns(metadata_.inputs.size(), nullptr);
    for (const Tensor& tensor : inputs) {
      auto it = column_index_.find(tensor.name);
      if (it == column_index_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected input '", tensor.name, "' for this model"));
      }
      const bool column_shape =
          (tensor.shape.size() == 1 || (tensor.shape.size() == 2 && tensor.shape[1] == 1)) &&
          tensor.shape[0] >= 0;
      if (!column_shape) {
        return absl::InvalidArgumentError(absl::StrCat("input '", tensor.name, "' has shape ",
                                                       ShapeString(tensor.shape),
                                                       "; a column is [-1] (or [-1, 1])"));
      }
      if (*rows >= 0 && tensor.shape[0] != *rows) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input '", tensor.name, "' has ", tensor.shape[0], " rows; other inputs have ", *rows));
      }
      *rows = tensor.shape[0];
      columns[it->second] = &tensor;
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] == nullptr && !metadata_.inputs[i].optional) {
        return absl::InvalidArgumentError(
            absl::StrCat("missing input '", metadata_.inputs[i].name, "'"));
      }
    }
    if (*rows < 0) *rows = 0;
    if (*rows > std::numeric_limits<int64_t>::max() / 8 / num_feature_) {
      return absl::InvalidArgumentError("inputs are too large");
    }
    scratch->assign(*rows * num_feature_, std::numeric_limits<float>::quiet_NaN());
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] == nullptr) continue;
      FERRY_RETURN_IF_ERROR(
          ConvertToFloat(*columns[i], *rows, scratch->data() + column_feature_[i], num_feature_));
    }
    return absl::OkStatus();
  }

  // Builds the native evaluator and checks it against libxgboost on probe
  // rows; on any refusal or difference Predict() keeps the C API.
  void TryNative(const NativeOptions& options) {
    if (!options.enabled) {
      spdlog::info("xgboost: native tree evaluator off: model {}: parameter xgboost_native=false",
                   options.model);
      return;
    }
    absl::StatusOr<Forest> forest = Forest::FromBooster(booster_.get());
    const absl::Status status = forest.ok() ? VerifyNative(*forest) : forest.status();
    if (!status.ok()) {
      spdlog::info("xgboost: native tree evaluator off: model {}: {}", options.model,
                   std::string(status.message()));
      return;
    }
    spdlog::info("xgboost: native tree evaluator on: model {} ({} trees, objective {})",
                 options.model, forest->num_trees(), forest->objective());
    native_max_rows_ =
        options.nthread == 1 ? std::numeric_limits<int64_t>::max() : kNativeMultiThreadMaxRows;
    forest_.emplace(*std::move(forest));
  }

  // Compares `forest` with libxgboost (this->Predict before forest_ is set)
  // bit for bit on ProbeRows.
  absl::Status VerifyNative(const Forest& forest) {
    if (forest.num_feature() != num_feature_ || forest.width() != width_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the model JSON has ", forest.num_feature(), " features and ", forest.width(),
          " outputs per row; libxgboost reports ", num_feature_, " and ", width_));
    }
    const ProbeRows probes(forest);
    constexpr int64_t kChunkRows = 256;
    std::vector<float> matrix;
    std::string native;
    for (int64_t begin = 0; begin < probes.size(); begin += kChunkRows) {
      const int64_t rows = std::min(kChunkRows, probes.size() - begin);
      matrix.resize(rows * num_feature_);
      for (int64_t r = 0; r < rows; ++r) probes.Fill(begin + r, matrix.data() + r * num_feature_);
      FERRY_ASSIGN_OR_RETURN(std::string expected, Predict(matrix.data(), rows));
      native.assign(rows * width_ * sizeof(float), '\0');
      FERRY_RETURN_IF_ERROR(forest.Predict(matrix.data(), rows, num_feature_,
                                           reinterpret_cast<float*>(native.data())));
      if (expected.size() == native.size() &&
          std::memcmp(expected.data(), native.data(), native.size()) == 0) {
        continue;
      }
      for (size_t i = 0; i * sizeof(float) < native.size(); ++i) {
        float want = 0, got = 0;
        std::memcpy(&want, expected.data() + i * sizeof(float), sizeof(float));
        std::memcpy(&got, native.data() + i * sizeof(float), sizeof(float));
        if (std::memcmp(&want, &got, sizeof(float)) == 0) continue;
        const int64_t row = begin + static_cast<int64_t>(i) / width_;
        char values[96];
        std::snprintf(values, sizeof(values), "libxgboost %.9g (%a), native %.9g (%a)", want, want,
                      got, got);
        return absl::InternalError(absl::StrCat(
            "probe row ", row, probes.is_threshold_row(row) ? " (split thresholds)" : "",
            " output ", static_cast<int64_t>(i) % width_, ": ", values, " differ"));
      }
      return absl::InternalError("native output size differs from libxgboost");
    }
    return absl::OkStatus();
  }

  // Predicts `rows` rows of `matrix` ([rows, num_feature_] row-major) and
  // returns rows * width_ floats as packed bytes. Sets width_ on first use
  // (through libxgboost: the native evaluator is set up after that).
  absl::StatusOr<std::string> Predict(const float* matrix, int64_t rows) {
    if (forest_ && rows <= native_max_rows_) {
      std::string values(rows * width_ * sizeof(float), '\0');
      FERRY_RETURN_IF_ERROR(
          forest_->Predict(matrix, rows, num_feature_, reinterpret_cast<float*>(values.data())));
      return values;
    }
    char array_interface[160];
    std::snprintf(array_interface, sizeof(array_interface),
                  R"({"data":[%ju,true],"shape":[%jd,%jd],"typestr":"<f4","version":3})",
                  static_cast<uintmax_t>(reinterpret_cast<uintptr_t>(matrix)),
                  static_cast<intmax_t>(rows), static_cast<intmax_t>(num_feature_));
    const bst_ulong* shape = nullptr;
    bst_ulong dims = 0;
    const float* result = nullptr;
    std::unique_lock<std::mutex> lock(dmatrix_mu_, std::defer_lock);
    DMatrixPtr dmatrix;
    int rc;
    if (inplace_) {
      FERRY_ASSIGN_OR_RETURN(DMatrixHandle proxy, proxies_.Acquire());
      rc = XGBoosterPredictFromDense(booster_.get(), array_interface, kPredictConfig, proxy, &shape,
                                     &dims, &result);
      proxies_.Release(proxy);
    } else {
      lock.lock();
      DMatrixHandle handle = nullptr;
      rc = XGDMatrixCreateFromDense(array_interface, kDMatrixConfig, &handle);
      dmatrix.reset(handle);
      if (rc == 0) {
        rc = XGBoosterPredictFromDMatrix(booster_.get(), handle, kPredictConfig, &shape, &dims,
                                         &result);
      }
    }
    if (rc != 0) return absl::InternalError(absl::StrCat("xgboost predict: ", XgbError()));
    if (dims < 1 || dims > 2 || static_cast<int64_t>(shape[0]) != rows) {
      return absl::InternalError(
          absl::StrCat("xgboost predict returned an unexpected shape for ", rows, " rows"));
    }
    const int64_t width = dims == 2 ? static_cast<int64_t>(shape[1]) : 1;
    if (width_ == 0) width_ = width;
    if (width != width_) {
      return absl::InternalError(
          absl::StrCat("xgboost predict returned ", width, " values per row; expected ", width_));
    }
    return std::string(reinterpret_cast<const char*>(result), rows * width * sizeof(float));
  }

  absl::StatusOr<std::vector<Tensor>> Run(const float* matrix, int64_t rows,
                                          std::span<const RequestedOutput> requested) {
    // "predict" is always computed; "label" derives from it.
    bool want_label = requested.empty() && label_rule_ != LabelRule::kNone;
    for (const RequestedOutput& output : requested) {
      if (output.name == kPredictOutput) {
        continue;
      } else if (output.name == kLabelOutput && label_rule_ != LabelRule::kNone) {
        want_label = true;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("unknown output '", output.name, "'"));
      }
    }
    std::string values;
    if (rows > 0) {
      FERRY_ASSIGN_OR_RETURN(values, Predict(matrix, rows));
    }
    Tensor predict{.name = kPredictOutput, .datatype = DataType::kFp32, .shape = {rows}};
    if (width_ > 1) predict.shape.push_back(width_);
    predict.data = std::move(values);
    Tensor label;
    if (want_label) label = MakeLabels(predict, rows);

    std::vector<Tensor> out;
    if (requested.empty()) {
      out.push_back(std::move(predict));
      if (want_label) out.push_back(std::move(label));
      return out;
    }
    for (const RequestedOutput& output : requested) {
      out.push_back(output.name == kPredictOutput ? predict : label);
    }
    return out;
  }

  Tensor MakeLabels(const Tensor& predict, int64_t rows) const {
    Tensor label{.name = kLabelOutput, .datatype = DataType::kInt64, .shape = {rows}};
    label.data.resize(rows * sizeof(int64_t));
    const float* values = reinterpret_cast<const float*>(predict.data.data());
    for (int64_t row = 0; row < rows; ++row) {
      int64_t cls = 0;
      switch (label_rule_) {
        case LabelRule::kProbability:
          cls = values[row] >= 0.5f ? 1 : 0;
          break;
        case LabelRule::kMargin:
          cls = values[row] >= 0.0f ? 1 : 0;
          break;
        case LabelRule::kValue:
          cls = std::isfinite(values[row]) ? static_cast<int64_t>(values[row]) : -1;
          break;
        case LabelRule::kArgmax: {
          const float* row_values = values + row * width_;
          cls = std::max_element(row_values, row_values + width_) - row_values;
          break;
        }
        case LabelRule::kNone:
          break;
      }
      std::memcpy(label.data.data() + row * sizeof(int64_t), &cls, sizeof(cls));
    }
    return label;
  }

  BoosterPtr booster_;
  const bool inplace_;
  // The native evaluator, set once by Create() when it matched libxgboost;
  // used for batches of at most native_max_rows_ rows.
  std::optional<Forest> forest_;
  int64_t native_max_rows_ = 0;
  ProxyPool proxies_;      // for inplace prediction; a proxy does not reference the booster
  std::mutex dmatrix_mu_;  // guards the DMatrix path (gblinear)
  ModelMetadata metadata_;
  int64_t num_feature_ = 0;
  int64_t width_ = 0;  // prediction values per row; set by the first Predict()
  LabelRule label_rule_ = LabelRule::kNone;
  InputLayout layout_ = InputLayout::kMatrix;
  std::vector<std::string> feature_names_;
  // kColumns: metadata_.inputs[i] feeds feature column_feature_[i].
  std::vector<int64_t> column_feature_;
  std::map<std::string, size_t> column_index_;
};

absl::StatusOr<int64_t> ParseCount(const json& node, const char* field) {
  int64_t value = 0;
  if (node.is_string() && absl::SimpleAtoi(node.get<std::string>(), &value) && value >= 0) {
    return value;
  }
  if (node.is_number_integer() && node.get<int64_t>() >= 0) return node.get<int64_t>();
  return absl::InternalError(absl::StrCat("xgboost config: bad ", field, " ", node.dump()));
}

absl::StatusOr<ModelFacts> ReadFactsOrThrow(void* booster) {
  bst_ulong length = 0;
  const char* text = nullptr;
  if (XGBoosterSaveJsonConfig(booster, &length, &text) != 0) {
    return absl::InternalError(absl::StrCat("xgboost config: ", XgbError()));
  }
  const json config = json::parse(std::string_view(text, length), nullptr, false);
  if (config.is_discarded()) return absl::InternalError("xgboost config is not JSON");
  const json learner = config.value("learner", json::object());
  const json param = learner.value("learner_model_param", json::object());
  ModelFacts facts;
  FERRY_ASSIGN_OR_RETURN(facts.num_feature,
                         ParseCount(param.value("num_feature", json()), "num_feature"));
  FERRY_ASSIGN_OR_RETURN(facts.num_class,
                         ParseCount(param.value("num_class", json("0")), "num_class"));
  FERRY_ASSIGN_OR_RETURN(facts.num_target,
                         ParseCount(param.value("num_target", json("1")), "num_target"));
  facts.objective = learner.value("objective", json::object()).value("name", "");
  facts.booster = learner.value("gradient_booster", json::object()).value("name", "");
  return facts;
}

absl::StatusOr<ModelFacts> ReadFacts(void* booster) {
  try {
    return ReadFactsOrThrow(booster);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("xgboost config: ", e.what()));
  }
}

std::vector<std::string> ReadFeatureNames(void* booster) {
  bst_ulong count = 0;
  const char** names = nullptr;
  if (XGBoosterGetStrFeatureInfo(booster, "feature_name", &count, &names) != 0) return {};
  return std::vector<std::string>(names, names + count);
}

absl::StatusOr<int64_t> PositiveParameter(const LoadSpec& spec, const std::string& key,
                                          int64_t fallback, int64_t min) {
  auto it = spec.parameters.find(key);
  if (it == spec.parameters.end()) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value) || value < min) {
    return absl::InvalidArgumentError(absl::StrCat("model ", spec.model_name, ": parameter ", key,
                                                   " '", it->second,
                                                   "' must be an integer >= ", min));
  }
  return value;
}

}  // namespace

bool XgboostUsesNativeEvaluator(const ModelBackend& backend) {
  const auto* xgboost = dynamic_cast<const XgboostBackend*>(&backend);
  return xgboost != nullptr && xgboost->native();
}

absl::StatusOr<std::string> FindXgboostModelFile(const std::string& dir) {
  FERRY_ASSIGN_OR_RETURN(ModelLocation location, LocateModel(dir));
  return location.file;
}

absl::StatusOr<std::unique_ptr<ModelBackend>> CreateXgboostBackend(const LoadSpec& spec) {
  FERRY_ASSIGN_OR_RETURN(ModelLocation location, LocateModel(spec.path));
  FERRY_ASSIGN_OR_RETURN(int64_t max_batch_size,
                         PositiveParameter(spec, "max_batch_size", kXgboostDefaultMaxBatchSize, 1));
  FERRY_ASSIGN_OR_RETURN(int64_t nthread,
                         PositiveParameter(spec, "nthread", std::max(spec.threads, 0), 0));
  NativeOptions native{.nthread = nthread,
                       .model = absl::StrCat("'", spec.model_name, "' version ", spec.version)};
  if (auto it = spec.parameters.find("xgboost_native"); it != spec.parameters.end()) {
    if (!absl::SimpleAtob(it->second, &native.enabled)) {
      return absl::InvalidArgumentError(absl::StrCat("model ", spec.model_name,
                                                     ": parameter xgboost_native '", it->second,
                                                     "' must be true or false"));
    }
  }

  BoosterHandle handle = nullptr;
  if (XGBoosterCreate(nullptr, 0, &handle) != 0) {
    return absl::InternalError(absl::StrCat("XGBoosterCreate: ", XgbError()));
  }
  BoosterPtr booster(handle);
  if (XGBoosterLoadModel(handle, location.file.c_str()) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load xgboost model ", location.file,
                                                   " with libxgboost ", XgbVersion(), ": ",
                                                   XgbError()));
  }
  FERRY_RETURN_IF_ERROR(FixBaseScore(handle, location.file));
  if (nthread > 0 && XGBoosterSetParam(handle, "nthread", absl::StrCat(nthread).c_str()) != 0) {
    return absl::InternalError(absl::StrCat("setting nthread: ", XgbError()));
  }
  FERRY_ASSIGN_OR_RETURN(ModelFacts facts, ReadFacts(handle));
  if (facts.num_feature <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(location.file, ": the model does not record its feature count"));
  }
  std::vector<std::string> feature_names = ReadFeatureNames(handle);
  absl::StatusOr<std::unique_ptr<XgboostBackend>> backend = XgboostBackend::Create(
      std::move(booster), facts, location.mlflow, std::move(feature_names), max_batch_size, native);
  if (!backend.ok()) {
    return absl::Status(backend.status().code(),
                        absl::StrCat(location.file, ": ", backend.status().message()));
  }
  return std::unique_ptr<ModelBackend>(*std::move(backend));
}

}  // namespace ferry::serving
