#include "ferry/serving/classification.h"

#include <cstring>

#include "gtest/gtest.h"

namespace ferry::serving {
namespace {

Tensor Floats(std::string name, std::vector<int64_t> shape, std::vector<float> values) {
  Tensor t{.name = std::move(name), .datatype = DataType::kFp32, .shape = std::move(shape)};
  t.data.assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  return t;
}

std::vector<std::string> Strings(const Tensor& t) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at + 4 <= t.data.size()) {
    uint32_t n;
    std::memcpy(&n, t.data.data() + at, 4);
    out.emplace_back(t.data.substr(at + 4, n));
    at += 4 + n;
  }
  return out;
}

TEST(ClassificationTest, TopKPerRowAsScoreIndexStrings) {
  InferResponse response;
  response.outputs.push_back(Floats("probs", {2, 3}, {0.1f, 0.7f, 0.2f, 0.5f, 0.25f, 0.25f}));
  response.outputs.push_back(Floats("other", {2}, {1, 2}));
  RequestedOutput wanted{.name = "probs", .parameters = {{"classification", 2}}};
  ASSERT_TRUE(ApplyClassification({&wanted, 1}, response).ok());
  const Tensor& t = response.outputs[0];
  EXPECT_EQ(t.datatype, DataType::kBytes);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(Strings(t), (std::vector<std::string>{"0.7:1", "0.2:2", "0.5:0", "0.25:1"}));
  EXPECT_EQ(response.outputs[1].datatype, DataType::kFp32);  // not asked: untouched
}

TEST(ClassificationTest, OneScorePerRowIsClassZeroAndKIsCapped) {
  InferResponse response;
  response.outputs.push_back(Floats("predict", {3}, {0.25f, 0.5f, 0.75f}));
  RequestedOutput wanted{.name = "predict", .parameters = {{"classification", 5}}};
  ASSERT_TRUE(ApplyClassification({&wanted, 1}, response).ok());
  EXPECT_EQ(response.outputs[0].shape, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(Strings(response.outputs[0]), (std::vector<std::string>{"0.25:0", "0.5:0", "0.75:0"}));
}

TEST(ClassificationTest, BadCountIsInvalidArgument) {
  RequestedOutput zero{.name = "p", .parameters = {{"classification", 0}}};
  EXPECT_EQ(ClassificationCount(zero).status().code(), absl::StatusCode::kInvalidArgument);
  RequestedOutput text{.name = "p", .parameters = {{"classification", "two"}}};
  EXPECT_EQ(ClassificationCount(text).status().code(), absl::StatusCode::kInvalidArgument);
  RequestedOutput none{.name = "p"};
  EXPECT_FALSE(ClassificationCount(none).value().has_value());
}

}  // namespace
}  // namespace ferry::serving
