#ifndef FERRY_SERVING_CLASSIFICATION_H_
#define FERRY_SERVING_CLASSIFICATION_H_

// Triton's classification extension: a requested output with parameter
// "classification": k is returned as the top-k classes instead of the raw
// tensor, as a BYTES tensor of "score:index" strings with shape [rows, k]
// (dimension 0 is the batch; the remaining elements of each row are the
// class scores, so a [rows] probability output has one class, index 0).

#include <optional>
#include <span>

#include "absl/status/status.h"
#include "ferry/serving/tensor.h"

namespace ferry::serving {

// The class count a requested output asks for; nullopt when it asks for the
// raw tensor. InvalidArgument for a non-integer or k < 1.
absl::StatusOr<std::optional<int64_t>> ClassificationCount(const RequestedOutput& output);

// Rewrites every output of `response` that `requested` asks to classify.
// InvalidArgument if such an output is not numeric.
absl::Status ApplyClassification(std::span<const RequestedOutput> requested,
                                 InferResponse& response);

}  // namespace ferry::serving

#endif  // FERRY_SERVING_CLASSIFICATION_H_
