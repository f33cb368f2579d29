#include "ferry/governance/lineage.h"

#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::governance {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Lineage FullLineage() {
  Lineage l;
  l.model_uri = "models:/credit@champion";
  l.version.name = "credit";
  l.version.version = 3;
  l.version.current_stage = "Production";
  l.version.aliases = {"champion"};
  l.version.source = "runs:/r123/model";
  l.version.run_id = "r123";
  l.version.user_id = "alice";
  l.version.description = "gradient boosted trees";
  l.version.tags = {{"validation_status", "passed"}};

  store::Run run;
  run.info.run_id = "r123";
  run.info.run_name = "bright-fox";
  run.info.experiment_id = "7";
  run.info.user_id = "alice";
  run.info.status = "FINISHED";
  run.info.start_time = 1700000000000;
  run.info.end_time = 1700000060000;
  run.info.artifact_uri = "mlflow-artifacts:/7/r123/artifacts";
  run.params = {{"learning_rate", "0.1"}, {"max_depth", "6"}};
  run.metrics = {store::Metric{.key = "auc", .value = 0.91, .step = 10},
                 store::Metric{.key = "weird", .value = std::numeric_limits<double>::quiet_NaN()}};
  run.tags = {{"mlflow.source.git.commit", "abc1234"},
              {"mlflow.source.name", "train.py"},
              {"mlflow.source.type", "LOCAL"},
              {"ferry.pipeline.run_id", "pipe-42"},
              {"team", "risk"}};
  store::DatasetInput input;
  input.tags = {{"mlflow.data.context", "training"}};
  input.dataset = store::Dataset{.name = "loans-2024",
                                 .digest = "d1g3st",
                                 .source_type = "s3",
                                 .source = "s3://bucket/loans.parquet",
                                 .schema = R"({"cols":["a"]})"};
  run.dataset_inputs = {input};
  l.run = run;
  l.experiment = store::Experiment{.experiment_id = "7", .name = "credit-scoring"};
  l.environment_file = "requirements.txt";
  l.environment = "xgboost==2.0.3\npandas==2.2.0\n";
  return l;
}

TEST(LineageToJson, ContainsEveryElement) {
  nlohmann::json j = LineageToJson(FullLineage());
  EXPECT_EQ(j["model_uri"], "models:/credit@champion");
  EXPECT_EQ(j["model_version"]["name"], "credit");
  EXPECT_EQ(j["model_version"]["version"], 3);
  EXPECT_EQ(j["model_version"]["current_stage"], "Production");
  EXPECT_EQ(j["model_version"]["aliases"][0], "champion");
  EXPECT_EQ(j["model_version"]["tags"]["validation_status"], "passed");
  EXPECT_EQ(j["run"]["run_id"], "r123");
  EXPECT_EQ(j["run"]["run_name"], "bright-fox");
  EXPECT_EQ(j["run"]["end_time"], 1700000060000);
  EXPECT_EQ(j["run"]["params"]["learning_rate"], "0.1");
  EXPECT_EQ(j["run"]["metrics"][0]["key"], "auc");
  EXPECT_EQ(j["run"]["metrics"][0]["value"], 0.91);
  EXPECT_EQ(j["run"]["metrics"][0]["step"], 10);
  EXPECT_EQ(j["run"]["metrics"][1]["value"], "NaN");
  EXPECT_EQ(j["run"]["tags"]["team"], "risk");
  const auto& ds = j["run"]["datasets"][0];
  EXPECT_EQ(ds["name"], "loans-2024");
  EXPECT_EQ(ds["digest"], "d1g3st");
  EXPECT_EQ(ds["source_type"], "s3");
  EXPECT_EQ(ds["source"], "s3://bucket/loans.parquet");
  EXPECT_EQ(ds["context"], "training");
  EXPECT_EQ(ds["schema"], R"({"cols":["a"]})");
  EXPECT_EQ(j["experiment"]["name"], "credit-scoring");
  // Code and pipeline fall back to the run's tags when the service left them empty.
  EXPECT_EQ(j["code"]["git_commit"], "abc1234");
  EXPECT_EQ(j["code"]["source_name"], "train.py");
  EXPECT_EQ(j["code"]["source_type"], "LOCAL");
  EXPECT_EQ(j["environment"]["file"], "requirements.txt");
  EXPECT_EQ(j["environment"]["text"], "xgboost==2.0.3\npandas==2.2.0\n");
  EXPECT_EQ(j["pipeline"]["parent_run_id"], "pipe-42");
  // Serialisable as is.
  EXPECT_FALSE(j.dump().empty());
}

TEST(LineageToJson, ExplicitFieldsWinOverRunTags) {
  Lineage l = FullLineage();
  l.git_commit = "fff0000";
  l.parent_pipeline_run = "pipe-7";
  nlohmann::json j = LineageToJson(l);
  EXPECT_EQ(j["code"]["git_commit"], "fff0000");
  EXPECT_EQ(j["pipeline"]["parent_run_id"], "pipe-7");
}

TEST(LineageToJson, AbsentPartsAreNull) {
  Lineage l;
  l.model_uri = "models:/credit/1";
  l.version.name = "credit";
  l.version.version = 1;
  nlohmann::json j = LineageToJson(l);
  EXPECT_TRUE(j["run"].is_null());
  EXPECT_TRUE(j["experiment"].is_null());
  EXPECT_TRUE(j["environment"].is_null());
  EXPECT_TRUE(j["pipeline"].is_null());
  EXPECT_EQ(j["code"]["git_commit"], "");
}

TEST(LineageToText, ContainsEveryElementInTreeOrder) {
  std::string text = LineageToText(FullLineage());
  std::vector<std::string> in_order = {"models:/credit@champion",
                                       "model version credit v3",
                                       "stage: Production",
                                       "aliases: champion",
                                       "source: runs:/r123/model",
                                       "validation_status = passed",
                                       "run r123 \"bright-fox\" (FINISHED)",
                                       "experiment 7 \"credit-scoring\"",
                                       "params (2)",
                                       "learning_rate = 0.1",
                                       "max_depth = 6",
                                       "metrics (2)",
                                       "auc = 0.91 (step 10)",
                                       "weird = nan",
                                       "tags (5)",
                                       "team = risk",
                                       "datasets (1)",
                                       "loans-2024",
                                       "digest: d1g3st",
                                       "source: s3://bucket/loans.parquet (s3)",
                                       "context: training",
                                       "code",
                                       "git commit: abc1234",
                                       "source name: train.py",
                                       "source type: LOCAL",
                                       "environment: requirements.txt",
                                       "| xgboost==2.0.3",
                                       "| pandas==2.2.0",
                                       "pipeline: parent run pipe-42"};
  size_t pos = 0;
  for (const auto& part : in_order) {
    size_t found = text.find(part, pos);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << part << "\n" << text;
    pos = found + part.size();
  }
}

TEST(LineageToText, IndentsChildrenUnderParents) {
  std::string text = LineageToText(FullLineage());
  EXPECT_THAT(text, HasSubstr("\n  model version credit v3\n"));
  EXPECT_THAT(text, HasSubstr("\n    run r123"));
  EXPECT_THAT(text, HasSubstr("\n        learning_rate = 0.1\n"));
  EXPECT_THAT(text, HasSubstr("\n          digest: d1g3st\n"));
}

TEST(LineageToText, SaysWhatIsMissing) {
  Lineage l;
  l.model_uri = "models:/credit/1";
  l.version.name = "credit";
  l.version.version = 1;
  std::string text = LineageToText(l);
  EXPECT_THAT(text, HasSubstr("run: none"));
  EXPECT_THAT(text, HasSubstr("code\n    not recorded"));
  EXPECT_THAT(text, HasSubstr("environment: not found"));
  EXPECT_THAT(text, HasSubstr("pipeline: none"));
}

TEST(LineageToText, EscapesTerminalControlCharacters) {
  Lineage l = FullLineage();
  l.run->params.push_back({"evil", "\x1b[2Jcleared"});
  l.environment = "ok\x1b]0;title\x07\tend\n";
  std::string text = LineageToText(l);
  EXPECT_THAT(text, Not(HasSubstr("\x1b")));
  EXPECT_THAT(text, Not(HasSubstr("\x07")));
  EXPECT_THAT(text, HasSubstr("evil = \\x1b[2Jcleared"));
  EXPECT_THAT(text, HasSubstr("| ok\\x1b]0;title\\x07\tend"));
}

}  // namespace
}  // namespace ferry::governance
