#include "ferry/store/testing/conformance.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"

namespace ferry::store::conformance {
namespace {

using search::Comparator;
using search::Comparison;
using search::KeyType;
using search::OrderBy;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Metric M(const std::string& key, double value, int64_t timestamp = 0, int64_t step = 0) {
  Metric m;
  m.key = key;
  m.value = value;
  m.timestamp = timestamp;
  m.step = step;
  return m;
}

Comparison C(KeyType type, const std::string& key, Comparator op, search::Value value) {
  return Comparison{type, key, op, std::move(value)};
}

search::Filter F(std::vector<Comparison> clauses) { return search::Filter{std::move(clauses)}; }

OrderBy O(KeyType type, const std::string& key, bool ascending) {
  return OrderBy{type, key, ascending};
}

RunQuery Q(const std::string& experiment_id, std::vector<Comparison> clauses = {},
           std::vector<OrderBy> order_by = {}) {
  RunQuery q;
  q.experiment_ids = {experiment_id};
  q.filter = F(std::move(clauses));
  q.order_by = std::move(order_by);
  return q;
}

const Metric* FindMetric(const std::vector<Metric>& metrics, const std::string& key) {
  for (const Metric& m : metrics) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

const Tag* FindTag(const std::vector<Tag>& tags, const std::string& key) {
  for (const Tag& t : tags) {
    if (t.key == key) return &t;
  }
  return nullptr;
}

std::vector<std::string> ExperimentNames(const std::vector<Experiment>& experiments) {
  std::vector<std::string> out;
  for (const Experiment& e : experiments) out.push_back(e.name);
  return out;
}

std::vector<std::string> ModelIds(const std::vector<LoggedModel>& models) {
  std::vector<std::string> out;
  for (const LoggedModel& m : models) out.push_back(m.model_id);
  return out;
}

std::vector<int64_t> Steps(const std::vector<Metric>& metrics) {
  std::vector<int64_t> out;
  for (const Metric& m : metrics) out.push_back(m.step);
  return out;
}

LoggedModel NewModel(const std::string& id, const std::string& experiment_id,
                     const std::string& name) {
  LoggedModel m;
  m.model_id = id;
  m.experiment_id = experiment_id;
  m.name = name;
  m.artifact_uri = "file:///models/" + id;
  return m;
}

}  // namespace

std::string FactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

void PrintTo(const StoreFactory& factory, std::ostream* os) { *os << factory.name; }

void MetadataStoreConformanceTest::SetUp() {
  store_ = GetParam().create(&clock_);
  ASSERT_NE(store_, nullptr);
}

void MetadataStoreConformanceTest::TearDown() { store_.reset(); }

std::string MetadataStoreConformanceTest::CreateExperiment(const std::string& name,
                                                           const std::vector<Tag>& tags) {
  absl::StatusOr<std::string> id = store_->CreateExperiment(name, "", tags);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.value_or("");
}

store::Run MetadataStoreConformanceTest::CreateRun(const std::string& experiment_id,
                                                   int64_t start_time, const std::string& run_name,
                                                   const std::vector<Tag>& tags) {
  NewRun r;
  r.experiment_id = experiment_id;
  r.user_id = "alice";
  r.run_name = run_name;
  r.start_time = start_time;
  r.tags = tags;
  r.artifact_uri_template = "file:///artifacts/{run_id}/artifacts";
  absl::StatusOr<store::Run> run = store_->CreateRun(r);
  EXPECT_TRUE(run.ok()) << run.status();
  return run.value_or(store::Run{});
}

void MetadataStoreConformanceTest::Log(const std::string& run_id,
                                       const std::vector<Metric>& metrics,
                                       const std::vector<Param>& params,
                                       const std::vector<Tag>& tags) {
  absl::Status status = store_->LogBatch(run_id, metrics, params, tags);
  EXPECT_TRUE(status.ok()) << status;
}

std::vector<std::string> MetadataStoreConformanceTest::SearchRunIds(const RunQuery& query) {
  absl::StatusOr<Page<store::Run>> page = store_->SearchRuns(query);
  EXPECT_TRUE(page.ok()) << page.status();
  std::vector<std::string> out;
  if (!page.ok()) return out;
  for (const store::Run& r : page->items) out.push_back(r.info.run_id);
  return out;
}

std::vector<std::string> MetadataStoreConformanceTest::SearchAllRunIds(RunQuery query) {
  std::vector<std::string> out;
  for (int pages = 0; pages < 1000; ++pages) {
    absl::StatusOr<Page<store::Run>> page = store_->SearchRuns(query);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    for (const store::Run& r : page->items) out.push_back(r.info.run_id);
    if (page->next_page_token.empty()) break;
    query.page_token = page->next_page_token;
  }
  return out;
}

// ===========================================================================
// Experiments

TEST_P(MetadataStoreConformanceTest, DefaultExperimentExistsOnFirstOpen) {
  absl::StatusOr<Experiment> e = store().GetExperiment(kDefaultExperimentId);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->experiment_id, "0");
  EXPECT_EQ(e->name, "Default");
  EXPECT_EQ(e->artifact_location, "file:///conformance/artifacts/0");
  EXPECT_EQ(e->lifecycle_stage, kLifecycleActive);
  EXPECT_EQ(e->creation_time, clock_.NowMillis());
}

TEST_P(MetadataStoreConformanceTest, CreateExperimentAssignsIdLocationTimesAndTags) {
  clock_.AdvanceMillis(500);
  absl::StatusOr<std::string> id =
      store().CreateExperiment("exp", "", {{"b", "2"}, {"a", "1"}, {"b", "3"}});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_NE(*id, "0");
  absl::StatusOr<Experiment> e = store().GetExperiment(*id);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->name, "exp");
  EXPECT_EQ(e->artifact_location, "file:///conformance/artifacts/" + *id);
  EXPECT_EQ(e->creation_time, clock_.NowMillis());
  EXPECT_EQ(e->last_update_time, clock_.NowMillis());
  // Sorted by key; a repeated key keeps the last value.
  EXPECT_THAT(e->tags, ElementsAre(Tag{"a", "1"}, Tag{"b", "3"}));

  absl::StatusOr<std::string> custom =
      store().CreateExperiment("custom", "s3://bucket/exp-{experiment_id}", {});
  ASSERT_TRUE(custom.ok()) << custom.status();
  EXPECT_EQ(store().GetExperiment(*custom)->artifact_location, "s3://bucket/exp-" + *custom);
  absl::StatusOr<std::string> fixed = store().CreateExperiment("fixed", "s3://bucket/fixed", {});
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(store().GetExperiment(*fixed)->artifact_location, "s3://bucket/fixed");
  EXPECT_NE(*custom, *id);
  EXPECT_NE(*fixed, *custom);
}

TEST_P(MetadataStoreConformanceTest, DuplicateExperimentNameIsAlreadyExists) {
  std::string id = CreateExperiment("dup");
  absl::StatusOr<std::string> again = store().CreateExperiment("dup", "", {});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("'dup'"));
  // A deleted experiment still holds its name.
  ASSERT_TRUE(store().DeleteExperiment(id).ok());
  EXPECT_EQ(store().CreateExperiment("dup", "", {}).status().code(),
            absl::StatusCode::kAlreadyExists);
  // Names are case-sensitive.
  EXPECT_TRUE(store().CreateExperiment("DUP", "", {}).ok());
}

TEST_P(MetadataStoreConformanceTest, GetExperimentUnknownIsNotFound) {
  absl::StatusOr<Experiment> e = store().GetExperiment("424242");
  EXPECT_EQ(e.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(e.status().message(), "No Experiment with id=424242 exists");
  EXPECT_EQ(store().GetExperiment("not-a-number").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().GetExperiment("").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(MetadataStoreConformanceTest, GetExperimentByName) {
  std::string id = CreateExperiment("by-name", {{"k", "v"}});
  absl::StatusOr<Experiment> e = store().GetExperimentByName("by-name");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->experiment_id, id);
  EXPECT_THAT(e->tags, ElementsAre(Tag{"k", "v"}));
  EXPECT_EQ(store().GetExperimentByName("By-Name").status().code(), absl::StatusCode::kNotFound);
  // Deleted experiments are still found by name (MLflow's ViewType.ALL).
  ASSERT_TRUE(store().DeleteExperiment(id).ok());
  e = store().GetExperimentByName("by-name");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->lifecycle_stage, kLifecycleDeleted);
}

TEST_P(MetadataStoreConformanceTest, RenameExperiment) {
  std::string id = CreateExperiment("old");
  CreateExperiment("taken");
  clock_.AdvanceMillis(10);
  ASSERT_TRUE(store().RenameExperiment(id, "new").ok());
  absl::StatusOr<Experiment> e = store().GetExperiment(id);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->name, "new");
  EXPECT_EQ(e->last_update_time, clock_.NowMillis());
  EXPECT_EQ(store().GetExperimentByName("old").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store().RenameExperiment(id, "new").ok());  // same name: no-op
  EXPECT_EQ(store().RenameExperiment(id, "taken").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store().RenameExperiment("987654", "x").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store().DeleteExperiment(id).ok());
  EXPECT_EQ(store().RenameExperiment(id, "newer").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(MetadataStoreConformanceTest, DeleteExperimentDeletesItsRunsAndRestoreBringsThemBack) {
  std::string id = CreateExperiment("doomed");
  store::Run kept = CreateRun(id, 1);
  store::Run deleted_before = CreateRun(id, 2);
  clock_.AdvanceMillis(5);
  ASSERT_TRUE(store().DeleteRun(deleted_before.info.run_id).ok());
  clock_.AdvanceMillis(5);
  ASSERT_TRUE(store().DeleteExperiment(id).ok());
  EXPECT_EQ(store().GetExperiment(id)->lifecycle_stage, kLifecycleDeleted);
  EXPECT_EQ(store().GetRun(kept.info.run_id)->info.lifecycle_stage, kLifecycleDeleted);
  // Deleting again: the experiment is not active, as MLflow reports it.
  EXPECT_EQ(store().DeleteExperiment(id).code(), absl::StatusCode::kNotFound);
  // No new runs in a deleted experiment.
  NewRun r;
  r.experiment_id = id;
  EXPECT_EQ(store().CreateRun(r).status().code(), absl::StatusCode::kFailedPrecondition);

  clock_.AdvanceMillis(5);
  ASSERT_TRUE(store().RestoreExperiment(id).ok());
  EXPECT_EQ(store().GetExperiment(id)->lifecycle_stage, kLifecycleActive);
  EXPECT_EQ(store().GetRun(kept.info.run_id)->info.lifecycle_stage, kLifecycleActive);
  // A run deleted on its own before stays deleted.
  EXPECT_EQ(store().GetRun(deleted_before.info.run_id)->info.lifecycle_stage, kLifecycleDeleted);
  EXPECT_EQ(store().RestoreExperiment(id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().DeleteExperiment("31337").code(), absl::StatusCode::kNotFound);
}

TEST_P(MetadataStoreConformanceTest, ExperimentTags) {
  std::string id = CreateExperiment("tagged");
  ASSERT_TRUE(store().SetExperimentTag(id, {"k", "v1"}).ok());
  ASSERT_TRUE(store().SetExperimentTag(id, {"k", "v2"}).ok());
  ASSERT_TRUE(store().SetExperimentTag(id, {"a", ""}).ok());
  EXPECT_THAT(store().GetExperiment(id)->tags, ElementsAre(Tag{"a", ""}, Tag{"k", "v2"}));
  ASSERT_TRUE(store().DeleteExperimentTag(id, "k").ok());
  EXPECT_THAT(store().GetExperiment(id)->tags, ElementsAre(Tag{"a", ""}));
  EXPECT_EQ(store().DeleteExperimentTag(id, "k").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().SetExperimentTag("55555", {"k", "v"}).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store().DeleteExperiment(id).ok());
  EXPECT_EQ(store().SetExperimentTag(id, {"k", "v"}).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(MetadataStoreConformanceTest, SearchExperimentsPagesThroughEverything) {
  for (int i = 0; i < 7; ++i) {
    clock_.AdvanceMillis(1);
    CreateExperiment(absl::StrCat("page-", i));
  }
  ExperimentQuery q;
  q.max_results = 3;
  std::vector<std::string> names;
  int pages = 0;
  while (true) {
    absl::StatusOr<Page<Experiment>> page = store().SearchExperiments(q);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    EXPECT_LE(page->items.size(), 3u);
    for (const Experiment& e : page->items) names.push_back(e.name);
    if (page->next_page_token.empty()) break;
    q.page_token = page->next_page_token;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  // Default order: last_update_time DESC, then experiment_id ASC.
  EXPECT_THAT(names, ElementsAre("page-6", "page-5", "page-4", "page-3", "page-2", "page-1",
                                 "page-0", "Default"));
}

TEST_P(MetadataStoreConformanceTest, SearchExperimentsFiltersAndOrders) {
  clock_.AdvanceMillis(1);
  std::string a = CreateExperiment("exp-Alpha", {{"team", "vision"}});
  clock_.AdvanceMillis(1);
  const int64_t t_beta = clock_.NowMillis();
  std::string b = CreateExperiment("exp-beta", {{"team", "nlp"}});
  clock_.AdvanceMillis(1);
  std::string c = CreateExperiment("other", {{"team", "vision"}});
  auto names = [&](std::vector<Comparison> clauses, std::vector<OrderBy> order = {}) {
    ExperimentQuery q;
    q.filter = F(std::move(clauses));
    q.order_by = std::move(order);
    absl::StatusOr<Page<Experiment>> page = store().SearchExperiments(q);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? ExperimentNames(page->items) : std::vector<std::string>{};
  };
  const auto kName = KeyType::kAttribute;
  EXPECT_THAT(
      names({C(kName, "name", Comparator::kLike, std::string("exp-%"))}, {O(kName, "name", true)}),
      ElementsAre("exp-Alpha", "exp-beta"));
  // LIKE is case-sensitive, ILIKE is not.
  EXPECT_THAT(names({C(kName, "name", Comparator::kLike, std::string("%alpha"))}), ElementsAre());
  EXPECT_THAT(names({C(kName, "name", Comparator::kILike, std::string("%ALPHA"))}),
              ElementsAre("exp-Alpha"));
  EXPECT_THAT(names({C(kName, "name", Comparator::kEq, std::string("other"))}),
              ElementsAre("other"));
  EXPECT_THAT(names({C(KeyType::kTag, "team", Comparator::kEq, std::string("vision"))},
                    {O(kName, "name", false)}),
              ElementsAre("other", "exp-Alpha"));
  EXPECT_THAT(names({C(kName, "creation_time", Comparator::kGe, double(t_beta))},
                    {O(kName, "creation_time", true)}),
              ElementsAre("exp-beta", "other"));
  EXPECT_THAT(names({C(KeyType::kTag, "team", Comparator::kNe, std::string("vision")),
                     C(kName, "name", Comparator::kNe, std::string("x"))}),
              ElementsAre("exp-beta"));
  // Unknown attribute: InvalidArgument, not an SQL error.
  ExperimentQuery bad;
  bad.filter = F({C(kName, "no_such_attribute", Comparator::kEq, std::string("x"))});
  EXPECT_EQ(store().SearchExperiments(bad).status().code(), absl::StatusCode::kInvalidArgument);
  (void)a;
  (void)b;
  (void)c;
}

TEST_P(MetadataStoreConformanceTest, SearchExperimentsViewTypes) {
  std::string live = CreateExperiment("live");
  std::string dead = CreateExperiment("dead");
  ASSERT_TRUE(store().DeleteExperiment(dead).ok());
  auto names = [&](ViewType view) {
    ExperimentQuery q;
    q.view_type = view;
    q.order_by = {O(KeyType::kAttribute, "name", true)};
    absl::StatusOr<Page<Experiment>> page = store().SearchExperiments(q);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? ExperimentNames(page->items) : std::vector<std::string>{};
  };
  EXPECT_THAT(names(ViewType::kActiveOnly), ElementsAre("Default", "live"));
  EXPECT_THAT(names(ViewType::kDeletedOnly), ElementsAre("dead"));
  EXPECT_THAT(names(ViewType::kAll), ElementsAre("Default", "dead", "live"));
}

TEST_P(MetadataStoreConformanceTest, InvalidPageTokensAreInvalidArgument) {
  std::string exp = CreateExperiment("tokens");
  store::Run run = CreateRun(exp);
  for (const std::string token :
       {"garbage!", "bm90IGpzb24=" /* "not json" */, "eyJvZmZzZXQiOi0xfQ==" /* {"offset":-1} */,
        "eyJvZmZzZXQiOiJ4In0=" /* {"offset":"x"} */}) {
    SCOPED_TRACE(token);
    ExperimentQuery eq;
    eq.page_token = token;
    absl::Status s = store().SearchExperiments(eq).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), "Invalid page token");
    RunQuery rq = Q(exp);
    rq.page_token = token;
    EXPECT_EQ(store().SearchRuns(rq).status().code(), absl::StatusCode::kInvalidArgument);
    LoggedModelQuery mq;
    mq.experiment_ids = {exp};
    mq.page_token = token;
    EXPECT_EQ(store().SearchLoggedModels(mq).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(store().GetMetricHistory(run.info.run_id, "m", 10, token).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// ===========================================================================
// Runs

TEST_P(MetadataStoreConformanceTest, CreateRunAndGetRun) {
  std::string exp = CreateExperiment("runs");
  store::Run created = CreateRun(exp, 12345, "my-run", {{"t", "1"}});
  EXPECT_EQ(created.info.run_id.size(), 32u);
  EXPECT_EQ(created.info.run_name, "my-run");
  EXPECT_EQ(created.info.status, "RUNNING");
  EXPECT_EQ(created.info.artifact_uri, "file:///artifacts/" + created.info.run_id + "/artifacts");
  absl::StatusOr<store::Run> got = store().GetRun(created.info.run_id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->info.run_id, created.info.run_id);
  EXPECT_EQ(got->info.experiment_id, exp);
  EXPECT_EQ(got->info.user_id, "alice");
  EXPECT_EQ(got->info.start_time, 12345);
  EXPECT_FALSE(got->info.end_time.has_value());
  EXPECT_EQ(got->info.lifecycle_stage, kLifecycleActive);
  EXPECT_EQ(got->info.artifact_uri, created.info.artifact_uri);
  // The run name is mirrored in the mlflow.runName tag.
  EXPECT_THAT(got->tags, ElementsAre(Tag{"mlflow.runName", "my-run"}, Tag{"t", "1"}));
  EXPECT_TRUE(got->metrics.empty());
  EXPECT_TRUE(got->params.empty());
  EXPECT_NE(CreateRun(exp).info.run_id, created.info.run_id);
}

TEST_P(MetadataStoreConformanceTest, CreateRunDefaultsArtifactUriUnderExperiment) {
  std::string exp = CreateExperiment("default-uri");
  NewRun r;
  r.experiment_id = exp;
  absl::StatusOr<store::Run> run = store().CreateRun(r);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->info.artifact_uri, absl::StrCat("file:///conformance/artifacts/", exp, "/",
                                                 run->info.run_id, "/artifacts"));
  // The store does not invent a name.
  EXPECT_EQ(run->info.run_name, "");
  EXPECT_EQ(FindTag(store().GetRun(run->info.run_id)->tags, "mlflow.runName"), nullptr);
}

TEST_P(MetadataStoreConformanceTest, CreateRunTakesNameFromTagAndRejectsConflict) {
  std::string exp = CreateExperiment("names");
  store::Run from_tag = CreateRun(exp, 1, "", {{"mlflow.runName", "tagged-name"}});
  EXPECT_EQ(from_tag.info.run_name, "tagged-name");
  EXPECT_EQ(store().GetRun(from_tag.info.run_id)->info.run_name, "tagged-name");
  NewRun r;
  r.experiment_id = exp;
  r.run_name = "a";
  r.tags = {{"mlflow.runName", "b"}};
  absl::StatusOr<store::Run> conflict = store().CreateRun(r);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(conflict.status().message(), HasSubstr("run_name='a'"));
}

TEST_P(MetadataStoreConformanceTest, CreateRunInUnknownExperimentIsNotFound) {
  NewRun r;
  r.experiment_id = "777777";
  absl::StatusOr<store::Run> run = store().CreateRun(r);
  EXPECT_EQ(run.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(run.status().message(), "No Experiment with id=777777 exists");
}

TEST_P(MetadataStoreConformanceTest, UnknownRunIsNotFoundEverywhere) {
  const std::string id = "0123456789abcdef0123456789abcdef";
  absl::StatusOr<store::Run> run = store().GetRun(id);
  EXPECT_EQ(run.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(run.status().message(), "Run with id=" + id + " not found");
  EXPECT_EQ(store().UpdateRun(id, {}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().DeleteRun(id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().RestoreRun(id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().LogBatch(id, {M("m", 1)}, {}, {}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().LogBatch(id, {}, {}, {}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().DeleteTag(id, "t").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().LogInputs(id, {}, {}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().LogOutputs(id, {}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().GetMetricHistory(id, "m", 0, "").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(MetadataStoreConformanceTest, UpdateRunSetsStatusEndTimeAndName) {
  std::string exp = CreateExperiment("update");
  store::Run run = CreateRun(exp, 1, "before");
  RunUpdate u;
  u.status = "FINISHED";
  u.end_time = 99;
  absl::StatusOr<RunInfo> info = store().UpdateRun(run.info.run_id, u);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->status, "FINISHED");
  EXPECT_EQ(info->end_time, 99);
  EXPECT_EQ(info->run_name, "before");
  RunUpdate rename;
  rename.run_name = "after";
  info = store().UpdateRun(run.info.run_id, rename);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->run_name, "after");
  EXPECT_EQ(info->status, "FINISHED");  // untouched fields keep their value
  absl::StatusOr<store::Run> got = store().GetRun(run.info.run_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->info.run_name, "after");
  EXPECT_EQ(got->info.end_time, 99);
  ASSERT_NE(FindTag(got->tags, "mlflow.runName"), nullptr);
  EXPECT_EQ(FindTag(got->tags, "mlflow.runName")->value, "after");
}

TEST_P(MetadataStoreConformanceTest, RunNameTagUpdatesRunName) {
  std::string exp = CreateExperiment("rename-by-tag");
  store::Run run = CreateRun(exp, 1, "first");
  Log(run.info.run_id, {}, {}, {{"mlflow.runName", "second"}});
  EXPECT_EQ(store().GetRun(run.info.run_id)->info.run_name, "second");
  // And searching by run_name sees the new name.
  EXPECT_THAT(SearchRunIds(Q(exp, {C(KeyType::kAttribute, "run_name", Comparator::kEq,
                                     std::string("second"))})),
              ElementsAre(run.info.run_id));
}

TEST_P(MetadataStoreConformanceTest, DeletedRunRejectsWritesAndRestoreAllowsThem) {
  std::string exp = CreateExperiment("deleted-run");
  store::Run run = CreateRun(exp);
  const std::string& id = run.info.run_id;
  ASSERT_TRUE(store().DeleteRun(id).ok());
  EXPECT_EQ(store().GetRun(id)->info.lifecycle_stage, kLifecycleDeleted);
  absl::Status s = store().LogBatch(id, {M("m", 1)}, {}, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "The run " + id + " must be in the 'active' state. Current state is deleted.");
  EXPECT_EQ(store().UpdateRun(id, {}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store().DeleteTag(id, "x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store().LogInputs(id, {}, {{"m-1"}}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store().LogOutputs(id, {{"m-1", 0}}).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store().RestoreRun(id).ok());
  EXPECT_EQ(store().GetRun(id)->info.lifecycle_stage, kLifecycleActive);
  EXPECT_TRUE(store().LogBatch(id, {M("m", 1)}, {}, {}).ok());
}

TEST_P(MetadataStoreConformanceTest, DeleteTag) {
  std::string exp = CreateExperiment("delete-tag");
  store::Run run = CreateRun(exp);
  Log(run.info.run_id, {}, {}, {{"a", "1"}, {"b", "2"}});
  ASSERT_TRUE(store().DeleteTag(run.info.run_id, "a").ok());
  EXPECT_THAT(store().GetRun(run.info.run_id)->tags, ElementsAre(Tag{"b", "2"}));
  absl::Status s = store().DeleteTag(run.info.run_id, "a");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("a"));
}

TEST_P(MetadataStoreConformanceTest, ParamsAreImmutable) {
  std::string exp = CreateExperiment("params");
  store::Run run = CreateRun(exp);
  const std::string& id = run.info.run_id;
  Log(id, {}, {{"lr", "0.1"}, {"depth", "3"}});
  Log(id, {}, {{"lr", "0.1"}});  // same value again: fine
  absl::Status s = store().LogBatch(id, {}, {{"lr", "0.2"}}, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "Changing param values is not allowed. Param with key='lr' was already logged with "
            "value='0.1' for run ID='" +
                id + "'. Attempted logging new value '0.2'.");
  EXPECT_THAT(store().GetRun(id)->params, ElementsAre(Param{"depth", "3"}, Param{"lr", "0.1"}));
}

TEST_P(MetadataStoreConformanceTest, LogBatchIsAtomic) {
  std::string exp = CreateExperiment("atomic");
  store::Run run = CreateRun(exp);
  const std::string& id = run.info.run_id;
  Log(id, {}, {{"p", "old"}});
  absl::Status s =
      store().LogBatch(id, {M("loss", 0.5, 1, 1), M("acc", 0.9, 1, 1)},
                       {{"fresh", "x"}, {"p", "new"}}, {{"t", "v"}, {"mlflow.runName", "renamed"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<store::Run> got = store().GetRun(id);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->metrics.empty());
  EXPECT_THAT(got->params, ElementsAre(Param{"p", "old"}));
  EXPECT_TRUE(got->tags.empty());
  EXPECT_EQ(got->info.run_name, "");
  absl::StatusOr<Page<Metric>> history = store().GetMetricHistory(id, "loss", 0, "");
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->items.empty());
}

TEST_P(MetadataStoreConformanceTest, ConflictingParamsInOneBatchWriteNothing) {
  std::string exp = CreateExperiment("conflict-in-batch");
  store::Run run = CreateRun(exp);
  absl::Status s = store().LogBatch(run.info.run_id, {M("m", 1)}, {{"k", "1"}, {"k", "2"}}, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<store::Run> got = store().GetRun(run.info.run_id);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->params.empty());
  EXPECT_TRUE(got->metrics.empty());
}

TEST_P(MetadataStoreConformanceTest, TagsAreLastWriteWins) {
  std::string exp = CreateExperiment("tags");
  store::Run run = CreateRun(exp);
  Log(run.info.run_id, {}, {}, {{"k", "1"}, {"k", "2"}});
  EXPECT_THAT(store().GetRun(run.info.run_id)->tags, ElementsAre(Tag{"k", "2"}));
  Log(run.info.run_id, {}, {}, {{"k", "3"}});
  EXPECT_THAT(store().GetRun(run.info.run_id)->tags, ElementsAre(Tag{"k", "3"}));
}

TEST_P(MetadataStoreConformanceTest, LatestMetricIsMaxStepThenTimestampThenValue) {
  std::string exp = CreateExperiment("latest");
  store::Run run = CreateRun(exp);
  const std::string& id = run.info.run_id;
  // Higher step wins over a later timestamp.
  Log(id, {M("a", 1.0, /*ts=*/100, /*step=*/5), M("a", 2.0, 200, 4)});
  // Same step: later timestamp wins; the order of arrival does not matter.
  Log(id, {M("b", 1.0, 300, 1)});
  Log(id, {M("b", 2.0, 100, 1)});
  // Same step and timestamp: larger value wins.
  Log(id, {M("c", 3.0, 10, 1), M("c", 7.0, 10, 1), M("c", 5.0, 10, 1)});
  // A later batch with an older step does not replace the latest.
  Log(id, {M("a", 9.0, 999, 0)});
  absl::StatusOr<store::Run> got = store().GetRun(id);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->metrics.size(), 3u);
  const Metric* a = FindMetric(got->metrics, "a");
  const Metric* b = FindMetric(got->metrics, "b");
  const Metric* c = FindMetric(got->metrics, "c");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->value, 1.0);
  EXPECT_EQ(a->step, 5);
  EXPECT_EQ(a->timestamp, 100);
  EXPECT_EQ(b->value, 1.0);
  EXPECT_EQ(b->timestamp, 300);
  EXPECT_EQ(c->value, 7.0);
}

TEST_P(MetadataStoreConformanceTest, NaNAndInfinityRoundTrip) {
  std::string exp = CreateExperiment("nan-inf");
  store::Run run = CreateRun(exp);
  const std::string& id = run.info.run_id;
  Log(id, {M("nan", kNaN, 1, 1), M("pinf", kInf, 1, 1), M("ninf", -kInf, 1, 1)});
  absl::StatusOr<store::Run> got = store().GetRun(id);
  ASSERT_TRUE(got.ok());
  ASSERT_NE(FindMetric(got->metrics, "nan"), nullptr);
  EXPECT_TRUE(std::isnan(FindMetric(got->metrics, "nan")->value));
  EXPECT_EQ(FindMetric(got->metrics, "pinf")->value, kInf);
  EXPECT_EQ(FindMetric(got->metrics, "ninf")->value, -kInf);
  // A NaN at a newer step becomes the latest value; a number after it
  // replaces it again.
  Log(id, {M("pinf", kNaN, 1, 2)});
  EXPECT_TRUE(std::isnan(FindMetric(store().GetRun(id)->metrics, "pinf")->value));
  Log(id, {M("nan", 4.0, 1, 2)});
  EXPECT_EQ(FindMetric(store().GetRun(id)->metrics, "nan")->value, 4.0);
  absl::StatusOr<Page<Metric>> history = store().GetMetricHistory(id, "pinf", 0, "");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->items.size(), 2u);
  EXPECT_EQ(history->items[0].value, kInf);
  EXPECT_TRUE(std::isnan(history->items[1].value));
}

TEST_P(MetadataStoreConformanceTest, MetricHistoryIsOrderedAndDeduplicated) {
  std::string exp = CreateExperiment("history");
  store::Run run = CreateRun(exp);
  const std::string& id = run.info.run_id;
  Log(id, {M("m", 3.0, 30, 3), M("m", 1.0, 10, 1), M("m", 2.0, 25, 2), M("m", 2.5, 20, 2)});
  Log(id, {M("m", 1.0, 10, 1)});  // exact duplicate: ignored
  Log(id, {M("other", 1.0, 10, 1)});
  absl::StatusOr<Page<Metric>> history = store().GetMetricHistory(id, "m", 0, "");
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_THAT(Steps(history->items), ElementsAre(1, 2, 2, 3));
  EXPECT_EQ(history->items[1].timestamp, 20);
  EXPECT_EQ(history->items[2].timestamp, 25);
  EXPECT_EQ(history->items[0].run_id, id);
  EXPECT_EQ(history->items[0].key, "m");
  EXPECT_TRUE(history->next_page_token.empty());
  history = store().GetMetricHistory(id, "missing", 0, "");
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->items.empty());
}

TEST_P(MetadataStoreConformanceTest, MetricHistoryPaging) {
  std::string exp = CreateExperiment("history-paging");
  store::Run run = CreateRun(exp);
  std::vector<Metric> metrics;
  for (int i = 0; i < 25; ++i) metrics.push_back(M("m", i * 1.5, 1000 + i, i));
  Log(run.info.run_id, metrics);
  std::vector<int64_t> steps;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<Page<Metric>> page = store().GetMetricHistory(run.info.run_id, "m", 10, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->items.size(), 10u);
    for (const Metric& m : page->items) steps.push_back(m.step);
    token = page->next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(steps.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(steps[static_cast<size_t>(i)], i);
}

TEST_P(MetadataStoreConformanceTest, BulkIntervalSamplesEvenlyAndKeepsEnds) {
  std::string exp = CreateExperiment("bulk");
  store::Run a = CreateRun(exp, 1);
  store::Run b = CreateRun(exp, 2);
  std::vector<Metric> ma;
  for (int i = 0; i < 100; ++i) ma.push_back(M("loss", 100 - i, i, i));
  Log(a.info.run_id, ma);
  // Run b only has a few odd steps, including one beyond run a's range.
  Log(b.info.run_id, {M("loss", 1, 1, 3), M("loss", 1, 2, 51), M("loss", 1, 3, 150)});

  absl::StatusOr<std::vector<Metric>> all = store().GetMetricHistoryBulkInterval(
      {a.info.run_id, b.info.run_id}, "loss", std::nullopt, std::nullopt, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<int64_t> a_steps, b_steps;
  for (const Metric& m : *all) {
    (m.run_id == a.info.run_id ? a_steps : b_steps).push_back(m.step);
  }
  EXPECT_TRUE(std::is_sorted(a_steps.begin(), a_steps.end()));
  // ~max_results sampled steps plus each run's first and last.
  EXPECT_GE(a_steps.size(), 8u);
  EXPECT_LE(a_steps.size(), 13u);
  EXPECT_EQ(a_steps.front(), 0);
  EXPECT_EQ(a_steps.back(), 99);
  EXPECT_THAT(b_steps, ::testing::Contains(3));
  EXPECT_THAT(b_steps, ::testing::Contains(150));
  // Runs come in request order: all of a before b.
  EXPECT_EQ(all->front().run_id, a.info.run_id);
  EXPECT_EQ(all->back().run_id, b.info.run_id);

  // A window returns only steps inside it, with both ends of each run's
  // range; few enough steps come back whole.
  absl::StatusOr<std::vector<Metric>> window =
      store().GetMetricHistoryBulkInterval({a.info.run_id}, "loss", 10, 14, 10);
  ASSERT_TRUE(window.ok());
  EXPECT_THAT(Steps(*window), ElementsAre(10, 11, 12, 13, 14));
  EXPECT_EQ(window->front().value, 90);

  EXPECT_EQ(
      store().GetMetricHistoryBulkInterval({a.info.run_id}, "loss", 20, 10, 10).status().code(),
      absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::vector<Metric>> none = store().GetMetricHistoryBulkInterval(
      {a.info.run_id}, "no-such-metric", std::nullopt, std::nullopt, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(MetadataStoreConformanceTest, DatasetInputsAreDeduplicatedAndReturned) {
  std::string exp = CreateExperiment("datasets");
  store::Run run = CreateRun(exp);
  store::Run other = CreateRun(exp);
  DatasetInput train;
  train.dataset = {"iris", "abc123", "local", "{\"uri\": \"/data/iris.csv\"}", "{}", ""};
  train.tags = {{"mlflow.data.context", "train"}};
  DatasetInput eval = train;
  eval.dataset.digest = "def456";
  eval.tags = {{"mlflow.data.context", "eval"}};
  ASSERT_TRUE(store().LogInputs(run.info.run_id, {train, eval, train}, {}).ok());
  ASSERT_TRUE(store().LogInputs(run.info.run_id, {train}, {}).ok());  // already logged
  ASSERT_TRUE(store().LogInputs(other.info.run_id, {train}, {}).ok());
  absl::StatusOr<store::Run> got = store().GetRun(run.info.run_id);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->dataset_inputs.size(), 2u);
  EXPECT_EQ(got->dataset_inputs[0].dataset.name, "iris");
  EXPECT_EQ(got->dataset_inputs[0].dataset.digest, "abc123");
  EXPECT_EQ(got->dataset_inputs[0].dataset.source, "{\"uri\": \"/data/iris.csv\"}");
  EXPECT_THAT(got->dataset_inputs[0].tags, ElementsAre(Tag{"mlflow.data.context", "train"}));
  EXPECT_EQ(got->dataset_inputs[1].dataset.digest, "def456");
  EXPECT_THAT(got->dataset_inputs[1].tags, ElementsAre(Tag{"mlflow.data.context", "eval"}));
  EXPECT_EQ(store().GetRun(other.info.run_id)->dataset_inputs.size(), 1u);
}

TEST_P(MetadataStoreConformanceTest, ModelInputsAndOutputs) {
  std::string exp = CreateExperiment("model-io");
  store::Run run = CreateRun(exp);
  ASSERT_TRUE(store().LogInputs(run.info.run_id, {}, {{"m-in-1"}, {"m-in-1"}}).ok());
  ASSERT_TRUE(store().LogOutputs(run.info.run_id, {{"m-out-1", 3}, {"m-out-2", 7}}).ok());
  absl::StatusOr<store::Run> got = store().GetRun(run.info.run_id);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->model_inputs.size(), 1u);
  EXPECT_EQ(got->model_inputs[0].model_id, "m-in-1");
  ASSERT_EQ(got->model_outputs.size(), 2u);
  EXPECT_EQ(got->model_outputs[0].model_id, "m-out-1");
  EXPECT_EQ(got->model_outputs[0].step, 3);
  EXPECT_EQ(got->model_outputs[1].step, 7);
}

// ===========================================================================
// SearchRuns

TEST_P(MetadataStoreConformanceTest, SearchRunsByMetricWithEveryComparator) {
  std::string exp = CreateExperiment("search-metrics");
  store::Run r1 = CreateRun(exp, 1), r2 = CreateRun(exp, 2), r3 = CreateRun(exp, 3);
  CreateRun(exp, 4);  // no metric at all
  Log(r1.info.run_id, {M("acc", 0.5)});
  Log(r2.info.run_id, {M("acc", 0.7)});
  Log(r3.info.run_id, {M("acc", 0.9)});
  // Only the latest value counts: r3 once had 0.1.
  Log(r3.info.run_id, {M("acc", 0.1, 0, -1)});
  auto ids = [&](Comparator op, double v) {
    std::vector<std::string> got = SearchRunIds(
        Q(exp, {C(KeyType::kMetric, "acc", op, v)}, {O(KeyType::kAttribute, "start_time", true)}));
    return got;
  };
  const std::string &a = r1.info.run_id, &b = r2.info.run_id, &c = r3.info.run_id;
  EXPECT_THAT(ids(Comparator::kEq, 0.7), ElementsAre(b));
  EXPECT_THAT(ids(Comparator::kNe, 0.7), ElementsAre(a, c));  // runs without it never match
  EXPECT_THAT(ids(Comparator::kLt, 0.7), ElementsAre(a));
  EXPECT_THAT(ids(Comparator::kLe, 0.7), ElementsAre(a, b));
  EXPECT_THAT(ids(Comparator::kGt, 0.7), ElementsAre(c));
  EXPECT_THAT(ids(Comparator::kGe, 0.7), ElementsAre(b, c));
  EXPECT_THAT(ids(Comparator::kGt, 0.1), ElementsAre(a, b, c));
  // Two clauses on one key intersect.
  EXPECT_THAT(SearchRunIds(Q(exp, {C(KeyType::kMetric, "acc", Comparator::kGt, 0.6),
                                   C(KeyType::kMetric, "acc", Comparator::kLt, 0.8)})),
              ElementsAre(b));
  // Comparators a metric cannot take.
  EXPECT_EQ(
      store()
          .SearchRuns(Q(exp, {C(KeyType::kMetric, "acc", Comparator::kLike, std::string("0.%"))}))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_P(MetadataStoreConformanceTest, SearchRunsNaNMatchesOnlyNotEqual) {
  std::string exp = CreateExperiment("search-nan");
  store::Run nan = CreateRun(exp, 1), num = CreateRun(exp, 2), inf = CreateRun(exp, 3);
  Log(nan.info.run_id, {M("m", kNaN)});
  Log(num.info.run_id, {M("m", 0.0)});
  Log(inf.info.run_id, {M("m", kInf)});
  auto ids = [&](Comparator op, double v) {
    return SearchRunIds(
        Q(exp, {C(KeyType::kMetric, "m", op, v)}, {O(KeyType::kAttribute, "start_time", true)}));
  };
  EXPECT_THAT(ids(Comparator::kGe, -1e300), ElementsAre(num.info.run_id, inf.info.run_id));
  EXPECT_THAT(ids(Comparator::kEq, 0.0), ElementsAre(num.info.run_id));
  EXPECT_THAT(ids(Comparator::kNe, 0.0), ElementsAre(nan.info.run_id, inf.info.run_id));
  EXPECT_THAT(ids(Comparator::kGt, 1e308), ElementsAre(inf.info.run_id));
}

TEST_P(MetadataStoreConformanceTest, SearchRunsByParamWithStringComparators) {
  std::string exp = CreateExperiment("search-params");
  store::Run r1 = CreateRun(exp, 1), r2 = CreateRun(exp, 2), r3 = CreateRun(exp, 3);
  CreateRun(exp, 4);  // no params
  Log(r1.info.run_id, {}, {{"model", "ResNet50"}});
  Log(r2.info.run_id, {}, {{"model", "resnet18"}});
  Log(r3.info.run_id, {}, {{"model", "bert_base"}});
  const std::string &a = r1.info.run_id, &b = r2.info.run_id, &c = r3.info.run_id;
  auto ids = [&](Comparator op, search::Value v) {
    return SearchRunIds(Q(exp, {C(KeyType::kParam, "model", op, std::move(v))},
                          {O(KeyType::kAttribute, "start_time", true)}));
  };
  EXPECT_THAT(ids(Comparator::kEq, std::string("resnet18")), ElementsAre(b));
  EXPECT_THAT(ids(Comparator::kEq, std::string("RESNET18")), ElementsAre());
  EXPECT_THAT(ids(Comparator::kNe, std::string("resnet18")), ElementsAre(a, c));
  EXPECT_THAT(ids(Comparator::kLike, std::string("res%")), ElementsAre(b));
  EXPECT_THAT(ids(Comparator::kLike, std::string("%Net%")), ElementsAre(a));
  EXPECT_THAT(ids(Comparator::kILike, std::string("res%")), ElementsAre(a, b));
  EXPECT_THAT(ids(Comparator::kLike, std::string("bert_bas_")), ElementsAre(c));
  EXPECT_THAT(ids(Comparator::kLike, std::string("bert")), ElementsAre());
  EXPECT_THAT(ids(Comparator::kIn, std::vector<std::string>{"bert_base", "resnet18", "x"}),
              ElementsAre(b, c));
  EXPECT_THAT(ids(Comparator::kNotIn, std::vector<std::string>{"bert_base"}), ElementsAre(a, b));
  // A quote in a value is data, never SQL.
  EXPECT_THAT(ids(Comparator::kEq, std::string("x' OR '1'='1")), ElementsAre());
}

TEST_P(MetadataStoreConformanceTest, SearchRunsByTag) {
  std::string exp = CreateExperiment("search-tags");
  store::Run r1 = CreateRun(exp, 1, "", {{"env", "prod"}});
  store::Run r2 = CreateRun(exp, 2, "", {{"env", "dev"}, {"owner", "bob"}});
  store::Run r3 = CreateRun(exp, 3);
  auto ids = [&](std::vector<Comparison> cs) {
    return SearchRunIds(Q(exp, std::move(cs), {O(KeyType::kAttribute, "start_time", true)}));
  };
  EXPECT_THAT(ids({C(KeyType::kTag, "env", Comparator::kEq, std::string("prod"))}),
              ElementsAre(r1.info.run_id));
  EXPECT_THAT(ids({C(KeyType::kTag, "env", Comparator::kILike, std::string("D%"))}),
              ElementsAre(r2.info.run_id));
  EXPECT_THAT(ids({C(KeyType::kTag, "env", Comparator::kNe, std::string("prod")),
                   C(KeyType::kTag, "owner", Comparator::kEq, std::string("bob"))}),
              ElementsAre(r2.info.run_id));
  EXPECT_THAT(ids({C(KeyType::kTag, "mlflow.runName", Comparator::kEq, std::string("x"))}),
              ElementsAre());
  (void)r3;
}

TEST_P(MetadataStoreConformanceTest, SearchRunsByAttributes) {
  std::string exp = CreateExperiment("search-attributes");
  store::Run r1 = CreateRun(exp, 100, "alpha");
  store::Run r2 = CreateRun(exp, 200, "beta");
  store::Run r3 = CreateRun(exp, 300, "gamma");
  RunUpdate done;
  done.status = "FINISHED";
  done.end_time = 250;
  ASSERT_TRUE(store().UpdateRun(r2.info.run_id, done).ok());
  const std::string &a = r1.info.run_id, &b = r2.info.run_id, &c = r3.info.run_id;
  auto ids = [&](const std::string& key, Comparator op, search::Value v) {
    return SearchRunIds(Q(exp, {C(KeyType::kAttribute, key, op, std::move(v))},
                          {O(KeyType::kAttribute, "start_time", true)}));
  };
  EXPECT_THAT(ids("status", Comparator::kEq, std::string("FINISHED")), ElementsAre(b));
  EXPECT_THAT(ids("status", Comparator::kNe, std::string("FINISHED")), ElementsAre(a, c));
  EXPECT_THAT(ids("run_name", Comparator::kLike, std::string("%a")), ElementsAre(a, b, c));
  EXPECT_THAT(ids("run_name", Comparator::kEq, std::string("gamma")), ElementsAre(c));
  EXPECT_THAT(ids("user_id", Comparator::kEq, std::string("alice")), ElementsAre(a, b, c));
  EXPECT_THAT(ids("start_time", Comparator::kGe, 200.0), ElementsAre(b, c));
  EXPECT_THAT(ids("start_time", Comparator::kLt, 200.0), ElementsAre(a));
  EXPECT_THAT(ids("end_time", Comparator::kGt, 0.0), ElementsAre(b));
  EXPECT_THAT(ids("run_id", Comparator::kIn, std::vector<std::string>{a, c, "zzz"}),
              ElementsAre(a, c));
  EXPECT_THAT(ids("run_id", Comparator::kEq, b), ElementsAre(b));
  EXPECT_THAT(ids("artifact_uri", Comparator::kLike, std::string("%" + c + "%")), ElementsAre(c));
  EXPECT_EQ(store()
                .SearchRuns(
                    Q(exp, {C(KeyType::kAttribute, "no_such", Comparator::kEq, std::string("x"))}))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(MetadataStoreConformanceTest, SearchRunsByDataset) {
  std::string exp = CreateExperiment("search-datasets");
  store::Run r1 = CreateRun(exp, 1), r2 = CreateRun(exp, 2);
  CreateRun(exp, 3);
  DatasetInput train;
  train.dataset = {"iris", "d1", "local", "/iris.csv", "", ""};
  train.tags = {{"mlflow.data.context", "train"}};
  DatasetInput eval;
  eval.dataset = {"wine", "d2", "local", "/wine.csv", "", ""};
  eval.tags = {{"mlflow.data.context", "eval"}};
  ASSERT_TRUE(store().LogInputs(r1.info.run_id, {train}, {}).ok());
  ASSERT_TRUE(store().LogInputs(r2.info.run_id, {train, eval}, {}).ok());
  auto ids = [&](const std::string& key, Comparator op, search::Value v) {
    return SearchRunIds(Q(exp, {C(KeyType::kDataset, key, op, std::move(v))},
                          {O(KeyType::kAttribute, "start_time", true)}));
  };
  EXPECT_THAT(ids("name", Comparator::kEq, std::string("iris")),
              ElementsAre(r1.info.run_id, r2.info.run_id));
  EXPECT_THAT(ids("name", Comparator::kEq, std::string("wine")), ElementsAre(r2.info.run_id));
  EXPECT_THAT(ids("digest", Comparator::kIn, std::vector<std::string>{"d2"}),
              ElementsAre(r2.info.run_id));
  EXPECT_THAT(ids("context", Comparator::kEq, std::string("eval")), ElementsAre(r2.info.run_id));
  EXPECT_THAT(ids("context", Comparator::kLike, std::string("tr%")),
              ElementsAre(r1.info.run_id, r2.info.run_id));
  EXPECT_EQ(
      store()
          .SearchRuns(Q(exp, {C(KeyType::kDataset, "size", Comparator::kEq, std::string("x"))}))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_P(MetadataStoreConformanceTest, OrderByMetricPutsNaNThenMissingLast) {
  std::string exp = CreateExperiment("order-metric");
  store::Run low = CreateRun(exp, 1), high = CreateRun(exp, 2), nan = CreateRun(exp, 3),
             missing = CreateRun(exp, 4), mid = CreateRun(exp, 5);
  Log(low.info.run_id, {M("m", -1)});
  Log(high.info.run_id, {M("m", 10)});
  Log(nan.info.run_id, {M("m", kNaN)});
  Log(mid.info.run_id, {M("m", 3)});
  EXPECT_THAT(SearchRunIds(Q(exp, {}, {O(KeyType::kMetric, "m", true)})),
              ElementsAre(low.info.run_id, mid.info.run_id, high.info.run_id, nan.info.run_id,
                          missing.info.run_id));
  EXPECT_THAT(SearchRunIds(Q(exp, {}, {O(KeyType::kMetric, "m", false)})),
              ElementsAre(high.info.run_id, mid.info.run_id, low.info.run_id, nan.info.run_id,
                          missing.info.run_id));
  // Ordered by the metric it is filtered on.
  EXPECT_THAT(SearchRunIds(Q(exp, {C(KeyType::kMetric, "m", Comparator::kGt, 0.0)},
                             {O(KeyType::kMetric, "m", false)})),
              ElementsAre(high.info.run_id, mid.info.run_id));
  EXPECT_THAT(SearchRunIds(Q(exp, {C(KeyType::kMetric, "m", Comparator::kNe, 3.0)},
                             {O(KeyType::kMetric, "m", true)})),
              ElementsAre(low.info.run_id, high.info.run_id, nan.info.run_id));
}

TEST_P(MetadataStoreConformanceTest, OrderByParamAndTagPutsMissingLast) {
  std::string exp = CreateExperiment("order-param");
  store::Run b = CreateRun(exp, 1, "", {{"t", "b"}});
  store::Run none = CreateRun(exp, 2);
  store::Run a = CreateRun(exp, 3, "", {{"t", "a"}});
  Log(b.info.run_id, {}, {{"p", "2"}});
  Log(a.info.run_id, {}, {{"p", "1"}});
  for (KeyType type : {KeyType::kParam, KeyType::kTag}) {
    const std::string key = type == KeyType::kParam ? "p" : "t";
    EXPECT_THAT(SearchRunIds(Q(exp, {}, {O(type, key, true)})),
                ElementsAre(a.info.run_id, b.info.run_id, none.info.run_id));
    EXPECT_THAT(SearchRunIds(Q(exp, {}, {O(type, key, false)})),
                ElementsAre(b.info.run_id, a.info.run_id, none.info.run_id));
  }
}

TEST_P(MetadataStoreConformanceTest, DefaultOrderIsStartTimeDescThenRunId) {
  std::string exp = CreateExperiment("default-order");
  store::Run first = CreateRun(exp, 10);
  store::Run last = CreateRun(exp, 30);
  std::vector<std::string> tied = {CreateRun(exp, 20).info.run_id, CreateRun(exp, 20).info.run_id,
                                   CreateRun(exp, 20).info.run_id};
  std::sort(tied.begin(), tied.end());
  EXPECT_THAT(SearchRunIds(Q(exp)),
              ElementsAre(last.info.run_id, tied[0], tied[1], tied[2], first.info.run_id));
  // Ties on an order_by key fall back to start_time DESC, then run id.
  std::vector<std::string> by_status =
      SearchRunIds(Q(exp, {}, {O(KeyType::kAttribute, "status", true)}));
  EXPECT_THAT(by_status,
              ElementsAre(last.info.run_id, tied[0], tied[1], tied[2], first.info.run_id));
  EXPECT_THAT(SearchRunIds(Q(exp, {}, {O(KeyType::kAttribute, "start_time", true)})),
              ElementsAre(first.info.run_id, tied[0], tied[1], tied[2], last.info.run_id));
}

TEST_P(MetadataStoreConformanceTest, OrderByEndTimePutsUnfinishedLast) {
  std::string exp = CreateExperiment("order-end-time");
  store::Run open = CreateRun(exp, 1), early = CreateRun(exp, 2), late = CreateRun(exp, 3);
  RunUpdate u;
  u.end_time = 50;
  ASSERT_TRUE(store().UpdateRun(early.info.run_id, u).ok());
  u.end_time = 90;
  ASSERT_TRUE(store().UpdateRun(late.info.run_id, u).ok());
  EXPECT_THAT(SearchRunIds(Q(exp, {}, {O(KeyType::kAttribute, "end_time", true)})),
              ElementsAre(early.info.run_id, late.info.run_id, open.info.run_id));
  EXPECT_THAT(SearchRunIds(Q(exp, {}, {O(KeyType::kAttribute, "end_time", false)})),
              ElementsAre(late.info.run_id, early.info.run_id, open.info.run_id));
}

TEST_P(MetadataStoreConformanceTest, SearchRunsPagingIsCompleteAndStable) {
  std::string exp = CreateExperiment("paging");
  std::set<std::string> all;
  for (int i = 0; i < 25; ++i) {
    store::Run r = CreateRun(exp, 1000 + (i % 4));  // many ties on start_time
    Log(r.info.run_id, {M("m", i % 5)});
    all.insert(r.info.run_id);
  }
  for (const auto& order : std::vector<std::vector<OrderBy>>{
           {}, {O(KeyType::kMetric, "m", true)}, {O(KeyType::kAttribute, "start_time", true)}}) {
    RunQuery q = Q(exp, {}, order);
    q.max_results = 10;
    std::vector<std::string> ids = SearchAllRunIds(q);
    EXPECT_EQ(ids.size(), 25u);
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), all);
    // The same query without paging gives the same order.
    q.max_results = 1000;
    EXPECT_EQ(SearchRunIds(q), ids);
  }
  // An exactly full last page has no next token.
  RunQuery q = Q(exp);
  q.max_results = 25;
  absl::StatusOr<Page<store::Run>> page = store().SearchRuns(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 25u);
  EXPECT_TRUE(page->next_page_token.empty());
}

TEST_P(MetadataStoreConformanceTest, PagingCrossesValuedNaNAndMissingRuns) {
  std::string exp = CreateExperiment("paging-segments");
  for (int i = 0; i < 13; ++i) {
    store::Run r = CreateRun(exp, 100 + i % 3);
    if (i % 4 == 0) continue;  // no metric, no param
    Log(r.info.run_id, {M("m", i % 4 == 1 ? kNaN : i % 5)}, {{"p", std::to_string(i % 3)}});
  }
  for (const auto& order : std::vector<std::vector<OrderBy>>{
           {O(KeyType::kMetric, "m", true)},
           {O(KeyType::kMetric, "m", false), O(KeyType::kParam, "p", true)},
           {O(KeyType::kParam, "p", false)}}) {
    RunQuery q = Q(exp, {}, order);
    const std::vector<std::string> unpaged = SearchRunIds(q);
    ASSERT_EQ(unpaged.size(), 13u);
    for (int page_size : {1, 2, 3, 5}) {
      SCOPED_TRACE(page_size);
      q.max_results = page_size;
      EXPECT_EQ(SearchAllRunIds(q), unpaged);
    }
    q.max_results = 1000;
  }
  // The page that starts inside the missing-key runs, reached directly.
  RunQuery q = Q(exp, {}, {O(KeyType::kMetric, "m", true)});
  const std::vector<std::string> unpaged = SearchRunIds(q);
  q.max_results = 3;
  absl::StatusOr<Page<store::Run>> page;
  for (int i = 0; i < 4; ++i) {
    page = store().SearchRuns(q);
    ASSERT_TRUE(page.ok());
    q.page_token = page->next_page_token;
  }
  // 13 runs in pages of 3: the fifth page holds the last missing-key run.
  page = store().SearchRuns(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].info.run_id, unpaged.back());
  EXPECT_TRUE(page->next_page_token.empty());
}

TEST_P(MetadataStoreConformanceTest, SearchRunsViewTypesAndExperiments) {
  std::string e1 = CreateExperiment("view-1");
  std::string e2 = CreateExperiment("view-2");
  store::Run live = CreateRun(e1, 1);
  store::Run dead = CreateRun(e1, 2);
  store::Run other = CreateRun(e2, 3);
  ASSERT_TRUE(store().DeleteRun(dead.info.run_id).ok());
  RunQuery q = Q(e1);
  EXPECT_THAT(SearchRunIds(q), ElementsAre(live.info.run_id));
  q.view_type = ViewType::kDeletedOnly;
  EXPECT_THAT(SearchRunIds(q), ElementsAre(dead.info.run_id));
  q.view_type = ViewType::kAll;
  EXPECT_THAT(SearchRunIds(q), ElementsAre(dead.info.run_id, live.info.run_id));
  q.view_type = ViewType::kActiveOnly;
  q.experiment_ids = {e1, e2};
  EXPECT_THAT(SearchRunIds(q), ElementsAre(other.info.run_id, live.info.run_id));
  q.experiment_ids = {"999999", "not-an-id"};
  EXPECT_THAT(SearchRunIds(q), ElementsAre());
  q.experiment_ids = {};
  EXPECT_THAT(SearchRunIds(q), ElementsAre());
}

TEST_P(MetadataStoreConformanceTest, SearchRunsReturnsFullRunsForThePage) {
  std::string exp = CreateExperiment("full-runs");
  store::Run a = CreateRun(exp, 1, "a");
  store::Run b = CreateRun(exp, 2, "b");
  Log(a.info.run_id, {M("x", 1, 1, 1), M("x", 2, 2, 2), M("y", 5)}, {{"p", "1"}, {"q", "2"}},
      {{"t", "a"}});
  Log(b.info.run_id, {M("x", 7)}, {{"p", "9"}});
  absl::StatusOr<Page<store::Run>> page = store().SearchRuns(Q(exp));
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  const store::Run& rb = page->items[0];
  const store::Run& ra = page->items[1];
  EXPECT_EQ(ra.info.run_id, a.info.run_id);
  EXPECT_EQ(ra.metrics.size(), 2u);
  EXPECT_EQ(FindMetric(ra.metrics, "x")->value, 2);
  EXPECT_THAT(ra.params, ElementsAre(Param{"p", "1"}, Param{"q", "2"}));
  EXPECT_THAT(ra.tags, ElementsAre(Tag{"mlflow.runName", "a"}, Tag{"t", "a"}));
  EXPECT_EQ(rb.info.run_name, "b");
  EXPECT_EQ(rb.metrics.size(), 1u);
  EXPECT_THAT(rb.params, ElementsAre(Param{"p", "9"}));
}

TEST_P(MetadataStoreConformanceTest, SearchRunsCombinedFilterOrderedByAnotherMetric) {
  std::string exp = CreateExperiment("combined");
  std::vector<std::pair<std::string, double>> expected;  // (run, score) passing the filter
  for (int i = 0; i < 40; ++i) {
    store::Run r = CreateRun(exp, i);
    const double acc = (i % 10) / 10.0;
    const double score = (i * 7) % 40;
    const std::string opt = i % 3 == 0 ? "adam" : "sgd";
    Log(r.info.run_id, {M("acc", acc), M("score", score)}, {{"opt", opt}});
    if (acc > 0.45 && opt == "adam") expected.emplace_back(r.info.run_id, score);
  }
  std::sort(expected.begin(), expected.end(),
            [](const auto& x, const auto& y) { return x.second > y.second; });
  std::vector<std::string> want;
  for (const auto& [id, score] : expected) want.push_back(id);
  ASSERT_FALSE(want.empty());
  RunQuery q = Q(exp,
                 {C(KeyType::kMetric, "acc", Comparator::kGt, 0.45),
                  C(KeyType::kParam, "opt", Comparator::kEq, std::string("adam"))},
                 {O(KeyType::kMetric, "score", false)});
  EXPECT_EQ(SearchRunIds(q), want);
  q.max_results = 2;
  EXPECT_EQ(SearchAllRunIds(q), want);
}

TEST_P(MetadataStoreConformanceTest, SearchRejectsBadMaxResults) {
  RunQuery q = Q(kDefaultExperimentId);
  q.max_results = 0;
  EXPECT_EQ(store().SearchRuns(q).status().code(), absl::StatusCode::kInvalidArgument);
  ExperimentQuery eq;
  eq.max_results = -1;
  EXPECT_EQ(store().SearchExperiments(eq).status().code(), absl::StatusCode::kInvalidArgument);
}

// ===========================================================================
// Logged models

TEST_P(MetadataStoreConformanceTest, CreateAndGetLoggedModel) {
  std::string exp = CreateExperiment("models");
  LoggedModel m = NewModel("m-1", exp, "classifier");
  m.model_type = "agent";
  m.source_run_id = "r-1";
  m.tags = {{"b", "2"}, {"a", "1"}};
  m.params = {{"lr", "0.1"}};
  clock_.AdvanceMillis(7);
  absl::StatusOr<LoggedModel> created = store().CreateLoggedModel(m);
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<LoggedModel> got = store().GetLoggedModel("m-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->experiment_id, exp);
  EXPECT_EQ(got->name, "classifier");
  EXPECT_EQ(got->artifact_uri, "file:///models/m-1");
  EXPECT_EQ(got->status, "LOGGED_MODEL_PENDING");
  EXPECT_EQ(got->model_type, "agent");
  EXPECT_EQ(got->source_run_id, "r-1");
  EXPECT_EQ(got->creation_timestamp_ms, clock_.NowMillis());
  EXPECT_EQ(got->last_updated_timestamp_ms, clock_.NowMillis());
  EXPECT_THAT(got->tags, ElementsAre(Tag{"a", "1"}, Tag{"b", "2"}));
  EXPECT_THAT(got->params, ElementsAre(Param{"lr", "0.1"}));

  EXPECT_EQ(store().CreateLoggedModel(m).status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<LoggedModel> missing = store().GetLoggedModel("m-nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "Logged model with ID 'm-nope' not found.");
  EXPECT_EQ(store().CreateLoggedModel(NewModel("m-2", "888888", "x")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(MetadataStoreConformanceTest, FinalizeLoggedModel) {
  std::string exp = CreateExperiment("finalize");
  ASSERT_TRUE(store().CreateLoggedModel(NewModel("m-f", exp, "x")).ok());
  clock_.AdvanceMillis(100);
  absl::StatusOr<LoggedModel> ready = store().FinalizeLoggedModel("m-f", "LOGGED_MODEL_READY");
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->status, "LOGGED_MODEL_READY");
  EXPECT_EQ(ready->last_updated_timestamp_ms, clock_.NowMillis());
  EXPECT_EQ(store().GetLoggedModel("m-f")->status, "LOGGED_MODEL_READY");
  EXPECT_EQ(store().FinalizeLoggedModel("m-none", "LOGGED_MODEL_READY").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(MetadataStoreConformanceTest, LoggedModelTagsAndParams) {
  std::string exp = CreateExperiment("model-tags");
  ASSERT_TRUE(store().CreateLoggedModel(NewModel("m-t", exp, "x")).ok());
  ASSERT_TRUE(store().SetLoggedModelTags("m-t", {{"k", "1"}, {"j", "2"}}).ok());
  ASSERT_TRUE(store().SetLoggedModelTags("m-t", {{"k", "3"}}).ok());
  EXPECT_THAT(store().GetLoggedModel("m-t")->tags, ElementsAre(Tag{"j", "2"}, Tag{"k", "3"}));
  ASSERT_TRUE(store().DeleteLoggedModelTag("m-t", "j").ok());
  EXPECT_THAT(store().GetLoggedModel("m-t")->tags, ElementsAre(Tag{"k", "3"}));
  EXPECT_EQ(store().DeleteLoggedModelTag("m-t", "j").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().SetLoggedModelTags("m-none", {{"k", "v"}}).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store().LogLoggedModelParams("m-t", {{"p", "1"}}).ok());
  ASSERT_TRUE(store().LogLoggedModelParams("m-t", {{"p", "1"}, {"q", "2"}}).ok());
  EXPECT_EQ(store().LogLoggedModelParams("m-t", {{"p", "changed"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store().GetLoggedModel("m-t")->params, ElementsAre(Param{"p", "1"}, Param{"q", "2"}));
}

TEST_P(MetadataStoreConformanceTest, DeleteLoggedModelHidesIt) {
  std::string exp = CreateExperiment("model-delete");
  ASSERT_TRUE(store().CreateLoggedModel(NewModel("m-d", exp, "x")).ok());
  ASSERT_TRUE(store().CreateLoggedModel(NewModel("m-k", exp, "y")).ok());
  ASSERT_TRUE(store().DeleteLoggedModel("m-d").ok());
  EXPECT_EQ(store().GetLoggedModel("m-d").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().DeleteLoggedModel("m-d").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().SetLoggedModelTags("m-d", {{"k", "v"}}).code(), absl::StatusCode::kNotFound);
  LoggedModelQuery q;
  q.experiment_ids = {exp};
  absl::StatusOr<Page<LoggedModel>> page = store().SearchLoggedModels(q);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(ModelIds(page->items), ElementsAre("m-k"));
}

TEST_P(MetadataStoreConformanceTest, LogBatchRecordsModelMetrics) {
  std::string exp = CreateExperiment("model-metrics");
  store::Run run = CreateRun(exp);
  ASSERT_TRUE(store().CreateLoggedModel(NewModel("m-mm", exp, "x")).ok());
  Metric m = M("acc", 0.8, 5, 2);
  m.model_id = "m-mm";
  m.dataset_name = "iris";
  m.dataset_digest = "d1";
  Log(run.info.run_id, {m});
  absl::StatusOr<LoggedModel> got = store().GetLoggedModel("m-mm");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->metrics.size(), 1u);
  EXPECT_EQ(got->metrics[0].key, "acc");
  EXPECT_EQ(got->metrics[0].value, 0.8);
  EXPECT_EQ(got->metrics[0].step, 2);
  EXPECT_EQ(got->metrics[0].run_id, run.info.run_id);
  EXPECT_EQ(got->metrics[0].dataset_name, "iris");
  EXPECT_EQ(got->metrics[0].dataset_digest, "d1");
  // The run has the metric too.
  EXPECT_EQ(FindMetric(store().GetRun(run.info.run_id)->metrics, "acc")->value, 0.8);
  // A metric for an unknown model fails the whole batch.
  Metric bad = M("loss", 1.0);
  bad.model_id = "m-unknown";
  EXPECT_EQ(store().LogBatch(run.info.run_id, {M("other", 1), bad}, {}, {}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(FindMetric(store().GetRun(run.info.run_id)->metrics, "other"), nullptr);
}

TEST_P(MetadataStoreConformanceTest, SearchLoggedModelsFiltersOrdersAndPages) {
  std::string exp = CreateExperiment("model-search");
  std::string other_exp = CreateExperiment("model-search-other");
  store::Run run = CreateRun(exp);
  for (int i = 0; i < 5; ++i) {
    clock_.AdvanceMillis(1);
    LoggedModel m = NewModel(absl::StrCat("m-", i), exp, i % 2 == 0 ? "even" : "odd");
    m.params = {{"size", i < 3 ? "small" : "large"}};
    m.tags = {{"idx", std::to_string(i)}};
    ASSERT_TRUE(store().CreateLoggedModel(m).ok());
    if (i != 4) {
      Metric acc = M("acc", 0.1 * i, 10, 0);
      acc.model_id = m.model_id;
      Log(run.info.run_id, {acc});
    }
  }
  ASSERT_TRUE(store().CreateLoggedModel(NewModel("m-elsewhere", other_exp, "even")).ok());
  auto ids = [&](std::vector<Comparison> cs, std::vector<OrderBy> order = {}) {
    LoggedModelQuery q;
    q.experiment_ids = {exp};
    q.filter = F(std::move(cs));
    q.order_by = std::move(order);
    absl::StatusOr<Page<LoggedModel>> page = store().SearchLoggedModels(q);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? ModelIds(page->items) : std::vector<std::string>{};
  };
  // Default order: creation_timestamp DESC.
  EXPECT_THAT(ids({}), ElementsAre("m-4", "m-3", "m-2", "m-1", "m-0"));
  EXPECT_THAT(ids({C(KeyType::kAttribute, "name", Comparator::kEq, std::string("even"))}),
              ElementsAre("m-4", "m-2", "m-0"));
  EXPECT_THAT(ids({C(KeyType::kMetric, "acc", Comparator::kGe, 0.2)}), ElementsAre("m-3", "m-2"));
  EXPECT_THAT(ids({C(KeyType::kParam, "size", Comparator::kEq, std::string("large"))}),
              ElementsAre("m-4", "m-3"));
  EXPECT_THAT(ids({C(KeyType::kTag, "idx", Comparator::kIn, std::vector<std::string>{"0", "1"})}),
              ElementsAre("m-1", "m-0"));
  // Ordered by a metric: models without it last.
  EXPECT_THAT(ids({}, {O(KeyType::kMetric, "acc", false)}),
              ElementsAre("m-3", "m-2", "m-1", "m-0", "m-4"));
  EXPECT_THAT(ids({}, {O(KeyType::kAttribute, "creation_timestamp", true)}),
              ElementsAre("m-0", "m-1", "m-2", "m-3", "m-4"));
  LoggedModelQuery q;
  q.experiment_ids = {exp, other_exp};
  q.max_results = 4;
  std::vector<std::string> all;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<Page<LoggedModel>> page = store().SearchLoggedModels(q);
    ASSERT_TRUE(page.ok());
    for (const LoggedModel& m : page->items) all.push_back(m.model_id);
    if (page->next_page_token.empty()) break;
    q.page_token = page->next_page_token;
  }
  EXPECT_EQ(all.size(), 6u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 6u);
}

// ===========================================================================
// Concurrency and durability

TEST_P(MetadataStoreConformanceTest, ConcurrentWritersAndReadersSeeNoErrors) {
  std::string exp = CreateExperiment("concurrent");
  constexpr int kThreads = 8;
  constexpr int kBatches = 40;
  constexpr int kMetricsPerBatch = 10;
  std::vector<std::string> run_ids;
  for (int t = 0; t < kThreads; ++t) run_ids.push_back(CreateRun(exp, t).info.run_id);
  store::Run shared = CreateRun(exp, 100);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Metric> metrics;
        for (int k = 0; k < kMetricsPerBatch; ++k) {
          metrics.push_back(M(absl::StrCat("m", k), b * 1.0, b, b));
        }
        std::vector<Param> params = {{absl::StrCat("p", b), "v"}};
        if (!store().LogBatch(run_ids[static_cast<size_t>(t)], metrics, params, {}).ok()) {
          ++failures;
        }
        // Everyone also writes the same run: params collide with equal values.
        if (!store()
                 .LogBatch(shared.info.run_id, {M("shared", t, b, t * kBatches + b)},
                           {{"common", "same"}}, {{absl::StrCat("thread", t), "x"}})
                 .ok()) {
          ++failures;
        }
        if (b % 8 == 0) {
          RunQuery q = Q(exp, {C(KeyType::kMetric, "m0", Comparator::kGe, 0.0)},
                         {O(KeyType::kMetric, "m1", false)});
          if (!store().SearchRuns(q).ok()) ++failures;
          if (!store().GetRun(run_ids[static_cast<size_t>((t + 1) % kThreads)]).ok()) ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (const std::string& id : run_ids) {
    absl::StatusOr<store::Run> run = store().GetRun(id);
    ASSERT_TRUE(run.ok());
    EXPECT_EQ(run->params.size(), static_cast<size_t>(kBatches));
    ASSERT_EQ(run->metrics.size(), static_cast<size_t>(kMetricsPerBatch));
    EXPECT_EQ(run->metrics[0].step, kBatches - 1);
    absl::StatusOr<Page<Metric>> history = store().GetMetricHistory(id, "m3", 0, "");
    ASSERT_TRUE(history.ok());
    EXPECT_EQ(history->items.size(), static_cast<size_t>(kBatches));
  }
  absl::StatusOr<store::Run> s = store().GetRun(shared.info.run_id);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->tags.size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(store().GetMetricHistory(shared.info.run_id, "shared", 0, "")->items.size(),
            static_cast<size_t>(kThreads * kBatches));
}

TEST_P(MetadataStoreConformanceTest, ConcurrentCreateExperimentWithOneNameHasOneWinner) {
  constexpr int kThreads = 8;
  std::atomic<int> created{0};
  std::atomic<int> already_exists{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<std::string> id = store().CreateExperiment(absl::StrCat("race-", i), "", {});
        if (id.ok()) {
          ++created;
        } else if (absl::IsAlreadyExists(id.status())) {
          ++already_exists;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), 10);
  EXPECT_EQ(already_exists.load(), kThreads * 10 - 10);
  EXPECT_EQ(other.load(), 0);
}

TEST_P(MetadataStoreConformanceTest, DataSurvivesReopen) {
  if (!GetParam().reopen) GTEST_SKIP() << "storage does not outlive the store";
  std::string exp = CreateExperiment("durable", {{"k", "v"}});
  store::Run run = CreateRun(exp, 5, "persisted");
  Log(run.info.run_id, {M("m", 1.5, 1, 1), M("m", 2.5, 2, 2)}, {{"p", "1"}}, {{"t", "x"}});
  ASSERT_TRUE(store().CreateLoggedModel(NewModel("m-durable", exp, "x")).ok());
  store_.reset();
  store_ = GetParam().reopen(&clock_);
  ASSERT_NE(store_, nullptr);
  absl::StatusOr<Experiment> e = store().GetExperimentByName("durable");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(e->tags, ElementsAre(Tag{"k", "v"}));
  absl::StatusOr<store::Run> got = store().GetRun(run.info.run_id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->info.run_name, "persisted");
  EXPECT_EQ(FindMetric(got->metrics, "m")->value, 2.5);
  EXPECT_THAT(got->params, ElementsAre(Param{"p", "1"}));
  EXPECT_EQ(store().GetMetricHistory(run.info.run_id, "m", 0, "")->items.size(), 2u);
  EXPECT_TRUE(store().GetLoggedModel("m-durable").ok());
  // Still exactly one default experiment, and new ids do not collide.
  ExperimentQuery q;
  q.view_type = ViewType::kAll;
  EXPECT_EQ(store().SearchExperiments(q)->items.size(), 2u);
  std::string next = CreateExperiment("after-reopen");
  EXPECT_NE(next, exp);
  EXPECT_NE(next, "0");
}

}  // namespace ferry::store::conformance
