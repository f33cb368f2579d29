// Forest on hand-written model JSON: the walk and transform rules, float
// parsing, and what it refuses. Bit equality with libxgboost on trained
// models is tested in xgboost_backend_test.cc.
#include "ferry/serving/backends/xgboost/forest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ferry::serving {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

struct TreeSpec {
  std::string lefts, rights, indices, conditions, default_left;
  std::string extra;  // more fields, e.g. ,"split_type":[...]
};

// A stump on `feature`: value < threshold -> left leaf, else right leaf;
// NaN -> left when default_left.
TreeSpec Stump(int feature, const std::string& threshold, const std::string& left_leaf,
               const std::string& right_leaf, bool default_left) {
  return {.lefts = "1,-1,-1",
          .rights = "2,-1,-1",
          .indices = absl::StrCat(feature, ",0,0"),
          .conditions = absl::StrCat(threshold, ",", left_leaf, ",", right_leaf),
          .default_left = default_left ? "1,0,0" : "0,0,0"};
}

std::string Repeat(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text;
  return out;
}

std::string TreeJson(int id, const TreeSpec& tree) {
  const int nodes = static_cast<int>(std::count(tree.lefts.begin(), tree.lefts.end(), ',')) + 1;
  return absl::StrCat(
      R"({"base_weights":[)", absl::StrJoin(std::vector<std::string>(nodes, "0E0"), ","),
      R"(],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],)",
      R"("default_left":[)", tree.default_left, R"(],"id":)", id, R"(,"left_children":[)",
      tree.lefts, R"(],"loss_changes":[)",
      absl::StrJoin(std::vector<std::string>(nodes, "0E0"), ","), R"(],"parents":[2147483647)",
      Repeat(",0", nodes - 1), R"(],"right_children":[)", tree.rights, R"(],"split_conditions":[)",
      tree.conditions, R"(],"split_indices":[)", tree.indices, R"(],"sum_hessian":[)",
      absl::StrJoin(std::vector<std::string>(nodes, "1E0"), ","),
      R"(],"tree_param":{"num_deleted":"0","num_feature":"3","num_nodes":")", nodes,
      R"(","size_leaf_vector":"0"})", tree.extra, "}");
}

struct ModelSpec {
  std::string objective = "reg:squarederror";
  std::string base_score = "5E-1";
  std::string num_class = "0";
  std::string num_target = "1";
  std::string booster = "gbtree";
  std::vector<TreeSpec> trees;
  std::string tree_info;  // default: all 0
};

std::string ModelJson(const ModelSpec& spec) {
  std::vector<std::string> trees;
  for (size_t i = 0; i < spec.trees.size(); ++i) {
    trees.push_back(TreeJson(static_cast<int>(i), spec.trees[i]));
  }
  std::string tree_info = spec.tree_info;
  if (tree_info.empty()) {
    tree_info = absl::StrJoin(std::vector<std::string>(spec.trees.size(), "0"), ",");
  }
  std::string objective = absl::StrCat(R"({"name":")", spec.objective, R"("})");
  if (spec.objective.rfind("multi:", 0) == 0) {
    objective =
        absl::StrCat(R"({"name":")", spec.objective,
                     R"(","softmax_multiclass_param":{"num_class":")", spec.num_class, R"("}})");
  }
  return absl::StrCat(
      R"({"learner":{"attributes":{},"feature_names":[],"feature_types":[],)",
      R"("gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":")",
      spec.trees.size(), R"(","size_leaf_vector":"0"},"tree_info":[)", tree_info, R"(],"trees":[)",
      absl::StrJoin(trees, ","), R"(]},"name":")", spec.booster,
      R"("},"learner_model_param":{"base_score":")", spec.base_score,
      R"(","boost_from_average":"1","num_class":")", spec.num_class,
      R"(","num_feature":"3","num_target":")", spec.num_target, R"("},"objective":)", objective,
      R"(},"version":[1,7,4]})");
}

std::vector<float> PredictRows(const Forest& forest, const std::vector<std::vector<float>>& rows) {
  std::vector<float> matrix;
  for (const std::vector<float>& row : rows) matrix.insert(matrix.end(), row.begin(), row.end());
  std::vector<float> out(rows.size() * forest.width());
  const absl::Status status =
      forest.Predict(matrix.data(), static_cast<int64_t>(rows.size()), 3, out.data());
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

uint32_t Bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

TEST(ForestTest, WalksTreesLikeXgboost) {
  // Tree 0 on feature 1, NaN goes left; tree 1 on feature 2, NaN goes right.
  const std::string model = ModelJson({.trees = {Stump(1, "5E-1", "-1E0", "2E0", true),
                                                 Stump(2, "-2.5E-1", "1E-1", "2E-1", false)}});
  auto forest = Forest::FromJson(model);
  ASSERT_TRUE(forest.ok()) << forest.status();
  EXPECT_EQ(forest->num_trees(), 2);
  EXPECT_EQ(forest->num_feature(), 3);
  EXPECT_EQ(forest->width(), 1);
  EXPECT_EQ(forest->base_margin(), 0.5f);
  const float below = std::nextafter(0.5f, 0.0f);
  const float above = std::nextafter(0.5f, 1.0f);
  const std::vector<float> out =
      PredictRows(*forest, {
                               {0, 0.5f, -0.25f},  // on thresholds: right
                               {0, below, -1},     // left, left
                               {0, above, 0},      // right, right
                               {0, kNaN, kNaN},    // default children
                               {0, kInf, -kInf},   // right, left
                           });
  EXPECT_EQ(out[0], 0.5f + 2.0f + 0.2f);
  EXPECT_EQ(out[1], 0.5f + -1.0f + 0.1f);
  EXPECT_EQ(out[2], 0.5f + 2.0f + 0.2f);
  EXPECT_EQ(out[3], 0.5f + -1.0f + 0.2f);
  EXPECT_EQ(out[4], 0.5f + 2.0f + 0.1f);
  EXPECT_THAT(forest->SplitThresholds(),
              ElementsAre(ElementsAre(), ElementsAre(0.5f), ElementsAre(-0.25f)));
}

TEST(ForestTest, ReadsFloatsFromTheirTextNotThroughDouble) {
  // 1 + 2^-24 + ~2^-60: as a float it rounds up to 1 + 2^-23, but the nearest
  // double is the float midpoint 1 + 2^-24, which then rounds to even (1.0).
  const std::string text = "1.0000000596046447762579867";
  ASSERT_NE(Bits(static_cast<float>(std::strtod(text.c_str(), nullptr))),
            Bits(std::strtof(text.c_str(), nullptr)));
  auto forest = Forest::FromJson(
      ModelJson({.base_score = "0E0", .trees = {Stump(0, "0E0", text, text, true)}}));
  ASSERT_TRUE(forest.ok()) << forest.status();
  EXPECT_EQ(Bits(PredictRows(*forest, {{1, 1, 1}})[0]), Bits(1.0f + 0x1.0p-23f));
}

TEST(ForestTest, ObjectiveTransforms) {
  auto logistic = Forest::FromJson(ModelJson({.objective = "binary:logistic",
                                              .base_score = "2.5E-1",
                                              .trees = {Stump(0, "0E0", "0E0", "0E0", true)}}));
  ASSERT_TRUE(logistic.ok()) << logistic.status();
  EXPECT_EQ(logistic->base_margin(), -logf(1.0f / 0.25f - 1.0f));
  EXPECT_NEAR(PredictRows(*logistic, {{0, 0, 0}})[0], 0.25f, 1e-6);

  auto poisson = Forest::FromJson(ModelJson({.objective = "count:poisson",
                                             .base_score = "2E0",
                                             .trees = {Stump(0, "0E0", "0E0", "1E0", true)}}));
  ASSERT_TRUE(poisson.ok()) << poisson.status();
  EXPECT_EQ(poisson->base_margin(), logf(2.0f));
  EXPECT_NEAR(PredictRows(*poisson, {{1, 0, 0}})[0], 2.0f * std::exp(1.0f), 1e-5);

  auto hinge = Forest::FromJson(ModelJson({.objective = "binary:hinge",
                                           .base_score = "0E0",
                                           .trees = {Stump(0, "0E0", "-1E0", "1E0", true)}}));
  ASSERT_TRUE(hinge.ok()) << hinge.status();
  EXPECT_THAT(PredictRows(*hinge, {{-1, 0, 0}, {1, 0, 0}}), ElementsAre(0.0f, 1.0f));

  // Three classes, one tree each; class 2 wins for x0 >= 0, class 0 else.
  const ModelSpec multi{
      .objective = "multi:softprob",
      .base_score = "5E-1",
      .num_class = "3",
      .trees = {Stump(0, "0E0", "2E0", "0E0", true), Stump(0, "0E0", "0E0", "0E0", true),
                Stump(0, "0E0", "0E0", "3E0", true)},
      .tree_info = "0,1,2"};
  auto softprob = Forest::FromJson(ModelJson(multi));
  ASSERT_TRUE(softprob.ok()) << softprob.status();
  EXPECT_EQ(softprob->width(), 3);
  const std::vector<float> probs = PredictRows(*softprob, {{-1, 0, 0}, {1, 0, 0}});
  EXPECT_NEAR(probs[0] + probs[1] + probs[2], 1.0f, 1e-6);
  EXPECT_GT(probs[0], probs[1]);
  EXPECT_EQ(probs[1], probs[2]);
  EXPECT_GT(probs[5], probs[3]);

  ModelSpec softmax_spec = multi;
  softmax_spec.objective = "multi:softmax";
  auto softmax = Forest::FromJson(ModelJson(softmax_spec));
  ASSERT_TRUE(softmax.ok()) << softmax.status();
  EXPECT_EQ(softmax->width(), 1);
  // Ties keep the first class: row 2 has all margins equal.
  EXPECT_THAT(PredictRows(*softmax, {{-1, 0, 0}, {1, 0, 0}}), ElementsAre(0.0f, 2.0f));
}

TEST(ForestTest, RefusesWhatItDoesNotReproduce) {
  const TreeSpec stump = Stump(0, "0E0", "1E0", "2E0", true);
  const auto code = [](const ModelSpec& spec) {
    return Forest::FromJson(ModelJson(spec)).status();
  };

  EXPECT_TRUE(code({.trees = {stump}}).ok());
  EXPECT_EQ(code({.booster = "dart", .trees = {stump}}).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(code({.objective = "rank:pairwise", .trees = {stump}}).code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(code({.num_target = "2", .trees = {stump}}).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(code({.objective = "binary:logistic", .base_score = "1E0", .trees = {stump}}).code(),
            absl::StatusCode::kUnimplemented);

  // libxgboost writes NaN (not JSON) as the condition of a categorical split.
  TreeSpec categorical = stump;
  categorical.conditions = "NaN,1E0,2E0";
  categorical.extra = R"(,"split_type":[1,0,0],"categories":[1],"categories_nodes":[0])";
  const absl::Status cat = code({.trees = {categorical}});
  EXPECT_EQ(cat.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(cat.message(), HasSubstr("categorical"));

  TreeSpec far_children = stump;
  far_children.lefts = "2,-1,-1";  // right child before the left one
  far_children.rights = "1,-1,-1";
  EXPECT_EQ(code({.trees = {far_children}}).code(), absl::StatusCode::kUnimplemented);

  TreeSpec infinite_leaf = stump;
  infinite_leaf.conditions = "0E0,-Infinity,2E0";
  EXPECT_EQ(code({.trees = {infinite_leaf}}).code(), absl::StatusCode::kFailedPrecondition);

  TreeSpec bad_feature = Stump(7, "0E0", "1E0", "2E0", true);
  EXPECT_EQ(code({.trees = {bad_feature}}).code(), absl::StatusCode::kFailedPrecondition);

  TreeSpec cycle = stump;
  cycle.lefts = "1,1,-1";
  cycle.rights = "2,2,-1";
  EXPECT_FALSE(code({.trees = {cycle}}).ok());

  EXPECT_EQ(Forest::FromJson("{\"learner\": 3").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Forest::FromJson("[]").status().code(), absl::StatusCode::kFailedPrecondition);
  // Deleted (unreachable) nodes are ignored, whatever they hold.
  TreeSpec with_deleted{.lefts = "1,-1,-1,9",
                        .rights = "2,-1,-1,9",
                        .indices = "0,0,0,99",
                        .conditions = "0E0,1E0,2E0,0E0",
                        .default_left = "1,0,0,0"};
  auto forest = Forest::FromJson(ModelJson({.trees = {with_deleted}}));
  ASSERT_TRUE(forest.ok()) << forest.status();
  EXPECT_THAT(PredictRows(*forest, {{-1, 0, 0}, {1, 0, 0}}), ElementsAre(1.5f, 2.5f));
}

TEST(ForestTest, SizeLeafVectorOneIsAScalarLeafAsXgboost2WritesIt) {
  const std::string v1 = ModelJson({.trees = {Stump(0, "0E0", "1E0", "2E0", true)}});
  auto with = [&v1](const std::string& value) {
    std::string text = v1;
    for (size_t at = 0; (at = text.find(R"("size_leaf_vector":"0")", at)) != std::string::npos;) {
      text.replace(at, 22, absl::StrCat(R"("size_leaf_vector":")", value, "\""));
    }
    return text;
  };
  auto scalar = Forest::FromJson(with("1"));
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_THAT(PredictRows(*scalar, {{-1, 0, 0}, {1, 0, 0}}), ElementsAre(1.5f, 2.5f));
  EXPECT_EQ(Forest::FromJson(with("3")).status().code(), absl::StatusCode::kUnimplemented);
}

TEST(ForestTest, PredictChecksTheFeatureCount) {
  auto forest = Forest::FromJson(ModelJson({.trees = {Stump(0, "0E0", "1E0", "2E0", true)}}));
  ASSERT_TRUE(forest.ok()) << forest.status();
  float row[4] = {0, 0, 0, 0};
  float out = 0;
  EXPECT_EQ(forest->Predict(row, 1, 4, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(forest->Predict(row, 0, 3, &out).ok());
}

}  // namespace
}  // namespace ferry::serving
