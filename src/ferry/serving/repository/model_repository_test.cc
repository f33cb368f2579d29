#include "ferry/serving/repository/model_repository.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::serving::repository {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A FIL (Triton's forest backend) configuration as people write them: FIL
// parameters, a full dynamic_batching block, two instance groups and several
// fields Ferry does not model.
constexpr char kFilConfig[] = R"pb(
  name: "fraud"
  backend: "fil"
  max_batch_size: 8192 input
  [ {
    name: "input__0"
    data_type: TYPE_FP32
    dims: [ 32 ]
    allow_ragged_batch: false
  }] output
  [ {
    name: "output__0"
    data_type: TYPE_FP32
    dims: [ 2 ]
  }]
  version_policy: { latest: { num_versions: 2 } } instance_group
  [ { count: 2 kind: KIND_CPU }
    , { kind: KIND_CPU }] parameters
  [ {
    key: "model_type"
    value: { string_value: "xgboost_json" }
  }
    , {
      key: "output_class"
      value: { string_value: "true" }
    }]
  dynamic_batching {
    preferred_batch_size: [ 64, 256 ]
    max_queue_delay_microseconds: 100
    priority_levels: 2
    default_priority_level: 2
    default_queue_policy { default_timeout_microseconds: 5000 max_queue_size: 128 }
  }
  optimization { input_pinned_memory { enable: true } } model_warmup
  [ {
    name: "rows"
    batch_size: 8
    inputs {
      key: "input__0"
      value: {
        data_type: TYPE_FP32
        dims: [ 32 ]
        random_data: true
      }
    }
  }]
)pb";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ferry-repo-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = fs::canonical(tmpl);
  }
  ~TempDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

std::vector<int64_t> VersionNumbers(const RepositoryModel& model) {
  std::vector<int64_t> out;
  for (const auto& version : model.versions) out.push_back(version.version);
  return out;
}

bool Contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// --- config parsing --------------------------------------------------------

TEST(ParseModelConfigTextTest, ReadsFilXgboostConfig) {
  auto config = ParseModelConfigText(kFilConfig, "fraud/config.pbtxt");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->name, "fraud");
  EXPECT_EQ(config->backend, "fil");
  EXPECT_EQ(config->platform, "");
  EXPECT_EQ(config->max_batch_size, 8192);
  ASSERT_EQ(config->inputs.size(), 1u);
  EXPECT_EQ(config->inputs[0].name, "input__0");
  EXPECT_EQ(config->inputs[0].datatype, DataType::kFp32);
  EXPECT_THAT(config->inputs[0].shape, ElementsAre(-1, 32));
  EXPECT_FALSE(config->inputs[0].optional);
  ASSERT_EQ(config->outputs.size(), 1u);
  EXPECT_THAT(config->outputs[0].shape, ElementsAre(-1, 2));

  EXPECT_TRUE(config->dynamic_batching_enabled);
  EXPECT_THAT(config->preferred_batch_sizes, ElementsAre(64, 256));
  EXPECT_EQ(config->max_queue_delay_us, 100);
  EXPECT_EQ(config->priority_levels, 2u);
  EXPECT_EQ(config->default_priority_level, 2u);
  EXPECT_EQ(config->default_timeout_us, 5000u);
  EXPECT_EQ(config->max_queue_size, 128u);

  EXPECT_EQ(config->instance_count, 3);  // 2 + (missing count = 1)
  EXPECT_EQ(config->parameters.at("model_type"), "xgboost_json");
  EXPECT_EQ(config->parameters.at("output_class"), "true");
  EXPECT_EQ(config->version_policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ(config->version_policy.num_versions, 2u);

  EXPECT_TRUE(Contains(config->ignored_fields, "input.allow_ragged_batch"))
      << ::testing::PrintToString(config->ignored_fields);
  EXPECT_TRUE(Contains(config->ignored_fields, "optimization"));
  EXPECT_TRUE(Contains(config->ignored_fields, "model_warmup"));
  EXPECT_EQ(FormatFromConfig(*config), "xgboost");
}

TEST(ParseModelConfigTextTest, DefaultsWithoutOptionalBlocks) {
  auto config = ParseModelConfigText(R"pb(
                                       platform: "xgboost"
                                       input {
                                         name: "x"
                                         data_type: TYPE_FP64
                                         dims: [ 2, -1 ]
                                         optional: true
                                       }
                                       output {
                                         name: "label"
                                         data_type: TYPE_STRING
                                         dims: [ 1 ]
                                       }
                                     )pb",
                                     "m/config.pbtxt");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->name, "");
  EXPECT_EQ(config->max_batch_size, 0);
  // No batching: dims are the full shape.
  EXPECT_THAT(config->inputs[0].shape, ElementsAre(2, -1));
  EXPECT_TRUE(config->inputs[0].optional);
  EXPECT_EQ(config->outputs[0].datatype, DataType::kBytes);
  EXPECT_FALSE(config->dynamic_batching_enabled);
  EXPECT_THAT(config->preferred_batch_sizes, IsEmpty());
  EXPECT_EQ(config->max_queue_delay_us, 0);
  EXPECT_EQ(config->instance_count, 1);
  EXPECT_EQ(config->version_policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ(config->version_policy.num_versions, 1u);
  EXPECT_THAT(config->ignored_fields, IsEmpty());
  EXPECT_EQ(FormatFromConfig(*config), "xgboost");
}

TEST(ParseModelConfigTextTest, EmptyDynamicBatchingBlockEnablesIt) {
  auto config = ParseModelConfigText("max_batch_size: 4\ndynamic_batching {}\n", "c");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->dynamic_batching_enabled);
  EXPECT_EQ(config->priority_levels, 0u);
}

TEST(ParseModelConfigTextTest, EveryDataTypeMaps) {
  const std::pair<const char*, DataType> cases[] = {
      {"TYPE_BOOL", DataType::kBool},     {"TYPE_UINT8", DataType::kUint8},
      {"TYPE_UINT16", DataType::kUint16}, {"TYPE_UINT32", DataType::kUint32},
      {"TYPE_UINT64", DataType::kUint64}, {"TYPE_INT8", DataType::kInt8},
      {"TYPE_INT16", DataType::kInt16},   {"TYPE_INT32", DataType::kInt32},
      {"TYPE_INT64", DataType::kInt64},   {"TYPE_FP16", DataType::kFp16},
      {"TYPE_FP32", DataType::kFp32},     {"TYPE_FP64", DataType::kFp64},
      {"TYPE_STRING", DataType::kBytes},
  };
  for (const auto& [name, type] : cases) {
    auto config = ParseModelConfigText(
        std::string("input { name: \"x\" data_type: ") + name + " dims: [1] }", "c");
    ASSERT_TRUE(config.ok()) << name << ": " << config.status();
    EXPECT_EQ(config->inputs[0].datatype, type) << name;
    EXPECT_EQ(ToTritonConfigJson(*config)["input"][0]["data_type"], name);
  }
}

TEST(ParseModelConfigTextTest, SyntaxErrorNamesFileLineAndColumn) {
  auto config = ParseModelConfigText(
      "name: \"m\"\n"
      "max_batch_size: 8\n"
      "input [\n"
      "  { name: \"x\" data_type: TYPE_FP32 dims: [ 4 }\n"
      "]\n",
      "/repo/m/config.pbtxt");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("/repo/m/config.pbtxt:4:"));
}

TEST(ParseModelConfigTextTest, UnknownEnumValueIsAnErrorWithLine) {
  auto config = ParseModelConfigText("name: \"m\"\ninput { name: \"x\" data_type: TYPE_FP128 }\n",
                                     "config.pbtxt");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("config.pbtxt:2:"));
  EXPECT_THAT(config.status().message(), HasSubstr("TYPE_FP128"));
}

TEST(ParseModelConfigTextTest, WrongValueTypeIsAnError) {
  auto config = ParseModelConfigText("max_batch_size: \"lots\"\n", "config.pbtxt");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("config.pbtxt:1:"));
}

TEST(ParseModelConfigTextTest, RejectsInvalidValues) {
  const std::pair<const char*, const char*> cases[] = {
      {"max_batch_size: -1", "max_batch_size"},
      {"input { name: \"x\" data_type: TYPE_FP32 dims: [ 0 ] }", "dimension 0"},
      {"input { name: \"x\" data_type: TYPE_FP32 dims: [ -2 ] }", "dimension -2"},
      {"input { name: \"x\" data_type: TYPE_FP32 }", "must specify dims"},
      {"input { name: \"x\" dims: [ 1 ] }", "must specify data_type"},
      {"input { data_type: TYPE_FP32 dims: [ 1 ] }", "has no name"},
      {"input { name: \"x\" data_type: TYPE_BF16 dims: [ 1 ] }", "TYPE_BF16"},
      {"input { name: \"x\" data_type: TYPE_FP32 dims: [ 1 ] }\n"
       "input { name: \"x\" data_type: TYPE_FP32 dims: [ 1 ] }",
       "declared twice"},
      {"max_batch_size: 8 dynamic_batching { preferred_batch_size: [ 16 ] }",
       "preferred_batch_size 16"},
      {"max_batch_size: 8 dynamic_batching { preferred_batch_size: [ 0 ] }",
       "preferred_batch_size 0"},
      {"dynamic_batching { priority_levels: 3 default_priority_level: 4 }",
       "default_priority_level 4"},
      {"dynamic_batching { priority_levels: 3 }", "default_priority_level 0"},
      {"dynamic_batching { max_queue_delay_microseconds: 18446744073709551615 }",
       "max_queue_delay_microseconds"},
      {"instance_group { count: -2 }", "count must be >= 0"},
      {"version_policy { latest { num_versions: 0 } }", "num_versions"},
      {"version_policy { specific { } }", "lists no versions"},
      {"version_policy { specific { versions: [ 0 ] } }", "version 0"},
  };
  for (const auto& [text, expected] : cases) {
    auto config = ParseModelConfigText(text, "bad.pbtxt");
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(config.status().message(), HasSubstr(expected)) << text;
    EXPECT_THAT(config.status().message(), HasSubstr("bad.pbtxt")) << text;
  }
}

TEST(ParseModelConfigTextTest, VersionPolicies) {
  auto all = ParseModelConfigText("version_policy: { all { } }", "c");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->version_policy.kind, VersionPolicy::Kind::kAll);

  auto specific =
      ParseModelConfigText("version_policy: { specific { versions: [ 3, 1, 3 ] } }", "c");
  ASSERT_TRUE(specific.ok()) << specific.status();
  EXPECT_EQ(specific->version_policy.kind, VersionPolicy::Kind::kSpecific);
  EXPECT_THAT(specific->version_policy.versions, ElementsAre(1, 3));
}

TEST(ParseModelConfigTextTest, UnknownFieldsAndExtensionsAreSkipped) {
  auto config = ParseModelConfigText(R"pb(
                                       name: "seq"
                                       sequence_batching {
                                         max_sequence_idle_microseconds: 5000000 control_input
                                         [ {
                                           name: "START" control
                                           [ {
                                             kind: CONTROL_SEQUENCE_START
                                             int32_false_true: [ 0, 1 ]
                                           }]
                                         }]
                                       }
                                       dynamic_batching {
                                         priority_queue_policy {
                                           key: 1
                                           value { max_queue_size: 3 }
                                         }
                                       }
                                       [some.extension] { value: 1 }
                                       response_cache { enable: true }
                                     )pb",
                                     "c");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(Contains(config->ignored_fields, "sequence_batching"))
      << ::testing::PrintToString(config->ignored_fields);
  EXPECT_TRUE(Contains(config->ignored_fields, "dynamic_batching.priority_queue_policy"));
  EXPECT_TRUE(Contains(config->ignored_fields, "response_cache"));
  EXPECT_EQ(config->ignored_fields.size(), 4u);  // + the extension, verbatim
}

TEST(ParseModelConfigTextTest, UnknownMessageListsWithoutColonAreSkipped) {
  // protobuf cannot skip `unknown [ {...} ]`; the parser rewrites it to
  // `unknown: [ {...} ]`, but never inside strings or comments.
  auto config = ParseModelConfigText(
      "name: \"odd [ { name\"  # batch_output [ { comment\n"
      "batch_output[{ target_name: [ \"x\" ] kind: BATCH_SCATTER_WITH_INPUT_SHAPE }]\n"
      "batch_input [ ]\n"
      "model_warmup <# comment\n"
      " >\n",
      "c");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->name, "odd [ { name");
  EXPECT_THAT(config->ignored_fields, ElementsAre("batch_output", "model_warmup"));

  // Lines and columns in errors still point into the file as written.
  const std::string text = "model_warmup [ { } ] max_batch_size: \"x\"\n";
  auto bad = ParseModelConfigText(text, "c");
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("c:1:" + std::to_string(text.find('"') + 1)));
}

TEST(ParseModelConfigTextTest, RejectsStringsThatAreNotUtf8) {
  // Found by repository_config_fuzz: the text parser accepts any bytes, and
  // the config later goes into JSON.
  for (const char* text : {"name: \"fr\\x9e\"", "backend: \"\\xc0\\xaf\"",
                           "input { name: \"\\xed\\xa0\\x80\" data_type: TYPE_FP32 dims: 1 }",
                           "parameters { key: \"k\" value { string_value: \"\\xff\" } }"}) {
    auto config = ParseModelConfigText(text, "c");
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(config.status().message(), HasSubstr("not valid UTF-8")) << text;
  }
  auto unicode = ParseModelConfigText("name: \"mod\xc3\xa8le-\xf0\x9f\x9a\x80\"", "c");
  ASSERT_TRUE(unicode.ok()) << unicode.status();
  EXPECT_NO_THROW(ToTritonConfigJson(*unicode).dump());
  // Error messages quoting bad bytes are made valid UTF-8 too.
  auto bad_token = ParseModelConfigText("max_batch_size: \xff\xfe", "c");
  ASSERT_EQ(bad_token.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NO_THROW(nlohmann::json(std::string(bad_token.status().message())).dump());
}

TEST(ParseModelConfigTextTest, DeepNestingInUnknownFieldFailsCleanly) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "unknown {";
  for (int i = 0; i < 5000; ++i) text += "}";
  auto config = ParseModelConfigText(text, "deep.pbtxt");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseModelConfigJsonTest, ReadsTritonJson) {
  // Triton's JSON form; int64 fields as strings (protobuf's own printer) and
  // as numbers (Triton's config endpoint) are both accepted.
  auto config = ParseModelConfigJson(R"json({
    "name": "fraud",
    "backend": "fil",
    "max_batch_size": 16,
    "input": [{"name": "input__0", "data_type": "TYPE_FP32", "dims": ["32"],
               "allow_ragged_batch": false}],
    "output": [{"name": "output__0", "data_type": "TYPE_FP32", "dims": [1]}],
    "dynamicBatching": {"preferred_batch_size": [4, 8], "max_queue_delay_microseconds": "250"},
    "instance_group": [{"kind": "KIND_CPU", "count": 3}],
    "version_policy": {"specific": {"versions": ["2", 5]}},
    "parameters": {"model_type": {"string_value": "xgboost_ubj"}, "x": {"string_value": "y", "extra": 1}},
    "optimization": {"priority": "PRIORITY_DEFAULT"}
  })json",
                                     "fraud/config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->name, "fraud");
  EXPECT_THAT(config->inputs[0].shape, ElementsAre(-1, 32));
  EXPECT_THAT(config->outputs[0].shape, ElementsAre(-1, 1));
  EXPECT_TRUE(config->dynamic_batching_enabled);
  EXPECT_THAT(config->preferred_batch_sizes, ElementsAre(4, 8));
  EXPECT_EQ(config->max_queue_delay_us, 250);
  EXPECT_EQ(config->instance_count, 3);
  EXPECT_THAT(config->version_policy.versions, ElementsAre(2, 5));
  EXPECT_EQ(config->parameters.at("model_type"), "xgboost_ubj");
  EXPECT_EQ(FormatFromConfig(*config), "xgboost");
  EXPECT_TRUE(Contains(config->ignored_fields, "input.allow_ragged_batch"))
      << ::testing::PrintToString(config->ignored_fields);
  EXPECT_TRUE(Contains(config->ignored_fields, "optimization"));
  EXPECT_TRUE(Contains(config->ignored_fields, "parameters.value.extra"));
}

TEST(ParseModelConfigJsonTest, SyntaxErrorNamesFileLineAndColumn) {
  auto config =
      ParseModelConfigJson("{\n  \"name\": \"m\",\n  \"max_batch_size\": ,\n}", "m/config.json");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("m/config.json:3:21"));
}

TEST(ParseModelConfigJsonTest, RejectsBadValues) {
  const std::pair<std::string, const char*> cases[] = {
      {R"([1, 2])", "JSON object"},
      {R"({"input": [{"name": "x", "data_type": "TYPE_FP128", "dims": [1]}]})", "TYPE_FP128"},
      {R"({"max_batch_size": "eight"})", "max_batch_size"},
      {R"({"input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [0]}]})", "dimension 0"},
      // Found by repository_config_fuzz: nlohmann throws out_of_range here.
      {R"({"max_batch_size": 1)" + std::string(400, '0') + "}", "number overflow"},
  };
  for (const auto& [text, expected] : cases) {
    auto config = ParseModelConfigJson(text, "c.json");
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(config.status().message(), HasSubstr(expected)) << text;
  }
}

TEST(FormatFromConfigTest, MapsBackendsAndPlatforms) {
  RepositoryModelConfig config;
  EXPECT_EQ(FormatFromConfig(config), "");
  config.backend = "xgboost";
  EXPECT_EQ(FormatFromConfig(config), "xgboost");
  config.backend = "fil";
  EXPECT_EQ(FormatFromConfig(config), "");  // FIL without model_type: detect from files
  for (const char* type : {"xgboost", "xgboost_json", "xgboost_ubj"}) {
    config.parameters["model_type"] = type;
    EXPECT_EQ(FormatFromConfig(config), "xgboost") << type;
  }
  config.parameters["model_type"] = "lightgbm";
  EXPECT_EQ(FormatFromConfig(config), "");
  config.backend = "onnxruntime";
  EXPECT_EQ(FormatFromConfig(config), "");
  config.backend.clear();
  config.platform = "xgboost";
  EXPECT_EQ(FormatFromConfig(config), "xgboost");
}

// --- Triton config JSON ------------------------------------------------------

TEST(ToTritonConfigJsonTest, HasTritonShape) {
  auto config = ParseModelConfigText(kFilConfig, "c");
  ASSERT_TRUE(config.ok()) << config.status();
  nlohmann::json json = ToTritonConfigJson(*config);

  EXPECT_EQ(json["name"], "fraud");
  EXPECT_EQ(json["backend"], "fil");
  EXPECT_EQ(json["platform"], "");
  EXPECT_EQ(json["max_batch_size"], 8192);
  ASSERT_EQ(json["input"].size(), 1u);
  const nlohmann::json& input = json["input"][0];
  EXPECT_EQ(input["name"], "input__0");
  EXPECT_EQ(input["data_type"], "TYPE_FP32");
  EXPECT_EQ(input["format"], "FORMAT_NONE");
  // Config dims, without the batch dimension, as JSON numbers.
  EXPECT_EQ(input["dims"], nlohmann::json::array({32}));
  EXPECT_TRUE(input["dims"][0].is_number_integer());
  EXPECT_EQ(input["optional"], false);
  EXPECT_EQ(json["output"][0]["dims"], nlohmann::json::array({2}));
  EXPECT_EQ(json["output"][0]["label_filename"], "");

  const nlohmann::json& batching = json["dynamic_batching"];
  EXPECT_EQ(batching["preferred_batch_size"], nlohmann::json::array({64, 256}));
  EXPECT_TRUE(batching["max_queue_delay_microseconds"].is_number_integer());
  EXPECT_EQ(batching["max_queue_delay_microseconds"], 100);
  EXPECT_EQ(batching["priority_levels"], 2);
  EXPECT_EQ(batching["default_priority_level"], 2);
  EXPECT_EQ(batching["default_queue_policy"]["default_timeout_microseconds"], 5000);
  EXPECT_EQ(batching["default_queue_policy"]["max_queue_size"], 128);
  EXPECT_EQ(batching["default_queue_policy"]["timeout_action"], "REJECT");

  ASSERT_EQ(json["instance_group"].size(), 1u);
  EXPECT_EQ(json["instance_group"][0]["name"], "fraud_0");
  EXPECT_EQ(json["instance_group"][0]["kind"], "KIND_CPU");
  EXPECT_EQ(json["instance_group"][0]["count"], 3);
  EXPECT_EQ(json["version_policy"], nlohmann::json::parse(R"({"latest": {"num_versions": 2}})"));
  EXPECT_EQ(json["parameters"]["model_type"],
            nlohmann::json::parse(R"({"string_value": "xgboost_json"})"));
  EXPECT_TRUE(json["model_warmup"].is_array());
}

TEST(ToTritonConfigJsonTest, OmitsDynamicBatchingWhenDisabled) {
  auto config = ParseModelConfigText(
      "name: \"m\" input { name: \"x\" data_type: TYPE_INT64 dims: [ 3 ] } "
      "version_policy { specific { versions: [ 4, 2 ] } }",
      "c");
  ASSERT_TRUE(config.ok()) << config.status();
  nlohmann::json json = ToTritonConfigJson(*config);
  EXPECT_FALSE(json.contains("dynamic_batching"));
  EXPECT_EQ(json["input"][0]["dims"], nlohmann::json::array({3}));  // no batch dim to strip
  EXPECT_EQ(json["version_policy"]["specific"]["versions"], nlohmann::json::array({2, 4}));
  EXPECT_EQ(json["parameters"], nlohmann::json::object());

  config->version_policy.kind = VersionPolicy::Kind::kAll;
  EXPECT_EQ(ToTritonConfigJson(*config)["version_policy"], nlohmann::json::parse(R"({"all": {}})"));
}

TEST(ToTritonConfigJsonTest, OutputParsesBackAsConfigJson) {
  auto config = ParseModelConfigText(kFilConfig, "c");
  ASSERT_TRUE(config.ok()) << config.status();
  auto again = ParseModelConfigJson(ToTritonConfigJson(*config).dump(), "roundtrip.json");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->name, config->name);
  EXPECT_EQ(again->max_batch_size, config->max_batch_size);
  EXPECT_EQ(again->inputs[0].shape, config->inputs[0].shape);
  EXPECT_EQ(again->outputs[0].shape, config->outputs[0].shape);
  EXPECT_EQ(again->preferred_batch_sizes, config->preferred_batch_sizes);
  EXPECT_EQ(again->max_queue_delay_us, config->max_queue_delay_us);
  EXPECT_EQ(again->default_priority_level, config->default_priority_level);
  EXPECT_EQ(again->default_timeout_us, config->default_timeout_us);
  EXPECT_EQ(again->max_queue_size, config->max_queue_size);
  EXPECT_EQ(again->instance_count, config->instance_count);
  EXPECT_EQ(again->parameters, config->parameters);
  EXPECT_EQ(again->version_policy.num_versions, config->version_policy.num_versions);
}

// --- repository ----------------------------------------------------------------

class ModelRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = temp_.path() / "models";
    outside_ = temp_.path() / "outside";
    fs::create_directories(root_);
    fs::create_directories(outside_ / "1");
    WriteFile(outside_ / "config.pbtxt", "name: \"stolen\"\n");
  }

  std::unique_ptr<ModelRepository> Open() {
    auto repository = ModelRepository::Open(root_.string());
    EXPECT_TRUE(repository.ok()) << repository.status();
    return repository.ok() ? *std::move(repository) : nullptr;
  }

  TempDir temp_;
  fs::path root_;
  fs::path outside_;
};

TEST_F(ModelRepositoryTest, OpenCanonicalisesAndChecksTheRoot) {
  fs::create_directory_symlink(root_, temp_.path() / "link");
  auto repository = ModelRepository::Open((temp_.path() / "link" / ".." / "link").string());
  ASSERT_TRUE(repository.ok()) << repository.status();
  EXPECT_EQ((*repository)->root(), root_.string());

  EXPECT_EQ(ModelRepository::Open((temp_.path() / "nope").string()).status().code(),
            absl::StatusCode::kNotFound);
  WriteFile(temp_.path() / "file", "x");
  EXPECT_EQ(ModelRepository::Open((temp_.path() / "file").string()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelRepositoryTest, ListsModelDirectories) {
  WriteFile(root_ / "with_config" / "config.pbtxt", "name: \"with_config\"\n");
  WriteFile(root_ / "json_only" / "config.json", "{}");
  fs::create_directories(root_ / "versions_only" / "3");
  fs::create_directories(root_ / "empty");
  fs::create_directories(root_ / "not_versions" / "latest");
  fs::create_directories(root_ / "leading_zero" / "01");
  fs::create_directories(root_ / ".hidden" / "1");
  WriteFile(root_ / "README.md", "not a model");
  fs::create_directory_symlink(outside_, root_ / "escape");
  fs::create_directory_symlink(root_ / "versions_only", root_ / "alias");

  auto repository = Open();
  ASSERT_NE(repository, nullptr);
  auto models = repository->ListModels();
  ASSERT_TRUE(models.ok()) << models.status();
  EXPECT_THAT(*models, ElementsAre("alias", "json_only", "versions_only", "with_config"));
}

TEST_F(ModelRepositoryTest, LoadSelectsVersionsByPolicy) {
  fs::path model = root_ / "fraud";
  for (const char* version : {"1", "2", "10", "03", "0", "abc"}) {
    fs::create_directories(model / version);
  }
  WriteFile(model / "7", "a file, not a version directory");
  auto repository = Open();
  ASSERT_NE(repository, nullptr);

  auto load_with = [&](const std::string& policy) {
    WriteFile(model / "config.pbtxt", "name: \"fraud\" " + policy);
    return repository->Load("fraud");
  };

  auto latest = load_with("");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_THAT(VersionNumbers(*latest), ElementsAre(10));
  EXPECT_EQ(latest->versions[0].path, (model / "10").string());
  EXPECT_EQ(latest->path, model.string());
  EXPECT_EQ(latest->config_path, (model / "config.pbtxt").string());

  auto latest2 = load_with("version_policy { latest { num_versions: 2 } }");
  ASSERT_TRUE(latest2.ok()) << latest2.status();
  EXPECT_THAT(VersionNumbers(*latest2), ElementsAre(2, 10));

  auto many = load_with("version_policy { latest { num_versions: 50 } }");
  ASSERT_TRUE(many.ok()) << many.status();
  EXPECT_THAT(VersionNumbers(*many), ElementsAre(1, 2, 10));

  auto all = load_with("version_policy { all {} }");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(VersionNumbers(*all), ElementsAre(1, 2, 10));

  auto specific = load_with("version_policy { specific { versions: [ 10, 1 ] } }");
  ASSERT_TRUE(specific.ok()) << specific.status();
  EXPECT_THAT(VersionNumbers(*specific), ElementsAre(1, 10));

  auto missing = load_with("version_policy { specific { versions: [ 1, 5 ] } }");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("version 5"));
}

TEST_F(ModelRepositoryTest, LoadWithoutConfigUsesDefaults) {
  fs::create_directories(root_ / "plain" / "1");
  fs::create_directories(root_ / "plain" / "4");
  auto repository = Open();
  ASSERT_NE(repository, nullptr);
  auto model = repository->Load("plain");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->config.name, "plain");
  EXPECT_EQ(model->config.backend, "");
  EXPECT_EQ(model->config_path, "");
  EXPECT_EQ(FormatFromConfig(model->config), "");
  EXPECT_THAT(VersionNumbers(*model), ElementsAre(4));
  EXPECT_TRUE(fs::path(model->versions[0].path).is_absolute());
}

TEST_F(ModelRepositoryTest, LoadReadsJsonConfigAndPrefersPbtxt) {
  fs::create_directories(root_ / "j" / "1");
  WriteFile(root_ / "j" / "config.json", R"({"backend": "xgboost", "max_batch_size": 4})");
  auto repository = Open();
  ASSERT_NE(repository, nullptr);
  auto model = repository->Load("j");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->config.name, "j");  // filled in from the directory
  EXPECT_EQ(model->config.max_batch_size, 4);
  EXPECT_EQ(model->config_path, (root_ / "j" / "config.json").string());

  WriteFile(root_ / "j" / "config.pbtxt", "max_batch_size: 9\n");
  model = repository->Load("j");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->config.max_batch_size, 9);
}

TEST_F(ModelRepositoryTest, LoadReportsConfigErrorsWithPath) {
  fs::create_directories(root_ / "broken" / "1");
  WriteFile(root_ / "broken" / "config.pbtxt", "name: \"broken\"\nmax_batch_size: 4\ninput [ {\n");
  fs::create_directories(root_ / "renamed" / "1");
  WriteFile(root_ / "renamed" / "config.pbtxt", "name: \"other\"\n");
  fs::create_directories(root_ / "noversions");
  WriteFile(root_ / "noversions" / "config.pbtxt", "name: \"noversions\"\n");
  fs::create_directories(root_ / "huge" / "1");
  WriteFile(root_ / "huge" / "config.pbtxt",
            std::string(ModelRepository::kMaxConfigBytes + 1, ' '));
  auto repository = Open();
  ASSERT_NE(repository, nullptr);

  auto broken = repository->Load("broken");
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(broken.status().message(),
              HasSubstr((root_ / "broken" / "config.pbtxt").string() + ":4:"));

  auto renamed = repository->Load("renamed");
  EXPECT_EQ(renamed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(renamed.status().message(), HasSubstr("'other'"));

  auto noversions = repository->Load("noversions");
  EXPECT_EQ(noversions.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(noversions.status().message(), HasSubstr("no version directory"));

  EXPECT_EQ(repository->Load("huge").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(repository->Load("absent").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelRepositoryTest, RejectsHostileNames) {
  fs::create_directories(root_ / "ok" / "1");
  auto repository = Open();
  ASSERT_NE(repository, nullptr);
  const std::string hostile[] = {
      "",
      ".",
      "..",
      "../outside",
      "ok/../ok",
      "ok/1",
      ".hidden",
      "a\\b",
      "a\nb",
      "/etc",
      std::string("ok\0x", 4),
      "caf\xe9",
      std::string(ModelRepository::kMaxModelNameLength + 1, 'a'),
  };
  for (const std::string& name : hostile) {
    auto model = repository->Load(name);
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
        << "'" << name << "': " << model.status();
  }
  EXPECT_TRUE(
      ModelRepository::ValidateModelName(std::string(ModelRepository::kMaxModelNameLength, 'a'))
          .ok());
  EXPECT_TRUE(repository->Load("ok").ok());
}

TEST_F(ModelRepositoryTest, RejectsSymlinksEscapingTheRoot) {
  // Model directory pointing outside.
  fs::create_directory_symlink(outside_, root_ / "escape");
  // Config file pointing outside.
  fs::create_directories(root_ / "cfg" / "1");
  fs::create_symlink(outside_ / "config.pbtxt", root_ / "cfg" / "config.pbtxt");
  // Version directory pointing outside.
  fs::create_directories(root_ / "ver");
  fs::create_directory_symlink(outside_ / "1", root_ / "ver" / "2");
  // A symlink that stays inside is fine.
  fs::create_directories(root_ / "real" / "5");
  fs::create_directory_symlink(root_ / "real", root_ / "alias");

  auto repository = Open();
  ASSERT_NE(repository, nullptr);
  for (const char* name : {"escape", "cfg", "ver"}) {
    auto model = repository->Load(name);
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
        << name << ": " << model.status();
    EXPECT_THAT(model.status().message(), HasSubstr("outside the model repository")) << name;
  }
  auto alias = repository->Load("alias");
  ASSERT_TRUE(alias.ok()) << alias.status();
  EXPECT_EQ(alias->versions[0].path, (root_ / "real" / "5").string());
}

}  // namespace
}  // namespace ferry::serving::repository
