#ifndef FERRY_STORE_REGISTRY_STORE_H_
#define FERRY_STORE_REGISTRY_STORE_H_

// RegistryStore: durable storage of the model registry and its governance
// records (promotion policies, approvals, the hash-chained audit log). The
// same contract as MetadataStore applies: thread-safe, writes serialised and
// durable on return, atomic per call, MLflow-style messages:
//   NotFound:      "Registered Model with name=credit not found",
//                  "Model Version (name=credit, version=7) not found",
//                  "Registered model alias champion not found."
//   AlreadyExists: "Registered Model (name=credit) already exists."
// Validation of client input (name rules, lengths, stage names, and
// whether a version's source is allowed) is the registry service's job.
// As in MLflow, deleting a tag or alias that is not set is not an error
// (the model, or the version for version tags, must exist), stage names
// are accepted in any letter case and stored canonically, and an invalid
// stage is InvalidArgument ("Invalid Model Version stage: x. Value must be
// one of None, Staging, Production, Archived.").

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ferry/search/ast.h"
#include "ferry/store/registry_types.h"
#include "ferry/store/types.h"

namespace ferry::store {

struct RegisteredModelQuery {
  search::Filter filter;  // name (=, !=, LIKE, ILIKE), tags.<k>
  std::vector<search::OrderBy>
      order_by;  // name | creation_timestamp | last_updated_timestamp; default name ASC
  int max_results = 100;
  std::string page_token;
};

struct ModelVersionQuery {
  search::Filter filter;  // name, version_number, run_id (= , IN), source_path, tags.<k>
  // Default (and tie-break) name ASC, version_number DESC. (MLflow's SQL
  // store puts last_updated_timestamp DESC first when none is given.)
  std::vector<search::OrderBy> order_by;
  int max_results = 10000;
  std::string page_token;
};

struct NewModelVersion {
  std::string name;
  std::string source;
  std::string run_id;
  std::string run_link;
  std::string model_id;
  std::string description;
  std::string user_id;
  std::vector<Tag> tags;
};

class RegistryStore {
 public:
  virtual ~RegistryStore() = default;

  // --- registered models ---
  virtual absl::StatusOr<RegisteredModel> CreateRegisteredModel(std::string_view name,
                                                                std::string_view description,
                                                                const std::vector<Tag>& tags,
                                                                std::string_view user_id) = 0;
  virtual absl::StatusOr<RegisteredModel> GetRegisteredModel(std::string_view name) = 0;
  // Renames the model and every version; aliases and policies follow.
  virtual absl::StatusOr<RegisteredModel> RenameRegisteredModel(std::string_view name,
                                                                std::string_view new_name) = 0;
  virtual absl::StatusOr<RegisteredModel> UpdateRegisteredModel(std::string_view name,
                                                                std::string_view description) = 0;
  // Deletes the model with its versions, tags, aliases (policy and
  // approvals too; the audit log keeps its history).
  virtual absl::Status DeleteRegisteredModel(std::string_view name) = 0;
  virtual absl::StatusOr<Page<RegisteredModel>> SearchRegisteredModels(
      const RegisteredModelQuery& query) = 0;
  virtual absl::Status SetRegisteredModelTag(std::string_view name, const Tag& tag) = 0;
  virtual absl::Status DeleteRegisteredModelTag(std::string_view name, std::string_view key) = 0;
  // Newest version in each of `stages` (all stages if empty).
  virtual absl::StatusOr<std::vector<ModelVersion>> GetLatestVersions(
      std::string_view name, const std::vector<std::string>& stages) = 0;

  // --- aliases ---
  // Points `alias` at `version` (moving it if it exists). NotFound if the
  // version does not exist.
  virtual absl::Status SetRegisteredModelAlias(std::string_view name, std::string_view alias,
                                               int64_t version) = 0;
  virtual absl::Status DeleteRegisteredModelAlias(std::string_view name,
                                                  std::string_view alias) = 0;
  virtual absl::StatusOr<ModelVersion> GetModelVersionByAlias(std::string_view name,
                                                              std::string_view alias) = 0;

  // --- model versions ---
  // Version numbers are 1 + the highest ever assigned for the model (a
  // deleted version's number is not reused).
  virtual absl::StatusOr<ModelVersion> CreateModelVersion(const NewModelVersion& version) = 0;
  virtual absl::StatusOr<ModelVersion> GetModelVersion(std::string_view name, int64_t version) = 0;
  virtual absl::StatusOr<ModelVersion> UpdateModelVersion(std::string_view name, int64_t version,
                                                          std::string_view description) = 0;
  // Also removes aliases that point at it.
  virtual absl::Status DeleteModelVersion(std::string_view name, int64_t version) = 0;
  virtual absl::StatusOr<Page<ModelVersion>> SearchModelVersions(
      const ModelVersionQuery& query) = 0;
  // Moves the version to `stage` (canonical casing). With
  // `archive_existing_versions`, other versions in that stage (only for
  // Staging/Production) move to Archived in the same transaction.
  virtual absl::StatusOr<ModelVersion> TransitionModelVersionStage(
      std::string_view name, int64_t version, std::string_view stage,
      bool archive_existing_versions) = 0;
  virtual absl::Status SetModelVersionTag(std::string_view name, int64_t version,
                                          const Tag& tag) = 0;
  virtual absl::Status DeleteModelVersionTag(std::string_view name, int64_t version,
                                             std::string_view key) = 0;

  // --- promotion policies (opaque JSON owned by the governance layer) ---
  // Set (insert or replace) requires the model to exist; policies follow
  // renames and go with the model. Deleting a missing policy is a no-op.
  virtual absl::Status SetPolicy(std::string_view name, std::string_view policy_json) = 0;
  // NotFound if the model has no policy.
  virtual absl::StatusOr<std::string> GetPolicy(std::string_view name) = 0;
  virtual absl::Status DeletePolicy(std::string_view name) = 0;

  // --- approvals ---
  // NotFound if the version does not exist. Every call adds a row (the
  // governance layer counts one approval per user and target); approvals go
  // with their version when it or its model is deleted, and follow renames.
  virtual absl::StatusOr<Approval> AddApproval(
      const Approval& approval) = 0;  // id, timestamp kept if set
  // In id order. NotFound if the model does not exist; `version` narrows to
  // one version.
  virtual absl::StatusOr<std::vector<Approval>> ListApprovals(std::string_view name,
                                                              std::optional<int64_t> version) = 0;

  // --- audit log ---
  // Appends under the writer lock: reads the last entry's hash, assigns seq
  // and prev_hash, computes `hash` with `hasher(entry)` (the governance
  // layer's canonical encoding) and inserts, in one transaction.
  using AuditHasher = std::string (*)(const AuditEntry& entry);
  virtual absl::StatusOr<AuditEntry> AppendAudit(AuditEntry entry, AuditHasher hasher) = 0;
  // Entries in seq order; `object_id` filters (prefix match on "name" also
  // returns "name/3" and "name@alias"); `limit` 0 = all.
  //
  // Details of the SQLite implementation that callers may rely on:
  // - `entry.timestamp` 0 is replaced by the store clock's time before
  //   hashing; every other field is kept as given except seq, prev_hash and
  //   hash. InvalidArgument if `hasher` is null.
  // - seq and prev_hash continue from the audit head (see GetAuditHead), so
  //   rows deleted from the tail leave a gap the verifier reports instead of
  //   being silently re-used. DataLoss if the head points behind the log.
  // - ListAudit: `object_id` "" lists everything; otherwise entries whose
  //   object_id equals it or starts with it followed by '/' or '@'. With
  //   `limit` > 0 the newest `limit` matching entries, still in ascending
  //   seq order. Rows are returned as stored, gaps included.
  virtual absl::StatusOr<std::vector<AuditEntry>> ListAudit(std::string_view object_id,
                                                            int64_t limit) = 0;
  // {seq, hash} of the last appended entry, kept in the same transaction as
  // each append, so a verifier can detect a truncated tail. {0, ""} when
  // nothing has been appended.
  virtual absl::StatusOr<std::pair<int64_t, std::string>> GetAuditHead() = 0;
};

}  // namespace ferry::store

#endif  // FERRY_STORE_REGISTRY_STORE_H_
