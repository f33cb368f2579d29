#include "ferry/serving/backends/xgboost/forest.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <string_view>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ferry::serving {
namespace {

using nlohmann::json;

// Builds a json DOM like json::parse, except that:
//  - every non-integer number is read from its text straight into a float
//    (std::from_chars), then stored as the double holding exactly that float.
//    libxgboost prints a model float as the shortest text that reads back as
//    that float; text -> double -> float could round twice and differ.
//  - the per-node statistics Forest does not use (loss_changes, sum_hessian,
//    ...) are dropped, which keeps the DOM of a large model smaller.
class ExactFloatDomBuilder {
 public:
  explicit ExactFloatDomBuilder(json* root) : root_(root) {}

  bool null() { return Value(nullptr); }
  bool boolean(bool value) { return Value(value); }
  bool number_integer(json::number_integer_t value) { return Value(value); }
  bool number_unsigned(json::number_unsigned_t value) { return Value(value); }
  bool number_float(json::number_float_t, const json::string_t& text) {
    if (SkipValue()) return true;
    float value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end) {
      error_ = absl::StrCat("number ", text, " is not a float");
      return false;
    }
    Add(static_cast<double>(value));
    return true;
  }
  bool string(json::string_t& value) { return Value(std::move(value)); }
  bool binary(json::binary_t&) {
    error_ = "unexpected binary value";
    return false;
  }
  bool start_object(size_t) { return StartContainer(json::object()); }
  bool start_array(size_t) { return StartContainer(json::array()); }
  bool end_object() { return EndContainer(); }
  bool end_array() { return EndContainer(); }
  bool key(json::string_t& key) {
    if (skip_depth_ > 0) return true;
    static constexpr std::string_view kUnused[] = {"loss_changes",        "sum_hessian",
                                                   "base_weights",        "parents",
                                                   "categories_segments", "categories_sizes"};
    skip_next_ = std::find(std::begin(kUnused), std::end(kUnused), key) != std::end(kUnused);
    key_ = std::move(key);
    return true;
  }
  bool parse_error(size_t position, const std::string&, const json::exception& e) {
    error_ = absl::StrCat(e.what(), " (byte ", position, ")");
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  // True (and consumes the mark) when the next value is not kept.
  bool SkipValue() {
    if (skip_depth_ > 0) return true;
    if (!skip_next_) return false;
    skip_next_ = false;
    return true;
  }
  bool Value(json value) {
    if (!SkipValue()) Add(std::move(value));
    return true;
  }
  bool StartContainer(json empty) {
    if (skip_depth_ > 0 || skip_next_) {
      skip_next_ = false;
      ++skip_depth_;
      return true;
    }
    stack_.push_back(Add(std::move(empty)));
    return true;
  }
  bool EndContainer() {
    if (skip_depth_ > 0) {
      --skip_depth_;
    } else {
      stack_.pop_back();
    }
    return true;
  }

  // Stores `value` in the innermost open container (or as the root) and
  // returns where it lives. Only the innermost container ever grows, so the
  // pointers on the stack stay valid.
  json* Add(json value) {
    if (stack_.empty()) {
      *root_ = std::move(value);
      return root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }

  json* root_;
  std::vector<json*> stack_;
  std::string key_;
  bool skip_next_ = false;  // the value after the current key is dropped
  int64_t skip_depth_ = 0;  // > 0: inside a dropped container
  std::string error_;
};

}  // namespace

// Categorical splits have NaN split conditions. Forest never needs a value
// turned into null (a reachable node holding one is refused as non-numeric).

std::string JsonNonFiniteToNull(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else {
      bool replaced = false;
      for (std::string_view word : {"NaN", "Infinity", "-Infinity"}) {
        if (text.substr(i, word.size()) == word) {
          out += "null";
          i += word.size() - 1;
          replaced = true;
          break;
        }
      }
      if (replaced) continue;
    }
    out += c;
  }
  return out;
}

namespace {

absl::Status Refuse(absl::string_view why) { return absl::UnimplementedError(why); }

absl::Status Malformed(absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat("unexpected model JSON: ", why));
}

// obj[key] when obj is an object holding key, else nullptr.
const json* Field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// libxgboost writes counts as strings ("30"); accept numbers too.
absl::StatusOr<int64_t> Count(const json* node, absl::string_view what) {
  int64_t value = -1;
  if (node != nullptr && node->is_string()) {
    if (!absl::SimpleAtoi(node->get_ref<const std::string&>(), &value)) value = -1;
  } else if (node != nullptr && node->is_number_integer()) {
    value = node->get<int64_t>();
  }
  if (value < 0) {
    return Malformed(absl::StrCat(what, " is ", node == nullptr ? "missing" : node->dump()));
  }
  return value;
}

const json* Array(const json& obj, const char* key, size_t size) {
  const json* node = Field(obj, key);
  if (node == nullptr || !node->is_array() || node->size() != size) return nullptr;
  return node;
}

bool ToInt64(const json& node, int64_t* out) {
  if (node.is_number_integer()) {
    *out = node.get<int64_t>();
    return true;
  }
  if (node.is_boolean()) {
    *out = node.get<bool>() ? 1 : 0;
    return true;
  }
  return false;
}

bool ToFloat(const json& node, float* out) {
  if (node.is_number_float()) {
    *out = static_cast<float>(node.get<double>());  // exact: the builder stored a float
    return true;
  }
  if (node.is_number_unsigned()) {
    *out = static_cast<float>(node.get<uint64_t>());
    return true;
  }
  if (node.is_number_integer()) {
    *out = static_cast<float>(node.get<int64_t>());
    return true;
  }
  return false;
}

// How the objective maps base_score to a margin (ProbToMargin in xgboost).
enum class MarginRule { kIdentity, kLogit, kLog };

struct ObjectiveRule {
  const char* name;
  MarginRule margin;
  Forest::Transform transform;
  bool multi_class;
};

// The objectives verified bit-exact against libxgboost 1.7.4.
constexpr ObjectiveRule kObjectives[] = {
    {"reg:squarederror", MarginRule::kIdentity, Forest::Transform::kIdentity, false},
    {"reg:squaredlogerror", MarginRule::kIdentity, Forest::Transform::kIdentity, false},
    {"reg:pseudohubererror", MarginRule::kIdentity, Forest::Transform::kIdentity, false},
    {"reg:absoluteerror", MarginRule::kIdentity, Forest::Transform::kIdentity, false},
    {"binary:logitraw", MarginRule::kIdentity, Forest::Transform::kIdentity, false},
    {"binary:logistic", MarginRule::kLogit, Forest::Transform::kSigmoid, false},
    {"reg:logistic", MarginRule::kLogit, Forest::Transform::kSigmoid, false},
    {"count:poisson", MarginRule::kLog, Forest::Transform::kExp, false},
    {"reg:gamma", MarginRule::kLog, Forest::Transform::kExp, false},
    {"reg:tweedie", MarginRule::kLog, Forest::Transform::kExp, false},
    {"binary:hinge", MarginRule::kIdentity, Forest::Transform::kHinge, false},
    {"multi:softprob", MarginRule::kIdentity, Forest::Transform::kSoftmax, true},
    {"multi:softmax", MarginRule::kIdentity, Forest::Transform::kArgmax, true},
};

// xgboost::common::Sigmoid (src/common/math.h, 1.7): the expression order
// matters for bit equality.
inline float Sigmoid(float x) {
  constexpr float kEps = 1e-16;
  x = std::min(-x, 88.7f);
  const float denom = expf(x) + 1.0f + kEps;
  return 1.0f / denom;
}

}  // namespace

absl::StatusOr<Forest> Forest::FromBooster(BoosterHandle booster) {
  bst_ulong length = 0;
  const char* text = nullptr;
  if (XGBoosterSaveModelToBuffer(booster, R"({"format": "json"})", &length, &text) != 0) {
    return absl::InternalError(absl::StrCat("XGBoosterSaveModelToBuffer: ", XGBGetLastError()));
  }
  return FromJson(std::string_view(text, length));
}

absl::StatusOr<Forest> Forest::FromJson(std::string_view model_json) {
  const std::string text = JsonNonFiniteToNull(model_json);
  json root;
  ExactFloatDomBuilder builder(&root);
  bool parsed = false;
  try {
    parsed = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json,
                             /*strict=*/true);
  } catch (const std::exception& e) {
    return Malformed(e.what());
  }
  if (!parsed) return Malformed(builder.error().empty() ? "parse error" : builder.error());

  const json* learner = Field(root, "learner");
  if (learner == nullptr) return Malformed("no learner");
  const json* booster = Field(*learner, "gradient_booster");
  const json* booster_name = booster ? Field(*booster, "name") : nullptr;
  if (booster_name == nullptr || !booster_name->is_string()) {
    return Malformed("no gradient_booster.name");
  }
  if (*booster_name != "gbtree") {
    return Refuse(
        absl::StrCat("gradient booster ", booster_name->get<std::string>(), " (only gbtree)"));
  }
  const json* objective = Field(*learner, "objective");
  const json* objective_name = objective ? Field(*objective, "name") : nullptr;
  if (objective_name == nullptr || !objective_name->is_string()) {
    return Malformed("no objective.name");
  }
  Forest forest;
  forest.objective_ = objective_name->get<std::string>();
  const ObjectiveRule* rule = nullptr;
  for (const ObjectiveRule& candidate : kObjectives) {
    if (forest.objective_ == candidate.name) rule = &candidate;
  }
  if (rule == nullptr) return Refuse(absl::StrCat("objective ", forest.objective_));
  forest.transform_ = rule->transform;

  const json* param = Field(*learner, "learner_model_param");
  if (param == nullptr) return Malformed("no learner_model_param");
  absl::StatusOr<int64_t> num_feature = Count(Field(*param, "num_feature"), "num_feature");
  if (!num_feature.ok()) return num_feature.status();
  if (*num_feature == 0 || *num_feature > std::numeric_limits<int32_t>::max()) {
    return Refuse(absl::StrCat("num_feature ", *num_feature));
  }
  forest.num_feature_ = *num_feature;
  int64_t num_class = 0;
  if (const json* node = Field(*param, "num_class")) {
    absl::StatusOr<int64_t> value = Count(node, "num_class");
    if (!value.ok()) return value.status();
    num_class = *value;
  }
  if (const json* node = Field(*param, "num_target")) {
    absl::StatusOr<int64_t> value = Count(node, "num_target");
    if (!value.ok()) return value.status();
    if (*value > 1) return Refuse(absl::StrCat("num_target ", *value, " (multi-target)"));
  }
  if (rule->multi_class) {
    if (num_class < 1) return Refuse(absl::StrCat(forest.objective_, " without num_class"));
    // The objective transforms with its own num_class: it must agree.
    const json* softmax = Field(*objective, "softmax_multiclass_param");
    if (const json* node = softmax ? Field(*softmax, "num_class") : nullptr) {
      absl::StatusOr<int64_t> value = Count(node, "softmax_multiclass_param.num_class");
      if (!value.ok()) return value.status();
      if (*value != num_class) {
        return Refuse(
            absl::StrCat("objective num_class ", *value, " != model num_class ", num_class));
      }
    }
  } else if (num_class > 1) {
    return Refuse(absl::StrCat("num_class ", num_class, " with objective ", forest.objective_));
  }
  if (num_class > (1 << 20)) return Refuse(absl::StrCat("num_class ", num_class));
  forest.num_groups_ = std::max<int64_t>(num_class, 1);

  // base_score: a float written with the shortest round-trip text ("5E-1").
  const json* base_score = Field(*param, "base_score");
  float base = 0;
  if (base_score != nullptr && base_score->is_string()) {
    const std::string& text = base_score->get_ref<const std::string&>();
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, base);
    if (ec != std::errc() || ptr != end) {
      return Refuse(absl::StrCat("base_score '", text, "' is not a float"));
    }
  } else if (base_score == nullptr || !ToFloat(*base_score, &base)) {
    return Malformed("no learner_model_param.base_score");
  }
  if (!std::isfinite(base)) return Refuse(absl::StrCat("base_score ", base));
  switch (rule->margin) {
    case MarginRule::kIdentity:
      forest.base_margin_ = base;
      break;
    case MarginRule::kLogit:  // LogisticRegression::ProbToMargin
      if (!(base > 0.0f && base < 1.0f)) {
        return Refuse(
            absl::StrCat("base_score ", base, " outside (0, 1) for a logistic objective"));
      }
      forest.base_margin_ = -logf(1.0f / base - 1.0f);
      break;
    case MarginRule::kLog:  // std::log(float) in the Poisson/Gamma/Tweedie objectives
      forest.base_margin_ = logf(base);
      break;
  }

  const json* model = Field(*booster, "model");
  if (model == nullptr) return Malformed("no gradient_booster.model");
  if (const json* gbtree_param = Field(*model, "gbtree_model_param")) {
    if (const json* node = Field(*gbtree_param, "size_leaf_vector")) {
      absl::StatusOr<int64_t> value = Count(node, "size_leaf_vector");
      if (!value.ok()) return value.status();
      // 0 (xgboost 1.x) and 1 (xgboost >= 2) both mean scalar leaves.
      if (*value > 1) return Refuse("vector leaves (size_leaf_vector > 1)");
    }
    if (const json* node = Field(*gbtree_param, "num_trees")) {
      absl::StatusOr<int64_t> value = Count(node, "num_trees");
      if (!value.ok()) return value.status();
      const json* trees = Field(*model, "trees");
      if (trees == nullptr || !trees->is_array() || static_cast<int64_t>(trees->size()) != *value) {
        return Malformed("num_trees does not match the trees");
      }
    }
  }
  const json* trees = Field(*model, "trees");
  if (trees == nullptr || !trees->is_array()) return Malformed("no trees");
  const size_t n_trees = trees->size();
  const json* tree_info = Array(*model, "tree_info", n_trees);
  if (tree_info == nullptr) return Malformed("tree_info does not match the trees");

  for (size_t t = 0; t < n_trees; ++t) {
    const json& tree = (*trees)[t];
    const std::string where = absl::StrCat("tree ", t, ": ");
    int64_t group = -1;
    if (!ToInt64((*tree_info)[t], &group) || group < 0 || group >= forest.num_groups_) {
      return Malformed(absl::StrCat(where, "tree_info ", (*tree_info)[t].dump()));
    }
    if (const json* id = Field(tree, "id")) {
      int64_t value = -1;
      if (!ToInt64(*id, &value) || value != static_cast<int64_t>(t)) {
        return Refuse(absl::StrCat(where, "id ", id->dump(), " is not its position"));
      }
    }
    const json* tree_param = Field(tree, "tree_param");
    if (tree_param == nullptr) return Malformed(where + "no tree_param");
    absl::StatusOr<int64_t> num_nodes = Count(Field(*tree_param, "num_nodes"), "num_nodes");
    if (!num_nodes.ok()) return num_nodes.status();
    const int64_t n = *num_nodes;
    if (n < 1) return Malformed(where + "no nodes");
    if (const json* node = Field(*tree_param, "size_leaf_vector")) {
      absl::StatusOr<int64_t> value = Count(node, "size_leaf_vector");
      if (!value.ok()) return value.status();
      if (*value > 1) return Refuse(where + "vector leaves");
    }
    if (static_cast<int64_t>(forest.nodes_.size()) + n > std::numeric_limits<int32_t>::max()) {
      return Refuse("more than 2^31 nodes");
    }
    const json* lefts = Array(tree, "left_children", n);
    const json* rights = Array(tree, "right_children", n);
    const json* features = Array(tree, "split_indices", n);
    const json* conditions = Array(tree, "split_conditions", n);
    const json* default_left = Array(tree, "default_left", n);
    if (!lefts || !rights || !features || !conditions || !default_left) {
      return Malformed(where + "node arrays missing or not num_nodes long");
    }
    if (const json* split_type = Field(tree, "split_type")) {
      if (!split_type->is_array()) return Malformed(where + "split_type");
      for (const json& type : *split_type) {
        int64_t value = -1;
        if (!ToInt64(type, &value) || value != 0) return Refuse(where + "categorical splits");
      }
    }
    for (const char* key : {"categories", "categories_nodes"}) {
      const json* node = Field(tree, key);
      if (node != nullptr && !(node->is_array() && node->empty())) {
        return Refuse(where + "categorical splits");
      }
    }

    // Walk the nodes reachable from the root; anything else (nodes a pruner
    // deleted) stays an unused leaf.
    const int32_t base = static_cast<int32_t>(forest.nodes_.size());
    for (int32_t i = 0; i < n; ++i) {
      forest.nodes_.push_back({base + i - 1, 0, std::numeric_limits<float>::quiet_NaN(), 0.0f});
    }
    int32_t depth = 0;
    std::vector<bool> seen(n, false);
    std::vector<std::pair<int64_t, int32_t>> pending = {{0, 0}};  // node, its depth
    seen[0] = true;
    while (!pending.empty()) {
      const auto [i, level] = pending.back();
      pending.pop_back();
      depth = std::max(depth, level);
      int64_t left = 0, right = 0, feature = 0, dflt = 0;
      float value = 0;
      if (!ToInt64((*lefts)[i], &left) || !ToInt64((*rights)[i], &right) ||
          !ToInt64((*features)[i], &feature) || !ToInt64((*default_left)[i], &dflt) ||
          !ToFloat((*conditions)[i], &value)) {
        return Malformed(absl::StrCat(where, "node ", i, " has a non-numeric field"));
      }
      Node& node = forest.nodes_[base + i];
      if (left == -1) {  // a leaf (RegTree::Node::IsLeaf)
        node.leaf = value;
        continue;
      }
      if (left < 1 || left >= n || right != left + 1 || right >= n) {
        return Refuse(absl::StrCat(where, "node ", i, " has children ", left, ", ", right,
                                   " (expected adjacent children inside the tree)"));
      }
      if (feature < 0 || feature >= forest.num_feature_) {
        return Malformed(absl::StrCat(where, "node ", i, " splits on feature ", feature));
      }
      if (dflt != 0 && dflt != 1) {
        return Malformed(absl::StrCat(where, "node ", i, " default_left ", dflt));
      }
      if (!std::isfinite(value)) {  // the -inf / +inf stand-ins for NaN need it
        return Refuse(absl::StrCat(where, "node ", i, " splits at ", value));
      }
      if (seen[left] || seen[right]) {
        return Malformed(absl::StrCat(where, "node ", i, " is not a tree node"));
      }
      node.left = base + static_cast<int32_t>(left);
      node.input = static_cast<uint32_t>(dflt ? feature : forest.num_feature_ + feature);
      node.condition = value;
      seen[left] = seen[right] = true;
      pending.push_back({left, level + 1});
      pending.push_back({right, level + 1});
    }
    forest.roots_.push_back(base);
    forest.depths_.push_back(depth);
    forest.groups_.push_back(static_cast<int32_t>(group));
  }
  return forest;
}

namespace {

// One step down the tree: GetNextNode of xgboost 1.7's CPU predictor, where a
// NaN feature goes to the default child, else the left child when
// value < condition, else the right one (left + 1). NaN was replaced by the
// infinity that goes the default way (see Node). No branches, so the walks of
// several trees overlap in the CPU.
inline int32_t Step(const int32_t left, const float condition, const float value) {
  return left + !(value < condition);
}

}  // namespace

void Forest::Prepare(const float* row, float* out) const {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const int64_t n = num_feature_;
  for (int64_t f = 0; f < n; ++f) {
    const float value = row[f];
    const bool missing = std::isnan(value);
    out[f] = missing ? -kInf : value;
    out[n + f] = missing ? kInf : value;
  }
}

void Forest::AddTrees(const float* prepared, float* margins) const {
  const Node* nodes = nodes_.data();
  const size_t n_trees = roots_.size();
  size_t t = 0;
  // Eight trees at a time, each walked as deep as the deepest of them (a leaf
  // stays put); their leaves are added in model order.
  constexpr size_t kLanes = 8;
  for (; t + kLanes <= n_trees; t += kLanes) {
    int32_t at[kLanes];
    int32_t depth = 0;
    for (size_t k = 0; k < kLanes; ++k) {
      at[k] = roots_[t + k];
      depth = std::max(depth, depths_[t + k]);
    }
    for (int32_t level = 0; level < depth; ++level) {
      for (size_t k = 0; k < kLanes; ++k) {
        const Node& node = nodes[at[k]];
        at[k] = Step(node.left, node.condition, prepared[node.input]);
      }
    }
    for (size_t k = 0; k < kLanes; ++k) margins[groups_[t + k]] += nodes[at[k]].leaf;
  }
  for (; t < n_trees; ++t) {
    int32_t a = roots_[t];
    for (int32_t level = 0; level < depths_[t]; ++level) {
      a = Step(nodes[a].left, nodes[a].condition, prepared[nodes[a].input]);
    }
    margins[groups_[t]] += nodes[a].leaf;
  }
}

void Forest::PredictBlock(const float* rows, int64_t n_rows, float* prepared,
                          float* margins) const {
  const int64_t width = 2 * num_feature_;
  for (int64_t r = 0; r < n_rows; ++r) {
    Prepare(rows + r * num_feature_, prepared + r * width);
  }
  if (num_groups_ == 1 && n_rows == 1) {
    float sum = base_margin_;
    AddTrees(prepared, &sum);
    margins[0] = sum;
    return;
  }
  std::fill(margins, margins + n_rows * num_groups_, base_margin_);
  const Node* nodes = nodes_.data();
  const size_t n_trees = roots_.size();
  // Tree by tree over the block (the tree stays in cache), eight rows at a
  // time; every row still adds its trees in model order.
  constexpr int64_t kLanes = 8;
  for (size_t t = 0; t < n_trees; ++t) {
    const int32_t root = roots_[t];
    const int32_t depth = depths_[t];
    float* out = margins + groups_[t];
    int64_t r = 0;
    for (; r + kLanes <= n_rows; r += kLanes) {
      const float* row = prepared + r * width;
      int32_t at[kLanes];
      for (int64_t k = 0; k < kLanes; ++k) at[k] = root;
      for (int32_t level = 0; level < depth; ++level) {
        for (int64_t k = 0; k < kLanes; ++k) {
          const Node& node = nodes[at[k]];
          at[k] = Step(node.left, node.condition, row[k * width + node.input]);
        }
      }
      for (int64_t k = 0; k < kLanes; ++k) out[(r + k) * num_groups_] += nodes[at[k]].leaf;
    }
    for (; r < n_rows; ++r) {
      const float* row = prepared + r * width;
      int32_t at = root;
      for (int32_t level = 0; level < depth; ++level) {
        at = Step(nodes[at].left, nodes[at].condition, row[nodes[at].input]);
      }
      out[r * num_groups_] += nodes[at].leaf;
    }
  }
}

void Forest::ApplyTransform(float* margins, int64_t n_rows, float* out) const {
  const int64_t count = n_rows * num_groups_;
  switch (transform_) {
    case Transform::kIdentity:
      break;
    case Transform::kSigmoid:
      for (int64_t i = 0; i < count; ++i) margins[i] = Sigmoid(margins[i]);
      break;
    case Transform::kExp:
      for (int64_t i = 0; i < count; ++i) margins[i] = expf(margins[i]);
      break;
    case Transform::kHinge:
      for (int64_t i = 0; i < count; ++i) margins[i] = margins[i] > 0.0f ? 1.0f : 0.0f;
      break;
    case Transform::kSoftmax:  // common::Softmax: float max, double sum, float divide
      for (int64_t r = 0; r < n_rows; ++r) {
        float* p = margins + r * num_groups_;
        float wmax = p[0];
        for (int64_t k = 1; k < num_groups_; ++k) wmax = fmaxf(p[k], wmax);
        double wsum = 0.0;
        for (int64_t k = 0; k < num_groups_; ++k) {
          p[k] = expf(p[k] - wmax);
          wsum += p[k];
        }
        const float sum = static_cast<float>(wsum);
        for (int64_t k = 0; k < num_groups_; ++k) p[k] /= sum;
      }
      break;
    case Transform::kArgmax:  // common::FindMaxIndex: the first strictly largest
      for (int64_t r = 0; r < n_rows; ++r) {
        const float* p = margins + r * num_groups_;
        int64_t best = 0;
        for (int64_t k = 1; k < num_groups_; ++k) {
          if (p[k] > p[best]) best = k;
        }
        out[r] = static_cast<float>(best);
      }
      break;
  }
}

absl::Status Forest::Predict(const float* rows, int64_t n_rows, int64_t n_features,
                             float* out) const {
  if (n_features != num_feature_) {
    return absl::InvalidArgumentError(
        absl::StrCat("rows have ", n_features, " features; the model expects ", num_feature_));
  }
  if (n_rows < 0) return absl::InvalidArgumentError("negative row count");
  // Rows go through every tree a block at a time (like xgboost's predictor)
  // so a block's margins stay in cache; each row still adds its trees in
  // model order, which is what fixes the float result.
  const int64_t prepared_width = 2 * num_feature_;
  constexpr int64_t kStackFloats = 2048;
  const int64_t block_rows = std::clamp<int64_t>(kStackFloats / prepared_width, 1, 64);
  float stack[kStackFloats];
  std::vector<float> heap;
  float* prepared = stack;
  if (prepared_width > kStackFloats) {
    heap.resize(prepared_width);
    prepared = heap.data();
  }
  std::vector<float> margins_scratch;
  if (transform_ == Transform::kArgmax) {
    margins_scratch.resize(std::min(n_rows, block_rows) * num_groups_);
  }
  const int64_t out_width = width();
  for (int64_t begin = 0; begin < n_rows; begin += block_rows) {
    const int64_t count = std::min(block_rows, n_rows - begin);
    float* margins = margins_scratch.empty() ? out + begin * num_groups_ : margins_scratch.data();
    PredictBlock(rows + begin * n_features, count, prepared, margins);
    ApplyTransform(margins, count, out + begin * out_width);
  }
  return absl::OkStatus();
}

std::vector<std::vector<float>> Forest::SplitThresholds() const {
  std::vector<std::vector<float>> thresholds(num_feature_);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& node = nodes_[i];
    if (node.left > static_cast<int32_t>(i)) {  // a split (a leaf has left = i - 1)
      thresholds[node.input % num_feature_].push_back(node.condition);
    }
  }
  for (std::vector<float>& values : thresholds) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
  }
  return thresholds;
}

}  // namespace ferry::serving
