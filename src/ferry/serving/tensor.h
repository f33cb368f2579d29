#ifndef FERRY_SERVING_TENSOR_H_
#define FERRY_SERVING_TENSOR_H_

// Tensors and inference requests as the serving core sees them, independent of
// the transport (V2 REST JSON/binary, gRPC). Data is always held packed and
// little-endian, the layout of the V2 binary tensor extension, so the binary
// and gRPC paths copy bytes once and the JSON path converts once.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace ferry::serving {

// Every datatype of the Open Inference Protocol V2.
enum class DataType {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kFp32,
  kFp64,
  kBytes,
};

// "FP32" -> kFp32; nullopt for anything not in the protocol (case-sensitive,
// as Triton is).
std::optional<DataType> ParseDataType(std::string_view name);
std::string_view DataTypeName(DataType type);
// Bytes per element; 0 for kBytes (variable length).
size_t DataTypeSize(DataType type);

struct Tensor {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
  // Packed little-endian elements, row-major. kBool is one byte per element
  // (0 or 1). kFp16 is IEEE half bits. kBytes elements are each a 4-byte
  // little-endian length followed by that many bytes (Triton's binary layout).
  std::string data;
  // Tensor "parameters" object from the request (null when absent).
  nlohmann::json parameters;

  // Product of `shape` (1 for a scalar shape []). -1 if any dim is negative
  // or the product overflows int64.
  int64_t ElementCount() const;

  // Typed view of `data` for fixed-size types. The caller checks `datatype`.
  template <typename T>
  std::span<const T> Values() const {
    return {reinterpret_cast<const T*>(data.data()), data.size() / sizeof(T)};
  }
};

// Checks that `data` holds exactly ElementCount() elements of `datatype`
// (for kBytes: walks the length prefixes; kBool bytes must be 0 or 1).
// InvalidArgument names the tensor.
absl::Status ValidateTensorData(const Tensor& tensor);
// Same, with the message prefixed "<role> '<name>': " (role e.g. "input").
absl::Status ValidateTensorData(const Tensor& tensor, std::string_view role);

// "[-1,30]": the shape notation used in every error message.
std::string ShapeString(std::span<const int64_t> shape);

// IEEE binary16 conversions (round to nearest even; overflow gives +-inf,
// NaN stays NaN). Exact for every half value in both directions.
uint16_t DoubleToHalf(double value);
float HalfToFloat(uint16_t bits);

// Calls fn(T{}) with the C++ element type of a fixed-width numeric datatype
// (INT8..INT64, UINT8..UINT64, FP32, FP64) and returns true; returns false,
// without calling fn, for BOOL, FP16 and BYTES, which callers treat their own
// way.
template <typename Fn>
bool VisitNumericType(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::kInt8:
      fn(int8_t{});
      return true;
    case DataType::kInt16:
      fn(int16_t{});
      return true;
    case DataType::kInt32:
      fn(int32_t{});
      return true;
    case DataType::kInt64:
      fn(int64_t{});
      return true;
    case DataType::kUint8:
      fn(uint8_t{});
      return true;
    case DataType::kUint16:
      fn(uint16_t{});
      return true;
    case DataType::kUint32:
      fn(uint32_t{});
      return true;
    case DataType::kUint64:
      fn(uint64_t{});
      return true;
    case DataType::kFp32:
      fn(float{});
      return true;
    case DataType::kFp64:
      fn(double{});
      return true;
    default:
      return false;
  }
}

// Batching helpers (dimension 0 is the batch dimension).
// Concatenates tensors with equal name, datatype and trailing dims along dim 0.
absl::StatusOr<Tensor> ConcatBatch(std::span<const Tensor* const> parts);
// Splits `whole` into consecutive pieces of `rows[i]` rows each.
absl::StatusOr<std::vector<Tensor>> SplitBatch(const Tensor& whole, std::span<const int64_t> rows);

struct RequestedOutput {
  std::string name;
  // Triton binary tensor extension: return this output as raw bytes after
  // the JSON header (parameters.binary_data).
  std::optional<bool> binary_data;
  nlohmann::json parameters;  // null when absent
};

struct InferRequest {
  std::string id;             // client's "id"; the server fills one in if empty
  std::string model_name;     // from the URL / gRPC message
  std::string model_version;  // empty: the routing policy chooses
  std::vector<Tensor> inputs;
  std::vector<RequestedOutput> outputs;  // empty: all outputs
  nlohmann::json parameters;             // request "parameters" (null when absent)
  // Derived from parameters (Triton names): "binary_data_output" default for
  // outputs, "priority" (0 = default level), "timeout" in microseconds
  // (0 = none), and sticky routing key ("ferry_route_key").
  bool binary_data_output = false;
  uint32_t priority = 0;
  uint64_t timeout_us = 0;
  std::string route_key;  // sticky routing key (header or parameter); empty: hash of id

  // Rows in dimension 0 of the first input (the batch size of this request);
  // 1 for scalar inputs.
  int64_t BatchSize() const;
};

struct InferResponse {
  std::string id;
  std::string model_name;
  std::string model_version;
  std::vector<Tensor> outputs;
  nlohmann::json parameters;  // null when absent
};

}  // namespace ferry::serving

#endif  // FERRY_SERVING_TENSOR_H_
