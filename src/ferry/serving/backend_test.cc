#include "ferry/serving/backend.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::serving {
namespace {

using ::testing::HasSubstr;

Tensor Floats(std::string name, std::vector<int64_t> shape) {
  Tensor t;
  t.name = std::move(name);
  t.datatype = DataType::kFp32;
  t.shape = std::move(shape);
  const int64_t count = t.ElementCount();
  t.data.assign(static_cast<size_t>(count < 0 ? 0 : count) * sizeof(float), '\0');
  return t;
}

ModelMetadata Metadata() {
  ModelMetadata metadata;
  metadata.platform = "test";
  metadata.max_batch_size = 8;
  metadata.inputs = {
      {.name = "x", .datatype = DataType::kFp32, .shape = {-1, 30}},
      {.name = "mask", .datatype = DataType::kFp32, .shape = {-1, 2}, .optional = true}};
  metadata.outputs = {{.name = "y", .datatype = DataType::kFp32, .shape = {-1, 1}}};
  return metadata;
}

std::string Check(const ModelMetadata& metadata, const InferRequest& request) {
  absl::Status status = CheckInputs(metadata, request);
  if (status.ok()) return "ok";
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

TEST(CheckInputsTest, AcceptsMatchingRequest) {
  InferRequest request;
  request.inputs.push_back(Floats("x", {3, 30}));
  EXPECT_EQ(Check(Metadata(), request), "ok");
  request.inputs.push_back(Floats("mask", {3, 2}));
  request.outputs.push_back({.name = "y"});
  EXPECT_EQ(Check(Metadata(), request), "ok");
}

TEST(CheckInputsTest, NamesInputAndExpectedVersusGot) {
  InferRequest request;
  request.inputs.push_back(Floats("x", {1, 29}));
  EXPECT_EQ(Check(Metadata(), request), "input 'x': expected shape [-1,30], got [1,29]");

  request.inputs[0] = Floats("x", {30});
  EXPECT_EQ(Check(Metadata(), request), "input 'x': expected shape [-1,30], got [30]");

  request.inputs[0] = Floats("x", {1, 30});
  request.inputs[0].datatype = DataType::kInt64;
  EXPECT_EQ(Check(Metadata(), request), "input 'x': expected datatype FP32, got INT64");
}

TEST(CheckInputsTest, RejectsMissingUnknownAndDuplicateInputs) {
  InferRequest request;
  request.inputs.push_back(Floats("mask", {1, 2}));
  EXPECT_THAT(Check(Metadata(), request), HasSubstr("input 'x': missing"));

  request.inputs.push_back(Floats("x", {1, 30}));
  request.inputs.push_back(Floats("z", {1}));
  EXPECT_THAT(Check(Metadata(), request), HasSubstr("input 'z': unknown input"));

  request.inputs.back() = Floats("x", {1, 30});
  EXPECT_THAT(Check(Metadata(), request), HasSubstr("input 'x': given more than once"));
}

TEST(CheckInputsTest, EnforcesBatchLimitAndEqualBatches) {
  InferRequest request;
  request.inputs.push_back(Floats("x", {9, 30}));
  EXPECT_EQ(Check(Metadata(), request), "input 'x': batch size 9 exceeds max_batch_size 8");

  request.inputs[0] = Floats("x", {2, 30});
  request.inputs.push_back(Floats("mask", {3, 2}));
  EXPECT_THAT(Check(Metadata(), request), HasSubstr("input 'mask': batch size 3 differs"));

  ModelMetadata unbatched = Metadata();
  unbatched.max_batch_size = 0;
  request.inputs.pop_back();
  request.inputs[0] = Floats("x", {100, 30});
  EXPECT_EQ(Check(unbatched, request), "ok");
}

TEST(CheckInputsTest, ValidatesDataAndOutputs) {
  InferRequest request;
  request.inputs.push_back(Floats("x", {1, 30}));
  request.inputs[0].data.pop_back();
  EXPECT_THAT(Check(Metadata(), request), HasSubstr("input 'x': shape [1,30]"));

  request.inputs[0] = Floats("x", {1, 30});
  request.outputs.push_back({.name = "nope"});
  EXPECT_THAT(Check(Metadata(), request), HasSubstr("output 'nope': unknown output"));
}

class FakeBackend : public ModelBackend {
 public:
  const ModelMetadata& metadata() const override { return metadata_; }
  absl::Status Warmup() override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<Tensor>> Execute(std::span<const Tensor> inputs,
                                              std::span<const RequestedOutput>) override {
    return std::vector<Tensor>(inputs.begin(), inputs.end());
  }

 private:
  ModelMetadata metadata_;
};

TEST(BackendRegistryTest, CreatesRegisteredFormatsOnly) {
  BackendRegistry registry;
  std::string seen_path;
  registry.Register("fake",
                    [&](const LoadSpec& spec) -> absl::StatusOr<std::unique_ptr<ModelBackend>> {
                      seen_path = spec.path;
                      return std::make_unique<FakeBackend>();
                    });
  LoadSpec spec{.model_name = "m", .version = "1", .path = "/models/m/1"};
  absl::StatusOr<std::unique_ptr<ModelBackend>> backend = registry.Create("fake", spec);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_NE(*backend, nullptr);
  EXPECT_EQ(seen_path, "/models/m/1");

  absl::StatusOr<std::unique_ptr<ModelBackend>> missing = registry.Create("onnx", spec);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("fake"));
}

}  // namespace
}  // namespace ferry::serving
