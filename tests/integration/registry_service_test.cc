// The registry service over a real SQLite file and a real artifact folder:
// source confinement, every gate failure reason, forced promotion, audit
// tamper detection (the DB is edited behind the server's back with sqlite3),
// lineage on a built graph, and model cards.

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ferry/artifacts/artifact_store.h"
#include "ferry/registry/service.h"
#include "ferry/store/metadata_store.h"
#include "ferry/tracking/service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class RegistryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry_registry_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "ferry.db").string();
    store_ = store::OpenMetadataStore({.uri = "sqlite:///" + db_, .clock = &clock_}).value();
    artifacts_ =
        artifacts::CreateLocalArtifactStore({.root = (dir_ / "artifacts").string()}).value();
    registry_ = registry::RegistryService::Create(
                    {.store = store_.get(), .artifacts = artifacts_.get(), .clock = &clock_})
                    .value();
    tracking_ = tracking::TrackingService::Create(
                    {.store = store_.get(), .clock = &clock_, .audit = registry_->audit_sink()})
                    .value();
    alice_ = {.actor = "alice", .request_id = "req-a"};
    bob_ = {.actor = "bob", .request_id = "req-b"};
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A run with an uploaded model directory; returns the run id.
  std::string TrainedRun(double auc, const std::vector<store::Tag>& tags = {}) {
    auto run = tracking_->CreateRun({.experiment_id = "0", .tags = tags}, alice_).value();
    clock_.AdvanceMillis(10);
    EXPECT_TRUE(tracking_
                    ->LogBatch(run.info.run_id, {{.key = "auc", .value = auc, .timestamp = 1}},
                               {{"max_depth", "6"}}, {})
                    .ok());
    std::string model_dir = "0/" + run.info.run_id + "/artifacts/model";
    for (const auto& [file, text] : std::vector<std::pair<std::string, std::string>>{
             {"MLmodel", "flavors: {}\n"},
             {"requirements.txt", "scikit-learn==1.5.2\nmlflow==3.0\n"}}) {
      auto sink = artifacts_->BeginUpload(model_dir + "/" + file).value();
      EXPECT_TRUE(sink->Write(text).ok());
      EXPECT_TRUE(sink->Commit().ok());
    }
    return run.info.run_id;
  }

  int64_t Register(const std::string& name, const std::string& run_id) {
    if (!registry_->GetRegisteredModel(name).ok()) {
      EXPECT_TRUE(registry_->CreateRegisteredModel(name, "credit risk", {}, alice_).ok());
    }
    auto v = registry_->CreateModelVersion(
        {.name = name, .source = "runs:/" + run_id + "/model", .run_id = run_id}, alice_);
    EXPECT_TRUE(v.ok()) << v.status();
    return v->version;
  }

  void Sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
    std::string message = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  // Several audited mutations: experiment, run, model, versions, alias, policy.
  void BuildHistory() {
    std::string run = TrainedRun(0.9);
    Register("credit", run);
    Register("credit", run);
    ASSERT_TRUE(registry_->SetAlias("credit", "champion", "1", alice_).ok());
    ASSERT_TRUE(registry_->SetAlias("credit", "champion", "2", bob_).ok());
    ASSERT_TRUE(registry_->SetRegisteredModelTag("credit", {"team", "risk"}, bob_).ok());
    ASSERT_GE(registry_->AuditLog("", 0).value().size(), 7u);
  }

  FakeClock clock_;
  fs::path dir_;
  std::string db_;
  std::unique_ptr<store::MetadataStore> store_;
  std::unique_ptr<artifacts::ArtifactStore> artifacts_;
  std::unique_ptr<registry::RegistryService> registry_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  RequestContext alice_, bob_;
};

TEST_F(RegistryServiceTest, HostileSourcesAreRejected) {
  std::string run = TrainedRun(0.9);
  ASSERT_TRUE(registry_->CreateRegisteredModel("m", "", {}, alice_).ok());
  const std::vector<std::string> hostile = {
      "",
      "file:///etc/passwd",
      "/etc/passwd",
      "file:/etc",
      "http://169.254.169.254/latest/meta-data/",
      "https://example.com/model",
      "s3://bucket/key",
      "gs://bucket/key",
      "hdfs://namenode/path",
      "dbfs:/x",
      "ftp://x/y",
      "../../x",
      "mlflow-artifacts:/../../etc",
      "mlflow-artifacts:/0/%2e%2e/%2e%2e/etc",
      "mlflow-artifacts:/0/%252e%252e/x",
      "mlflow-artifacts:/0/abc\\..\\..\\x",
      std::string("mlflow-artifacts:/0/a\0b", 24),
      "mlflow-artifacts://evil.example.com/0/x",
      "mlflow-artifacts:",
      "runs:/" + run + "/../../../etc",
      "runs:/" + run + "/%2e%2e/%2e%2e/x",
      "runs:/nonexistent_run_id/model",
      "runs:/../../etc/model",
      "models:/other/1",
      "models:/m-doesnotexist",
      "models:/m-../../x",
      "file:///proc/self/environ",
      "RUNS:/" + run + "/model",
  };
  for (const auto& source : hostile) {
    SCOPED_TRACE(source);
    auto v = registry_->CreateModelVersion({.name = "m", .source = source}, alice_);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << v.status();
  }
  EXPECT_EQ(registry_->SearchModelVersions("name = 'm'", {}, 100, "").value().items.size(), 0u);
  // And what the clients really send is accepted.
  for (const auto& source :
       {"runs:/" + run + "/model", "mlflow-artifacts:/0/" + run + "/artifacts/model"}) {
    auto v = registry_->CreateModelVersion({.name = "m", .source = source, .run_id = run}, alice_);
    EXPECT_TRUE(v.ok()) << source << ": " << v.status();
  }
  EXPECT_EQ(registry_->GetDownloadUri("m", "1").value(),
            "mlflow-artifacts:/0/" + run + "/artifacts/model");
}

TEST_F(RegistryServiceTest, EveryGateFailureIsListed) {
  std::string run1 = TrainedRun(0.91, {{"validation_status", "passed"}});
  Register("credit", run1);
  governance::Policy policy;
  policy.protected_aliases = {"champion"};
  policy.conditions = {"auc >= 0.80", "auc >= champion.auc - 0.005"};
  policy.required_tags = {{"validation_status", "passed"}};
  policy.required_approvals = 2;
  ASSERT_TRUE(registry_->SetPolicy("credit", policy, alice_).ok());

  // Version 1: only the approvals are missing (no champion yet: the comparison passes).
  auto st = registry_->SetAlias("credit", "champion", "1", alice_);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(st.message()), HasSubstr("approvals"));
  EXPECT_THAT(std::string(st.message()), ::testing::Not(HasSubstr("auc >= 0.80")));
  ASSERT_TRUE(registry_->Approve("credit", "1", "alias:champion", "ok", alice_).ok());
  ASSERT_TRUE(registry_->Approve("credit", "1", "alias:champion", "again", alice_)
                  .ok());  // same user: counts once
  EXPECT_EQ(registry_->SetAlias("credit", "champion", "1", alice_).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(registry_->Approve("credit", "1", "alias:champion", "", bob_).ok());
  ASSERT_TRUE(registry_->SetAlias("credit", "champion", "1", alice_).ok());
  EXPECT_EQ(registry_->GetModelVersionByAlias("credit", "champion").value().version, 1);

  // Version 2: worse than the champion, below the threshold, no tag, no approvals.
  std::string run2 = TrainedRun(0.70);
  Register("credit", run2);
  st = registry_->SetAlias("credit", "champion", "2", alice_);
  ASSERT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  std::string message(st.message());
  EXPECT_THAT(message, HasSubstr("auc >= 0.80"));
  EXPECT_THAT(message, HasSubstr("auc >= champion.auc - 0.005"));
  EXPECT_THAT(message, HasSubstr("validation_status"));
  EXPECT_THAT(message, HasSubstr("approvals"));
  EXPECT_EQ(registry_->GetModelVersionByAlias("credit", "champion").value().version, 1);

  // A version whose run lacks the metric says so.
  auto bare = tracking_->CreateRun({.experiment_id = "0"}, alice_).value();
  auto sink = artifacts_->BeginUpload("0/" + bare.info.run_id + "/artifacts/model/MLmodel").value();
  ASSERT_TRUE(sink->Write("x").ok() && sink->Commit().ok());
  Register("credit", bare.info.run_id);
  st = registry_->SetAlias("credit", "champion", "3", alice_);
  EXPECT_THAT(std::string(st.message()), HasSubstr("auc"));

  // Unprotected aliases are not gated.
  EXPECT_TRUE(registry_->SetAlias("credit", "challenger", "2", alice_).ok());
}

TEST_F(RegistryServiceTest, ProtectedStageIsGatedAndForceIsAudited) {
  std::string run = TrainedRun(0.5);
  Register("credit", run);
  governance::Policy policy;
  policy.protected_aliases = {"champion"};
  policy.protected_stages = {"Production"};
  policy.conditions = {"auc >= 0.80"};
  ASSERT_TRUE(registry_->SetPolicy("credit", policy, alice_).ok());
  auto moved = registry_->TransitionStage("credit", "1", "production", false, alice_);
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(registry_->TransitionStage("credit", "1", "Staging", false, alice_).ok());

  EXPECT_EQ(registry_->ForceSetAlias("credit", "champion", "1", "", bob_).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(registry_->ForceSetAlias("credit", "champion", "1", "incident 42 hotfix", bob_).ok());
  auto log = registry_->AuditLog("credit@champion", 0).value();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().action, "alias.set.force");
  EXPECT_EQ(log.back().actor, "bob");
  EXPECT_THAT(log.back().after_json, HasSubstr("incident 42 hotfix"));
  EXPECT_THAT(log.back().after_json, HasSubstr("auc >= 0.80"));
}

TEST_F(RegistryServiceTest, AuditRecordsActorsRequestIdsAndVerifies) {
  BuildHistory();
  auto entries = registry_->AuditLog("credit", 0).value();
  bool saw_bob_alias = false;
  for (const auto& e : entries) {
    EXPECT_FALSE(e.hash.empty());
    saw_bob_alias =
        saw_bob_alias || (e.action == "alias.set" && e.actor == "bob" && e.request_id == "req-b");
  }
  EXPECT_TRUE(saw_bob_alias);
  auto all = registry_->AuditLog("", 0).value();
  EXPECT_EQ(all.front().action, "run.create");  // tracking mutations are in the same chain
  auto verified = registry_->VerifyAudit().value();
  EXPECT_TRUE(verified.ok) << verified.problem;
  EXPECT_EQ(verified.entries_checked, static_cast<int64_t>(all.size()));
}

TEST_F(RegistryServiceTest, AuditDetectsAnEditedRow) {
  BuildHistory();
  Sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
  auto v = registry_->VerifyAudit().value();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
}

TEST_F(RegistryServiceTest, AuditDetectsADeletedRow) {
  BuildHistory();
  Sql("DELETE FROM audit_log WHERE seq = 4");
  auto v = registry_->VerifyAudit().value();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 4);
}

TEST_F(RegistryServiceTest, AuditDetectsSwappedRows) {
  BuildHistory();
  // Swap the contents of entries 3 and 4 (seq numbers stay in place).
  Sql("CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq IN (3, 4);"
      "UPDATE audit_log SET actor = (SELECT actor FROM t WHERE seq = 4), action = (SELECT action "
      "FROM t WHERE seq = 4),"
      " object_id = (SELECT object_id FROM t WHERE seq = 4), after_json = (SELECT after_json FROM "
      "t WHERE seq = 4),"
      " hash = (SELECT hash FROM t WHERE seq = 4), prev_hash = (SELECT prev_hash FROM t WHERE seq "
      "= 4) WHERE seq = 3;"
      "UPDATE audit_log SET actor = (SELECT actor FROM t WHERE seq = 3), action = (SELECT action "
      "FROM t WHERE seq = 3),"
      " object_id = (SELECT object_id FROM t WHERE seq = 3), after_json = (SELECT after_json FROM "
      "t WHERE seq = 3),"
      " hash = (SELECT hash FROM t WHERE seq = 3), prev_hash = (SELECT prev_hash FROM t WHERE seq "
      "= 3) WHERE seq = 4;");
  auto v = registry_->VerifyAudit().value();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
}

TEST_F(RegistryServiceTest, AuditDetectsTruncation) {
  BuildHistory();
  int64_t last = registry_->AuditLog("", 0).value().back().seq;
  Sql("DELETE FROM audit_log WHERE seq >= " + std::to_string(last - 1));
  auto v = registry_->VerifyAudit().value();
  EXPECT_FALSE(v.ok);
  EXPECT_THAT(v.problem, HasSubstr("truncated"));
}

TEST_F(RegistryServiceTest, LineageFollowsTheWholeChain) {
  std::string run = TrainedRun(0.9, {{"mlflow.source.name", "train.py"},
                                     {"mlflow.source.git.commit", "abc123"},
                                     {"ferry.pipeline.run_id", "pipe-7"}});
  ASSERT_TRUE(tracking_
                  ->LogInputs(run,
                              {{.tags = {{"mlflow.data.context", "train"}},
                                .dataset = {.name = "credit.csv",
                                            .digest = "d1g35t",
                                            .source_type = "local",
                                            .source = "{\"uri\": \"data/credit.csv\"}"}}},
                              {})
                  .ok());
  Register("credit", run);
  ASSERT_TRUE(registry_->SetAlias("credit", "champion", "1", alice_).ok());
  auto lineage = registry_->Lineage("models:/credit@champion").value();
  ASSERT_TRUE(lineage.run.has_value());
  EXPECT_EQ(lineage.run->info.run_id, run);
  EXPECT_EQ(lineage.git_commit, "abc123");
  EXPECT_EQ(lineage.source_name, "train.py");
  EXPECT_EQ(lineage.parent_pipeline_run.value_or(""), "pipe-7");
  EXPECT_EQ(lineage.environment_file, "requirements.txt");
  EXPECT_THAT(lineage.environment, HasSubstr("scikit-learn==1.5.2"));
  ASSERT_EQ(lineage.run->dataset_inputs.size(), 1u);
  std::string text = governance::LineageToText(lineage);
  for (const char* expected :
       {"credit.csv", "d1g35t", "abc123", "train.py", "max_depth", "auc", "pipe-7"}) {
    EXPECT_THAT(text, HasSubstr(expected));
  }
  EXPECT_EQ(registry_->Lineage("models:/credit/1").value().version.version, 1);
  EXPECT_EQ(registry_->Lineage("models:/credit/latest").value().version.version, 1);
  EXPECT_FALSE(registry_->Lineage("runs:/x/model").ok());
  EXPECT_EQ(registry_->Lineage("models:/credit@nobody").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryServiceTest, ModelCardHasTheRecords) {
  std::string run = TrainedRun(0.93);
  Register("credit", run);
  ASSERT_TRUE(registry_->SetAlias("credit", "champion", "1", alice_).ok());
  std::string md = registry_->ModelCard("credit", "1", "markdown").value();
  for (const char* expected : {"credit", "auc", "0.93", "champion", "max\\_depth"})
    EXPECT_THAT(md, HasSubstr(expected));
  std::string html = registry_->ModelCard("credit", "1", "html").value();
  EXPECT_THAT(html, HasSubstr("<html"));
  EXPECT_EQ(registry_->ModelCard("credit", "1", "pdf").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryServiceTest, AliasAndNameValidation) {
  std::string run = TrainedRun(0.9);
  Register("credit", run);
  for (const char* bad : {"latest", "LATEST", "v3", "has space", "", "a/b"}) {
    EXPECT_EQ(registry_->SetAlias("credit", bad, "1", alice_).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(registry_->SetAlias("credit", "champion", "x", alice_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->SetAlias("credit", "champion", "9", alice_).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->CreateRegisteredModel("", "", {}, alice_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->CreateRegisteredModel("credit", "", {}, alice_).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry_->TransitionStage("credit", "1", "Prod", false, alice_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ferry
