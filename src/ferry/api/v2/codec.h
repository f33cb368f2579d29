#ifndef FERRY_API_V2_CODEC_H_
#define FERRY_API_V2_CODEC_H_

// The Open Inference Protocol V2 REST codec (KServe / Triton HTTP): request
// bodies to serving::InferRequest and serving::InferResponse back to bodies,
// including Triton's binary tensor data extension. Pure functions, no I/O;
// thread-safe. Decoding never throws and never trusts the client: every
// malformed body is an InvalidArgument whose message names the field (and the
// input, "input 'x': ...") the way Triton does.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ferry/serving/inference_service.h"
#include "ferry/serving/tensor.h"
#include "nlohmann/json.hpp"

namespace ferry::api::v2 {

// HTTP header carrying the JSON part's length when binary tensor data
// follows it (requests and responses).
inline constexpr std::string_view kHeaderContentLengthHeader = "Inference-Header-Content-Length";

// Bounds on what one request may declare. Memory used by a decode is bounded
// by the body size, never by declared shapes.
struct DecodeLimits {
  // Most "inputs" (and, separately, "outputs") entries in one request.
  size_t max_tensors = 256;
  // Highest rank of an input shape; also the deepest nesting of "data".
  size_t max_dims = 16;
  // Most elements in one input (product of its shape).
  int64_t max_elements = 64 * 1024 * 1024;
};

// Decodes an inference request body (POST /v2/models/<m>[/versions/<v>]/infer).
// `json_header_length` is the Inference-Header-Content-Length value: the first
// that many bytes are JSON and the rest is raw tensor data consumed, in input
// order, by inputs whose parameters.binary_data_size is set. Without it the
// whole body is JSON. model_name / model_version are left empty (they come
// from the URL). On success every input has a valid shape (dims >= 0, within
// `limits`) and data that passes ValidateTensorData; request parameters
// binary_data_output, priority, timeout and ferry_route_key are copied into
// their fields. Unknown fields are ignored. Any other error: InvalidArgument.
absl::StatusOr<serving::InferRequest> DecodeInferRequest(std::string_view body,
                                                         std::optional<size_t> json_header_length,
                                                         const DecodeLimits& limits = {});

struct EncodedBody {
  std::string body;
  // Set when binary output data follows the JSON: the value for the
  // Inference-Header-Content-Length response header (the JSON part's size).
  std::optional<size_t> json_header_length;
};

// Encodes a response. An output goes binary (parameters.binary_data_size,
// raw bytes after the JSON in output order) when the request's
// RequestedOutput of that name says binary_data=true, or says nothing and
// request.binary_data_output is set; otherwise its elements go in "data"
// (FP16 and other floats as shortest round-trip numbers, BOOL as true/false,
// BYTES as strings with invalid UTF-8 replaced by U+FFFD, non-finite floats
// as null). Never fails: an output whose data does not match its shape is
// encoded as far as its data goes.
EncodedBody EncodeInferResponse(const serving::InferResponse& response,
                                const serving::InferRequest& request);

// GET /v2/models/<m>[/versions/<v>]: {name, versions, platform, inputs,
// outputs} with tensors as {name, datatype, shape}.
nlohmann::json ModelMetadataJson(const serving::ModelMetadataView& view);
// GET /v2: {name, version, extensions}.
nlohmann::json ServerMetadataJson(const serving::ServerMetadata& metadata);
// {"error": message}, the V2 error body. Invalid UTF-8 is replaced.
std::string ErrorBody(std::string_view message);

}  // namespace ferry::api::v2

#endif  // FERRY_API_V2_CODEC_H_
