#include "ferry/serving/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::serving {
namespace {

using ::testing::HasSubstr;

template <typename T>
std::string Pack(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string PackBytes(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    const auto length = static_cast<uint32_t>(v.size());
    out.append(reinterpret_cast<const char*>(&length), 4);
    out += v;
  }
  return out;
}

Tensor MakeTensor(std::string name, DataType type, std::vector<int64_t> shape, std::string data) {
  Tensor t;
  t.name = std::move(name);
  t.datatype = type;
  t.shape = std::move(shape);
  t.data = std::move(data);
  return t;
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST(DataTypeTest, NamesRoundTripAndSizes) {
  const std::vector<std::pair<std::string, size_t>> expected = {
      {"BOOL", 1}, {"UINT8", 1}, {"UINT16", 2}, {"UINT32", 4}, {"UINT64", 8},
      {"INT8", 1}, {"INT16", 2}, {"INT32", 4},  {"INT64", 8},  {"FP16", 2},
      {"FP32", 4}, {"FP64", 8},  {"BYTES", 0}};
  for (const auto& [name, size] : expected) {
    std::optional<DataType> type = ParseDataType(name);
    ASSERT_TRUE(type.has_value()) << name;
    EXPECT_EQ(DataTypeName(*type), name);
    EXPECT_EQ(DataTypeSize(*type), size) << name;
  }
  EXPECT_FALSE(ParseDataType("fp32").has_value());  // case-sensitive like Triton
  EXPECT_FALSE(ParseDataType("BF16").has_value());
  EXPECT_FALSE(ParseDataType("").has_value());
}

TEST(TensorTest, ElementCount) {
  Tensor t;
  EXPECT_EQ(t.ElementCount(), 1);  // scalar
  t.shape = {2, 3};
  EXPECT_EQ(t.ElementCount(), 6);
  t.shape = {0, 5};
  EXPECT_EQ(t.ElementCount(), 0);
  t.shape = {-1, 3};
  EXPECT_EQ(t.ElementCount(), -1);
  t.shape = {int64_t{1} << 40, int64_t{1} << 40};
  EXPECT_EQ(t.ElementCount(), -1);
  t.shape = {std::numeric_limits<int64_t>::max(), 1};
  EXPECT_EQ(t.ElementCount(), std::numeric_limits<int64_t>::max());
}

TEST(TensorTest, ShapeString) {
  EXPECT_EQ(ShapeString(std::vector<int64_t>{-1, 30}), "[-1,30]");
  EXPECT_EQ(ShapeString(std::vector<int64_t>{}), "[]");
}

TEST(TensorTest, BatchSize) {
  InferRequest request;
  EXPECT_EQ(request.BatchSize(), 0);
  request.inputs.push_back(MakeTensor("x", DataType::kFp32, {}, Pack<float>({1})));
  EXPECT_EQ(request.BatchSize(), 1);
  request.inputs.front().shape = {4, 2};
  EXPECT_EQ(request.BatchSize(), 4);
}

TEST(ValidateTensorDataTest, FixedSize) {
  Tensor t = MakeTensor("x", DataType::kFp32, {2, 3}, Pack<float>({1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(ValidateTensorData(t).ok());
  t.data.pop_back();
  absl::Status status = ValidateTensorData(t);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("tensor 'x'"));
  EXPECT_THAT(Message(status), HasSubstr("needs 24 bytes, got 23"));
  EXPECT_THAT(Message(ValidateTensorData(t, "input")), HasSubstr("input 'x'"));
}

TEST(ValidateTensorDataTest, BoolBytesAreZeroOrOne) {
  Tensor t = MakeTensor("b", DataType::kBool, {3}, std::string("\x01\x00\x01", 3));
  EXPECT_TRUE(ValidateTensorData(t).ok());
  t.data[1] = 2;
  EXPECT_THAT(Message(ValidateTensorData(t)), HasSubstr("BOOL element 1 is 2"));
}

TEST(ValidateTensorDataTest, RejectsBadShapes) {
  Tensor t = MakeTensor("x", DataType::kInt64, {-2}, "");
  EXPECT_THAT(Message(ValidateTensorData(t)), HasSubstr("invalid shape [-2]"));
  t.shape = {int64_t{1} << 62, 4};
  EXPECT_FALSE(ValidateTensorData(t).ok());
  // Product fits int64 but times 8 bytes overflows: must not wrap to "ok".
  t.shape = {int64_t{1} << 61};
  EXPECT_FALSE(ValidateTensorData(t).ok());
}

TEST(ValidateTensorDataTest, Bytes) {
  Tensor t = MakeTensor("s", DataType::kBytes, {3}, PackBytes({"ab", "", "xyz"}));
  EXPECT_TRUE(ValidateTensorData(t).ok());

  Tensor overrun = t;
  overrun.data[0] = 100;  // first length prefix now runs past the end
  EXPECT_THAT(Message(ValidateTensorData(overrun)), HasSubstr("overruns"));

  Tensor trailing = t;
  trailing.data += "zz";
  EXPECT_THAT(Message(ValidateTensorData(trailing)), HasSubstr("2 bytes left"));

  Tensor truncated = t;
  truncated.data = PackBytes({"ab", ""}) + std::string("\x03\x00", 2);
  EXPECT_THAT(Message(ValidateTensorData(truncated)), HasSubstr("truncated"));

  Tensor too_many = t;
  too_many.shape = {int64_t{1} << 50};
  EXPECT_THAT(Message(ValidateTensorData(too_many)), HasSubstr("at most"));
}

TEST(ConcatBatchTest, ConcatenatesAlongDimZero) {
  Tensor a = MakeTensor("x", DataType::kFp32, {1, 2}, Pack<float>({1, 2}));
  Tensor b = MakeTensor("x", DataType::kFp32, {2, 2}, Pack<float>({3, 4, 5, 6}));
  const Tensor* parts[] = {&a, &b};
  absl::StatusOr<Tensor> joined = ConcatBatch(parts);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(joined->name, "x");
  EXPECT_EQ(joined->shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(joined->data, Pack<float>({1, 2, 3, 4, 5, 6}));
}

TEST(ConcatBatchTest, RejectsMismatches) {
  Tensor a = MakeTensor("x", DataType::kFp32, {1, 2}, Pack<float>({1, 2}));
  Tensor other_dims = MakeTensor("x", DataType::kFp32, {1, 3}, Pack<float>({1, 2, 3}));
  Tensor other_type = MakeTensor("x", DataType::kFp64, {1, 2}, Pack<double>({1, 2}));
  Tensor other_name = MakeTensor("y", DataType::kFp32, {1, 2}, Pack<float>({1, 2}));
  Tensor bad_data = MakeTensor("x", DataType::kFp32, {1, 2}, Pack<float>({1}));
  Tensor scalar = MakeTensor("x", DataType::kFp32, {}, Pack<float>({1}));
  for (const Tensor* bad : {&other_dims, &other_type, &other_name, &bad_data}) {
    const Tensor* parts[] = {&a, bad};
    EXPECT_EQ(ConcatBatch(parts).status().code(), absl::StatusCode::kInvalidArgument);
  }
  const Tensor* scalars[] = {&scalar, &scalar};
  EXPECT_FALSE(ConcatBatch(scalars).ok());
  EXPECT_FALSE(ConcatBatch({}).ok());
}

TEST(SplitBatchTest, SplitsRowsAndKeepsParameters) {
  Tensor whole = MakeTensor("y", DataType::kInt32, {3, 2}, Pack<int32_t>({1, 2, 3, 4, 5, 6}));
  whole.parameters = {{"k", "v"}};
  const int64_t rows[] = {1, 0, 2};
  absl::StatusOr<std::vector<Tensor>> pieces = SplitBatch(whole, rows);
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  ASSERT_EQ(pieces->size(), 3u);
  EXPECT_EQ((*pieces)[0].shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ((*pieces)[0].data, Pack<int32_t>({1, 2}));
  EXPECT_EQ((*pieces)[1].shape, (std::vector<int64_t>{0, 2}));
  EXPECT_TRUE((*pieces)[1].data.empty());
  EXPECT_EQ((*pieces)[2].data, Pack<int32_t>({3, 4, 5, 6}));
  EXPECT_EQ((*pieces)[2].parameters["k"], "v");
}

TEST(SplitBatchTest, SplitsBytesByWalkingPrefixes) {
  Tensor whole = MakeTensor("s", DataType::kBytes, {3}, PackBytes({"a", "bcd", ""}));
  const int64_t rows[] = {2, 1};
  absl::StatusOr<std::vector<Tensor>> pieces = SplitBatch(whole, rows);
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  EXPECT_EQ((*pieces)[0].data, PackBytes({"a", "bcd"}));
  EXPECT_EQ((*pieces)[1].data, PackBytes({""}));
}

TEST(SplitBatchTest, RejectsBadRows) {
  Tensor whole = MakeTensor("y", DataType::kFp32, {2}, Pack<float>({1, 2}));
  const int64_t too_many[] = {2, 1};
  EXPECT_THAT(Message(SplitBatch(whole, too_many).status()), HasSubstr("sum to 3"));
  const int64_t negative[] = {3, -1};
  EXPECT_FALSE(SplitBatch(whole, negative).ok());
  Tensor bad = whole;
  bad.data.resize(3);
  const int64_t ok_rows[] = {1, 1};
  EXPECT_FALSE(SplitBatch(bad, ok_rows).ok());
  Tensor scalar = MakeTensor("y", DataType::kFp32, {}, Pack<float>({1}));
  const int64_t one[] = {1};
  EXPECT_FALSE(SplitBatch(scalar, one).ok());
}

TEST(SplitBatchTest, InvertsConcat) {
  Tensor a = MakeTensor("s", DataType::kBytes, {1, 2}, PackBytes({"x", "yy"}));
  Tensor b = MakeTensor("s", DataType::kBytes, {2, 2}, PackBytes({"", "q", "rr", "sss"}));
  const Tensor* parts[] = {&a, &b};
  absl::StatusOr<Tensor> joined = ConcatBatch(parts);
  ASSERT_TRUE(joined.ok());
  const int64_t rows[] = {1, 2};
  absl::StatusOr<std::vector<Tensor>> pieces = SplitBatch(*joined, rows);
  ASSERT_TRUE(pieces.ok());
  EXPECT_EQ((*pieces)[0].data, a.data);
  EXPECT_EQ((*pieces)[0].shape, a.shape);
  EXPECT_EQ((*pieces)[1].data, b.data);
  EXPECT_EQ((*pieces)[1].shape, b.shape);
}

TEST(HalfTest, KnownValues) {
  EXPECT_EQ(DoubleToHalf(1.0), 0x3c00);
  EXPECT_EQ(DoubleToHalf(-2.0), 0xc000);
  EXPECT_EQ(DoubleToHalf(0.1), 0x2e66);
  EXPECT_EQ(DoubleToHalf(65504.0), 0x7bff);  // largest finite
  EXPECT_EQ(DoubleToHalf(65519.99), 0x7bff);
  EXPECT_EQ(DoubleToHalf(65520.0), 0x7c00);  // rounds to inf
  EXPECT_EQ(DoubleToHalf(1e300), 0x7c00);
  EXPECT_EQ(DoubleToHalf(-0.0), 0x8000);
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -25)), 0x0000);  // tie rounds to even (0)
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.5, -25)), 0x0001);
  EXPECT_EQ(DoubleToHalf(std::ldexp(3.0, -25)), 0x0002);  // tie 1.5 ulp -> even 2
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(DoubleToHalf(1e-30), 0x0000);
  EXPECT_EQ(DoubleToHalf(1.0 + std::ldexp(1.0, -11)), 0x3c00);      // tie to even
  EXPECT_EQ(DoubleToHalf(1.0 + 3 * std::ldexp(1.0, -11)), 0x3c02);  // tie to even
  EXPECT_EQ(DoubleToHalf(std::numeric_limits<double>::infinity()), 0x7c00);
  EXPECT_EQ(DoubleToHalf(std::nan("")) & 0x7c00, 0x7c00);
  EXPECT_NE(DoubleToHalf(std::nan("")) & 0x3ff, 0);
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(HalfToFloat(0xfc00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
}

TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto half = static_cast<uint16_t>(bits);
    const float value = HalfToFloat(half);
    if (std::isnan(value)) continue;
    ASSERT_EQ(DoubleToHalf(value), half) << bits;
  }
}

}  // namespace
}  // namespace ferry::serving
