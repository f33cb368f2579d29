#ifndef FERRY_SERVING_BACKENDS_XGBOOST_FOREST_H_
#define FERRY_SERVING_BACKENDS_XGBOOST_FOREST_H_

// Native evaluator for xgboost tree ensembles: the prediction (type 0, every
// tree, objective transform applied) that libxgboost 1.7.4's CPU predictor
// computes through XGBoosterPredictFromDense, bit for bit, without the C API's
// per-call cost (two JSON documents parsed per call, a proxy DMatrix, ...).
//
// Scope (anything else is refused with Unimplemented / FailedPrecondition and
// the caller keeps libxgboost):
//   - gradient_booster "gbtree" (not "dart", not "gblinear");
//   - numerical splits only (no categorical split_type, no categories), with
//     finite conditions and adjacent children (right = left + 1, as every
//     tree libxgboost grows);
//   - a single target (num_target absent or 1), size_leaf_vector 0;
//   - objectives: reg:squarederror, reg:squaredlogerror, reg:pseudohubererror,
//     reg:absoluteerror, binary:logitraw (identity); binary:logistic,
//     reg:logistic (sigmoid); count:poisson, reg:gamma, reg:tweedie (exp);
//     binary:hinge; multi:softprob (softmax); multi:softmax (argmax).
//
// Arithmetic, as in xgboost 1.7.4 (src/predictor/cpu_predictor.cc,
// predict_fn.h, learner.cc, src/common/math.h, src/objective/*):
//   margin[g] = ProbToMargin(base_score) as a float (logistic objectives:
//   -logf(1.0f / p - 1.0f); poisson/gamma/tweedie: logf(p); else p), then for
//   each tree t in model order margin[tree_info[t]] += leaf value (float adds).
//   A tree walk goes from node 0: a NaN feature takes the default child, else
//   left + !(value < split_condition). The objective transform follows.
//
// A Forest is immutable once built; Predict may run concurrently.

#include <xgboost/c_api.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ferry::serving {

// libxgboost writes non-finite floats as the bare words NaN, Infinity and
// -Infinity, which are not JSON; returns `text` with each (outside strings)
// replaced by null.
std::string JsonNonFiniteToNull(std::string_view text);

class Forest {
 public:
  // How margins become predictions.
  enum class Transform {
    kIdentity,
    kSigmoid,  // common::Sigmoid of xgboost 1.7
    kExp,      // expf
    kHinge,    // margin > 0 ? 1 : 0
    kSoftmax,  // per row over the output groups
    kArgmax,   // per row: index of the first largest margin, as a float
  };

  // From a loaded (and configured) booster: reads the model with
  // XGBoosterSaveModelToBuffer in JSON, so it reflects parameters set on the
  // booster after loading (base_score).
  static absl::StatusOr<Forest> FromBooster(BoosterHandle booster);
  // From the JSON model text libxgboost 1.7 writes (SaveModel, format json).
  static absl::StatusOr<Forest> FromJson(std::string_view model_json);

  Forest(Forest&&) = default;
  Forest& operator=(Forest&&) = default;

  const std::string& objective() const { return objective_; }
  Transform transform() const { return transform_; }
  int64_t num_feature() const { return num_feature_; }
  int64_t num_trees() const { return static_cast<int64_t>(roots_.size()); }
  // Output groups (classes of multi:*, else 1).
  int64_t num_groups() const { return num_groups_; }
  // Floats Predict writes per row: num_groups, except 1 for multi:softmax.
  int64_t width() const { return transform_ == Transform::kArgmax ? 1 : num_groups_; }
  // The margin every output group starts from (base_score in margin space).
  float base_margin() const { return base_margin_; }

  // rows: n_rows x n_features floats, row-major, NaN = missing.
  // out: n_rows x width() floats. InvalidArgument if n_features is not
  // num_feature() or n_rows < 0.
  absl::Status Predict(const float* rows, int64_t n_rows, int64_t n_features, float* out) const;

  // The distinct split conditions of every feature (reachable nodes only),
  // ascending; size num_feature(). For probing an evaluator near thresholds.
  std::vector<std::vector<float>> SplitThresholds() const;

 private:
  // One tree node. Children of a split are adjacent (right = left + 1), as in
  // every tree libxgboost grows; FromJson refuses trees where they are not.
  // The walk reads a row prepared by Prepare(): [num_feature values with NaN
  // as -inf, num_feature values with NaN as +inf]. A split whose NaNs go left
  // reads the first half (-inf < any finite condition: left), one whose NaNs
  // go right the second (+inf: right), so a step is one load and one compare:
  // next = left + !(value < condition). A leaf has left = itself - 1 and a NaN
  // condition, so stepping from it stays on it.
  struct Node {
    int32_t left;    // index in nodes_ of the left child
    uint32_t input;  // index in the prepared row: feature, or num_feature + feature
    float condition;
    float leaf;  // the leaf value (leaves only)
  };

  Forest() = default;
  // out[0, 2 * num_feature): `row` with NaN as -inf, then with NaN as +inf.
  void Prepare(const float* row, float* out) const;
  // margins[tree group] += leaf of each tree, in model order, for one row.
  void AddTrees(const float* prepared, float* margins) const;
  // margins[n_rows, num_groups] = base margin + the trees of each row.
  void PredictBlock(const float* rows, int64_t n_rows, float* prepared, float* margins) const;
  void ApplyTransform(float* margins, int64_t n_rows, float* out) const;

  std::string objective_;
  Transform transform_ = Transform::kIdentity;
  int64_t num_feature_ = 0;
  int64_t num_groups_ = 1;
  float base_margin_ = 0.0f;
  std::vector<Node> nodes_;
  std::vector<int32_t> roots_;   // per tree: index of its root in nodes_
  std::vector<int32_t> depths_;  // per tree: steps from the root to its deepest leaf
  std::vector<int32_t> groups_;  // per tree: output group (tree_info)
};

}  // namespace ferry::serving

#endif  // FERRY_SERVING_BACKENDS_XGBOOST_FOREST_H_
