#ifndef FERRY_SERVING_BACKENDS_XGBOOST_XGBOOST_BACKEND_H_
#define FERRY_SERVING_BACKENDS_XGBOOST_XGBOOST_BACKEND_H_

// ModelBackend over the libxgboost C API (Debian's libxgboost 1.7.4).
//
// Model file: when spec.path holds an MLmodel with an xgboost flavor, its
// `data` file; otherwise the first of model.json, model.ubj, model.bst,
// model.xgb, xgboost.model found in spec.path. JSON, UBJSON and the legacy
// binary format load whatever the extension (the content is sniffed).
//
// Compatibility with models written by xgboost >= 2.0: those store
// learner_model_param.base_score as a bracketed string ("[4.66E-1]") that
// libxgboost 1.7.4 misreads. The backend reads the field from the file and
// sets the value explicitly, which restores the exact predictions. A vector
// intercept with distinct values (xgboost 3.x multi-target / multi-class) has
// no 1.7.4 representation and fails the load with FailedPrecondition.
//
// Metadata (platform "xgboost"):
//   inputs  - MLflow tensor signature: its single rank-2 tensor
//             ([-1, num_feature] or [-1, -1]).
//           - MLflow column signature: one input per column, shape [-1]
//             (clients send 1-D columns; [-1, 1] is accepted by Execute).
//             Columns are matched to model features by name when the model
//             stores feature names, otherwise by signature order.
//           - otherwise: "input-0", FP32, [-1, num_feature].
//           Execute converts any numeric datatype (and BOOL) to float, so a
//           caller that skips CheckInputs may also send FP64 or integers.
//           Missing optional columns are NaN (xgboost's missing value).
//   outputs - "predict" FP32: [-1] for regression, binary objectives and
//             multi:softmax (the class index); [-1, num_class] for
//             multi:softprob; [-1, num_target] for multi-target models.
//           - "label" INT64 [-1] for single-target classification objectives:
//             binary:logistic (p >= 0.5), binary:logitraw (margin >= 0),
//             binary:hinge, multi:softprob (argmax), multi:softmax.
//           Output names are always these, even when the MLflow signature
//           declares (possibly unnamed) outputs.
//   max_batch_size - spec.parameters["max_batch_size"] if set, else
//             kXgboostDefaultMaxBatchSize. The booster itself takes any row
//             count; the value only caps the scheduler's batches.
//
// Threads: spec.threads > 0 sets the booster's "nthread" (0: libxgboost's
// default, all cores); spec.parameters["nthread"] overrides it.
//
// Native tree evaluator: for gbtree models with numerical splits, a single
// target and a known objective (see forest.h: reg:squarederror,
// reg:squaredlogerror, reg:pseudohubererror, reg:absoluteerror,
// binary:logistic, reg:logistic, binary:logitraw, binary:hinge,
// count:poisson, reg:gamma, reg:tweedie, multi:softprob, multi:softmax) the
// backend predicts with its own copy of the trees (Forest, read from the
// loaded booster after the base_score fix) instead of
// XGBoosterPredictFromDense, whose per-call overhead (JSON parsing, proxy
// DMatrix) dominates small batches. It reproduces libxgboost 1.7.4's CPU
// predictor bit for bit, and the backend checks that at load: the forest must
// give the same bytes as libxgboost (memcmp) on probe rows - zeros, all-NaN,
// +/-inf, every split threshold exactly and one float ulp either side, and a
// few hundred fixed-seed random rows with NaNs. Otherwise (an unsupported
// model, a difference, an error) the backend keeps the C API and logs
// "xgboost: native tree evaluator off: <reason>" at info level. Outputs,
// labels, metadata and errors are the same either way. With nthread == 1 (the
// default spec.threads) every batch is native; with more threads only batches
// of up to 64 rows, larger ones use libxgboost's threads.
// spec.parameters["xgboost_native"] = "false" turns the evaluator off.
//
// Thread safety: Execute() may run concurrently. libxgboost 1.7 inplace
// prediction keeps its output buffers per thread and configures the learner
// once under its own lock (done during Create()); each call borrows a proxy
// DMatrix from a pool, so no proxy is shared between running calls.
// gblinear models, which have no inplace prediction, go through a DMatrix
// and are serialised by a mutex. The native evaluator is immutable after
// load and takes no lock.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ferry/serving/backend.h"

namespace ferry::serving {

inline constexpr char kXgboostFormat[] = "xgboost";
inline constexpr int64_t kXgboostDefaultMaxBatchSize = 65536;

// The model file CreateXgboostBackend would load from `dir` (full path).
// NotFound when there is none; InvalidArgument for a malformed MLmodel.
absl::StatusOr<std::string> FindXgboostModelFile(const std::string& dir);

// Loads the model in spec.path and runs one prediction. Errors:
//   NotFound           no model file;
//   InvalidArgument    a file libxgboost cannot load, a malformed MLmodel,
//                      a bad max_batch_size / nthread / xgboost_native
//                      parameter;
//   FailedPrecondition a model this build cannot serve correctly (vector
//                      base_score, a signature that does not match the
//                      model's feature count, string columns).
absl::StatusOr<std::unique_ptr<ModelBackend>> CreateXgboostBackend(const LoadSpec& spec);

// True when `backend` came from CreateXgboostBackend and predicts with the
// native tree evaluator (for tests and diagnostics).
bool XgboostUsesNativeEvaluator(const ModelBackend& backend);

}  // namespace ferry::serving

#endif  // FERRY_SERVING_BACKENDS_XGBOOST_XGBOOST_BACKEND_H_
