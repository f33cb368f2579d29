#include "ferry/store/testing/registry_conformance.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
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
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

Comparison Attr(const std::string& key, Comparator op, search::Value value) {
  return Comparison{KeyType::kAttribute, key, op, std::move(value)};
}

Comparison TagC(const std::string& key, Comparator op, const std::string& value) {
  return Comparison{KeyType::kTag, key, op, value};
}

OrderBy By(const std::string& key, bool ascending) {
  return OrderBy{KeyType::kAttribute, key, ascending};
}

RegisteredModelQuery ModelQuery(std::vector<Comparison> clauses = {},
                                std::vector<OrderBy> order_by = {}, int max_results = 100) {
  RegisteredModelQuery q;
  q.filter.clauses = std::move(clauses);
  q.order_by = std::move(order_by);
  q.max_results = max_results;
  return q;
}

ModelVersionQuery VersionQuery(std::vector<Comparison> clauses = {},
                               std::vector<OrderBy> order_by = {}, int max_results = 10000) {
  ModelVersionQuery q;
  q.filter.clauses = std::move(clauses);
  q.order_by = std::move(order_by);
  q.max_results = max_results;
  return q;
}

std::vector<int64_t> Versions(const std::vector<ModelVersion>& versions) {
  std::vector<int64_t> out;
  for (const ModelVersion& v : versions) out.push_back(v.version);
  return out;
}

std::vector<std::string> Stages(const std::vector<ModelVersion>& versions) {
  std::vector<std::string> out;
  for (const ModelVersion& v : versions) out.push_back(v.current_stage);
  return out;
}

void ExpectError(const absl::Status& status, absl::StatusCode code, const std::string& message) {
  EXPECT_EQ(status.code(), code) << status;
  if (!message.empty()) {
    EXPECT_EQ(std::string(status.message()), message);
  }
}

}  // namespace

std::string RegistryFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

std::string TestAuditHash(const AuditEntry& e) {
  std::string encoded;
  for (const std::string& field :
       {std::to_string(e.seq), std::to_string(e.timestamp), e.actor, e.action, e.object_type,
        e.object_id, e.before_json, e.after_json, e.request_id, e.prev_hash}) {
    absl::StrAppend(&encoded, field.size(), ":", field);
  }
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : encoded) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void RegistryStoreConformanceTest::SetUp() {
  store_ = GetParam().create(&clock_);
  ASSERT_NE(store_, nullptr);
  ASSERT_NE(store_->registry(), nullptr);
}

void RegistryStoreConformanceTest::TearDown() { store_.reset(); }

RegisteredModel RegistryStoreConformanceTest::CreateModel(const std::string& name,
                                                          const std::vector<Tag>& tags) {
  absl::StatusOr<RegisteredModel> m = reg().CreateRegisteredModel(name, "", tags, "alice");
  EXPECT_TRUE(m.ok()) << m.status();
  return m.value_or(RegisteredModel{});
}

ModelVersion RegistryStoreConformanceTest::CreateVersion(const std::string& name,
                                                         const std::string& run_id,
                                                         const std::string& source,
                                                         const std::vector<Tag>& tags) {
  NewModelVersion v;
  v.name = name;
  v.run_id = run_id;
  v.source = source.empty() ? "mlflow-artifacts:/0/" + run_id + "/artifacts/model" : source;
  v.user_id = "alice";
  v.tags = tags;
  absl::StatusOr<ModelVersion> created = reg().CreateModelVersion(v);
  EXPECT_TRUE(created.ok()) << created.status();
  return created.value_or(ModelVersion{});
}

ModelVersion RegistryStoreConformanceTest::GetVersion(const std::string& name, int64_t version) {
  absl::StatusOr<ModelVersion> v = reg().GetModelVersion(name, version);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.value_or(ModelVersion{});
}

RegisteredModel RegistryStoreConformanceTest::GetModel(const std::string& name) {
  absl::StatusOr<RegisteredModel> m = reg().GetRegisteredModel(name);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.value_or(RegisteredModel{});
}

AuditEntry RegistryStoreConformanceTest::Append(const std::string& object_id,
                                                const std::string& action) {
  AuditEntry e;
  e.timestamp = clock_.NowMillis();
  e.actor = "alice";
  e.action = action;
  e.object_type = "registered_model";
  e.object_id = object_id;
  e.after_json = R"({"name":")" + object_id + R"("})";
  e.request_id = "req-" + object_id;
  absl::StatusOr<AuditEntry> appended = reg().AppendAudit(e, &TestAuditHash);
  EXPECT_TRUE(appended.ok()) << appended.status();
  return appended.value_or(AuditEntry{});
}

std::vector<std::string> RegistryStoreConformanceTest::ModelNames(
    const RegisteredModelQuery& query) {
  absl::StatusOr<Page<RegisteredModel>> page = reg().SearchRegisteredModels(query);
  EXPECT_TRUE(page.ok()) << page.status();
  std::vector<std::string> out;
  if (!page.ok()) return out;
  for (const RegisteredModel& m : page->items) out.push_back(m.name);
  return out;
}

std::vector<std::string> RegistryStoreConformanceTest::AllModelNames(RegisteredModelQuery query) {
  std::vector<std::string> out;
  for (int pages = 0; pages < 1000; ++pages) {
    absl::StatusOr<Page<RegisteredModel>> page = reg().SearchRegisteredModels(query);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    for (const RegisteredModel& m : page->items) out.push_back(m.name);
    if (page->next_page_token.empty()) break;
    query.page_token = page->next_page_token;
  }
  return out;
}

std::vector<std::string> RegistryStoreConformanceTest::VersionKeys(const ModelVersionQuery& query) {
  absl::StatusOr<Page<ModelVersion>> page = reg().SearchModelVersions(query);
  EXPECT_TRUE(page.ok()) << page.status();
  std::vector<std::string> out;
  if (!page.ok()) return out;
  for (const ModelVersion& v : page->items) out.push_back(absl::StrCat(v.name, "/", v.version));
  return out;
}

std::vector<std::string> RegistryStoreConformanceTest::AllVersionKeys(ModelVersionQuery query) {
  std::vector<std::string> out;
  for (int pages = 0; pages < 1000; ++pages) {
    absl::StatusOr<Page<ModelVersion>> page = reg().SearchModelVersions(query);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    for (const ModelVersion& v : page->items) out.push_back(absl::StrCat(v.name, "/", v.version));
    if (page->next_page_token.empty()) break;
    query.page_token = page->next_page_token;
  }
  return out;
}

// ===========================================================================
// Registered models

TEST_P(RegistryStoreConformanceTest, CreateRegisteredModelStoresEverything) {
  clock_.AdvanceMillis(250);
  absl::StatusOr<RegisteredModel> created = reg().CreateRegisteredModel(
      "credit", "scores loans", {{"team", "risk"}, {"area", "loans"}, {"team", "credit"}}, "bob");
  ASSERT_TRUE(created.ok()) << created.status();
  RegisteredModel m = GetModel("credit");
  EXPECT_EQ(m.name, "credit");
  EXPECT_EQ(m.description, "scores loans");
  EXPECT_EQ(m.user_id, "bob");
  EXPECT_EQ(m.creation_timestamp, clock_.NowMillis());
  EXPECT_EQ(m.last_updated_timestamp, clock_.NowMillis());
  // Sorted by key; a repeated key keeps its last value.
  EXPECT_THAT(m.tags, ElementsAre(Tag{"area", "loans"}, Tag{"team", "credit"}));
  EXPECT_THAT(m.latest_versions, IsEmpty());
  EXPECT_THAT(m.aliases, IsEmpty());
  EXPECT_EQ(created->name, m.name);
  EXPECT_EQ(created->tags, m.tags);
}

TEST_P(RegistryStoreConformanceTest, DuplicateModelNameIsAlreadyExists) {
  CreateModel("credit");
  ExpectError(reg().CreateRegisteredModel("credit", "", {}, "").status(),
              absl::StatusCode::kAlreadyExists, "Registered Model (name=credit) already exists.");
  // Names are case-sensitive, as in MLflow's SQL store on SQLite.
  EXPECT_TRUE(reg().CreateRegisteredModel("Credit", "", {}, "").ok());
}

TEST_P(RegistryStoreConformanceTest, MissingModelIsNotFoundWithMlflowMessage) {
  const std::string message = "Registered Model with name=ghost not found";
  ExpectError(reg().GetRegisteredModel("ghost").status(), absl::StatusCode::kNotFound, message);
  ExpectError(reg().UpdateRegisteredModel("ghost", "x").status(), absl::StatusCode::kNotFound,
              message);
  ExpectError(reg().DeleteRegisteredModel("ghost"), absl::StatusCode::kNotFound, message);
  ExpectError(reg().RenameRegisteredModel("ghost", "x").status(), absl::StatusCode::kNotFound,
              message);
  ExpectError(reg().SetRegisteredModelTag("ghost", {"k", "v"}), absl::StatusCode::kNotFound,
              message);
  ExpectError(reg().DeleteRegisteredModelTag("ghost", "k"), absl::StatusCode::kNotFound, message);
  ExpectError(reg().GetLatestVersions("ghost", {}).status(), absl::StatusCode::kNotFound, message);
  ExpectError(reg().DeleteRegisteredModelAlias("ghost", "a"), absl::StatusCode::kNotFound, message);
  NewModelVersion v;
  v.name = "ghost";
  ExpectError(reg().CreateModelVersion(v).status(), absl::StatusCode::kNotFound, message);
}

TEST_P(RegistryStoreConformanceTest, UpdateRegisteredModelBumpsOnlyLastUpdated) {
  CreateModel("credit");
  const int64_t created = clock_.NowMillis();
  clock_.AdvanceMillis(1000);
  absl::StatusOr<RegisteredModel> updated = reg().UpdateRegisteredModel("credit", "new text");
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->description, "new text");
  EXPECT_EQ(updated->creation_timestamp, created);
  EXPECT_EQ(updated->last_updated_timestamp, created + 1000);
  EXPECT_EQ(GetModel("credit").description, "new text");
}

TEST_P(RegistryStoreConformanceTest, RegisteredModelTagsUpsertAndDelete) {
  CreateModel("credit", {{"a", "1"}});
  const int64_t updated = GetModel("credit").last_updated_timestamp;
  clock_.AdvanceMillis(10);
  ASSERT_TRUE(reg().SetRegisteredModelTag("credit", {"c", "3"}).ok());
  ASSERT_TRUE(reg().SetRegisteredModelTag("credit", {"a", "changed"}).ok());
  ASSERT_TRUE(reg().SetRegisteredModelTag("credit", {"b", ""}).ok());
  EXPECT_THAT(GetModel("credit").tags,
              ElementsAre(Tag{"a", "changed"}, Tag{"b", ""}, Tag{"c", "3"}));
  ASSERT_TRUE(reg().DeleteRegisteredModelTag("credit", "b").ok());
  EXPECT_THAT(GetModel("credit").tags, ElementsAre(Tag{"a", "changed"}, Tag{"c", "3"}));
  // Deleting a tag that is not there is not an error (MLflow).
  EXPECT_TRUE(reg().DeleteRegisteredModelTag("credit", "nope").ok());
  // Tags do not touch the model's last-update time (MLflow).
  EXPECT_EQ(GetModel("credit").last_updated_timestamp, updated);
}

TEST_P(RegistryStoreConformanceTest, DeleteRegisteredModelCascadesEverything) {
  CreateModel("credit", {{"k", "v"}});
  CreateVersion("credit", "run1", "", {{"vk", "vv"}});
  CreateVersion("credit", "run2");
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 2).ok());
  ASSERT_TRUE(reg().SetPolicy("credit", R"({"required_approvals":1})").ok());
  ASSERT_TRUE(reg()
                  .AddApproval(
                      {.name = "credit", .version = 2, .target = "alias:champion", .user = "carol"})
                  .ok());
  Append("credit", "registered_model.create");
  CreateModel("other");
  CreateVersion("other", "run3");

  ASSERT_TRUE(reg().DeleteRegisteredModel("credit").ok());
  EXPECT_EQ(reg().GetRegisteredModel("credit").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reg().GetModelVersion("credit", 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reg().GetModelVersionByAlias("credit", "champion").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(VersionKeys(VersionQuery()), ElementsAre("other/1"));
  // The audit log keeps its history.
  EXPECT_EQ(reg().ListAudit("credit", 0)->size(), 1u);

  // A new model of the same name starts from scratch.
  RegisteredModel again = CreateModel("credit");
  EXPECT_THAT(again.tags, IsEmpty());
  EXPECT_THAT(again.aliases, IsEmpty());
  EXPECT_EQ(CreateVersion("credit", "run4").version, 1);
  EXPECT_THAT(GetVersion("credit", 1).tags, IsEmpty());
  EXPECT_EQ(reg().GetPolicy("credit").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(*reg().ListApprovals("credit", std::nullopt), IsEmpty());
  // The other model is untouched.
  EXPECT_EQ(GetVersion("other", 1).run_id, "run3");
}

TEST_P(RegistryStoreConformanceTest, RenameCarriesVersionsTagsAliasesPolicyAndApprovals) {
  CreateModel("credit", {{"k", "v"}});
  CreateVersion("credit", "run1", "", {{"vk", "vv"}});
  CreateVersion("credit", "run2");
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 2, "Production", false).ok());
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 1).ok());
  ASSERT_TRUE(reg().SetPolicy("credit", "{}").ok());
  ASSERT_TRUE(
      reg()
          .AddApproval({.name = "credit", .version = 1, .target = "stage:Production", .user = "c"})
          .ok());
  clock_.AdvanceMillis(5000);
  const int64_t now = clock_.NowMillis();

  absl::StatusOr<RegisteredModel> renamed = reg().RenameRegisteredModel("credit", "credit-v2");
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->name, "credit-v2");
  EXPECT_EQ(renamed->last_updated_timestamp, now);
  EXPECT_THAT(renamed->tags, ElementsAre(Tag{"k", "v"}));
  EXPECT_THAT(renamed->aliases, ElementsAre(RegisteredModelAlias{"champion", 1}));
  ASSERT_EQ(renamed->latest_versions.size(), 2u);
  EXPECT_EQ(renamed->latest_versions[0].name, "credit-v2");

  EXPECT_EQ(reg().GetRegisteredModel("credit").status().code(), absl::StatusCode::kNotFound);
  ModelVersion v1 = GetVersion("credit-v2", 1);
  EXPECT_EQ(v1.run_id, "run1");
  EXPECT_THAT(v1.tags, ElementsAre(Tag{"vk", "vv"}));
  EXPECT_THAT(v1.aliases, ElementsAre("champion"));
  EXPECT_EQ(v1.last_updated_timestamp, now);  // MLflow stamps every version
  EXPECT_EQ(GetVersion("credit-v2", 2).current_stage, "Production");
  EXPECT_EQ(reg().GetModelVersionByAlias("credit-v2", "champion")->version, 1);
  EXPECT_EQ(reg().GetPolicy("credit-v2").value_or(""), "{}");
  absl::StatusOr<std::vector<Approval>> approvals = reg().ListApprovals("credit-v2", 1);
  ASSERT_TRUE(approvals.ok()) << approvals.status();
  ASSERT_EQ(approvals->size(), 1u);
  EXPECT_EQ((*approvals)[0].name, "credit-v2");
  // Numbering continues after the rename.
  EXPECT_EQ(CreateVersion("credit-v2", "run3").version, 3);
}

TEST_P(RegistryStoreConformanceTest, RenameOntoAnExistingNameChangesNothing) {
  CreateModel("a");
  CreateVersion("a", "run1");
  CreateModel("b");
  ExpectError(reg().RenameRegisteredModel("a", "b").status(), absl::StatusCode::kAlreadyExists,
              "Registered Model (name=b) already exists.");
  EXPECT_EQ(GetVersion("a", 1).name, "a");
  EXPECT_THAT(GetModel("b").latest_versions, IsEmpty());
  // Renaming to its own name is allowed and keeps the model.
  EXPECT_TRUE(reg().RenameRegisteredModel("a", "a").ok());
  EXPECT_EQ(GetVersion("a", 1).run_id, "run1");
}

// ===========================================================================
// Model versions

TEST_P(RegistryStoreConformanceTest, CreateModelVersionStoresEverything) {
  CreateModel("credit");
  clock_.AdvanceMillis(100);
  NewModelVersion v;
  v.name = "credit";
  v.source = "mlflow-artifacts:/1/abc/artifacts/model";
  v.run_id = "abc";
  v.run_link = "http://x/runs/abc";
  v.model_id = "m-123";
  v.description = "first";
  v.user_id = "dave";
  v.tags = {{"z", "1"}, {"a", "2"}};
  absl::StatusOr<ModelVersion> created = reg().CreateModelVersion(v);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->version, 1);
  ModelVersion got = GetVersion("credit", 1);
  EXPECT_EQ(got.name, "credit");
  EXPECT_EQ(got.source, v.source);
  EXPECT_EQ(got.run_id, "abc");
  EXPECT_EQ(got.run_link, "http://x/runs/abc");
  EXPECT_EQ(got.model_id, "m-123");
  EXPECT_EQ(got.description, "first");
  EXPECT_EQ(got.user_id, "dave");
  EXPECT_EQ(got.current_stage, "None");
  EXPECT_EQ(got.status, "READY");
  EXPECT_EQ(got.status_message, "");
  EXPECT_EQ(got.creation_timestamp, clock_.NowMillis());
  EXPECT_EQ(got.last_updated_timestamp, clock_.NowMillis());
  EXPECT_THAT(got.tags, ElementsAre(Tag{"a", "2"}, Tag{"z", "1"}));
  EXPECT_THAT(got.aliases, IsEmpty());
  // Registering a version updates the model (MLflow).
  EXPECT_EQ(GetModel("credit").last_updated_timestamp, clock_.NowMillis());
}

TEST_P(RegistryStoreConformanceTest, VersionNumbersCountPerModel) {
  CreateModel("a");
  CreateModel("b");
  EXPECT_EQ(CreateVersion("a").version, 1);
  EXPECT_EQ(CreateVersion("a").version, 2);
  EXPECT_EQ(CreateVersion("b").version, 1);
  EXPECT_EQ(CreateVersion("a").version, 3);
  EXPECT_EQ(CreateVersion("b").version, 2);
}

TEST_P(RegistryStoreConformanceTest, DeletedVersionNumbersAreNotReused) {
  CreateModel("credit");
  CreateVersion("credit");
  CreateVersion("credit");
  CreateVersion("credit");
  ASSERT_TRUE(reg().DeleteModelVersion("credit", 3).ok());
  EXPECT_EQ(CreateVersion("credit").version, 4);
  ASSERT_TRUE(reg().DeleteModelVersion("credit", 4).ok());
  ASSERT_TRUE(reg().DeleteModelVersion("credit", 1).ok());
  EXPECT_EQ(CreateVersion("credit").version, 5);
  EXPECT_THAT(VersionKeys(VersionQuery()), ElementsAre("credit/5", "credit/2"));
}

TEST_P(RegistryStoreConformanceTest, MissingVersionIsNotFoundWithMlflowMessage) {
  CreateModel("credit");
  CreateVersion("credit");
  const std::string message = "Model Version (name=credit, version=7) not found";
  ExpectError(reg().GetModelVersion("credit", 7).status(), absl::StatusCode::kNotFound, message);
  ExpectError(reg().UpdateModelVersion("credit", 7, "x").status(), absl::StatusCode::kNotFound,
              message);
  ExpectError(reg().DeleteModelVersion("credit", 7), absl::StatusCode::kNotFound, message);
  ExpectError(reg().TransitionModelVersionStage("credit", 7, "Staging", false).status(),
              absl::StatusCode::kNotFound, message);
  ExpectError(reg().SetModelVersionTag("credit", 7, {"k", "v"}), absl::StatusCode::kNotFound,
              message);
  ExpectError(reg().DeleteModelVersionTag("credit", 7, "k"), absl::StatusCode::kNotFound, message);
  ExpectError(reg().SetRegisteredModelAlias("credit", "champion", 7), absl::StatusCode::kNotFound,
              message);
  ExpectError(reg().GetModelVersion("ghost", 1).status(), absl::StatusCode::kNotFound,
              "Model Version (name=ghost, version=1) not found");
}

TEST_P(RegistryStoreConformanceTest, UpdateModelVersionBumpsTheVersionOnly) {
  CreateModel("credit");
  CreateVersion("credit");
  const int64_t created = clock_.NowMillis();
  clock_.AdvanceMillis(700);
  absl::StatusOr<ModelVersion> updated = reg().UpdateModelVersion("credit", 1, "better");
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->description, "better");
  EXPECT_EQ(updated->creation_timestamp, created);
  EXPECT_EQ(updated->last_updated_timestamp, created + 700);
  EXPECT_EQ(GetVersion("credit", 1).description, "better");
  EXPECT_EQ(GetModel("credit").last_updated_timestamp, created);
}

TEST_P(RegistryStoreConformanceTest, DeleteModelVersionRemovesItWithTagsAndAliases) {
  CreateModel("credit");
  CreateVersion("credit", "r1", "", {{"k", "v"}});
  CreateVersion("credit", "r2");
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 1).ok());
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "challenger", 2).ok());
  clock_.AdvanceMillis(50);
  ASSERT_TRUE(reg().DeleteModelVersion("credit", 1).ok());
  EXPECT_EQ(reg().GetModelVersion("credit", 1).status().code(), absl::StatusCode::kNotFound);
  ExpectError(reg().GetModelVersionByAlias("credit", "champion").status(),
              absl::StatusCode::kNotFound, "Registered model alias champion not found.");
  RegisteredModel m = GetModel("credit");
  EXPECT_THAT(m.aliases, ElementsAre(RegisteredModelAlias{"challenger", 2}));
  EXPECT_THAT(Versions(m.latest_versions), ElementsAre(2));
  EXPECT_EQ(m.last_updated_timestamp, clock_.NowMillis());
  ExpectError(reg().DeleteModelVersion("credit", 1), absl::StatusCode::kNotFound,
              "Model Version (name=credit, version=1) not found");
}

TEST_P(RegistryStoreConformanceTest, ModelVersionTagsUpsertAndDelete) {
  CreateModel("credit");
  CreateVersion("credit", "r1", "", {{"a", "1"}});
  CreateVersion("credit", "r2", "", {{"a", "other"}});
  ASSERT_TRUE(reg().SetModelVersionTag("credit", 1, {"b", "2"}).ok());
  ASSERT_TRUE(reg().SetModelVersionTag("credit", 1, {"a", "changed"}).ok());
  EXPECT_THAT(GetVersion("credit", 1).tags, ElementsAre(Tag{"a", "changed"}, Tag{"b", "2"}));
  ASSERT_TRUE(reg().DeleteModelVersionTag("credit", 1, "a").ok());
  EXPECT_THAT(GetVersion("credit", 1).tags, ElementsAre(Tag{"b", "2"}));
  EXPECT_TRUE(reg().DeleteModelVersionTag("credit", 1, "missing").ok());
  // Version 2's tag of the same key is separate.
  EXPECT_THAT(GetVersion("credit", 2).tags, ElementsAre(Tag{"a", "other"}));
}

// ===========================================================================
// Stages

TEST_P(RegistryStoreConformanceTest, TransitionUsesCanonicalStageNamesAndBumpsTimes) {
  CreateModel("credit");
  CreateVersion("credit");
  clock_.AdvanceMillis(300);
  for (const auto& [given, canonical] :
       std::vector<std::pair<std::string, std::string>>{{"production", "Production"},
                                                        {"STAGING", "Staging"},
                                                        {"archived", "Archived"},
                                                        {"none", "None"}}) {
    absl::StatusOr<ModelVersion> v = reg().TransitionModelVersionStage("credit", 1, given, false);
    ASSERT_TRUE(v.ok()) << given << ": " << v.status();
    EXPECT_EQ(v->current_stage, canonical);
    EXPECT_EQ(GetVersion("credit", 1).current_stage, canonical);
  }
  EXPECT_EQ(GetVersion("credit", 1).last_updated_timestamp, clock_.NowMillis());
  EXPECT_EQ(GetModel("credit").last_updated_timestamp, clock_.NowMillis());
  ExpectError(reg().TransitionModelVersionStage("credit", 1, "Prod", false).status(),
              absl::StatusCode::kInvalidArgument,
              "Invalid Model Version stage: Prod. Value must be one of None, Staging, "
              "Production, Archived.");
}

TEST_P(RegistryStoreConformanceTest, ArchiveExistingMovesOnlyOtherVersionsInTheTargetStage) {
  CreateModel("credit");
  for (int i = 0; i < 4; ++i) CreateVersion("credit");
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 1, "Production", false).ok());
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 2, "Production", false).ok());
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 3, "Staging", false).ok());
  const int64_t before = clock_.NowMillis();
  clock_.AdvanceMillis(1000);
  absl::StatusOr<ModelVersion> v4 =
      reg().TransitionModelVersionStage("credit", 4, "production", true);
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->current_stage, "Production");
  EXPECT_EQ(GetVersion("credit", 1).current_stage, "Archived");
  EXPECT_EQ(GetVersion("credit", 1).last_updated_timestamp, clock_.NowMillis());
  EXPECT_EQ(GetVersion("credit", 2).current_stage, "Archived");
  EXPECT_EQ(GetVersion("credit", 3).current_stage, "Staging");
  EXPECT_EQ(GetVersion("credit", 3).last_updated_timestamp, before);
  // Re-archiving the holder itself is a no-op for it.
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 4, "Production", true).ok());
  EXPECT_EQ(GetVersion("credit", 4).current_stage, "Production");
}

TEST_P(RegistryStoreConformanceTest, WithoutArchiveSeveralVersionsShareAStage) {
  CreateModel("credit");
  CreateVersion("credit");
  CreateVersion("credit");
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 1, "Staging", false).ok());
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 2, "Staging", false).ok());
  EXPECT_EQ(GetVersion("credit", 1).current_stage, "Staging");
  EXPECT_EQ(GetVersion("credit", 2).current_stage, "Staging");
}

TEST_P(RegistryStoreConformanceTest, ArchiveExistingNeedsAnActiveStage) {
  CreateModel("credit");
  CreateVersion("credit");
  CreateVersion("credit");
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 1, "Archived", false).ok());
  ExpectError(reg().TransitionModelVersionStage("credit", 2, "archived", true).status(),
              absl::StatusCode::kInvalidArgument,
              "Model version transition cannot archive existing model versions because "
              "'archived' is not an Active stage. Valid stages are ['Staging', 'Production']");
  EXPECT_EQ(reg().TransitionModelVersionStage("credit", 2, "None", true).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetVersion("credit", 2).current_stage, "None");
}

TEST_P(RegistryStoreConformanceTest, FailedTransitionArchivesNothing) {
  CreateModel("credit");
  CreateVersion("credit");
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 1, "Production", false).ok());
  EXPECT_EQ(reg().TransitionModelVersionStage("credit", 9, "Production", true).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(GetVersion("credit", 1).current_stage, "Production");
}

TEST_P(RegistryStoreConformanceTest, LatestVersionsHoldTheNewestVersionPerStage) {
  CreateModel("credit");
  for (int i = 0; i < 6; ++i) CreateVersion("credit", "", "", {{"n", std::to_string(i + 1)}});
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 1, "Production", false).ok());
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 2, "Production", false).ok());
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 3, "Staging", false).ok());
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 4, "Archived", false).ok());
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 2).ok());
  // 5 and 6 stay in None.
  RegisteredModel m = GetModel("credit");
  EXPECT_THAT(Stages(m.latest_versions), ElementsAre("None", "Staging", "Production", "Archived"));
  EXPECT_THAT(Versions(m.latest_versions), ElementsAre(6, 3, 2, 4));
  // Latest versions carry their tags and aliases.
  EXPECT_THAT(m.latest_versions[2].tags, ElementsAre(Tag{"n", "2"}));
  EXPECT_THAT(m.latest_versions[2].aliases, ElementsAre("champion"));
}

TEST_P(RegistryStoreConformanceTest, GetLatestVersionsFiltersByStage) {
  CreateModel("credit");
  for (int i = 0; i < 3; ++i) CreateVersion("credit");
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 1, "Production", false).ok());
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 2, "Staging", false).ok());
  absl::StatusOr<std::vector<ModelVersion>> all = reg().GetLatestVersions("credit", {});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Versions(*all), ElementsAre(3, 2, 1));
  absl::StatusOr<std::vector<ModelVersion>> prod =
      reg().GetLatestVersions("credit", {"production", "Archived"});
  ASSERT_TRUE(prod.ok()) << prod.status();
  EXPECT_THAT(Versions(*prod), ElementsAre(1));
  EXPECT_EQ((*prod)[0].current_stage, "Production");
  EXPECT_EQ(reg().GetLatestVersions("credit", {"Bogus"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ===========================================================================
// Aliases

TEST_P(RegistryStoreConformanceTest, AliasesAppearOnTheModelAndTheirVersion) {
  CreateModel("credit");
  CreateVersion("credit");
  CreateVersion("credit");
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 1).ok());
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "baseline", 1).ok());
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "challenger", 2).ok());
  EXPECT_THAT(GetModel("credit").aliases, ElementsAre(RegisteredModelAlias{"baseline", 1},
                                                      RegisteredModelAlias{"challenger", 2},
                                                      RegisteredModelAlias{"champion", 1}));
  EXPECT_THAT(GetVersion("credit", 1).aliases, ElementsAre("baseline", "champion"));
  absl::StatusOr<ModelVersion> by_alias = reg().GetModelVersionByAlias("credit", "challenger");
  ASSERT_TRUE(by_alias.ok()) << by_alias.status();
  EXPECT_EQ(by_alias->version, 2);
  EXPECT_THAT(by_alias->aliases, ElementsAre("challenger"));
}

TEST_P(RegistryStoreConformanceTest, SettingAnExistingAliasMovesIt) {
  CreateModel("credit");
  CreateVersion("credit");
  CreateVersion("credit");
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 1).ok());
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 2).ok());
  EXPECT_EQ(reg().GetModelVersionByAlias("credit", "champion")->version, 2);
  EXPECT_THAT(GetVersion("credit", 1).aliases, IsEmpty());
  EXPECT_THAT(GetVersion("credit", 2).aliases, ElementsAre("champion"));
  EXPECT_THAT(GetModel("credit").aliases, ElementsAre(RegisteredModelAlias{"champion", 2}));
}

TEST_P(RegistryStoreConformanceTest, DeleteAliasAndMissingAliases) {
  CreateModel("credit");
  CreateVersion("credit");
  CreateModel("other");
  CreateVersion("other");
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 1).ok());
  ASSERT_TRUE(reg().SetRegisteredModelAlias("other", "champion", 1).ok());
  ASSERT_TRUE(reg().DeleteRegisteredModelAlias("credit", "champion").ok());
  ExpectError(reg().GetModelVersionByAlias("credit", "champion").status(),
              absl::StatusCode::kNotFound, "Registered model alias champion not found.");
  EXPECT_THAT(GetModel("credit").aliases, IsEmpty());
  // Aliases are per model.
  EXPECT_EQ(reg().GetModelVersionByAlias("other", "champion")->name, "other");
  // Deleting an alias that is not set is not an error (MLflow).
  EXPECT_TRUE(reg().DeleteRegisteredModelAlias("credit", "champion").ok());
  ExpectError(reg().GetModelVersionByAlias("ghost", "x").status(), absl::StatusCode::kNotFound,
              "Registered model alias x not found.");
}

// ===========================================================================
// Searching registered models

TEST_P(RegistryStoreConformanceTest, SearchModelsDefaultsToNameAscending) {
  for (const char* name : {"delta", "Alpha", "charlie", "bravo"}) CreateModel(name);
  EXPECT_THAT(ModelNames(ModelQuery()), ElementsAre("Alpha", "bravo", "charlie", "delta"));
}

TEST_P(RegistryStoreConformanceTest, SearchModelsByName) {
  for (const char* name : {"credit", "credit-eu", "Credit-US", "fraud", "cred_it"}) {
    CreateModel(name);
  }
  EXPECT_THAT(ModelNames(ModelQuery({Attr("name", Comparator::kEq, std::string("credit"))})),
              ElementsAre("credit"));
  EXPECT_THAT(ModelNames(ModelQuery({Attr("name", Comparator::kNe, std::string("credit"))})),
              ElementsAre("Credit-US", "cred_it", "credit-eu", "fraud"));
  // LIKE is case-sensitive; '_' matches one character.
  EXPECT_THAT(ModelNames(ModelQuery({Attr("name", Comparator::kLike, std::string("cred%"))})),
              ElementsAre("cred_it", "credit", "credit-eu"));
  EXPECT_THAT(ModelNames(ModelQuery({Attr("name", Comparator::kLike, std::string("cred_t"))})),
              ElementsAre("credit"));
  EXPECT_THAT(ModelNames(ModelQuery({Attr("name", Comparator::kLike, std::string("_redit%"))})),
              ElementsAre("Credit-US", "credit", "credit-eu"));
  EXPECT_THAT(ModelNames(ModelQuery({Attr("name", Comparator::kILike, std::string("CRED%"))})),
              ElementsAre("Credit-US", "cred_it", "credit", "credit-eu"));
}

TEST_P(RegistryStoreConformanceTest, SearchModelsByTags) {
  CreateModel("a", {{"team", "risk"}, {"tier", "1"}});
  CreateModel("b", {{"team", "fraud"}, {"tier", "1"}});
  CreateModel("c", {{"team", "Risk-ops"}});
  CreateModel("d");
  EXPECT_THAT(ModelNames(ModelQuery({TagC("team", Comparator::kEq, "risk")})), ElementsAre("a"));
  // != needs the tag to be present, as in MLflow.
  EXPECT_THAT(ModelNames(ModelQuery({TagC("team", Comparator::kNe, "risk")})),
              ElementsAre("b", "c"));
  EXPECT_THAT(ModelNames(ModelQuery({TagC("team", Comparator::kILike, "risk%")})),
              ElementsAre("a", "c"));
  EXPECT_THAT(ModelNames(ModelQuery({TagC("team", Comparator::kLike, "risk%")})), ElementsAre("a"));
  EXPECT_THAT(ModelNames(ModelQuery(
                  {TagC("tier", Comparator::kEq, "1"), TagC("team", Comparator::kNe, "risk")})),
              ElementsAre("b"));
  EXPECT_THAT(ModelNames(ModelQuery({TagC("tier", Comparator::kEq, "1"),
                                     Attr("name", Comparator::kLike, std::string("%a"))})),
              ElementsAre("a"));
  EXPECT_THAT(ModelNames(ModelQuery({TagC("nope", Comparator::kNe, "x")})), IsEmpty());
}

TEST_P(RegistryStoreConformanceTest, SearchModelsOrderByTimestamps) {
  CreateModel("b");
  clock_.AdvanceMillis(10);
  CreateModel("a");
  clock_.AdvanceMillis(10);
  CreateModel("c");
  clock_.AdvanceMillis(10);
  ASSERT_TRUE(reg().UpdateRegisteredModel("b", "touched").ok());
  EXPECT_THAT(ModelNames(ModelQuery({}, {By("creation_timestamp", false)})),
              ElementsAre("c", "a", "b"));
  EXPECT_THAT(ModelNames(ModelQuery({}, {By("creation_timestamp", true)})),
              ElementsAre("b", "a", "c"));
  EXPECT_THAT(ModelNames(ModelQuery({}, {By("last_updated_timestamp", false)})),
              ElementsAre("b", "c", "a"));
  EXPECT_THAT(ModelNames(ModelQuery({}, {By("name", false)})), ElementsAre("c", "b", "a"));
  // Ties on a timestamp are broken by name ascending.
  CreateModel("e");
  CreateModel("d");
  EXPECT_THAT(ModelNames(ModelQuery({}, {By("creation_timestamp", false)})),
              ElementsAre("d", "e", "c", "a", "b"));
  EXPECT_EQ(
      reg().SearchRegisteredModels(ModelQuery({}, {By("version_number", true)})).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_P(RegistryStoreConformanceTest, SearchModelsPagesWithTokens) {
  std::vector<std::string> names;
  for (int i = 0; i < 7; ++i) {
    names.push_back(absl::StrCat("model-", i));
    CreateModel(names.back());
  }
  RegisteredModelQuery q = ModelQuery({}, {}, 3);
  absl::StatusOr<Page<RegisteredModel>> first = reg().SearchRegisteredModels(q);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->items.size(), 3u);
  EXPECT_FALSE(first->next_page_token.empty());
  EXPECT_EQ(AllModelNames(q), names);
  // An exact multiple of the page size ends without a token.
  RegisteredModelQuery seven = ModelQuery({}, {}, 7);
  EXPECT_TRUE(reg().SearchRegisteredModels(seven)->next_page_token.empty());

  RegisteredModelQuery bad = q;
  bad.page_token = "not-a-token";
  EXPECT_EQ(reg().SearchRegisteredModels(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reg().SearchRegisteredModels(ModelQuery({}, {}, 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(RegistryStoreConformanceTest, SearchModelsReturnsFullModels) {
  CreateModel("credit", {{"k", "v"}});
  CreateVersion("credit");
  CreateVersion("credit");
  ASSERT_TRUE(reg().TransitionModelVersionStage("credit", 1, "Production", false).ok());
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 1).ok());
  absl::StatusOr<Page<RegisteredModel>> page = reg().SearchRegisteredModels(ModelQuery());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 1u);
  const RegisteredModel& m = page->items[0];
  EXPECT_THAT(m.tags, ElementsAre(Tag{"k", "v"}));
  EXPECT_THAT(m.aliases, ElementsAre(RegisteredModelAlias{"champion", 1}));
  EXPECT_THAT(Versions(m.latest_versions), ElementsAre(2, 1));
  EXPECT_EQ(m.user_id, "alice");
}

TEST_P(RegistryStoreConformanceTest, SearchModelsRejectsUnsupportedKeys) {
  CreateModel("credit");
  for (const Comparison& c :
       {Attr("run_id", Comparator::kEq, std::string("x")),
        Comparison{KeyType::kMetric, "acc", Comparator::kGt, 1.0},
        Comparison{KeyType::kParam, "p", Comparator::kEq, std::string("x")}}) {
    EXPECT_EQ(reg().SearchRegisteredModels(ModelQuery({c})).status().code(),
              absl::StatusCode::kInvalidArgument)
        << c.key;
  }
}

// ===========================================================================
// Searching model versions

TEST_P(RegistryStoreConformanceTest, SearchVersionsDefaultsToNameThenNewestVersion) {
  CreateModel("b");
  CreateModel("a");
  CreateVersion("b");
  CreateVersion("a");
  CreateVersion("b");
  CreateVersion("a");
  CreateVersion("a");
  EXPECT_THAT(VersionKeys(VersionQuery()), ElementsAre("a/3", "a/2", "a/1", "b/2", "b/1"));
}

TEST_P(RegistryStoreConformanceTest, SearchVersionsByNameAndVersionNumber) {
  CreateModel("credit");
  CreateModel("credit-eu");
  for (int i = 0; i < 4; ++i) CreateVersion("credit");
  CreateVersion("credit-eu");
  EXPECT_THAT(VersionKeys(VersionQuery({Attr("name", Comparator::kEq, std::string("credit"))})),
              ElementsAre("credit/4", "credit/3", "credit/2", "credit/1"));
  EXPECT_THAT(VersionKeys(VersionQuery({Attr("name", Comparator::kEq, std::string("credit")),
                                        Attr("version_number", Comparator::kGt, 2.0)})),
              ElementsAre("credit/4", "credit/3"));
  EXPECT_THAT(VersionKeys(VersionQuery({Attr("version_number", Comparator::kEq, 1.0)})),
              ElementsAre("credit/1", "credit-eu/1"));
  EXPECT_THAT(VersionKeys(VersionQuery({Attr("name", Comparator::kLike, std::string("%-eu"))})),
              ElementsAre("credit-eu/1"));
  EXPECT_THAT(VersionKeys(VersionQuery({Attr("name", Comparator::kNe, std::string("credit")),
                                        Attr("version_number", Comparator::kLe, 1.0)})),
              ElementsAre("credit-eu/1"));
}

TEST_P(RegistryStoreConformanceTest, SearchVersionsByRunIdAndSource) {
  CreateModel("credit");
  CreateVersion("credit", "run-a", "s3://bucket/a/model");
  CreateVersion("credit", "run-b", "s3://bucket/b/model");
  CreateVersion("credit", "run-c", "runs:/run-c/model");
  EXPECT_THAT(VersionKeys(VersionQuery({Attr("run_id", Comparator::kEq, std::string("run-b"))})),
              ElementsAre("credit/2"));
  EXPECT_THAT(VersionKeys(VersionQuery({Attr("run_id", Comparator::kIn,
                                             std::vector<std::string>{"run-a", "run-c", "zz"})})),
              ElementsAre("credit/3", "credit/1"));
  EXPECT_THAT(
      VersionKeys(VersionQuery({Attr("source_path", Comparator::kLike, std::string("s3://%"))})),
      ElementsAre("credit/2", "credit/1"));
  EXPECT_THAT(VersionKeys(VersionQuery(
                  {Attr("source_path", Comparator::kEq, std::string("runs:/run-c/model"))})),
              ElementsAre("credit/3"));
}

TEST_P(RegistryStoreConformanceTest, SearchVersionsByTags) {
  CreateModel("credit");
  CreateVersion("credit", "", "", {{"quality", "gold"}, {"owner", "ann"}});
  CreateVersion("credit", "", "", {{"quality", "silver"}});
  CreateVersion("credit");
  EXPECT_THAT(VersionKeys(VersionQuery({TagC("quality", Comparator::kEq, "gold")})),
              ElementsAre("credit/1"));
  EXPECT_THAT(VersionKeys(VersionQuery({TagC("quality", Comparator::kNe, "gold")})),
              ElementsAre("credit/2"));
  EXPECT_THAT(VersionKeys(VersionQuery({TagC("quality", Comparator::kLike, "%l%")})),
              ElementsAre("credit/2", "credit/1"));
  EXPECT_THAT(VersionKeys(VersionQuery({TagC("quality", Comparator::kLike, "%l%"),
                                        TagC("owner", Comparator::kEq, "ann")})),
              ElementsAre("credit/1"));
}

TEST_P(RegistryStoreConformanceTest, SearchVersionsOrderAndPaging) {
  CreateModel("a");
  CreateModel("b");
  CreateVersion("b");  // t0
  clock_.AdvanceMillis(10);
  CreateVersion("a");  // t1
  clock_.AdvanceMillis(10);
  CreateVersion("b");  // t2
  clock_.AdvanceMillis(10);
  CreateVersion("a");  // t3
  EXPECT_THAT(VersionKeys(VersionQuery({}, {By("creation_timestamp", true)})),
              ElementsAre("b/1", "a/1", "b/2", "a/2"));
  EXPECT_THAT(VersionKeys(VersionQuery({}, {By("version_number", true)})),
              ElementsAre("a/1", "b/1", "a/2", "b/2"));
  EXPECT_THAT(VersionKeys(VersionQuery({}, {By("name", false)})),
              ElementsAre("b/2", "b/1", "a/2", "a/1"));
  clock_.AdvanceMillis(10);
  ASSERT_TRUE(reg().UpdateModelVersion("b", 1, "x").ok());
  EXPECT_THAT(VersionKeys(VersionQuery({}, {By("last_updated_timestamp", false)}, 2)),
              ElementsAre("b/1", "a/2"));
  EXPECT_THAT(AllVersionKeys(VersionQuery({}, {}, 3)), ElementsAre("a/2", "a/1", "b/2", "b/1"));
  EXPECT_EQ(reg().SearchModelVersions(VersionQuery({}, {By("run_id", true)})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reg().SearchModelVersions(VersionQuery({}, {}, 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(RegistryStoreConformanceTest, SearchVersionsReturnsTagsAndAliases) {
  CreateModel("credit");
  CreateVersion("credit", "r1", "", {{"k", "1"}});
  CreateVersion("credit", "r2", "", {{"k", "2"}});
  CreateVersion("credit", "r3");
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 2).ok());
  ASSERT_TRUE(reg().DeleteModelVersion("credit", 3).ok());
  absl::StatusOr<Page<ModelVersion>> page = reg().SearchModelVersions(VersionQuery());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].version, 2);
  EXPECT_THAT(page->items[0].tags, ElementsAre(Tag{"k", "2"}));
  EXPECT_THAT(page->items[0].aliases, ElementsAre("champion"));
  EXPECT_EQ(page->items[0].run_id, "r2");
  EXPECT_THAT(page->items[1].tags, ElementsAre(Tag{"k", "1"}));
  EXPECT_THAT(page->items[1].aliases, IsEmpty());
}

// ===========================================================================
// Promotion policies

TEST_P(RegistryStoreConformanceTest, PoliciesSetReplaceGetAndDelete) {
  CreateModel("credit");
  CreateModel("other");
  EXPECT_EQ(reg().GetPolicy("credit").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(reg().SetPolicy("credit", R"({"v":1})").ok());
  EXPECT_EQ(reg().GetPolicy("credit").value_or(""), R"({"v":1})");
  ASSERT_TRUE(reg().SetPolicy("credit", R"({"v":2})").ok());
  EXPECT_EQ(reg().GetPolicy("credit").value_or(""), R"({"v":2})");
  EXPECT_EQ(reg().GetPolicy("other").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(reg().DeletePolicy("credit").ok());
  EXPECT_EQ(reg().GetPolicy("credit").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(reg().DeletePolicy("credit").ok());
  const std::string missing = "Registered Model with name=ghost not found";
  ExpectError(reg().SetPolicy("ghost", "{}"), absl::StatusCode::kNotFound, missing);
  ExpectError(reg().GetPolicy("ghost").status(), absl::StatusCode::kNotFound, missing);
  ExpectError(reg().DeletePolicy("ghost"), absl::StatusCode::kNotFound, missing);
}

// ===========================================================================
// Approvals

TEST_P(RegistryStoreConformanceTest, AddApprovalAssignsIdAndTimestamp) {
  CreateModel("credit");
  CreateVersion("credit");
  clock_.AdvanceMillis(42);
  absl::StatusOr<Approval> first = reg().AddApproval(
      {.name = "credit", .version = 1, .target = "alias:champion", .user = "u1", .comment = "ok"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(first->id, 0);
  EXPECT_EQ(first->timestamp, clock_.NowMillis());
  EXPECT_EQ(first->comment, "ok");
  absl::StatusOr<Approval> second =
      reg().AddApproval({.name = "credit", .version = 1, .target = "alias:champion", .user = "u2"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(second->id, first->id);
  // Given ids and timestamps are kept.
  absl::StatusOr<Approval> given = reg().AddApproval({.id = 100,
                                                      .name = "credit",
                                                      .version = 1,
                                                      .target = "stage:Production",
                                                      .user = "u3",
                                                      .timestamp = 7});
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(given->id, 100);
  EXPECT_EQ(given->timestamp, 7);
  EXPECT_EQ(
      reg()
          .AddApproval({.id = 100, .name = "credit", .version = 1, .target = "x", .user = "u"})
          .status()
          .code(),
      absl::StatusCode::kAlreadyExists);
  ExpectError(
      reg().AddApproval({.name = "credit", .version = 5, .target = "x", .user = "u"}).status(),
      absl::StatusCode::kNotFound, "Model Version (name=credit, version=5) not found");
}

TEST_P(RegistryStoreConformanceTest, ListApprovalsByModelAndVersion) {
  CreateModel("credit");
  CreateVersion("credit");
  CreateVersion("credit");
  CreateModel("other");
  CreateVersion("other");
  for (const auto& [version, user] :
       std::vector<std::pair<int64_t, std::string>>{{2, "a"}, {1, "b"}, {2, "c"}}) {
    ASSERT_TRUE(
        reg()
            .AddApproval(
                {.name = "credit", .version = version, .target = "stage:Staging", .user = user})
            .ok());
  }
  // The same user twice is kept: the governance layer counts once per user.
  ASSERT_TRUE(
      reg()
          .AddApproval({.name = "credit", .version = 2, .target = "stage:Staging", .user = "a"})
          .ok());
  ASSERT_TRUE(
      reg()
          .AddApproval({.name = "other", .version = 1, .target = "stage:Staging", .user = "z"})
          .ok());
  absl::StatusOr<std::vector<Approval>> all = reg().ListApprovals("credit", std::nullopt);
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> users;
  for (const Approval& a : *all) users.push_back(a.user);
  EXPECT_THAT(users, ElementsAre("a", "b", "c", "a"));
  absl::StatusOr<std::vector<Approval>> v2 = reg().ListApprovals("credit", 2);
  ASSERT_TRUE(v2.ok()) << v2.status();
  ASSERT_EQ(v2->size(), 3u);
  for (const Approval& a : *v2) {
    EXPECT_EQ(a.version, 2);
    EXPECT_EQ(a.target, "stage:Staging");
  }
  EXPECT_TRUE(std::is_sorted(v2->begin(), v2->end(),
                             [](const Approval& x, const Approval& y) { return x.id < y.id; }));
  EXPECT_THAT(*reg().ListApprovals("credit", 9), IsEmpty());
  ExpectError(reg().ListApprovals("ghost", std::nullopt).status(), absl::StatusCode::kNotFound,
              "Registered Model with name=ghost not found");
}

TEST_P(RegistryStoreConformanceTest, ApprovalsGoWithTheirVersion) {
  CreateModel("credit");
  CreateVersion("credit");
  CreateVersion("credit");
  ASSERT_TRUE(
      reg()
          .AddApproval({.name = "credit", .version = 1, .target = "stage:Staging", .user = "a"})
          .ok());
  ASSERT_TRUE(
      reg()
          .AddApproval({.name = "credit", .version = 2, .target = "stage:Staging", .user = "b"})
          .ok());
  ASSERT_TRUE(reg().DeleteModelVersion("credit", 1).ok());
  absl::StatusOr<std::vector<Approval>> left = reg().ListApprovals("credit", std::nullopt);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].user, "b");
}

// ===========================================================================
// Audit log

TEST_P(RegistryStoreConformanceTest, AppendAuditChainsSeqAndHashes) {
  AuditEntry e1 = Append("credit", "registered_model.create");
  AuditEntry e2 = Append("credit/1", "model_version.create");
  AuditEntry e3 = Append("credit@champion", "alias.set");
  EXPECT_EQ(e1.seq, 1);
  EXPECT_EQ(e2.seq, 2);
  EXPECT_EQ(e3.seq, 3);
  EXPECT_EQ(e1.prev_hash, "");
  EXPECT_EQ(e2.prev_hash, e1.hash);
  EXPECT_EQ(e3.prev_hash, e2.hash);
  EXPECT_EQ(e1.hash, TestAuditHash(e1));
  EXPECT_EQ(e3.hash, TestAuditHash(e3));
  EXPECT_NE(e1.hash, e2.hash);

  absl::StatusOr<std::vector<AuditEntry>> stored = reg().ListAudit("", 0);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->size(), 3u);
  const AuditEntry& s2 = (*stored)[1];
  EXPECT_EQ(s2.seq, 2);
  EXPECT_EQ(s2.timestamp, e2.timestamp);
  EXPECT_EQ(s2.actor, "alice");
  EXPECT_EQ(s2.action, "model_version.create");
  EXPECT_EQ(s2.object_type, "registered_model");
  EXPECT_EQ(s2.object_id, "credit/1");
  EXPECT_EQ(s2.before_json, "");
  EXPECT_EQ(s2.after_json, R"({"name":"credit/1"})");
  EXPECT_EQ(s2.request_id, "req-credit/1");
  EXPECT_EQ(s2.prev_hash, e1.hash);
  EXPECT_EQ(s2.hash, e2.hash);
  // Every stored entry verifies against the hasher.
  for (const AuditEntry& e : *stored) EXPECT_EQ(e.hash, TestAuditHash(e)) << e.seq;
}

TEST_P(RegistryStoreConformanceTest, AppendAuditIgnoresCallerSeqAndFillsTimestamp) {
  clock_.AdvanceMillis(1234);
  AuditEntry e;
  e.seq = 99;
  e.prev_hash = "forged";
  e.hash = "forged";
  e.actor = "bob";
  e.action = "experiment.create";
  e.object_type = "experiment";
  e.object_id = "7";
  absl::StatusOr<AuditEntry> appended = reg().AppendAudit(e, &TestAuditHash);
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->seq, 1);
  EXPECT_EQ(appended->prev_hash, "");
  EXPECT_EQ(appended->timestamp, clock_.NowMillis());
  EXPECT_EQ(appended->hash, TestAuditHash(*appended));
  EXPECT_EQ(reg().AppendAudit(e, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reg().ListAudit("", -1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(RegistryStoreConformanceTest, AuditHeadFollowsTheLastAppend) {
  absl::StatusOr<std::pair<int64_t, std::string>> empty = reg().GetAuditHead();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->first, 0);
  EXPECT_EQ(empty->second, "");
  Append("a");
  AuditEntry last = Append("b");
  absl::StatusOr<std::pair<int64_t, std::string>> head = reg().GetAuditHead();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->first, 2);
  EXPECT_EQ(head->second, last.hash);
}

TEST_P(RegistryStoreConformanceTest, ListAuditMatchesObjectAndItsChildren) {
  for (const char* id : {"credit", "credit/3", "credit2", "credit@champion", "cred", "creditx/1",
                         "other/1", "credit/12", "credit-eu@x", "Credit"}) {
    Append(id);
  }
  auto ids = [&](const std::string& object_id, int64_t limit) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<AuditEntry>> entries = reg().ListAudit(object_id, limit);
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok()) return out;
    for (const AuditEntry& e : *entries) out.push_back(e.object_id);
    return out;
  };
  EXPECT_THAT(ids("credit", 0), ElementsAre("credit", "credit/3", "credit@champion", "credit/12"));
  EXPECT_THAT(ids("credit/3", 0), ElementsAre("credit/3"));
  EXPECT_THAT(ids("cred", 0), ElementsAre("cred"));
  EXPECT_THAT(ids("other", 0), ElementsAre("other/1"));
  EXPECT_THAT(ids("nothing", 0), IsEmpty());
  EXPECT_EQ(ids("", 0).size(), 10u);
}

TEST_P(RegistryStoreConformanceTest, ListAuditLimitKeepsTheNewestInSeqOrder) {
  for (int i = 0; i < 6; ++i) Append(i % 2 == 0 ? "credit" : "other");
  absl::StatusOr<std::vector<AuditEntry>> last_two = reg().ListAudit("", 2);
  ASSERT_TRUE(last_two.ok()) << last_two.status();
  ASSERT_EQ(last_two->size(), 2u);
  EXPECT_EQ((*last_two)[0].seq, 5);
  EXPECT_EQ((*last_two)[1].seq, 6);
  absl::StatusOr<std::vector<AuditEntry>> credit = reg().ListAudit("credit", 2);
  ASSERT_TRUE(credit.ok()) << credit.status();
  ASSERT_EQ(credit->size(), 2u);
  EXPECT_EQ((*credit)[0].seq, 3);
  EXPECT_EQ((*credit)[1].seq, 5);
  EXPECT_EQ(reg().ListAudit("", 100)->size(), 6u);
}

TEST_P(RegistryStoreConformanceTest, ConcurrentAppendsKeepAGapFreeChain) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> seqs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        AuditEntry e;
        e.timestamp = 1;
        e.actor = absl::StrCat("thread-", t);
        e.action = "test.concurrent";
        e.object_type = "run";
        e.object_id = absl::StrCat(t, "/", i);
        absl::StatusOr<AuditEntry> appended = reg().AppendAudit(e, &TestAuditHash);
        if (appended.ok()) seqs[t].push_back(appended->seq);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<int64_t> all;
  for (const auto& s : seqs) {
    EXPECT_EQ(s.size(), static_cast<size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    all.insert(s.begin(), s.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));

  absl::StatusOr<std::vector<AuditEntry>> stored = reg().ListAudit("", 0);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->size(), static_cast<size_t>(kThreads * kPerThread));
  std::string prev;
  for (size_t i = 0; i < stored->size(); ++i) {
    const AuditEntry& e = (*stored)[i];
    EXPECT_EQ(e.seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(e.prev_hash, prev) << e.seq;
    EXPECT_EQ(e.hash, TestAuditHash(e)) << e.seq;
    prev = e.hash;
  }
  absl::StatusOr<std::pair<int64_t, std::string>> head = reg().GetAuditHead();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->first, kThreads * kPerThread);
  EXPECT_EQ(head->second, prev);
}

// ===========================================================================
// Persistence

TEST_P(RegistryStoreConformanceTest, RegistrySurvivesReopen) {
  if (!GetParam().reopen) GTEST_SKIP() << "storage does not outlive the store";
  CreateModel("credit", {{"k", "v"}});
  CreateVersion("credit", "r1");
  CreateVersion("credit", "r2");
  ASSERT_TRUE(reg().DeleteModelVersion("credit", 2).ok());
  ASSERT_TRUE(reg().SetRegisteredModelAlias("credit", "champion", 1).ok());
  ASSERT_TRUE(reg().SetPolicy("credit", "{}").ok());
  Append("credit");
  AuditEntry last = Append("credit/1");
  store_.reset();
  store_ = GetParam().reopen(&clock_);
  ASSERT_NE(store_, nullptr);
  RegisteredModel m = GetModel("credit");
  EXPECT_THAT(m.tags, ElementsAre(Tag{"k", "v"}));
  EXPECT_THAT(m.aliases, ElementsAre(RegisteredModelAlias{"champion", 1}));
  EXPECT_EQ(reg().GetPolicy("credit").value_or(""), "{}");
  // Numbering continues past the deleted version.
  EXPECT_EQ(CreateVersion("credit").version, 3);
  absl::StatusOr<std::pair<int64_t, std::string>> head = reg().GetAuditHead();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->first, 2);
  EXPECT_EQ(head->second, last.hash);
  EXPECT_EQ(Append("x").prev_hash, last.hash);
}

}  // namespace ferry::store::conformance
