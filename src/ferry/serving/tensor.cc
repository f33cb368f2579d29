#include "ferry/serving/tensor.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ferry::serving {
namespace {

static_assert(std::endian::native == std::endian::little,
              "tensor data is little-endian and copied as native bytes");

struct TypeInfo {
  DataType type;
  std::string_view name;
  size_t size;
};

// Indexed by DataType.
constexpr std::array<TypeInfo, 13> kTypes = {{
    {DataType::kBool, "BOOL", 1},
    {DataType::kUint8, "UINT8", 1},
    {DataType::kUint16, "UINT16", 2},
    {DataType::kUint32, "UINT32", 4},
    {DataType::kUint64, "UINT64", 8},
    {DataType::kInt8, "INT8", 1},
    {DataType::kInt16, "INT16", 2},
    {DataType::kInt32, "INT32", 4},
    {DataType::kInt64, "INT64", 8},
    {DataType::kFp16, "FP16", 2},
    {DataType::kFp32, "FP32", 4},
    {DataType::kFp64, "FP64", 8},
    {DataType::kBytes, "BYTES", 0},
}};

constexpr bool TypesIndexedByEnum() {
  for (size_t i = 0; i < kTypes.size(); ++i) {
    if (static_cast<size_t>(kTypes[i].type) != i) return false;
  }
  return true;
}
static_assert(TypesIndexedByEnum());

std::string Prefix(const Tensor& tensor, std::string_view role) {
  return absl::StrCat(std::string(role), " '", tensor.name, "': ");
}

uint32_t ReadLength(const char* p) {
  uint32_t length;
  std::memcpy(&length, p, sizeof(length));
  return length;
}

// Offset just past `count` BYTES elements starting at `offset`, or -1 when a
// length prefix or element runs past the end of `data`.
int64_t SkipBytesElements(std::string_view data, size_t offset, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (data.size() - offset < 4) return -1;
    const uint32_t length = ReadLength(data.data() + offset);
    offset += 4;
    if (data.size() - offset < length) return -1;
    offset += length;
  }
  return static_cast<int64_t>(offset);
}

// Product of shape[1:], or -1 on a negative dim or overflow.
int64_t RowElements(const std::vector<int64_t>& shape) {
  int64_t product = 1;
  for (size_t i = 1; i < shape.size(); ++i) {
    if (shape[i] < 0 || __builtin_mul_overflow(product, shape[i], &product)) return -1;
  }
  return product;
}

}  // namespace

std::optional<DataType> ParseDataType(std::string_view name) {
  for (const TypeInfo& info : kTypes) {
    if (info.name == name) return info.type;
  }
  return std::nullopt;
}

std::string_view DataTypeName(DataType type) { return kTypes[static_cast<size_t>(type)].name; }

size_t DataTypeSize(DataType type) { return kTypes[static_cast<size_t>(type)].size; }

int64_t Tensor::ElementCount() const {
  int64_t product = 1;
  for (int64_t dim : shape) {
    if (dim < 0 || __builtin_mul_overflow(product, dim, &product)) return -1;
  }
  return product;
}

int64_t InferRequest::BatchSize() const {
  if (inputs.empty()) return 0;
  const Tensor& first = inputs.front();
  return first.shape.empty() ? 1 : first.shape.front();
}

std::string ShapeString(std::span<const int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(shape[i]);
  }
  out += ']';
  return out;
}

absl::Status ValidateTensorData(const Tensor& tensor) {
  return ValidateTensorData(tensor, "tensor");
}

absl::Status ValidateTensorData(const Tensor& tensor, std::string_view role) {
  const int64_t count = tensor.ElementCount();
  if (count < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(tensor, role), "invalid shape ", ShapeString(tensor.shape),
                     " (negative dimension or more than 2^63 elements)"));
  }
  const std::string_view data = tensor.data;
  if (tensor.datatype != DataType::kBytes) {
    const size_t size = DataTypeSize(tensor.datatype);
    const uint64_t needed = static_cast<uint64_t>(count);
    if (needed > data.size() / size || needed * size != data.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          Prefix(tensor, role), "shape ", ShapeString(tensor.shape), " of ",
          std::string(DataTypeName(tensor.datatype)), " needs ",
          needed > UINT64_MAX / size ? "more than 2^64" : std::to_string(needed * size),
          " bytes, got ", data.size()));
    }
    if (tensor.datatype == DataType::kBool) {
      for (size_t i = 0; i < data.size(); ++i) {
        const auto value = static_cast<unsigned char>(data[i]);
        if (value > 1) {
          return absl::InvalidArgumentError(absl::StrCat(Prefix(tensor, role), "BOOL element ", i,
                                                         " is ", value, ", not 0 or 1"));
        }
      }
    }
    return absl::OkStatus();
  }
  // Every BYTES element carries at least its 4-byte length prefix.
  if (static_cast<uint64_t>(count) > data.size() / 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(tensor, role), "shape ", ShapeString(tensor.shape), " needs ", count,
                     " BYTES elements, data holds at most ", data.size() / 4));
  }
  size_t offset = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (data.size() - offset < 4) {
      return absl::InvalidArgumentError(absl::StrCat(Prefix(tensor, role), "BYTES element ", i,
                                                     ": length prefix truncated (shape ",
                                                     ShapeString(tensor.shape), ")"));
    }
    const uint32_t length = ReadLength(data.data() + offset);
    offset += 4;
    if (data.size() - offset < length) {
      return absl::InvalidArgumentError(absl::StrCat(Prefix(tensor, role), "BYTES element ", i,
                                                     ": length ", length, " overruns the data (",
                                                     data.size() - offset, " bytes left)"));
    }
    offset += length;
  }
  if (offset != data.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(tensor, role), data.size() - offset, " bytes left after the ", count,
                     " BYTES elements of shape ", ShapeString(tensor.shape)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> ConcatBatch(std::span<const Tensor* const> parts) {
  if (parts.empty()) return absl::InvalidArgumentError("ConcatBatch: no tensors to concatenate");
  const Tensor& first = *parts.front();
  if (first.shape.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(first, "tensor"), "a scalar has no batch dimension"));
  }
  int64_t rows = 0;
  size_t bytes = 0;
  for (const Tensor* part : parts) {
    if (part->name != first.name || part->datatype != first.datatype ||
        part->shape.size() != first.shape.size() ||
        !std::equal(part->shape.begin() + 1, part->shape.end(), first.shape.begin() + 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ConcatBatch: tensor '", part->name, "' ", std::string(DataTypeName(part->datatype)),
          ShapeString(part->shape), " does not batch with tensor '", first.name, "' ",
          std::string(DataTypeName(first.datatype)), ShapeString(first.shape)));
    }
    if (absl::Status valid = ValidateTensorData(*part); !valid.ok()) return valid;
    if (__builtin_add_overflow(rows, part->shape.front(), &rows)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(first, "tensor"), "batch rows overflow int64"));
    }
    bytes += part->data.size();
  }
  Tensor joined;
  joined.name = first.name;
  joined.datatype = first.datatype;
  joined.shape = first.shape;
  joined.shape.front() = rows;
  joined.data.reserve(bytes);
  for (const Tensor* part : parts) joined.data += part->data;
  return joined;
}

absl::StatusOr<std::vector<Tensor>> SplitBatch(const Tensor& whole, std::span<const int64_t> rows) {
  if (whole.shape.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(whole, "tensor"), "a scalar has no batch dimension to split"));
  }
  if (absl::Status valid = ValidateTensorData(whole); !valid.ok()) return valid;
  int64_t total = 0;
  for (int64_t r : rows) {
    if (r < 0 || __builtin_add_overflow(total, r, &total)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(whole, "tensor"), "invalid split row count ", r));
    }
  }
  if (total != whole.shape.front()) {
    return absl::InvalidArgumentError(absl::StrCat(Prefix(whole, "tensor"), "split rows sum to ",
                                                   total, " but dimension 0 is ",
                                                   whole.shape.front()));
  }
  const int64_t row_elements = RowElements(whole.shape);
  if (row_elements < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(whole, "tensor"), "invalid shape ", ShapeString(whole.shape)));
  }
  const std::string_view data = whole.data;
  const size_t element_size = DataTypeSize(whole.datatype);
  std::vector<Tensor> pieces;
  pieces.reserve(rows.size());
  size_t offset = 0;
  for (int64_t r : rows) {
    Tensor& piece = pieces.emplace_back();
    piece.name = whole.name;
    piece.datatype = whole.datatype;
    piece.shape = whole.shape;
    piece.shape.front() = r;
    piece.parameters = whole.parameters;
    // ValidateTensorData bounded the element count by the data size, so the
    // products below cannot overflow.
    const int64_t elements = r * row_elements;
    size_t end;
    if (whole.datatype == DataType::kBytes) {
      end = static_cast<size_t>(SkipBytesElements(data, offset, elements));
    } else {
      end = offset + static_cast<size_t>(elements) * element_size;
    }
    piece.data.assign(data.substr(offset, end - offset));
    offset = end;
  }
  return pieces;
}

uint16_t DoubleToHalf(double value) {
  const uint64_t bits = std::bit_cast<uint64_t>(value);
  const auto sign = static_cast<uint16_t>((bits >> 48) & 0x8000);
  const int exponent = static_cast<int>((bits >> 52) & 0x7ff);
  const uint64_t mantissa = bits & ((uint64_t{1} << 52) - 1);
  if (exponent == 0x7ff) return sign | 0x7c00 | (mantissa != 0 ? 0x200 : 0);
  const int e = exponent - 1023;
  if (e > 15) return sign | 0x7c00;
  // Below 2^-25 (half the smallest subnormal) everything rounds to zero.
  if (e < -25) return sign;
  const uint64_t significand = mantissa | (uint64_t{1} << 52);
  int shift;
  uint64_t result;
  if (e >= -14) {
    shift = 42;
    result = (static_cast<uint64_t>(e + 15) << 10) | ((significand >> shift) & 0x3ff);
  } else {
    shift = 28 - e;  // half subnormals count units of 2^-24
    result = significand >> shift;
  }
  const uint64_t remainder = significand & ((uint64_t{1} << shift) - 1);
  const uint64_t halfway = uint64_t{1} << (shift - 1);
  // A carry out of the mantissa correctly bumps the exponent (up to inf).
  if (remainder > halfway || (remainder == halfway && (result & 1) != 0)) ++result;
  return static_cast<uint16_t>(sign | result);
}

float HalfToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1f;
  const uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000 | (mantissa << 13));
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

}  // namespace ferry::serving
