#ifndef FERRY_REGISTRY_SERVICE_H_
#define FERRY_REGISTRY_SERVICE_H_

// RegistryService: the MLflow model registry plus the governance MLflow
// leaves to glue code — promotion gates enforced on protected aliases and
// stages, approvals, a hash-chained audit log, lineage and model cards.
// No transport: api/mlflow and api/ferry translate HTTP to these calls.
// Thread-safe.
//
// Security: a model version's `source` must resolve inside this server's own
// artifact store (runs:/<run>/<path>, mlflow-artifacts:/<path>, or an MLflow
// 3 logged model models:/<model_id>); anything else is InvalidArgument and is
// never read or fetched.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/artifacts/artifact_store.h"
#include "ferry/common/audit_sink.h"
#include "ferry/common/clock.h"
#include "ferry/governance/audit.h"
#include "ferry/governance/lineage.h"
#include "ferry/governance/policy.h"
#include "ferry/store/metadata_store.h"

namespace ferry::registry {

struct RegistryServiceOptions {
  store::MetadataStore* store = nullptr;          // not owned; required
  artifacts::ArtifactStore* artifacts = nullptr;  // not owned; required
  Clock* clock = Clock::Real();                   // not owned
};

struct CreateModelVersionRequest {
  std::string name;
  std::string source;
  std::string run_id;
  std::string run_link;
  std::string model_id;
  std::string description;
  std::vector<store::Tag> tags;
};

struct ResolvedSource {
  std::string store_path;    // relative path in the artifact store
  std::string artifact_uri;  // "mlflow-artifacts:/<store_path>"
};

// Appends audit records to the store's hash-chained log (governance/audit.h
// encoding). Used by the tracking service too.
class StoreAuditSink : public AuditSink {
 public:
  StoreAuditSink(store::RegistryStore* registry, Clock* clock)
      : registry_(registry), clock_(clock) {}
  void Record(const RequestContext& context, AuditRecord record) override;

 private:
  store::RegistryStore* registry_;
  Clock* clock_;
};

class RegistryService {
 public:
  static absl::StatusOr<std::unique_ptr<RegistryService>> Create(
      const RegistryServiceOptions& options);

  AuditSink* audit_sink() { return &audit_; }

  // --- registered models ---
  absl::StatusOr<store::RegisteredModel> CreateRegisteredModel(std::string_view name,
                                                               std::string_view description,
                                                               const std::vector<store::Tag>& tags,
                                                               const RequestContext& ctx);
  absl::StatusOr<store::RegisteredModel> GetRegisteredModel(std::string_view name);
  absl::StatusOr<store::RegisteredModel> RenameRegisteredModel(std::string_view name,
                                                               std::string_view new_name,
                                                               const RequestContext& ctx);
  absl::StatusOr<store::RegisteredModel> UpdateRegisteredModel(std::string_view name,
                                                               std::string_view description,
                                                               const RequestContext& ctx);
  absl::Status DeleteRegisteredModel(std::string_view name, const RequestContext& ctx);
  absl::StatusOr<store::Page<store::RegisteredModel>> SearchRegisteredModels(
      std::string_view filter, const std::vector<std::string>& order_by, int max_results,
      std::string_view page_token);
  absl::Status SetRegisteredModelTag(std::string_view name, const store::Tag& tag,
                                     const RequestContext& ctx);
  absl::Status DeleteRegisteredModelTag(std::string_view name, std::string_view key,
                                        const RequestContext& ctx);
  absl::StatusOr<std::vector<store::ModelVersion>> GetLatestVersions(
      std::string_view name, const std::vector<std::string>& stages);

  // --- aliases (gated when the policy protects the alias) ---
  absl::Status SetAlias(std::string_view name, std::string_view alias, std::string_view version,
                        const RequestContext& ctx);
  // Moves the alias whatever the gates say; the failures overridden and the
  // reason are audited as "alias.set.force".
  absl::Status ForceSetAlias(std::string_view name, std::string_view alias,
                             std::string_view version, std::string_view reason,
                             const RequestContext& ctx);
  absl::Status DeleteAlias(std::string_view name, std::string_view alias,
                           const RequestContext& ctx);
  absl::StatusOr<store::ModelVersion> GetModelVersionByAlias(std::string_view name,
                                                             std::string_view alias);

  // --- model versions ---
  absl::StatusOr<store::ModelVersion> CreateModelVersion(const CreateModelVersionRequest& request,
                                                         const RequestContext& ctx);
  absl::StatusOr<store::ModelVersion> GetModelVersion(std::string_view name,
                                                      std::string_view version);
  absl::StatusOr<store::ModelVersion> UpdateModelVersion(std::string_view name,
                                                         std::string_view version,
                                                         std::string_view description,
                                                         const RequestContext& ctx);
  absl::Status DeleteModelVersion(std::string_view name, std::string_view version,
                                  const RequestContext& ctx);
  absl::StatusOr<store::Page<store::ModelVersion>> SearchModelVersions(
      std::string_view filter, const std::vector<std::string>& order_by, int max_results,
      std::string_view page_token);
  // Gated when the policy protects `stage`.
  absl::StatusOr<store::ModelVersion> TransitionStage(std::string_view name,
                                                      std::string_view version,
                                                      std::string_view stage,
                                                      bool archive_existing_versions,
                                                      const RequestContext& ctx);
  absl::Status SetModelVersionTag(std::string_view name, std::string_view version,
                                  const store::Tag& tag, const RequestContext& ctx);
  absl::Status DeleteModelVersionTag(std::string_view name, std::string_view version,
                                     std::string_view key, const RequestContext& ctx);
  // "mlflow-artifacts:/..." where the version's files are.
  absl::StatusOr<std::string> GetDownloadUri(std::string_view name, std::string_view version);
  // Store path of `path` (client-supplied, relative) inside the version's files.
  absl::StatusOr<std::string> ResolveVersionArtifact(std::string_view name,
                                                     std::string_view version,
                                                     std::string_view path);

  // Validates and resolves a client-supplied model source (see file comment).
  absl::StatusOr<ResolvedSource> ResolveSource(std::string_view source);

  // --- governance ---
  absl::StatusOr<governance::Policy> SetPolicy(std::string_view name,
                                               const governance::Policy& policy,
                                               const RequestContext& ctx);
  absl::StatusOr<governance::Policy> GetPolicy(std::string_view name);
  absl::Status DeletePolicy(std::string_view name, const RequestContext& ctx);
  absl::StatusOr<store::Approval> Approve(std::string_view name, std::string_view version,
                                          std::string_view target, std::string_view comment,
                                          const RequestContext& ctx);
  absl::StatusOr<std::vector<store::Approval>> ListApprovals(
      std::string_view name, std::optional<std::string_view> version);
  absl::StatusOr<std::vector<store::AuditEntry>> AuditLog(std::string_view object_id,
                                                          int64_t limit);
  absl::StatusOr<governance::AuditVerification> VerifyAudit();
  // models:/name/3, models:/name@alias, models:/name/Production, models:/name/latest
  absl::StatusOr<governance::Lineage> Lineage(std::string_view model_uri);
  // format: "markdown" | "html"
  absl::StatusOr<std::string> ModelCard(std::string_view name, std::string_view version,
                                        std::string_view format);

 private:
  explicit RegistryService(const RegistryServiceOptions& options);
  store::RegistryStore* reg() const { return options_.store->registry(); }
  // Empty vector: allowed. Otherwise every failed gate.
  absl::StatusOr<std::vector<std::string>> CheckGates(std::string_view name, int64_t version,
                                                      const std::string& target,
                                                      std::vector<std::string>* passed);
  absl::Status MoveAlias(std::string_view name, std::string_view alias, int64_t version,
                         const RequestContext& ctx, std::string_view action, nlohmann::json extra);
  absl::StatusOr<store::ModelVersion> ResolveModelUri(std::string_view model_uri);
  void Audit(const RequestContext& ctx, AuditRecord record) {
    audit_.Record(ctx, std::move(record));
  }

  RegistryServiceOptions options_;
  StoreAuditSink audit_;
};

// Parses a version field ("3"); InvalidArgument naming the field otherwise.
absl::StatusOr<int64_t> ParseVersion(std::string_view version);

}  // namespace ferry::registry

#endif  // FERRY_REGISTRY_SERVICE_H_
