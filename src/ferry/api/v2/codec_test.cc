#include "ferry/api/v2/codec.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::api::v2 {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using serving::DataType;
using serving::InferRequest;
using serving::InferResponse;
using serving::Tensor;

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

InferRequest MustDecode(std::string_view body, std::optional<size_t> header = std::nullopt) {
  absl::StatusOr<InferRequest> request = DecodeInferRequest(body, header);
  EXPECT_TRUE(request.ok()) << request.status() << "\nbody: " << body;
  return request.ok() ? *std::move(request) : InferRequest{};
}

// The error message of a decode that must fail with InvalidArgument.
std::string DecodeError(std::string_view body, std::optional<size_t> header = std::nullopt,
                        const DecodeLimits& limits = {}) {
  absl::StatusOr<InferRequest> request = DecodeInferRequest(body, header, limits);
  if (request.ok()) {
    ADD_FAILURE() << "decoded unexpectedly: " << body;
    return "";
  }
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(request.status().message());
}

// Decodes `body` placed so that it ends exactly at a page boundary followed by
// an inaccessible page: any read past the end of the body crashes, even one
// by uninstrumented library code (ASan only sees instrumented code).
absl::StatusOr<InferRequest> DecodeExact(std::string_view body,
                                         std::optional<size_t> header = std::nullopt) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t pages = (body.size() + page - 1) / page + 1;
  void* block =
      mmap(nullptr, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED) return absl::InternalError("mmap failed");
  char* guard = static_cast<char*>(block) + (pages - 1) * page;
  EXPECT_EQ(mprotect(guard, page, PROT_NONE), 0);
  char* copy = guard - body.size();
  if (!body.empty()) std::memcpy(copy, body.data(), body.size());
  absl::StatusOr<InferRequest> request =
      DecodeInferRequest(std::string_view(copy, body.size()), header);
  munmap(block, pages * page);
  return request;
}

// One-input request body.
std::string OneInput(std::string_view datatype, std::string_view shape, std::string_view data) {
  return absl::StrCat(R"({"inputs":[{"name":"x","datatype":")", std::string(datatype),
                      R"(","shape":)", std::string(shape), R"(,"data":)", std::string(data), "}]}");
}

// ---------------------------------------------------------------------------
// Decoding JSON data.

TEST(DecodeTest, EveryDatatypeFromJson) {
  struct Case {
    std::string datatype;
    std::string data;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"BOOL", "[true,false,true]", std::string("\x01\x00\x01", 3)},
      {"UINT8", "[0,255,7]", Pack<uint8_t>({0, 255, 7})},
      {"UINT16", "[0,65535,7]", Pack<uint16_t>({0, 65535, 7})},
      {"UINT32", "[0,4294967295,7]", Pack<uint32_t>({0, 4294967295u, 7})},
      {"UINT64", "[0,18446744073709551615,7]",
       Pack<uint64_t>({0, std::numeric_limits<uint64_t>::max(), 7})},
      {"INT8", "[-128,127,0]", Pack<int8_t>({-128, 127, 0})},
      {"INT16", "[-32768,32767,0]", Pack<int16_t>({-32768, 32767, 0})},
      {"INT32", "[-2147483648,2147483647,0]",
       Pack<int32_t>({std::numeric_limits<int32_t>::min(), 2147483647, 0})},
      {"INT64", "[-9223372036854775808,9223372036854775807,0]",
       Pack<int64_t>(
           {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), 0})},
      {"FP16", "[1,-2.0,0.5]", Pack<uint16_t>({0x3c00, 0xc000, 0x3800})},
      {"FP32", "[1.5,-2,0.1]", Pack<float>({1.5f, -2.0f, 0.1f})},
      {"FP64", "[1.5,-2,0.1]", Pack<double>({1.5, -2.0, 0.1})},
      {"BYTES", R"(["ab","","\u00e9\n"])", PackBytes({"ab", "", "\xc3\xa9\n"})},
  };
  for (const Case& c : cases) {
    InferRequest request = MustDecode(OneInput(c.datatype, "[3]", c.data));
    ASSERT_EQ(request.inputs.size(), 1u) << c.datatype;
    const Tensor& input = request.inputs[0];
    EXPECT_EQ(input.name, "x");
    EXPECT_EQ(serving::DataTypeName(input.datatype), c.datatype);
    EXPECT_EQ(input.shape, (std::vector<int64_t>{3}));
    EXPECT_EQ(input.data, c.expected) << c.datatype;
    EXPECT_TRUE(input.parameters.is_null());
  }
}

TEST(DecodeTest, NestedDataIsFlattenedRowMajor) {
  InferRequest request = MustDecode(OneInput("INT32", "[2,3]", "[[1,2,3],[4,5,6]]"));
  EXPECT_EQ(request.inputs[0].data, Pack<int32_t>({1, 2, 3, 4, 5, 6}));
  // Nesting need not follow the shape, only be rectangular (Triton flattens).
  request = MustDecode(OneInput("INT32", "[6]", "[[[1],[2]],[[3],[4]],[[5],[6]]]"));
  EXPECT_EQ(request.inputs[0].data, Pack<int32_t>({1, 2, 3, 4, 5, 6}));
  request = MustDecode(OneInput("FP32", "[0,4]", "[]"));
  EXPECT_TRUE(request.inputs[0].data.empty());
  request = MustDecode(OneInput("FP32", "[]", "[7]"));  // scalar
  EXPECT_EQ(request.inputs[0].data, Pack<float>({7}));
}

TEST(DecodeTest, RejectsInconsistentNesting) {
  EXPECT_THAT(DecodeError(OneInput("INT32", "[3]", "[[1,2],[3]]")),
              HasSubstr("input 'x': 'data' is not a rectangular array"));
  EXPECT_THAT(DecodeError(OneInput("INT32", "[2]", "[1,[2]]")), HasSubstr("rectangular"));
  EXPECT_THAT(DecodeError(OneInput("INT32", "[2]", "[[1],2]")), HasSubstr("rectangular"));
  EXPECT_THAT(DecodeError(OneInput("INT32", "[1]", "[[],1]")), HasSubstr("rectangular"));
  EXPECT_THAT(DecodeError(OneInput("INT32", "[2]", "[[[1]],[2]]")), HasSubstr("rectangular"));
  EXPECT_THAT(DecodeError(OneInput("INT32", "[2]", "[[[]],[]]")), HasSubstr("rectangular"));
  EXPECT_THAT(DecodeError(OneInput("INT32", "[1]", "[{\"a\":1}]")), HasSubstr("objects"));
  std::string deep = std::string(20, '[') + "1" + std::string(20, ']');
  EXPECT_THAT(DecodeError(OneInput("INT32", "[1]", deep)), HasSubstr("nested deeper than 16"));
}

TEST(DecodeTest, RangeChecksElements) {
  EXPECT_EQ(DecodeError(OneInput("UINT8", "[2]", "[1,300]")),
            "input 'x': 'data' element 1: value 300 is out of range for UINT8");
  EXPECT_THAT(DecodeError(OneInput("UINT32", "[1]", "[-1]")), HasSubstr("out of range for UINT32"));
  EXPECT_THAT(DecodeError(OneInput("INT8", "[1]", "[128]")), HasSubstr("out of range for INT8"));
  EXPECT_THAT(DecodeError(OneInput("INT64", "[1]", "[9223372036854775808]")),
              HasSubstr("out of range for INT64"));
  EXPECT_EQ(DecodeError(OneInput("INT32", "[1]", "[1.5]")),
            "input 'x': 'data' element 0: expected an integer for INT32, got 1.5");
  EXPECT_THAT(DecodeError(OneInput("INT32", "[1]", "[1.0]")), HasSubstr("expected an integer"));
  EXPECT_THAT(DecodeError(OneInput("UINT64", "[1]", "[18446744073709551616]")),
              HasSubstr("expected an integer"));
  EXPECT_THAT(DecodeError(OneInput("BOOL", "[1]", "[1]")), HasSubstr("expected a boolean"));
  EXPECT_THAT(DecodeError(OneInput("BYTES", "[1]", "[1]")), HasSubstr("expected a string"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[1]", "[\"1\"]")), HasSubstr("expected a number"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[1]", "[null]")), HasSubstr("got null"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[1]", "[1e39]")), HasSubstr("out of range for FP32"));
  EXPECT_THAT(DecodeError(OneInput("FP16", "[1]", "[70000]")), HasSubstr("out of range for FP16"));
  EXPECT_THAT(DecodeError(OneInput("FP64", "[1]", "[1e999]")), HasSubstr("malformed JSON"));
}

TEST(DecodeTest, ChecksShapeAgainstDataAndLimits) {
  EXPECT_EQ(DecodeError(OneInput("FP32", "[2,3]", "[1,2,3,4,5]")),
            "input 'x': 'data' has 5 elements, shape [2,3] needs 6");
  EXPECT_THAT(DecodeError(OneInput("FP32", "[2]", "[1,2,3]")), HasSubstr("needs 2"));
  EXPECT_EQ(DecodeError(OneInput("FP32", "[2,-1]", "[1,2]")),
            "input 'x': 'shape' dimension -1 is negative");
  EXPECT_THAT(DecodeError(OneInput("FP32", "[1.5]", "[1]")), HasSubstr("array of integers"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[\"2\"]", "[1]")), HasSubstr("array of integers"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[[2]]", "[1]")), HasSubstr("array of integers"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "2", "[1]")), HasSubstr("array of integers"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[4611686018427387904,4611686018427387904]", "[1]")),
              HasSubstr("limit max_elements"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[18446744073709551615]", "[1]")),
              HasSubstr("too large"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[67108865]", "[1]")),
              HasSubstr("more than 67108864 elements"));
  std::string many_dims = "[1" + std::string(",1").append(",1,1,1,1,1,1,1,1,1,1,1,1,1,1,1") + "]";
  EXPECT_THAT(DecodeError(OneInput("FP32", many_dims, "[1]")), HasSubstr("limit max_dims"));

  DecodeLimits small{.max_tensors = 1, .max_dims = 2, .max_elements = 4};
  EXPECT_THAT(DecodeError(OneInput("FP32", "[5]", "[1,2,3,4,5]"), std::nullopt, small),
              HasSubstr("more than 4 elements"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[1,1,1]", "[1]"), std::nullopt, small),
              HasSubstr("more than 2 dimensions"));
  const std::string two_inputs =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],"data":[1]},)"
      R"({"name":"b","datatype":"FP32","shape":[1],"data":[1]}]})";
  EXPECT_THAT(DecodeError(two_inputs, std::nullopt, small), HasSubstr("limit max_tensors"));
}

TEST(DecodeTest, FieldsInAnyOrder) {
  InferRequest request = MustDecode(
      R"({"outputs":[{"name":"y"}],"inputs":[{"data":[["a","bc"]],"shape":[1,2],)"
      R"("datatype":"BYTES","name":"s"},{"data":[1,2],"name":"n","shape":[2],"datatype":"INT8"}],)"
      R"("id":"r1"})");
  ASSERT_EQ(request.inputs.size(), 2u);
  EXPECT_EQ(request.id, "r1");
  EXPECT_EQ(request.inputs[0].data, PackBytes({"a", "bc"}));
  EXPECT_EQ(request.inputs[1].data, Pack<int8_t>({1, 2}));
  ASSERT_EQ(request.outputs.size(), 1u);
  EXPECT_EQ(request.outputs[0].name, "y");
  EXPECT_FALSE(request.outputs[0].binary_data.has_value());

  // Buffered elements of every kind convert once the datatype arrives.
  request =
      MustDecode(R"({"inputs":[{"name":"b","data":[true,false],"shape":[2],"datatype":"BOOL"},)"
                 R"({"name":"h","data":[1,-2.0,0.5],"shape":[3],"datatype":"FP16"},)"
                 R"({"name":"i","data":[-1,2],"shape":[2],"datatype":"INT64"}]})");
  EXPECT_EQ(request.inputs[0].data, std::string("\x01\x00", 2));
  EXPECT_EQ(request.inputs[1].data, Pack<uint16_t>({0x3c00, 0xc000, 0x3800}));
  EXPECT_EQ(request.inputs[2].data, Pack<int64_t>({-1, 2}));
  EXPECT_THAT(
      DecodeError(R"({"inputs":[{"name":"s","data":["a",1],"shape":[2],"datatype":"BYTES"}]})"),
      HasSubstr("input 's': 'data' element 1: expected a string for BYTES, got 1"));
  EXPECT_THAT(
      DecodeError(R"({"inputs":[{"name":"f","data":[1,"a"],"shape":[2],"datatype":"FP32"}]})"),
      HasSubstr("input 'f': 'data' element 1: expected a number for FP32, got a string"));

  // Late datatype still range-checks the buffered elements.
  EXPECT_THAT(DecodeError(R"({"inputs":[{"name":"x","data":[1,256],"shape":[2],)"
                          R"("datatype":"UINT8"}]})"),
              HasSubstr("input 'x': 'data' element 1: value 256 is out of range"));
}

TEST(DecodeTest, ErrorsNameTheInputEvenWhenNameComesLast) {
  EXPECT_EQ(DecodeError(R"({"inputs":[{"shape":[1],"datatype":"UINT8","data":[300],)"
                        R"("parameters":{"a":[1,{"b":2}]},"name":"late"}]})"),
            "input 'late': 'data' element 0: value 300 is out of range for UINT8");
  EXPECT_EQ(DecodeError(R"({"inputs":[{"shape":[-1],"datatype":"FP32","data":[1]}]})"),
            "inputs[0]: 'shape' dimension -1 is negative");
  EXPECT_EQ(DecodeError(R"({"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]})"),
            "inputs[0]: missing 'name'");
}

TEST(DecodeTest, RejectsWrongTypesAndStructure) {
  EXPECT_THAT(DecodeError("[]"), HasSubstr("must be a JSON object"));
  EXPECT_THAT(DecodeError("3"), HasSubstr("must be a JSON object"));
  EXPECT_THAT(DecodeError("{}"), HasSubstr("missing 'inputs'"));
  EXPECT_THAT(DecodeError(R"({"inputs":{}})"), HasSubstr("'inputs' must be an array"));
  EXPECT_THAT(DecodeError(R"({"inputs":[1]})"), HasSubstr("'inputs' must be an array of objects"));
  EXPECT_THAT(DecodeError(R"({"inputs":[[]]})"), HasSubstr("'inputs' must be an array of objects"));
  EXPECT_THAT(DecodeError(R"({"id":5,"inputs":[]})"), HasSubstr("'id' must be a string"));
  EXPECT_THAT(DecodeError(R"({"parameters":[],"inputs":[]})"),
              HasSubstr("'parameters' must be an object"));
  EXPECT_THAT(DecodeError(OneInput("FP33", "[1]", "[1]")),
              HasSubstr("input 'x': unsupported datatype 'FP33'"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[1]", "1")), HasSubstr("'data' must be an array"));
  EXPECT_THAT(DecodeError(R"({"inputs":[{"name":"x","shape":[1],"data":[1]}]})"),
              HasSubstr("input 'x': missing 'datatype'"));
  EXPECT_THAT(DecodeError(R"({"inputs":[{"name":"x","datatype":"FP32","data":[1]}]})"),
              HasSubstr("input 'x': missing 'shape'"));
  EXPECT_THAT(DecodeError(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]})"),
              HasSubstr("input 'x': missing 'data'"));
  EXPECT_THAT(DecodeError(R"({"inputs":[{"name":"","datatype":"FP32","shape":[1],"data":[1]}]})"),
              HasSubstr("'name' must be a non-empty string"));
  EXPECT_THAT(DecodeError(R"({"inputs":[{"name":"x","name":"y"}]})"),
              HasSubstr("duplicate field 'name'"));
  EXPECT_THAT(DecodeError(R"({"inputs":[],"inputs":[]})"), HasSubstr("duplicate field 'inputs'"));
  EXPECT_THAT(DecodeError(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1],)"
                          R"("data":[2]}]})"),
              HasSubstr("input 'x': duplicate field 'data'"));
  const std::string twice = R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]},)"
                            R"({"name":"x","datatype":"FP32","shape":[1],"data":[1]}]})";
  EXPECT_THAT(DecodeError(twice), HasSubstr("input 'x': given more than once"));
  EXPECT_THAT(DecodeError(R"({"inputs":[],"outputs":[{"parameters":{}}]})"),
              HasSubstr("outputs[0]: missing 'name'"));
  EXPECT_THAT(DecodeError(R"({"inputs":[],"outputs":[{"name":"y"},{"name":"y"}]})"),
              HasSubstr("output 'y': requested more than once"));
  EXPECT_THAT(DecodeError(R"({"inputs":[],"outputs":[{"name":"y","parameters":)"
                          R"({"binary_data":1}}]})"),
              HasSubstr("output 'y': parameters.binary_data must be a boolean"));
}

TEST(DecodeTest, RejectsMalformedJson) {
  EXPECT_THAT(DecodeError(""), HasSubstr("malformed JSON"));
  EXPECT_THAT(DecodeError(R"({"inputs":[)"), HasSubstr("malformed JSON"));
  EXPECT_THAT(DecodeError(R"({"inputs":[]} x)"), HasSubstr("malformed JSON"));
  EXPECT_THAT(DecodeError(R"({"inputs":[{"name":"x","data":[1,2)"), HasSubstr("malformed JSON"));
  std::string deep =
      R"({"inputs":[],"parameters":)" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_THAT(DecodeError(deep), HasSubstr("'parameters' must be an object"));
  deep =
      R"({"inputs":[],"parameters":{"a":)" + std::string(100, '[') + std::string(100, ']') + "}}";
  EXPECT_THAT(DecodeError(deep), HasSubstr("nested deeper than 64"));
  deep = R"({"inputs":[],"junk":)";
  for (int i = 0; i < 100; ++i) deep += R"({"a":)";
  deep += "1" + std::string(101, '}');
  EXPECT_THAT(DecodeError(deep), HasSubstr("nested deeper than 64"));
}

TEST(DecodeTest, RequestParametersAndUnknownFields) {
  InferRequest request = MustDecode(
      R"({"id":"abc","unknown":{"deep":[1,{"x":null}]},"parameters":{"binary_data_output":true,)"
      R"("priority":2,"timeout":1500,"ferry_route_key":"user-7","custom":{"k":[1.5]}},)"
      R"("inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1],"extra":[[]],)"
      R"("parameters":{"note":"hi"}}],)"
      R"("outputs":[{"name":"y","parameters":{"binary_data":false,"classification":3}}]})");
  EXPECT_EQ(request.id, "abc");
  EXPECT_TRUE(request.binary_data_output);
  EXPECT_EQ(request.priority, 2u);
  EXPECT_EQ(request.timeout_us, 1500u);
  EXPECT_EQ(request.route_key, "user-7");
  EXPECT_EQ(request.parameters["custom"]["k"][0], 1.5);
  EXPECT_EQ(request.inputs[0].parameters["note"], "hi");
  ASSERT_EQ(request.outputs.size(), 1u);
  EXPECT_EQ(request.outputs[0].binary_data, false);
  EXPECT_EQ(request.outputs[0].parameters["classification"], 3);

  EXPECT_THAT(DecodeError(R"({"inputs":[],"parameters":{"priority":-1}})"),
              HasSubstr("parameters.priority"));
  EXPECT_THAT(DecodeError(R"({"inputs":[],"parameters":{"priority":4294967296}})"),
              HasSubstr("parameters.priority"));
  EXPECT_THAT(DecodeError(R"({"inputs":[],"parameters":{"timeout":1.5}})"),
              HasSubstr("parameters.timeout"));
  EXPECT_THAT(DecodeError(R"({"inputs":[],"parameters":{"binary_data_output":"yes"}})"),
              HasSubstr("parameters.binary_data_output"));
  EXPECT_THAT(DecodeError(R"({"inputs":[],"parameters":{"ferry_route_key":1}})"),
              HasSubstr("parameters.ferry_route_key"));
  request = MustDecode(R"({"inputs":[],"parameters":null})");
  EXPECT_TRUE(request.parameters.is_null());
}

// Numbers reach the decoder classified as nlohmann classifies them: negative
// integers signed, non-negative integers unsigned, anything with a fraction
// or an exponent a float.
TEST(DecodeJsonTest, NumberClassification) {
  constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  constexpr uint64_t kUint64Max = std::numeric_limits<uint64_t>::max();
  InferRequest request =
      MustDecode(OneInput("INT64", "[6]", "[-1,0,-0,1,-9223372036854775808,9223372036854775807]"));
  EXPECT_EQ(request.inputs[0].data, Pack<int64_t>({-1, 0, 0, 1, kInt64Min, kInt64Max}));
  request = MustDecode(OneInput(
      "UINT64", "[4]", "[0,9223372036854775807,9223372036854775808,18446744073709551615]"));
  EXPECT_EQ(request.inputs[0].data,
            Pack<uint64_t>({0, static_cast<uint64_t>(kInt64Max), uint64_t{1} << 63, kUint64Max}));
  EXPECT_EQ(DecodeError(OneInput("UINT8", "[1]", "[-1]")),
            "input 'x': 'data' element 0: value -1 is out of range for UINT8");
  EXPECT_EQ(DecodeError(OneInput("INT64", "[1]", "[18446744073709551615]")),
            "input 'x': 'data' element 0: value 18446744073709551615 is out of range for INT64");
  // Integral values written as floats stay floats.
  EXPECT_EQ(DecodeError(OneInput("INT32", "[1]", "[1e2]")),
            "input 'x': 'data' element 0: expected an integer for INT32, got 100");
  EXPECT_THAT(DecodeError(OneInput("INT32", "[1]", "[-0.0]")), HasSubstr("expected an integer"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[1.0]", "[1]")), HasSubstr("array of integers"));

  request = MustDecode(
      OneInput("FP64", "[10]",
               "[0.123456789,-1.5e-3,1E2,2e+2,25e-1,-0.0,0.0,-7,18446744073709551615,1e-400]"));
  const std::vector<double> want = {0.123456789, -1.5e-3, 100, 200, 2.5, -0.0, 0, -7, 0x1p64, 0};
  ASSERT_EQ(request.inputs[0].data, Pack<double>(want));
  double negative_zero;
  std::memcpy(&negative_zero, request.inputs[0].data.data() + 5 * sizeof(double), sizeof(double));
  EXPECT_TRUE(std::signbit(negative_zero));
  request = MustDecode(OneInput("FP32", "[3]", "[0.123456789,-1.5e-3,-0.0]"));
  EXPECT_EQ(request.inputs[0].data,
            Pack<float>({static_cast<float>(0.123456789), static_cast<float>(-1.5e-3), -0.0f}));
  // Shape dims and elements buffered before the datatype keep their kind.
  request = MustDecode(
      R"({"inputs":[{"name":"x","data":[-3,18446744073709551615,2.5],"shape":[3],"datatype":"FP64"}]})");
  EXPECT_EQ(request.inputs[0].data, Pack<double>({-3, 0x1p64, 2.5}));

  // In parameters the JSON types are those nlohmann's own parser gives.
  request = MustDecode(R"({"inputs":[],"parameters":{"n":-5,"z":0,"u":18446744073709551615,)"
                       R"("i":9223372036854775807,"f":1.5e0,"nz":-0.0,"e":1E3}})");
  const json& parameters = request.parameters;
  EXPECT_EQ(parameters, json::parse(R"({"n":-5,"z":0,"u":18446744073709551615,)"
                                    R"("i":9223372036854775807,"f":1.5e0,"nz":-0.0,"e":1E3})"));
  EXPECT_TRUE(parameters["n"].is_number_integer() && !parameters["n"].is_number_unsigned());
  EXPECT_TRUE(parameters["z"].is_number_unsigned());
  EXPECT_TRUE(parameters["u"].is_number_unsigned());
  EXPECT_TRUE(parameters["i"].is_number_unsigned());
  EXPECT_TRUE(parameters["f"].is_number_float());
  EXPECT_TRUE(parameters["nz"].is_number_float() && std::signbit(parameters["nz"].get<double>()));
  EXPECT_TRUE(parameters["e"].is_number_float());
}

// Integers beyond 64 bits are floats, as with nlohmann; numbers beyond double
// are malformed.
TEST(DecodeJsonTest, BigIntegers) {
  InferRequest request = MustDecode(OneInput(
      "FP64", "[3]", "[123456789012345678901234567890,-9223372036854775809,18446744073709551616]"));
  EXPECT_EQ(request.inputs[0].data,
            Pack<double>({123456789012345678901234567890.0, -9223372036854775809.0, 0x1p64}));
  EXPECT_EQ(DecodeError(OneInput("UINT64", "[1]", "[123456789012345678901234567890]")),
            "input 'x': 'data' element 0: expected an integer for UINT64, got "
            "1.2345678901234568e+29");
  EXPECT_THAT(DecodeError(OneInput("INT64", "[1]", "[-9223372036854775809]")),
              HasSubstr("expected an integer for INT64"));
  EXPECT_THAT(DecodeError(OneInput("FP32", "[123456789012345678901234567890]", "[1]")),
              HasSubstr("'shape' must be an array of integers"));
  request = MustDecode(R"({"inputs":[],"parameters":{"big":123456789012345678901234567890}})");
  EXPECT_TRUE(request.parameters["big"].is_number_float());
  EXPECT_THAT(DecodeError(R"({"inputs":[],"parameters":{"priority":18446744073709551616}})"),
              HasSubstr("parameters.priority"));
  // Too big for a double, or not a number at all.
  for (const std::string& data :
       std::vector<std::string>{"[1e999]", "[-1e999]", "[1" + std::string(400, '0') + "]", "[01]",
                                "[1.]", "[-]", "[.5]", "[+1]", "[0x10]", "[NaN]", "[Infinity]"}) {
    EXPECT_THAT(DecodeError(OneInput("FP64", "[1]", data)), HasSubstr("malformed JSON")) << data;
  }
}

TEST(DecodeJsonTest, RejectsDeepNesting) {
  // Deeper than simdjson's bound: refused before anything is walked, however
  // deep (no recursion), with the same message.
  for (int levels : {200, 100000}) {
    const std::string arrays = std::string(levels, '[') + std::string(levels, ']');
    EXPECT_EQ(DecodeError(R"({"inputs":[],"junk":)" + arrays + "}"),
              "JSON nested deeper than 64 levels");
    std::string objects = R"({"inputs":[],"junk":)";
    for (int i = 0; i < levels; ++i) objects += R"({"a":)";
    objects += "1" + std::string(levels + 1, '}');
    EXPECT_EQ(DecodeError(objects), "JSON nested deeper than 64 levels");
    // Unbalanced: never closed.
    EXPECT_THAT(DecodeError(std::string(levels, '[')), HasSubstr("JSON"));
    EXPECT_THAT(DecodeError(std::string(levels, '{')), HasSubstr("JSON"));
  }
  // Deeper than 64 but within simdjson's bound: the decoder's own error, with
  // its context.
  const std::string input =
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1],"extra":)" +
      std::string(70, '[') + std::string(70, ']') + "}]}";
  EXPECT_EQ(DecodeError(input), "input 'x': JSON nested deeper than 64 levels");
  // An input whose error waits for its name: deep content is still bounded.
  const std::string unnamed = R"({"inputs":[{"shape":[-1],"extra":)" + std::string(120, '[') +
                              std::string(120, ']') + R"(,"name":"late"}]})";
  EXPECT_EQ(DecodeError(unnamed), "input 'late': 'shape' dimension -1 is negative");
  // 64 levels are fine.
  const std::string ok =
      R"({"inputs":[],"junk":)" + std::string(63, '[') + std::string(63, ']') + "}";
  MustDecode(ok);
}

TEST(DecodeJsonTest, RejectsInvalidUtf8AndBadStrings) {
  for (const std::string& bad : std::vector<std::string>{
           std::string("\xff"),              // never valid
           std::string("\xc3"),              // truncated sequence
           std::string("\xc0\xaf"),          // overlong '/'
           std::string("\xed\xa0\x80"),      // UTF-16 surrogate
           std::string("\xf4\x90\x80\x80"),  // beyond U+10FFFF
           std::string("\\ud800"),           // lone high surrogate escape
           std::string("\\udc00"),           // lone low surrogate escape
           std::string("\\ud800\\u0041"),    // high surrogate without low
           std::string("\\x41"),             // invalid escape
           std::string("a\x01"),             // unescaped control character
       }) {
    EXPECT_THAT(DecodeError(OneInput("BYTES", "[1]", "[\"" + bad + "\"]")),
                HasSubstr("malformed JSON"))
        << bad;
    EXPECT_THAT(DecodeError(R"({"inputs":[],")" + bad + R"(":1})"), HasSubstr("malformed JSON"))
        << bad;
  }
  // Invalid UTF-8 outside strings, or in a string nobody reads.
  EXPECT_THAT(DecodeError("{\"inputs\":[]}\xff"), HasSubstr("malformed JSON"));
  EXPECT_THAT(DecodeError("{\"inputs\":[],\"id\":\"a\",\"junk\":\"\xff\"}"),
              HasSubstr("malformed JSON: The input is not valid UTF-8"));
  // Valid text, escapes and all, reaches the tensor as UTF-8; keys are
  // unescaped before they are matched.
  InferRequest request =
      MustDecode(R"({"inputs":[{"n\u0061me":"x","datatype":"BYTES","shape":[3],)"
                 R"("data":["\u00e9\ud83d\ude00","a\u0000b","\/\"\\\b\f\n\r\t"]}]})");
  EXPECT_EQ(request.inputs[0].name, "x");
  EXPECT_EQ(request.inputs[0].data,
            PackBytes({"\xc3\xa9\xf0\x9f\x98\x80", std::string("a\0b", 3), "/\"\\\b\f\n\r\t"}));
}

TEST(DecodeJsonTest, RejectsTrailingGarbageAndTruncation) {
  const std::string good = R"({"inputs":[]})";
  for (const std::string& bad : std::vector<std::string>{
           good + " x", good + "}", good + "{}", good + "[]", good + " 1",
           good + std::string(1, '\0'), good + ",", good.substr(0, good.size() - 1),
           good.substr(0, 5), std::string("{\"inputs\":[],}"), std::string("{\"inputs\":[1,]}"),
           std::string("{\"inputs\" []}"), std::string("{'inputs':[]}"), std::string(" "),
           std::string("\n\t "), std::string("nul"), std::string("tru"),
           std::string("\"unterminated")}) {
    const std::string message = DecodeError(bad);
    EXPECT_THAT(message, HasSubstr("malformed JSON: ")) << bad;
    EXPECT_GT(message.size(), std::string("malformed JSON: ").size()) << bad;
  }
  EXPECT_EQ(DecodeError(""), "malformed JSON: Empty: no JSON found");
  // Whitespace around the document, and a UTF-8 byte order mark before it
  // (nlohmann skipped one too), are fine.
  MustDecode(" \t\r\n" + good + " \t\r\n");
  MustDecode("\xEF\xBB\xBF" + good);
  EXPECT_THAT(DecodeError("\xEF\xBB" + good), HasSubstr("malformed JSON"));
}

TEST(DecodeJsonTest, DuplicateKeysInDocumentOrder) {
  // Known fields: refused. Inside parameters: the last one wins, as before.
  InferRequest request =
      MustDecode(R"({"inputs":[],"parameters":{"a":1,"b":[true],"a":{"c":null}}})");
  EXPECT_EQ(request.parameters, json::parse(R"({"a":{"c":null},"b":[true]})"));
  EXPECT_EQ(request.parameters["a"]["c"], nullptr);
  request = MustDecode(R"({"junk":1,"junk":[2],"inputs":[],"junk":{}})");
  EXPECT_TRUE(request.inputs.empty());
}

// The 30-float request the benchmarks send, through the whole decoder.
TEST(DecodeJsonTest, TypicalRequest) {
  std::string data;
  std::vector<float> want;
  for (int i = 0; i < 30; ++i) {
    const double value = i % 3 == 2 ? -(1.5 + i) * 1e-3 : 0.123456789 + i * 0.0311;
    if (i > 0) data += ",";
    data += absl::StrCat(value);
    want.push_back(static_cast<float>(std::stod(absl::StrCat(value))));
  }
  const std::string body =
      R"({"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","data":[)" + data +
      R"(]}],"outputs":[{"name":"predict"}]})";
  absl::StatusOr<InferRequest> request = DecodeExact(body);
  ASSERT_TRUE(request.ok()) << request.status();
  ASSERT_EQ(request->inputs.size(), 1u);
  EXPECT_EQ(request->inputs[0].name, "input-0");
  EXPECT_EQ(request->inputs[0].shape, (std::vector<int64_t>{1, 30}));
  EXPECT_EQ(request->inputs[0].data, Pack(want));
  ASSERT_EQ(request->outputs.size(), 1u);
  EXPECT_EQ(request->outputs[0].name, "predict");
}

// simdjson reads past the end of its input; the decoder must hand it a padded
// copy and never read past the body. Every body here ends right before an
// inaccessible page.
TEST(DecodeJsonTest, NeverReadsPastTheBody) {
  const std::vector<std::string> bodies = {
      OneInput("FP32", "[2]", "[1.5,-2]"),
      R"({"inputs":[],"id":"abc"})",
      R"({"inputs":[],"id":"abc)",  // truncated in a string
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1.25)",  // in a number
      "123456789",  // scalar document ending in a number
      "1e",
      "-",
      "\"\\u12",
      "t",
      "[",
      "{\"",
      "",
  };
  for (const std::string& body : bodies) {
    absl::StatusOr<InferRequest> request = DecodeExact(body);
    if (!request.ok()) {
      EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
    }
    EXPECT_EQ(request.ok(), body == bodies[0] || body == bodies[1]) << body;
  }
  // A JSON part that ends exactly where the body does, with binary data
  // declared: the header is all there is.
  const std::string header =
      R"({"inputs":[{"name":"a","datatype":"INT8","shape":[0],"parameters":{"binary_data_size":0}}]})";
  absl::StatusOr<InferRequest> request = DecodeExact(header, header.size());
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_TRUE(request->inputs[0].data.empty());

  // Bodies above the per-thread parser's size get a parser of their own; the
  // per-thread one still works afterwards.
  const int64_t count = 300000;  // ~1.2 MB of JSON
  std::string data = "[0.5";
  for (int64_t i = 1; i < count; ++i) data += ",0.5";
  data += "]";
  const std::string big = OneInput("FP32", absl::StrCat("[", count, "]"), data);
  ASSERT_GT(big.size(), size_t{1} << 20);
  request = DecodeExact(big);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->inputs[0].data.size(), count * sizeof(float));
  EXPECT_THAT(DecodeError(big.substr(0, big.size() - 1)), HasSubstr("malformed JSON"));
  request = DecodeExact(bodies[0]);
  EXPECT_TRUE(request.ok()) << request.status();
}

// ---------------------------------------------------------------------------
// Binary tensor data extension.

std::string WithBinary(const std::string& header, const std::string& binary, size_t* length) {
  *length = header.size();
  return header + binary;
}

TEST(DecodeBinaryTest, MixedBinaryAndJsonInputs) {
  const std::string header =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},)"
      R"({"name":"b","datatype":"INT32","shape":[1],"data":[5]},)"
      R"({"name":"c","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":13}}]})";
  size_t length;
  const std::string body =
      WithBinary(header, Pack<float>({1.5f, -2.0f}) + PackBytes({"hi", "you"}), &length);
  InferRequest request = MustDecode(body, length);
  ASSERT_EQ(request.inputs.size(), 3u);
  EXPECT_EQ(request.inputs[0].data, Pack<float>({1.5f, -2.0f}));
  EXPECT_EQ(request.inputs[1].data, Pack<int32_t>({5}));
  EXPECT_EQ(request.inputs[2].data, PackBytes({"hi", "you"}));
}

TEST(DecodeBinaryTest, BinaryBytesAreNotJson) {
  // Only the first json_header_length bytes are parsed: binary data that is
  // not UTF-8, or looks like more JSON, must not confuse the parser.
  const std::string header =
      R"({"inputs":[{"name":"a","datatype":"UINT8","shape":[8],"parameters":{"binary_data_size":8}}]})";
  for (const std::string& binary :
       std::vector<std::string>{std::string("\xff\xfe\x00\x80\xc3\"}]", 8),
                                std::string(" , {}]x\"", 8), std::string(8, '\0')}) {
    absl::StatusOr<InferRequest> request = DecodeExact(header + binary, header.size());
    ASSERT_TRUE(request.ok()) << request.status();
    EXPECT_EQ(request->inputs[0].data, binary);
  }
  // A header length that cuts the JSON short is malformed JSON.
  EXPECT_THAT(DecodeError(header + std::string(8, 'x'), header.size() - 1),
              HasSubstr("malformed JSON"));
  // One that takes binary bytes into the JSON is trailing garbage.
  EXPECT_THAT(DecodeError(header + "12345678", header.size() + 2), HasSubstr("malformed JSON"));
}

TEST(DecodeBinaryTest, RejectsSizeMismatches) {
  const std::string header =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]})";
  size_t length;
  // Extra trailing bytes nobody claims.
  std::string body = WithBinary(header, Pack<float>({1, 2, 3}), &length);
  EXPECT_THAT(DecodeError(body, length), HasSubstr("4 bytes of binary data"));
  // Truncated binary section.
  body = WithBinary(header, Pack<float>({1}), &length);
  EXPECT_THAT(DecodeError(body, length),
              HasSubstr("input 'a': parameters.binary_data_size 8 runs"));
  // Header length past the body.
  EXPECT_THAT(DecodeError(header, header.size() + 1), HasSubstr("exceeds the body size"));
  // No binary section at all: the header alone is JSON.
  EXPECT_THAT(DecodeError(header), HasSubstr("runs past the end"));
  // Size that does not fit the shape.
  const std::string wrong_size =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":4}}]})";
  body = WithBinary(wrong_size, Pack<float>({1}), &length);
  EXPECT_THAT(DecodeError(body, length), HasSubstr("input 'a': shape [2] of FP32 needs 8 bytes"));
  // Both data and binary_data_size.
  const std::string both = R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],"data":[1],)"
                           R"("parameters":{"binary_data_size":4}}]})";
  body = WithBinary(both, Pack<float>({1}), &length);
  EXPECT_THAT(DecodeError(body, length), HasSubstr("has both"));
  const std::string negative =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":-4}}]})";
  EXPECT_THAT(DecodeError(negative + "abcd", negative.size()),
              HasSubstr("binary_data_size must be a non-negative integer"));
  // BOOL bytes other than 0 / 1.
  const std::string bools =
      R"({"inputs":[{"name":"b","datatype":"BOOL","shape":[2],"parameters":{"binary_data_size":2}}]})";
  EXPECT_THAT(DecodeError(bools + std::string("\x01\x07", 2), bools.size()),
              HasSubstr("input 'b': BOOL element 1 is 7"));
  // Binary bytes without any binary input.
  const std::string json_only = OneInput("FP32", "[1]", "[1]");
  EXPECT_THAT(DecodeError(json_only + "xx", json_only.size()), HasSubstr("2 bytes of binary"));
}

TEST(DecodeBinaryTest, BytesPrefixesAreWalked) {
  const std::string header =
      R"({"inputs":[{"name":"s","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":12}}]})";
  size_t length;
  std::string payload = PackBytes({"abc", ""});
  payload += '\0';  // 12 bytes: one trailing byte that is not an element
  std::string body = WithBinary(header, payload, &length);
  EXPECT_THAT(DecodeError(body, length), HasSubstr("input 's': 1 bytes left"));
  payload = PackBytes({"abc"});
  payload[0] = 'z';  // length prefix far past the end
  payload += std::string(2, '\0');
  const std::string header7 =
      R"({"inputs":[{"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":9}}]})";
  body = WithBinary(header7, payload, &length);
  EXPECT_THAT(DecodeError(body, length), HasSubstr("overruns"));
}

// ---------------------------------------------------------------------------
// Encoding.

Tensor MakeTensor(std::string name, DataType type, std::vector<int64_t> shape, std::string data) {
  Tensor t;
  t.name = std::move(name);
  t.datatype = type;
  t.shape = std::move(shape);
  t.data = std::move(data);
  return t;
}

TEST(EncodeTest, JsonOutputs) {
  InferResponse response;
  response.id = "r1";
  response.model_name = "m";
  response.model_version = "2";
  response.parameters = {{"sequence", 1}};
  response.outputs.push_back(
      MakeTensor("f", DataType::kFp32, {1, 3}, Pack<float>({0.1f, -0.0f, 3})));
  response.outputs.push_back(
      MakeTensor("h", DataType::kFp16, {2}, Pack<uint16_t>({0x3c00, 0x3555})));
  response.outputs.push_back(MakeTensor("b", DataType::kBool, {2}, std::string("\x01\x00", 2)));
  response.outputs.push_back(MakeTensor("i", DataType::kInt8, {2}, Pack<int8_t>({-5, 7})));
  response.outputs.push_back(
      MakeTensor("s", DataType::kBytes, {2}, PackBytes({"q\"\\\n", "\xff\xc3\xa9"})));
  response.outputs.back().parameters = {{"note", "x"}};
  EncodedBody encoded = EncodeInferResponse(response, InferRequest{});
  EXPECT_FALSE(encoded.json_header_length.has_value());
  EXPECT_EQ(encoded.body,
            R"({"model_name":"m","model_version":"2","id":"r1","parameters":{"sequence":1},)"
            R"("outputs":[{"name":"f","datatype":"FP32","shape":[1,3],"data":[0.1,-0.0,3.0]},)"
            R"({"name":"h","datatype":"FP16","shape":[2],"data":[1.0,0.33325195]},)"
            R"({"name":"b","datatype":"BOOL","shape":[2],"data":[true,false]},)"
            R"({"name":"i","datatype":"INT8","shape":[2],"data":[-5,7]},)"
            R"({"name":"s","datatype":"BYTES","shape":[2],"parameters":{"note":"x"},)"
            "\"data\":[\"q\\\"\\\\\\n\",\"\xef\xbf\xbd\xc3\xa9\"]}]}");
  json parsed = json::parse(encoded.body);
  EXPECT_EQ(static_cast<float>(parsed["outputs"][0]["data"][0].get<double>()), 0.1f);
  EXPECT_TRUE(std::signbit(parsed["outputs"][0]["data"][1].get<double>()));
  EXPECT_EQ(parsed["outputs"][4]["data"][0], "q\"\\\n");
  EXPECT_EQ(parsed["outputs"][4]["data"][1], "\xef\xbf\xbd\xc3\xa9");
  EXPECT_EQ(parsed["parameters"]["sequence"], 1);
  EXPECT_THAT(encoded.body, HasSubstr(R"("data":[0.1,-0.0,3.0])"));
  EXPECT_THAT(encoded.body, HasSubstr(R"("data":[1.0,0.33325195])"));
  EXPECT_THAT(encoded.body, HasSubstr(R"("data":[true,false])"));
}

TEST(EncodeTest, OmitsEmptyIdAndNullParameters) {
  InferResponse response;
  response.model_name = "m";
  response.outputs.push_back(MakeTensor("y", DataType::kFp64, {1}, Pack<double>({2.5})));
  EXPECT_EQ(EncodeInferResponse(response, InferRequest{}).body,
            R"({"model_name":"m","model_version":"","outputs":[)"
            R"({"name":"y","datatype":"FP64","shape":[1],"data":[2.5]}]})");
}

TEST(EncodeTest, BinaryOutputSelection) {
  InferResponse response;
  response.model_name = "m";
  response.outputs.push_back(MakeTensor("a", DataType::kFp32, {1}, Pack<float>({1})));
  response.outputs.push_back(MakeTensor("b", DataType::kInt64, {1}, Pack<int64_t>({2})));
  response.outputs.push_back(MakeTensor("c", DataType::kBytes, {1}, PackBytes({"z"})));

  InferRequest request;
  request.binary_data_output = true;
  request.outputs.push_back({.name = "b", .binary_data = false});
  request.outputs.push_back({.name = "c"});  // no explicit setting: request default
  EncodedBody encoded = EncodeInferResponse(response, request);
  ASSERT_TRUE(encoded.json_header_length.has_value());
  const size_t length = *encoded.json_header_length;
  json header = json::parse(encoded.body.substr(0, length));
  EXPECT_EQ(header["outputs"][0]["parameters"]["binary_data_size"], 4);
  EXPECT_FALSE(header["outputs"][0].contains("data"));
  EXPECT_EQ(header["outputs"][1]["data"][0], 2);
  EXPECT_EQ(header["outputs"][2]["parameters"]["binary_data_size"], 5);
  EXPECT_EQ(encoded.body.substr(length), Pack<float>({1}) + PackBytes({"z"}));

  request.binary_data_output = false;
  request.outputs[0].binary_data = true;
  encoded = EncodeInferResponse(response, request);
  ASSERT_TRUE(encoded.json_header_length.has_value());
  EXPECT_EQ(encoded.body.substr(*encoded.json_header_length), Pack<int64_t>({2}));
}

TEST(EncodeTest, MalformedOutputsDoNotOverrun) {
  InferResponse response;
  response.outputs.push_back(MakeTensor("f", DataType::kFp32, {3}, std::string(5, '\0')));
  std::string bytes = PackBytes({"ok"});
  bytes += std::string("\xff\x00\x00\x00z", 5);
  response.outputs.push_back(MakeTensor("s", DataType::kBytes, {2}, bytes));
  response.outputs.push_back(
      MakeTensor("n", DataType::kFp64, {2}, Pack<double>({std::nan(""), -INFINITY})));
  EncodedBody encoded = EncodeInferResponse(response, InferRequest{});
  json parsed = json::parse(encoded.body);
  EXPECT_EQ(parsed["outputs"][0]["data"].size(), 1u);
  EXPECT_EQ(parsed["outputs"][1]["data"], json::array({"ok"}));
  EXPECT_TRUE(parsed["outputs"][2]["data"][0].is_null());
}

// Decodes a response body as a request by renaming "outputs" to "inputs".
InferRequest ResponseAsRequest(const EncodedBody& encoded) {
  const size_t length = encoded.json_header_length.value_or(encoded.body.size());
  json header = json::parse(encoded.body.substr(0, length));
  header["inputs"] = std::move(header["outputs"]);
  header.erase("outputs");
  std::string body = header.dump();
  const size_t new_length = body.size();
  body += encoded.body.substr(length);
  return MustDecode(body, new_length);
}

TEST(RoundTripTest, EncodeThenDecodeIsIdentity) {
  std::vector<uint16_t> halves;
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    if ((bits & 0x7c00) != 0x7c00) halves.push_back(static_cast<uint16_t>(bits));  // finite
  }
  const float fmin = std::numeric_limits<float>::denorm_min();
  const double dmin = std::numeric_limits<double>::denorm_min();
  InferResponse response;
  response.model_name = "m";
  response.outputs = {
      MakeTensor(
          "fp32", DataType::kFp32, {2, 4},
          Pack<float>({0.1f, -0.0f, fmin, std::numeric_limits<float>::max(),
                       std::numeric_limits<float>::lowest(), 1e-38f, 3.4028e38f, 16777216.0f})),
      MakeTensor("fp64", DataType::kFp64, {5},
                 Pack<double>({0.1, dmin, std::numeric_limits<double>::max(), -1e-300, 1.0 / 3})),
      MakeTensor("fp16", DataType::kFp16, {static_cast<int64_t>(halves.size())}, Pack(halves)),
      MakeTensor("u64", DataType::kUint64, {2},
                 Pack<uint64_t>({std::numeric_limits<uint64_t>::max(), 0})),
      MakeTensor("i64", DataType::kInt64, {2},
                 Pack<int64_t>({std::numeric_limits<int64_t>::min(), -1})),
      MakeTensor("bool", DataType::kBool, {3}, std::string("\x01\x00\x01", 3)),
      MakeTensor("bytes", DataType::kBytes, {3}, PackBytes({"", "a\"\\\x01\x7f", "\xe2\x82\xac"})),
      MakeTensor("empty", DataType::kInt16, {0, 3}, ""),
  };
  for (bool binary : {false, true}) {
    InferRequest request;
    request.binary_data_output = binary;
    InferRequest decoded = ResponseAsRequest(EncodeInferResponse(response, request));
    ASSERT_EQ(decoded.inputs.size(), response.outputs.size());
    for (size_t i = 0; i < response.outputs.size(); ++i) {
      const Tensor& want = response.outputs[i];
      const Tensor& got = decoded.inputs[i];
      EXPECT_EQ(got.name, want.name);
      EXPECT_EQ(got.datatype, want.datatype);
      EXPECT_EQ(got.shape, want.shape);
      EXPECT_TRUE(got.data == want.data) << want.name << " binary=" << binary;
    }
  }
}

// ---------------------------------------------------------------------------
// Metadata and errors.

TEST(MetadataJsonTest, ModelAndServer) {
  serving::ModelMetadataView view;
  view.name = "m";
  view.versions = {"1", "2"};
  view.metadata.platform = "xgboost";
  view.metadata.inputs = {{.name = "x", .datatype = DataType::kFp32, .shape = {-1, 30}}};
  view.metadata.outputs = {{.name = "y", .datatype = DataType::kFp32, .shape = {-1}}};
  EXPECT_EQ(ModelMetadataJson(view),
            json::parse(R"({"name":"m","versions":["1","2"],"platform":"xgboost",)"
                        R"("inputs":[{"name":"x","datatype":"FP32","shape":[-1,30]}],)"
                        R"("outputs":[{"name":"y","datatype":"FP32","shape":[-1]}]})"));
  serving::ServerMetadata server;
  server.version = "0.1.0";
  server.extensions = {"binary_tensor_data"};
  EXPECT_EQ(
      ServerMetadataJson(server),
      json::parse(R"({"name":"ferry","version":"0.1.0","extensions":["binary_tensor_data"]})"));
  EXPECT_EQ(ErrorBody("input 'x': bad \"thing\""), R"({"error":"input 'x': bad \"thing\""})");
  EXPECT_EQ(json::parse(ErrorBody("bad \xff byte"))["error"], "bad \xef\xbf\xbd byte");
}

}  // namespace
}  // namespace ferry::api::v2
