#include "ferry/store/sqlite/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ferry/common/clock.h"
#include "ferry/store/internal/page_token.h"
#include "ferry/store/metadata_store.h"
#include "ferry/store/sqlite/internal/like.h"
#include "ferry/store/sqlite/internal/schema.h"
#include "ferry/store/testing/conformance.h"
#include "ferry/store/testing/registry_conformance.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::store {
namespace {

using conformance::MetadataStoreConformanceTest;
using conformance::RegistryStoreConformanceTest;
using conformance::StoreFactory;
using ::testing::HasSubstr;

// A directory for this test process's databases, removed at exit.
const std::filesystem::path& TestDir() {
  struct Dir {
    std::filesystem::path path;
    Dir() {
      std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-store-test-XXXXXX");
      char* made = mkdtemp(tmpl.data());
      path = made != nullptr ? std::filesystem::path(made) : std::filesystem::temp_directory_path();
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Dir dir;
  return dir.path;
}

std::string NewDbPath() {
  static std::atomic<int> counter{0};
  return (TestDir() / absl::StrCat("db-", counter++, "/ferry.db")).string();
}

std::unique_ptr<MetadataStore> OpenSqlite(const std::string& path, Clock* clock) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Create(
      {.path = path, .clock = clock, .default_artifact_root = conformance::kArtifactRoot});
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return nullptr;
  return std::move(*store);
}

StoreFactory FileFactory() {
  auto path = std::make_shared<std::string>();
  return StoreFactory{
      .name = "File",
      .create =
          [path](Clock* clock) {
            *path = NewDbPath();
            return OpenSqlite(*path, clock);
          },
      .reopen = [path](Clock* clock) { return OpenSqlite(*path, clock); },
  };
}

StoreFactory MemoryFactory() {
  return StoreFactory{
      .name = "Memory",
      .create = [](Clock* clock) { return OpenSqlite(":memory:", clock); },
      .reopen = nullptr,
  };
}

INSTANTIATE_TEST_SUITE_P(Sqlite, MetadataStoreConformanceTest,
                         ::testing::Values(FileFactory(), MemoryFactory()),
                         conformance::FactoryName);
INSTANTIATE_TEST_SUITE_P(Sqlite, RegistryStoreConformanceTest,
                         ::testing::Values(FileFactory(), MemoryFactory()),
                         conformance::RegistryFactoryName);

// ===========================================================================
// SQLite specifics

TEST(OpenMetadataStoreTest, AcceptsSqlAlchemyStyleUris) {
  FakeClock clock;
  for (const std::string uri : {"sqlite:///:memory:", "sqlite://"}) {
    absl::StatusOr<std::unique_ptr<MetadataStore>> store =
        OpenMetadataStore({.uri = uri, .clock = &clock});
    ASSERT_TRUE(store.ok()) << uri << ": " << store.status();
    EXPECT_TRUE((*store)->GetExperiment("0").ok());
  }
  // Four slashes: an absolute path; missing parent directories are created.
  std::filesystem::path nested = TestDir() / "uri" / "a" / "b" / "ferry.db";
  absl::StatusOr<std::unique_ptr<MetadataStore>> store =
      OpenMetadataStore({.uri = "sqlite:///" + nested.string(), .clock = &clock});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE(std::filesystem::exists(nested));
  EXPECT_EQ((*store)->GetExperiment("0")->artifact_location, "mlflow-artifacts:/0");
}

TEST(OpenMetadataStoreTest, RejectsUnknownSchemesAndMalformedUris) {
  FakeClock clock;
  for (const std::string uri : {"postgresql://localhost/ferry", "mysql://x", "/just/a/path",
                                "sqlite://somehost/ferry.db", "sqlite:///", ""}) {
    absl::StatusOr<std::unique_ptr<MetadataStore>> store =
        OpenMetadataStore({.uri = uri, .clock = &clock});
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument) << uri;
  }
}

TEST(SqliteStoreTest, UsesWalAndRecordsSchemaVersion) {
  FakeClock clock;
  const std::string path = NewDbPath();
  ASSERT_NE(OpenSqlite(path, &clock), nullptr);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  };
  EXPECT_EQ(scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar("SELECT max(version) FROM schema_version"),
            std::to_string(sqlite_internal::LatestSchemaVersion()));
  EXPECT_EQ(scalar("SELECT name FROM experiments WHERE experiment_id = 0"), "Default");
  // Reopening applies nothing twice and keeps one default experiment.
  ASSERT_NE(OpenSqlite(path, &clock), nullptr);
  EXPECT_EQ(scalar("SELECT count(*) FROM schema_version"),
            std::to_string(sqlite_internal::LatestSchemaVersion()));
  EXPECT_EQ(scalar("SELECT count(*) FROM experiments"), "1");
  sqlite3_close(db);
}

TEST(SqliteStoreTest, RefusesADatabaseFromANewerVersion) {
  FakeClock clock;
  const std::string path = NewDbPath();
  ASSERT_NE(OpenSqlite(path, &clock), nullptr);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version VALUES (999)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Create({.path = path, .clock = &clock});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("999"));
}

TEST(SqliteStoreTest, TwoStoresOnOneFileNeverSeeLocked) {
  FakeClock clock;
  const std::string path = NewDbPath();
  std::unique_ptr<MetadataStore> a = OpenSqlite(path, &clock);
  std::unique_ptr<MetadataStore> b = OpenSqlite(path, &clock);
  ASSERT_TRUE(a && b);
  NewRun nr;
  nr.experiment_id = "0";
  absl::StatusOr<store::Run> run = a->CreateRun(nr);
  ASSERT_TRUE(run.ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      MetadataStore* store = t % 2 == 0 ? a.get() : b.get();
      for (int i = 0; i < 50; ++i) {
        Metric m;
        m.key = absl::StrCat("t", t);
        m.value = i;
        m.step = i;
        absl::Status s = store->LogBatch(run->info.run_id, {m}, {}, {});
        if (!s.ok()) {
          ADD_FAILURE() << s;
          ++failures;
        }
        if (!store->GetRun(run->info.run_id).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(b->GetMetricHistory(run->info.run_id, "t0", 0, "")->items.size(), 50u);
}

// A committed write survives the process being killed without closing the
// database (WAL with synchronous=NORMAL).
TEST(SqliteStoreTest, CommittedWritesSurviveKillMinus9) {
  const std::string path = NewDbPath();
  std::string run_id;
  {
    FakeClock clock;
    std::unique_ptr<MetadataStore> store = OpenSqlite(path, &clock);
    ASSERT_NE(store, nullptr);
    NewRun nr;
    nr.experiment_id = "0";
    absl::StatusOr<store::Run> run = store->CreateRun(nr);
    ASSERT_TRUE(run.ok());
    run_id = run->info.run_id;
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    FakeClock clock;
    absl::StatusOr<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Create({.path = path, .clock = &clock});
    if (!store.ok()) _exit(2);
    Metric m;
    m.key = "before-kill";
    m.value = 42;
    if (!(*store)->LogBatch(run_id, {m}, {{"p", "v"}}, {}).ok()) _exit(3);
    raise(SIGKILL);  // no destructors, no checkpoint, no close
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  FakeClock clock;
  std::unique_ptr<MetadataStore> store = OpenSqlite(path, &clock);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<store::Run> run = store->GetRun(run_id);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->metrics.size(), 1u);
  EXPECT_EQ(run->metrics[0].value, 42);
  EXPECT_EQ(run->params.size(), 1u);
}

TEST(SqliteStoreTest, SearchPlanDrivesFromIndexes) {
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Create({.path = NewDbPath(), .clock = &clock});
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 300; ++i) {
    NewRun nr;
    nr.experiment_id = "0";
    nr.start_time = i;
    absl::StatusOr<store::Run> run = (*store)->CreateRun(nr);
    ASSERT_TRUE(run.ok());
    Metric x;
    x.key = "x";
    x.value = i / 300.0;
    Metric z = x;
    z.key = "z";
    ASSERT_TRUE((*store)
                    ->LogBatch(run->info.run_id, {x, z},
                               {{"y", absl::StrCat("v", i % 5)}, {"w", "1"}}, {{"t", "1"}})
                    .ok());
  }
  ASSERT_TRUE((*store)->Optimize().ok());
  RunQuery q;
  q.experiment_ids = {"0"};
  q.filter.clauses = {{search::KeyType::kMetric, "x", search::Comparator::kGt, 0.5},
                      {search::KeyType::kParam, "y", search::Comparator::kEq, std::string("v1")}};
  q.order_by = {{search::KeyType::kMetric, "x", false}};
  q.max_results = 100;
  absl::StatusOr<std::string> plan = (*store)->ExplainSearchRuns(q);
  ASSERT_TRUE(plan.ok()) << plan.status();
  // Every table is reached through an index: no full scan of any table.
  EXPECT_THAT(*plan, ::testing::Not(::testing::ContainsRegex("SCAN [a-z]+\\s*$|SCAN [a-z0-9]+\n")))
      << *plan;
  EXPECT_THAT(*plan, ::testing::ContainsRegex("latest_metrics_by_key_value|params_by_key_value"))
      << *plan;
  // The result is right, too.
  absl::StatusOr<Page<store::Run>> page = (*store)->SearchRuns(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 30u);  // i in (150, 300) with i % 5 == 1
  for (size_t i = 1; i < page->items.size(); ++i) {
    EXPECT_GE(page->items[i - 1].metrics[0].value, page->items[i].metrics[0].value);
  }
}

// ===========================================================================
// Registry: what only a look at the file can check

// Runs `sql` on its own connection to `path`; returns the first column of
// every row, one per line.
std::string RawSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::string out;
  sqlite3_stmt* stmt = nullptr;
  const char* tail = sql.c_str();
  while (tail != nullptr && *tail != '\0') {
    if (sqlite3_prepare_v2(db, tail, -1, &stmt, &tail) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db) << " in " << sql;
      break;
    }
    if (stmt == nullptr) break;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      absl::StrAppend(&out, text != nullptr ? reinterpret_cast<const char*>(text) : "NULL", "\n");
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

AuditEntry AuditFor(const std::string& object_id) {
  AuditEntry e;
  e.timestamp = 1;
  e.actor = "alice";
  e.action = "test";
  e.object_type = "registered_model";
  e.object_id = object_id;
  return e;
}

TEST(SqliteRegistryTest, TruncatedAuditTailStaysVisibleAsAGap) {
  FakeClock clock;
  const std::string path = NewDbPath();
  std::unique_ptr<MetadataStore> store = OpenSqlite(path, &clock);
  ASSERT_NE(store, nullptr);
  RegistryStore* reg = store->registry();
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_TRUE(reg->AppendAudit(AuditFor(id), &conformance::TestAuditHash).ok());
  }
  const std::string hash3 = reg->GetAuditHead()->second;
  RawSql(path, "DELETE FROM audit_log WHERE seq = 3");
  // The head still names entry 3, so a verifier sees the truncation...
  EXPECT_EQ(reg->GetAuditHead()->first, 3);
  EXPECT_EQ(reg->ListAudit("", 0)->size(), 2u);
  // ...and the next append continues from the head, leaving the gap.
  absl::StatusOr<AuditEntry> next = reg->AppendAudit(AuditFor("d"), &conformance::TestAuditHash);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->seq, 4);
  EXPECT_EQ(next->prev_hash, hash3);
  absl::StatusOr<std::vector<AuditEntry>> entries = reg->ListAudit("", 0);
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<int64_t> seqs;
  for (const AuditEntry& e : *entries) seqs.push_back(e.seq);
  EXPECT_THAT(seqs, ::testing::ElementsAre(1, 2, 4));
}

TEST(SqliteRegistryTest, AuditHeadBehindTheLogRefusesToAppend) {
  FakeClock clock;
  const std::string path = NewDbPath();
  std::unique_ptr<MetadataStore> store = OpenSqlite(path, &clock);
  ASSERT_NE(store, nullptr);
  RegistryStore* reg = store->registry();
  ASSERT_TRUE(reg->AppendAudit(AuditFor("a"), &conformance::TestAuditHash).ok());
  ASSERT_TRUE(reg->AppendAudit(AuditFor("b"), &conformance::TestAuditHash).ok());
  RawSql(path, "UPDATE audit_head SET seq = 1");
  absl::StatusOr<AuditEntry> next = reg->AppendAudit(AuditFor("c"), &conformance::TestAuditHash);
  EXPECT_EQ(next.status().code(), absl::StatusCode::kDataLoss) << next.status();
  EXPECT_EQ(RawSql(path, "SELECT count(*) FROM audit_log"), "2\n");
}

TEST(SqliteRegistryTest, EditedAuditRowsAreReturnedAsStored) {
  FakeClock clock;
  const std::string path = NewDbPath();
  std::unique_ptr<MetadataStore> store = OpenSqlite(path, &clock);
  ASSERT_NE(store, nullptr);
  RegistryStore* reg = store->registry();
  ASSERT_TRUE(reg->AppendAudit(AuditFor("a"), &conformance::TestAuditHash).ok());
  RawSql(path, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1");
  absl::StatusOr<std::vector<AuditEntry>> entries = reg->ListAudit("", 0);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].actor, "mallory");
  // The stored hash no longer matches: the governance verifier's job.
  EXPECT_NE((*entries)[0].hash, conformance::TestAuditHash((*entries)[0]));
}

TEST(SqliteRegistryTest, CascadesLeaveNoDanglingRows) {
  FakeClock clock;
  const std::string path = NewDbPath();
  std::unique_ptr<MetadataStore> store = OpenSqlite(path, &clock);
  ASSERT_NE(store, nullptr);
  RegistryStore* reg = store->registry();
  ASSERT_TRUE(reg->CreateRegisteredModel("m", "", {{"k", "v"}}, "").ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(reg->CreateModelVersion({.name = "m", .tags = {{"t", "1"}}}).ok());
  }
  ASSERT_TRUE(reg->SetRegisteredModelAlias("m", "champion", 2).ok());
  ASSERT_TRUE(reg->SetPolicy("m", "{}").ok());
  ASSERT_TRUE(reg->AddApproval({.name = "m", .version = 2, .target = "alias:x", .user = "u"}).ok());
  ASSERT_TRUE(reg->RenameRegisteredModel("m", "n").ok());
  EXPECT_EQ(RawSql(path, "PRAGMA foreign_key_check"), "");
  for (const char* table : {"model_versions", "model_version_tags", "registered_model_tags",
                            "registered_model_aliases", "registry_policies", "approvals"}) {
    EXPECT_EQ(RawSql(path, absl::StrCat("SELECT count(*) FROM ", table, " WHERE name = 'm'")),
              "0\n")
        << table;
  }
  ASSERT_TRUE(reg->DeleteRegisteredModel("n").ok());
  for (const char* table : {"model_versions", "model_version_tags", "registered_model_tags",
                            "registered_model_aliases", "registry_policies", "approvals"}) {
    EXPECT_EQ(RawSql(path, absl::StrCat("SELECT count(*) FROM ", table)), "0\n") << table;
  }
}

TEST(SqliteRegistryTest, UpgradesADatabaseWithoutRegistryTables) {
  FakeClock clock;
  const std::string path = NewDbPath();
  std::string experiment_id;
  {
    std::unique_ptr<MetadataStore> store = OpenSqlite(path, &clock);
    ASSERT_NE(store, nullptr);
    experiment_id = store->CreateExperiment("kept", "", {}).value_or("");
  }
  // Roll the file back to schema version 1, as a database from before the
  // registry existed.
  RawSql(path,
         "DROP TABLE audit_head; DROP TABLE audit_log; DROP TABLE approvals; "
         "DROP TABLE registry_policies; DROP TABLE registered_model_aliases; "
         "DROP TABLE model_version_tags; DROP TABLE model_versions; "
         "DROP TABLE registered_model_tags; DROP TABLE registered_models; "
         "DELETE FROM schema_version WHERE version > 1;");
  ASSERT_EQ(RawSql(path, "SELECT max(version) FROM schema_version"), "1\n");
  std::unique_ptr<MetadataStore> store = OpenSqlite(path, &clock);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->GetExperiment(experiment_id)->name, "kept");
  EXPECT_TRUE(store->registry()->CreateRegisteredModel("m", "", {}, "").ok());
  EXPECT_EQ(store->registry()->GetAuditHead()->first, 0);
  EXPECT_EQ(RawSql(path, "SELECT max(version) FROM schema_version"),
            absl::StrCat(sqlite_internal::LatestSchemaVersion(), "\n"));
}

// ===========================================================================
// Helpers

TEST(LikeMatchTest, MlflowLikeSemantics) {
  using sqlite_internal::CaseSensitivity;
  using sqlite_internal::LikeMatch;
  const auto kS = CaseSensitivity::kSensitive;
  const auto kI = CaseSensitivity::kInsensitive;
  EXPECT_TRUE(LikeMatch("abc", "abc", kS));
  EXPECT_FALSE(LikeMatch("abc", "ABC", kS));
  EXPECT_TRUE(LikeMatch("abc", "ABC", kI));
  EXPECT_TRUE(LikeMatch("abc", "a%", kS));
  EXPECT_TRUE(LikeMatch("abc", "%c", kS));
  EXPECT_TRUE(LikeMatch("abc", "%", kS));
  EXPECT_TRUE(LikeMatch("", "%", kS));
  EXPECT_FALSE(LikeMatch("", "_", kS));
  EXPECT_TRUE(LikeMatch("abc", "a_c", kS));
  EXPECT_FALSE(LikeMatch("abc", "a_", kS));
  EXPECT_TRUE(LikeMatch("aXbXc", "%X%X%", kS));
  EXPECT_TRUE(LikeMatch("mississippi", "%iss%ppi", kS));
  EXPECT_FALSE(LikeMatch("mississippi", "%iss%ppx", kS));
  EXPECT_TRUE(LikeMatch("a%b", "a%b", kS));
  // '_' is one character, not one byte.
  EXPECT_TRUE(LikeMatch("caf\xc3\xa9", "caf_", kS));
  EXPECT_FALSE(LikeMatch("caf\xc3\xa9", "caf__", kS));
  EXPECT_TRUE(LikeMatch("\xc3\xa9t\xc3\xa9", "%t_", kS));
}

TEST(PageTokenTest, RoundTripsAndRejectsForgeries) {
  EXPECT_EQ(*internal::DecodePageToken(""), 0);
  EXPECT_EQ(*internal::DecodePageToken(internal::EncodePageToken(0)), 0);
  EXPECT_EQ(*internal::DecodePageToken(internal::EncodePageToken(12345)), 12345);
  for (const std::string bad :
       {"%%%", "e30=" /* {} */, "WzFd" /* [1] */, "eyJvZmZzZXQiOjEuNX0=" /* {"offset":1.5} */}) {
    absl::StatusOr<int64_t> offset = internal::DecodePageToken(bad);
    EXPECT_EQ(offset.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(offset.status().message(), "Invalid page token");
  }
}

}  // namespace
}  // namespace ferry::store
