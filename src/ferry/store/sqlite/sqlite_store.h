#ifndef FERRY_STORE_SQLITE_SQLITE_STORE_H_
#define FERRY_STORE_SQLITE_SQLITE_STORE_H_

// MetadataStore on SQLite (the sqlite3 C API, no ORM).
//
// Concurrency: one writer connection behind a mutex serialises every write
// (each in a BEGIN IMMEDIATE transaction), and a small pool of reader
// connections serves reads concurrently; WAL lets readers proceed while the
// writer commits. Inside one process callers therefore never meet
// SQLITE_BUSY. Other processes on the same file are waited for up to
// `busy_timeout_ms`.
//
// An in-memory database (path ":memory:") is private to one connection, so
// the store then uses its single connection for reads as well, behind the
// same mutex.
//
// The same object is the RegistryStore (registry()): the model registry and
// governance tables live in the same database and share its connections,
// so a registry write and a tracking write never wait on each other's
// locks beyond the one writer mutex. Registry methods are implemented in
// sqlite_registry_store.cc.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/common/clock.h"
#include "ferry/store/metadata_store.h"
#include "ferry/store/registry_store.h"

namespace ferry::store {

namespace sqlite_internal {
class Connection;
}

struct SqliteStoreOptions {
  // Filesystem path of the database file, or ":memory:". Parent directories
  // are created. Required.
  std::string path;
  Clock* clock = Clock::Real();  // not owned; must outlive the store
  // See StoreOptions::default_artifact_root.
  std::string default_artifact_root = "mlflow-artifacts:/{experiment_id}";
  // Reader connections (file databases only). Default 4.
  int reader_connections = 4;
  // How long to wait for a lock held by another process. Default 30 s.
  int busy_timeout_ms = 30'000;
};

class SqliteStore : public MetadataStore, public RegistryStore {
 public:
  // Opens or creates the database, applies migrations and creates experiment
  // "0" ("Default") if the database has no experiment yet.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Create(const SqliteStoreOptions& options);
  ~SqliteStore() override;

  absl::StatusOr<std::string> CreateExperiment(std::string_view name,
                                               std::string_view artifact_location,
                                               const std::vector<Tag>& tags) override;
  absl::StatusOr<Experiment> GetExperiment(std::string_view experiment_id) override;
  absl::StatusOr<Experiment> GetExperimentByName(std::string_view name) override;
  absl::StatusOr<Page<Experiment>> SearchExperiments(const ExperimentQuery& query) override;
  absl::Status RenameExperiment(std::string_view experiment_id, std::string_view new_name) override;
  absl::Status DeleteExperiment(std::string_view experiment_id) override;
  absl::Status RestoreExperiment(std::string_view experiment_id) override;
  absl::Status SetExperimentTag(std::string_view experiment_id, const Tag& tag) override;
  absl::Status DeleteExperimentTag(std::string_view experiment_id, std::string_view key) override;

  absl::StatusOr<Run> CreateRun(const NewRun& run) override;
  absl::StatusOr<Run> GetRun(std::string_view run_id) override;
  absl::StatusOr<RunInfo> UpdateRun(std::string_view run_id, const RunUpdate& update) override;
  absl::Status DeleteRun(std::string_view run_id) override;
  absl::Status RestoreRun(std::string_view run_id) override;
  absl::Status LogBatch(std::string_view run_id, const std::vector<Metric>& metrics,
                        const std::vector<Param>& params, const std::vector<Tag>& tags) override;
  absl::Status DeleteTag(std::string_view run_id, std::string_view key) override;
  absl::Status LogInputs(std::string_view run_id, const std::vector<DatasetInput>& datasets,
                         const std::vector<ModelInput>& models) override;
  absl::Status LogOutputs(std::string_view run_id, const std::vector<ModelOutput>& models) override;
  absl::StatusOr<Page<Run>> SearchRuns(const RunQuery& query) override;

  absl::StatusOr<Page<Metric>> GetMetricHistory(std::string_view run_id, std::string_view key,
                                                int max_results,
                                                std::string_view page_token) override;
  absl::StatusOr<std::vector<Metric>> GetMetricHistoryBulkInterval(
      const std::vector<std::string>& run_ids, std::string_view key,
      std::optional<int64_t> start_step, std::optional<int64_t> end_step, int max_results) override;

  absl::StatusOr<LoggedModel> CreateLoggedModel(const LoggedModel& model) override;
  absl::StatusOr<LoggedModel> GetLoggedModel(std::string_view model_id) override;
  absl::StatusOr<LoggedModel> FinalizeLoggedModel(std::string_view model_id,
                                                  std::string_view status) override;
  absl::Status SetLoggedModelTags(std::string_view model_id, const std::vector<Tag>& tags) override;
  absl::Status DeleteLoggedModelTag(std::string_view model_id, std::string_view key) override;
  absl::Status LogLoggedModelParams(std::string_view model_id,
                                    const std::vector<Param>& params) override;
  absl::Status DeleteLoggedModel(std::string_view model_id) override;
  absl::StatusOr<Page<LoggedModel>> SearchLoggedModels(const LoggedModelQuery& query) override;

  // This object; see the class comment.
  RegistryStore* registry() override { return this; }

  // --- RegistryStore ---
  absl::StatusOr<RegisteredModel> CreateRegisteredModel(std::string_view name,
                                                        std::string_view description,
                                                        const std::vector<Tag>& tags,
                                                        std::string_view user_id) override;
  absl::StatusOr<RegisteredModel> GetRegisteredModel(std::string_view name) override;
  absl::StatusOr<RegisteredModel> RenameRegisteredModel(std::string_view name,
                                                        std::string_view new_name) override;
  absl::StatusOr<RegisteredModel> UpdateRegisteredModel(std::string_view name,
                                                        std::string_view description) override;
  absl::Status DeleteRegisteredModel(std::string_view name) override;
  absl::StatusOr<Page<RegisteredModel>> SearchRegisteredModels(
      const RegisteredModelQuery& query) override;
  absl::Status SetRegisteredModelTag(std::string_view name, const Tag& tag) override;
  absl::Status DeleteRegisteredModelTag(std::string_view name, std::string_view key) override;
  absl::StatusOr<std::vector<ModelVersion>> GetLatestVersions(
      std::string_view name, const std::vector<std::string>& stages) override;

  absl::Status SetRegisteredModelAlias(std::string_view name, std::string_view alias,
                                       int64_t version) override;
  absl::Status DeleteRegisteredModelAlias(std::string_view name, std::string_view alias) override;
  absl::StatusOr<ModelVersion> GetModelVersionByAlias(std::string_view name,
                                                      std::string_view alias) override;

  absl::StatusOr<ModelVersion> CreateModelVersion(const NewModelVersion& version) override;
  absl::StatusOr<ModelVersion> GetModelVersion(std::string_view name, int64_t version) override;
  absl::StatusOr<ModelVersion> UpdateModelVersion(std::string_view name, int64_t version,
                                                  std::string_view description) override;
  absl::Status DeleteModelVersion(std::string_view name, int64_t version) override;
  absl::StatusOr<Page<ModelVersion>> SearchModelVersions(const ModelVersionQuery& query) override;
  absl::StatusOr<ModelVersion> TransitionModelVersionStage(std::string_view name, int64_t version,
                                                           std::string_view stage,
                                                           bool archive_existing_versions) override;
  absl::Status SetModelVersionTag(std::string_view name, int64_t version, const Tag& tag) override;
  absl::Status DeleteModelVersionTag(std::string_view name, int64_t version,
                                     std::string_view key) override;

  absl::Status SetPolicy(std::string_view name, std::string_view policy_json) override;
  absl::StatusOr<std::string> GetPolicy(std::string_view name) override;
  absl::Status DeletePolicy(std::string_view name) override;

  absl::StatusOr<Approval> AddApproval(const Approval& approval) override;
  absl::StatusOr<std::vector<Approval>> ListApprovals(std::string_view name,
                                                      std::optional<int64_t> version) override;

  absl::StatusOr<AuditEntry> AppendAudit(AuditEntry entry, AuditHasher hasher) override;
  absl::StatusOr<std::vector<AuditEntry>> ListAudit(std::string_view object_id,
                                                    int64_t limit) override;
  absl::StatusOr<std::pair<int64_t, std::string>> GetAuditHead() override;

  // The query plan SQLite picks for the SearchRuns SQL of `query` (the rows
  // of EXPLAIN QUERY PLAN, one per line). For tests and benchmarks that
  // check the indexes are used.
  absl::StatusOr<std::string> ExplainSearchRuns(const RunQuery& query);

  // Refreshes the query planner's statistics (ANALYZE, bounded by
  // analysis_limit). The store also does this by itself each time the runs
  // table has doubled; exposed for benchmarks and tests.
  absl::Status Optimize();

 private:
  explicit SqliteStore(const SqliteStoreOptions& options);
  absl::Status Init();

  // Runs `fn` inside a read transaction on a reader connection.
  template <typename Fn>
  auto Read(Fn&& fn) -> decltype(fn(std::declval<sqlite_internal::Connection&>()));
  // Runs `fn` inside a BEGIN IMMEDIATE transaction on the writer connection;
  // commits if it returns OK, rolls back otherwise.
  template <typename Fn>
  auto Write(Fn&& fn) -> decltype(fn(std::declval<sqlite_internal::Connection&>()));

  sqlite_internal::Connection* AcquireReader();
  void ReleaseReader(sqlite_internal::Connection* conn);

  // Every kWritesBetweenAnalyzeChecks writes (or when `force_check`),
  // refreshes planner statistics if the runs table has grown enough.
  absl::Status MaybeAnalyzeLocked(bool force_check);
  absl::Status AnalyzeLocked();

  SqliteStoreOptions options_;
  bool in_memory_ = false;

  std::mutex writer_mu_;
  std::unique_ptr<sqlite_internal::Connection> writer_;  // guarded by writer_mu_
  int64_t writes_since_analyze_check_ = 0;               // guarded by writer_mu_
  int64_t analyzed_runs_ = 0;                            // guarded by writer_mu_

  std::vector<std::unique_ptr<sqlite_internal::Connection>> all_readers_;
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<sqlite_internal::Connection*> idle_readers_;  // guarded by readers_mu_
};

}  // namespace ferry::store

#endif  // FERRY_STORE_SQLITE_SQLITE_STORE_H_
