#include "ferry/registry/service.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

#include "ferry/artifacts/path.h"
#include "ferry/common/status.h"
#include "ferry/common/url.h"
#include "ferry/governance/model_card.h"
#include "ferry/search/parser.h"
#include "ferry/tracking/validation.h"
#include "spdlog/spdlog.h"

namespace ferry::registry {
namespace {

using nlohmann::json;

constexpr size_t kMaxEnvironmentBytes = 64 * 1024;
constexpr char kArtifactScheme[] = "mlflow-artifacts:";

absl::Status ValidateModelName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("Registered model name cannot be empty.");
  if (name.size() > 256) {
    return absl::InvalidArgumentError("Registered model name '" + std::string(name.substr(0, 40)) +
                                      "...' exceeds the maximum length of 256 characters");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f)
      return absl::InvalidArgumentError("Registered model name contains a control character.");
  }
  if (name.find('/') != std::string_view::npos || name.find(':') != std::string_view::npos ||
      name.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "Invalid model name: '" + std::string(name) +
        "'. Names may not contain '/', ':' or '@', which models:/ URIs reserve.");
  }
  return absl::OkStatus();
}

// MLflow's alias rules (_validate_model_alias_name).
absl::Status ValidateAlias(std::string_view alias) {
  if (alias.empty())
    return absl::InvalidArgumentError("Registered model alias name cannot be empty.");
  if (alias.size() > 255) {
    return absl::InvalidArgumentError("Registered model alias name '" + std::string(alias) +
                                      "' exceeds the maximum length of 255 characters");
  }
  for (unsigned char c : alias) {
    if (!(std::isalnum(c) || c == '_' || c == '-')) {
      return absl::InvalidArgumentError(
          "Invalid alias name: '" + std::string(alias) +
          "'. Names may only contain alphanumerics, underscores, and dashes.");
    }
  }
  std::string lower(alias);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "latest")
    return absl::InvalidArgumentError("'latest' alias name (case insensitive) is reserved.");
  if (alias.size() > 1 && alias[0] == 'v' &&
      alias.substr(1).find_first_not_of("0123456789") == std::string_view::npos) {
    return absl::InvalidArgumentError("Version alias name '" + std::string(alias) +
                                      "' is reserved.");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CanonicalStage(std::string_view stage) {
  std::string lower(stage);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* s : store::kStages) {
    std::string candidate(s);
    for (auto& c : candidate) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (candidate == lower) return std::string(s);
  }
  return absl::InvalidArgumentError("Invalid Model Version stage: " + std::string(stage) +
                                    ". Value must be one of None, Staging, Production, Archived.");
}

// The store path behind an artifact URI this server issued.
absl::StatusOr<std::string> StorePathOfArtifactUri(std::string_view uri) {
  if (!uri.starts_with(kArtifactScheme)) {
    return absl::InvalidArgumentError("artifact location '" + std::string(uri) +
                                      "' is not in this server's artifact store");
  }
  uri.remove_prefix(sizeof(kArtifactScheme) - 1);
  if (uri.starts_with("//")) {
    return absl::InvalidArgumentError(
        "artifact URIs with a host are not accepted; use mlflow-artifacts:/<path>");
  }
  while (uri.starts_with("/")) uri.remove_prefix(1);
  FERRY_ASSIGN_OR_RETURN(std::string decoded, PercentDecode(uri));
  return artifacts::CanonicalizeRelativePath(decoded);
}

std::string Join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return std::string(a) + "/" + std::string(b);
}

json VersionJson(const store::ModelVersion& v) {
  return {{"name", v.name},     {"version", v.version}, {"current_stage", v.current_stage},
          {"source", v.source}, {"run_id", v.run_id},   {"description", v.description}};
}

json ModelJson(const store::RegisteredModel& m) {
  json tags = json::object();
  for (const auto& t : m.tags) tags[t.key] = t.value;
  return {{"name", m.name}, {"description", m.description}, {"tags", tags}};
}

// MLflow leaves user_id empty when it does not know the user.
std::string KnownUser(const RequestContext& ctx) { return ctx.actor == "unknown" ? "" : ctx.actor; }

absl::Status InvalidSource(std::string_view source, std::string_view why) {
  return absl::InvalidArgumentError(
      "Invalid model version source: '" + std::string(source) + "'. " + std::string(why) +
      " A source must be in this server's artifact store: runs:/<run_id>/<path>, "
      "models:/<logged model id>, or mlflow-artifacts:/<path>.");
}

}  // namespace

absl::StatusOr<int64_t> ParseVersion(std::string_view version) {
  if (version.empty() || version.size() > 18 ||
      version.find_first_not_of("0123456789") != std::string_view::npos) {
    return absl::InvalidArgumentError("Parameter 'version' must be an integer, got '" +
                                      std::string(version) + "'.");
  }
  return std::stoll(std::string(version));
}

void StoreAuditSink::Record(const RequestContext& context, AuditRecord record) {
  store::AuditEntry entry;
  entry.timestamp = clock_->NowMillis();
  entry.actor = context.actor;
  entry.action = std::move(record.action);
  entry.object_type = std::move(record.object_type);
  entry.object_id = std::move(record.object_id);
  auto dump = [](const json& j) {
    return j.is_null() ? std::string() : j.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  entry.before_json = dump(record.before);
  entry.after_json = dump(record.after);
  entry.request_id = context.request_id;
  auto appended = registry_->AppendAudit(std::move(entry), &governance::AuditHash);
  if (!appended.ok()) {
    spdlog::error("audit log append failed: {}", std::string(appended.status().message()));
  }
}

RegistryService::RegistryService(const RegistryServiceOptions& options)
    : options_(options), audit_(options.store->registry(), options.clock) {}

absl::StatusOr<std::unique_ptr<RegistryService>> RegistryService::Create(
    const RegistryServiceOptions& options) {
  if (options.store == nullptr || options.artifacts == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError(
        "RegistryService needs a store, an artifact store and a clock");
  }
  return std::unique_ptr<RegistryService>(new RegistryService(options));
}

// ------------------------------------------------------------ registered models

absl::StatusOr<store::RegisteredModel> RegistryService::CreateRegisteredModel(
    std::string_view name, std::string_view description, const std::vector<store::Tag>& tags,
    const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  for (const auto& t : tags) FERRY_RETURN_IF_ERROR(tracking::ValidateTagName(t.key));
  FERRY_ASSIGN_OR_RETURN(auto model,
                         reg()->CreateRegisteredModel(name, description, tags, KnownUser(ctx)));
  Audit(ctx,
        {"registered_model.create", "registered_model", model.name, nullptr, ModelJson(model)});
  return model;
}

absl::StatusOr<store::RegisteredModel> RegistryService::GetRegisteredModel(std::string_view name) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  return reg()->GetRegisteredModel(name);
}

absl::StatusOr<store::RegisteredModel> RegistryService::RenameRegisteredModel(
    std::string_view name, std::string_view new_name, const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_RETURN_IF_ERROR(ValidateModelName(new_name));
  FERRY_ASSIGN_OR_RETURN(auto model, reg()->RenameRegisteredModel(name, new_name));
  Audit(ctx, {"registered_model.rename",
              "registered_model",
              model.name,
              {{"name", std::string(name)}},
              {{"name", model.name}}});
  return model;
}

absl::StatusOr<store::RegisteredModel> RegistryService::UpdateRegisteredModel(
    std::string_view name, std::string_view description, const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_ASSIGN_OR_RETURN(auto before, reg()->GetRegisteredModel(name));
  FERRY_ASSIGN_OR_RETURN(auto model, reg()->UpdateRegisteredModel(name, description));
  Audit(ctx, {"registered_model.update",
              "registered_model",
              model.name,
              {{"description", before.description}},
              {{"description", model.description}}});
  return model;
}

absl::Status RegistryService::DeleteRegisteredModel(std::string_view name,
                                                    const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_ASSIGN_OR_RETURN(auto before, reg()->GetRegisteredModel(name));
  FERRY_RETURN_IF_ERROR(reg()->DeleteRegisteredModel(name));
  Audit(ctx, {"registered_model.delete", "registered_model", std::string(name), ModelJson(before),
              nullptr});
  return absl::OkStatus();
}

absl::StatusOr<store::Page<store::RegisteredModel>> RegistryService::SearchRegisteredModels(
    std::string_view filter, const std::vector<std::string>& order_by, int max_results,
    std::string_view page_token) {
  if (max_results < 1 || max_results > 1000) {
    return absl::InvalidArgumentError(
        "Invalid value for max_results. It must be at most 1000, but got value " +
        std::to_string(max_results));
  }
  store::RegisteredModelQuery query;
  FERRY_ASSIGN_OR_RETURN(query.filter,
                         search::ParseFilter(filter, search::Entity::kRegisteredModel));
  FERRY_ASSIGN_OR_RETURN(query.order_by,
                         search::ParseOrderByList(order_by, search::Entity::kRegisteredModel));
  query.max_results = max_results;
  query.page_token = std::string(page_token);
  return reg()->SearchRegisteredModels(query);
}

absl::Status RegistryService::SetRegisteredModelTag(std::string_view name, const store::Tag& tag,
                                                    const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_RETURN_IF_ERROR(tracking::ValidateTagName(tag.key));
  FERRY_RETURN_IF_ERROR(tracking::ValidateRunTag(tag).status());
  FERRY_RETURN_IF_ERROR(reg()->SetRegisteredModelTag(name, tag));
  Audit(ctx, {"registered_model.set_tag",
              "registered_model",
              std::string(name),
              nullptr,
              {{tag.key, tag.value}}});
  return absl::OkStatus();
}

absl::Status RegistryService::DeleteRegisteredModelTag(std::string_view name, std::string_view key,
                                                       const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_RETURN_IF_ERROR(reg()->DeleteRegisteredModelTag(name, key));
  Audit(ctx, {"registered_model.delete_tag",
              "registered_model",
              std::string(name),
              {{"key", std::string(key)}},
              nullptr});
  return absl::OkStatus();
}

absl::StatusOr<std::vector<store::ModelVersion>> RegistryService::GetLatestVersions(
    std::string_view name, const std::vector<std::string>& stages) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  std::vector<std::string> canonical;
  for (const auto& s : stages) {
    FERRY_ASSIGN_OR_RETURN(std::string stage, CanonicalStage(s));
    canonical.push_back(std::move(stage));
  }
  return reg()->GetLatestVersions(name, canonical);
}

// ------------------------------------------------------------------- aliases

absl::StatusOr<std::vector<std::string>> RegistryService::CheckGates(
    std::string_view name, int64_t version, const std::string& target,
    std::vector<std::string>* passed) {
  auto policy_json = reg()->GetPolicy(name);
  if (absl::IsNotFound(policy_json.status())) return std::vector<std::string>();
  if (!policy_json.ok()) return policy_json.status();
  FERRY_ASSIGN_OR_RETURN(governance::Policy policy, governance::ParsePolicyJson(*policy_json));
  if (!governance::IsProtected(policy, target)) return std::vector<std::string>();

  FERRY_ASSIGN_OR_RETURN(store::ModelVersion candidate, reg()->GetModelVersion(name, version));
  std::optional<store::Run> candidate_run;
  if (!candidate.run_id.empty()) {
    if (auto run = options_.store->GetRun(candidate.run_id); run.ok())
      candidate_run = std::move(*run);
  }
  std::optional<store::ModelVersion> holder;
  if (target.starts_with("alias:")) {
    auto current = reg()->GetModelVersionByAlias(name, target.substr(6));
    if (current.ok() && current->version != version) holder = std::move(*current);
  } else {
    auto latest = reg()->GetLatestVersions(name, {target.substr(6)});
    if (latest.ok()) {
      for (auto& v : *latest) {
        if (v.version != version) holder = v;
      }
    }
  }
  std::optional<store::Run> holder_run;
  if (holder && !holder->run_id.empty()) {
    if (auto run = options_.store->GetRun(holder->run_id); run.ok()) holder_run = std::move(*run);
  }
  FERRY_ASSIGN_OR_RETURN(auto all_approvals, reg()->ListApprovals(name, version));
  governance::GateInput input;
  input.target = target;
  input.candidate_version = version;
  input.candidate_metrics = candidate_run ? &candidate_run->metrics : nullptr;
  input.candidate_version_tags = &candidate.tags;
  input.candidate_run_tags = candidate_run ? &candidate_run->tags : nullptr;
  if (holder) input.holder_version = holder->version;
  input.holder_metrics = holder_run ? &holder_run->metrics : nullptr;
  for (auto& a : all_approvals) {
    if (a.target == target) input.approvals.push_back(std::move(a));
  }
  std::vector<std::string> failures = governance::EvaluateGates(policy, input);
  if (passed != nullptr) {
    passed->clear();
    for (const auto& c : policy.conditions) passed->push_back(c);
    for (const auto& [k, v] : policy.required_tags)
      passed->push_back("required tag " + k + " = " + v);
    if (policy.required_approvals > 0) {
      passed->push_back("required approvals: " + std::to_string(policy.required_approvals));
    }
  }
  return failures;
}

namespace {
absl::Status GateRejection(std::string_view name, int64_t version, const std::string& target,
                           const std::vector<std::string>& failures) {
  std::string what = target.starts_with("alias:") ? "alias '" + target.substr(6) + "'"
                                                  : "stage '" + target.substr(6) + "'";
  std::string message =
      "Promotion of model '" + std::string(name) + "' version " + std::to_string(version) + " to " +
      what + " was rejected by its promotion policy (" + std::to_string(failures.size()) +
      " failed condition" + (failures.size() == 1 ? "" : "s") + "):";
  for (size_t i = 0; i < failures.size(); ++i) {
    message += "\n  " + std::to_string(i + 1) + ". " + failures[i];
  }
  message += "\nAn administrator can override with `ferry models alias set --force --reason ...`.";
  return absl::PermissionDeniedError(message);
}
}  // namespace

absl::Status RegistryService::MoveAlias(std::string_view name, std::string_view alias,
                                        int64_t version, const RequestContext& ctx,
                                        std::string_view action, json extra) {
  json before = nullptr;
  if (auto current = reg()->GetModelVersionByAlias(name, alias); current.ok()) {
    before = {{"version", current->version}};
  }
  FERRY_RETURN_IF_ERROR(reg()->SetRegisteredModelAlias(name, alias, version));
  json after = {{"version", version}};
  if (extra.is_object()) after.update(extra);
  Audit(ctx, {std::string(action), "alias", std::string(name) + "@" + std::string(alias), before,
              after});
  return absl::OkStatus();
}

absl::Status RegistryService::SetAlias(std::string_view name, std::string_view alias,
                                       std::string_view version, const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_RETURN_IF_ERROR(ValidateAlias(alias));
  FERRY_ASSIGN_OR_RETURN(int64_t v, ParseVersion(version));
  FERRY_RETURN_IF_ERROR(reg()->GetModelVersion(name, v).status());
  std::string target = "alias:" + std::string(alias);
  std::vector<std::string> passed;
  FERRY_ASSIGN_OR_RETURN(auto failures, CheckGates(name, v, target, &passed));
  if (!failures.empty()) return GateRejection(name, v, target, failures);
  json extra = json::object();
  if (!passed.empty() || reg()->GetPolicy(name).ok()) extra["gates_passed"] = passed;
  return MoveAlias(name, alias, v, ctx, "alias.set", extra);
}

absl::Status RegistryService::ForceSetAlias(std::string_view name, std::string_view alias,
                                            std::string_view version, std::string_view reason,
                                            const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_RETURN_IF_ERROR(ValidateAlias(alias));
  FERRY_ASSIGN_OR_RETURN(int64_t v, ParseVersion(version));
  if (reason.empty()) {
    return absl::InvalidArgumentError(
        "Missing value for required parameter 'reason': a forced promotion must say why.");
  }
  FERRY_RETURN_IF_ERROR(reg()->GetModelVersion(name, v).status());
  FERRY_ASSIGN_OR_RETURN(auto failures,
                         CheckGates(name, v, "alias:" + std::string(alias), nullptr));
  return MoveAlias(name, alias, v, ctx, "alias.set.force",
                   {{"reason", std::string(reason)}, {"overridden_failures", failures}});
}

absl::Status RegistryService::DeleteAlias(std::string_view name, std::string_view alias,
                                          const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_RETURN_IF_ERROR(ValidateAlias(alias));
  FERRY_RETURN_IF_ERROR(reg()->GetRegisteredModel(name).status());
  auto current = reg()->GetModelVersionByAlias(name, alias);
  if (absl::IsNotFound(current.status()))
    return absl::OkStatus();  // MLflow: deleting an unset alias is a no-op
  if (!current.ok()) return current.status();
  FERRY_RETURN_IF_ERROR(reg()->DeleteRegisteredModelAlias(name, alias));
  Audit(ctx, {"alias.delete",
              "alias",
              std::string(name) + "@" + std::string(alias),
              {{"version", current->version}},
              nullptr});
  return absl::OkStatus();
}

absl::StatusOr<store::ModelVersion> RegistryService::GetModelVersionByAlias(
    std::string_view name, std::string_view alias) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_RETURN_IF_ERROR(ValidateAlias(alias));
  auto version = reg()->GetModelVersionByAlias(name, alias);
  // MLflow answers an unknown alias with INVALID_PARAMETER_VALUE, not 404.
  if (absl::IsNotFound(version.status()) && reg()->GetRegisteredModel(name).ok()) {
    return absl::InvalidArgumentError(std::string(version.status().message()));
  }
  return version;
}

// ------------------------------------------------------------ model versions

absl::StatusOr<ResolvedSource> RegistryService::ResolveSource(std::string_view source) {
  if (source.empty()) return InvalidSource(source, "The source is empty.");
  for (unsigned char c : source) {
    if (c < 0x20 || c == 0x7f)
      return InvalidSource("<redacted>", "The source contains a control character.");
  }
  std::string store_path;
  if (source.starts_with("runs:/")) {
    std::string_view rest = source.substr(6);
    while (rest.starts_with("/")) rest.remove_prefix(1);
    size_t slash = rest.find('/');
    std::string run_id(rest.substr(0, slash));
    std::string_view sub =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (!tracking::ValidateRunId(run_id).ok())
      return InvalidSource(source, "The run id is malformed.");
    auto run = options_.store->GetRun(run_id);
    if (!run.ok()) return InvalidSource(source, "Run '" + run_id + "' does not exist.");
    auto root = StorePathOfArtifactUri(run->info.artifact_uri);
    if (!root.ok())
      return InvalidSource(source, "The run's artifacts are not stored by this server.");
    auto decoded = PercentDecode(sub);
    if (!decoded.ok()) return InvalidSource(source, "The path has a malformed escape.");
    auto rel = artifacts::CanonicalizeRelativePath(*decoded);
    if (!rel.ok()) return InvalidSource(source, std::string(rel.status().message()));
    store_path = Join(*root, *rel);
  } else if (source.starts_with("models:/")) {
    std::string_view id = source.substr(8);
    if (id.empty() || id.find('/') != std::string_view::npos ||
        id.find('@') != std::string_view::npos || !id.starts_with("m-")) {
      return InvalidSource(source,
                           "Only an MLflow 3 logged model (models:/m-<id>) can be a source.");
    }
    auto model = options_.store->GetLoggedModel(id);
    if (!model.ok())
      return InvalidSource(source, "Logged model '" + std::string(id) + "' does not exist.");
    auto root = StorePathOfArtifactUri(model->artifact_uri);
    if (!root.ok())
      return InvalidSource(source, "The logged model's artifacts are not stored by this server.");
    store_path = *root;
  } else if (source.starts_with(kArtifactScheme)) {
    auto path = StorePathOfArtifactUri(source);
    if (!path.ok()) return InvalidSource(source, std::string(path.status().message()));
    store_path = *path;
  } else {
    return InvalidSource(source, "This scheme or location is not served by this server.");
  }
  if (store_path.empty()) return InvalidSource(source, "The source is the artifact root itself.");
  return ResolvedSource{store_path, std::string(kArtifactScheme) + "/" + store_path};
}

absl::StatusOr<store::ModelVersion> RegistryService::CreateModelVersion(
    const CreateModelVersionRequest& request, const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(request.name));
  FERRY_RETURN_IF_ERROR(ResolveSource(request.source).status());
  if (!request.run_id.empty()) {
    FERRY_RETURN_IF_ERROR(tracking::ValidateRunId(request.run_id));
    auto run = options_.store->GetRun(request.run_id);
    if (!run.ok()) {
      return absl::InvalidArgumentError("Invalid value for 'run_id': run '" + request.run_id +
                                        "' does not exist.");
    }
  }
  std::string model_id = request.model_id;
  if (model_id.empty() && std::string_view(request.source).starts_with("models:/")) {
    model_id = request.source.substr(8);
  }
  std::string run_id = request.run_id;
  if (!model_id.empty()) {
    auto model = options_.store->GetLoggedModel(model_id);
    if (!model.ok()) {
      return absl::InvalidArgumentError("Invalid value for 'model_id': logged model '" + model_id +
                                        "' does not exist.");
    }
    // As MLflow 3 does: a version of a logged model records the run that produced it.
    if (run_id.empty()) run_id = model->source_run_id;
  }
  for (const auto& t : request.tags) FERRY_RETURN_IF_ERROR(tracking::ValidateTagName(t.key));
  store::NewModelVersion v{.name = request.name,
                           .source = request.source,
                           .run_id = run_id,
                           .run_link = request.run_link,
                           .model_id = model_id,
                           .description = request.description,
                           .user_id = KnownUser(ctx),
                           .tags = request.tags};
  FERRY_ASSIGN_OR_RETURN(auto created, reg()->CreateModelVersion(v));
  Audit(ctx, {"model_version.create", "model_version",
              created.name + "/" + std::to_string(created.version), nullptr, VersionJson(created)});
  return created;
}

absl::StatusOr<store::ModelVersion> RegistryService::GetModelVersion(std::string_view name,
                                                                     std::string_view version) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_ASSIGN_OR_RETURN(int64_t v, ParseVersion(version));
  return reg()->GetModelVersion(name, v);
}

absl::StatusOr<store::ModelVersion> RegistryService::UpdateModelVersion(
    std::string_view name, std::string_view version, std::string_view description,
    const RequestContext& ctx) {
  FERRY_ASSIGN_OR_RETURN(auto before, GetModelVersion(name, version));
  FERRY_ASSIGN_OR_RETURN(auto after, reg()->UpdateModelVersion(name, before.version, description));
  Audit(ctx, {"model_version.update",
              "model_version",
              after.name + "/" + std::to_string(after.version),
              {{"description", before.description}},
              {{"description", after.description}}});
  return after;
}

absl::Status RegistryService::DeleteModelVersion(std::string_view name, std::string_view version,
                                                 const RequestContext& ctx) {
  FERRY_ASSIGN_OR_RETURN(auto before, GetModelVersion(name, version));
  FERRY_RETURN_IF_ERROR(reg()->DeleteModelVersion(name, before.version));
  Audit(ctx, {"model_version.delete", "model_version",
              before.name + "/" + std::to_string(before.version), VersionJson(before), nullptr});
  return absl::OkStatus();
}

absl::StatusOr<store::Page<store::ModelVersion>> RegistryService::SearchModelVersions(
    std::string_view filter, const std::vector<std::string>& order_by, int max_results,
    std::string_view page_token) {
  if (max_results < 1 || max_results > 200000) {
    return absl::InvalidArgumentError(
        "Invalid value for max_results. It must be at most 200000, but got value " +
        std::to_string(max_results));
  }
  store::ModelVersionQuery query;
  FERRY_ASSIGN_OR_RETURN(query.filter, search::ParseFilter(filter, search::Entity::kModelVersion));
  FERRY_ASSIGN_OR_RETURN(query.order_by,
                         search::ParseOrderByList(order_by, search::Entity::kModelVersion));
  query.max_results = max_results;
  query.page_token = std::string(page_token);
  return reg()->SearchModelVersions(query);
}

absl::StatusOr<store::ModelVersion> RegistryService::TransitionStage(std::string_view name,
                                                                     std::string_view version,
                                                                     std::string_view stage,
                                                                     bool archive_existing_versions,
                                                                     const RequestContext& ctx) {
  FERRY_ASSIGN_OR_RETURN(auto before, GetModelVersion(name, version));
  FERRY_ASSIGN_OR_RETURN(std::string canonical, CanonicalStage(stage));
  std::string target = "stage:" + canonical;
  std::vector<std::string> passed;
  FERRY_ASSIGN_OR_RETURN(auto failures, CheckGates(name, before.version, target, &passed));
  if (!failures.empty()) return GateRejection(name, before.version, target, failures);
  FERRY_ASSIGN_OR_RETURN(auto after,
                         reg()->TransitionModelVersionStage(name, before.version, canonical,
                                                            archive_existing_versions));
  json after_json = {{"current_stage", after.current_stage},
                     {"archive_existing_versions", archive_existing_versions}};
  if (!passed.empty()) after_json["gates_passed"] = passed;
  Audit(ctx, {"model_version.transition_stage",
              "model_version",
              after.name + "/" + std::to_string(after.version),
              {{"current_stage", before.current_stage}},
              after_json});
  return after;
}

absl::Status RegistryService::SetModelVersionTag(std::string_view name, std::string_view version,
                                                 const store::Tag& tag, const RequestContext& ctx) {
  FERRY_ASSIGN_OR_RETURN(auto mv, GetModelVersion(name, version));
  FERRY_RETURN_IF_ERROR(tracking::ValidateTagName(tag.key));
  FERRY_RETURN_IF_ERROR(tracking::ValidateRunTag(tag).status());
  FERRY_RETURN_IF_ERROR(reg()->SetModelVersionTag(name, mv.version, tag));
  Audit(ctx, {"model_version.set_tag",
              "model_version",
              mv.name + "/" + std::to_string(mv.version),
              nullptr,
              {{tag.key, tag.value}}});
  return absl::OkStatus();
}

absl::Status RegistryService::DeleteModelVersionTag(std::string_view name, std::string_view version,
                                                    std::string_view key,
                                                    const RequestContext& ctx) {
  FERRY_ASSIGN_OR_RETURN(auto mv, GetModelVersion(name, version));
  FERRY_RETURN_IF_ERROR(reg()->DeleteModelVersionTag(name, mv.version, key));
  Audit(ctx, {"model_version.delete_tag",
              "model_version",
              mv.name + "/" + std::to_string(mv.version),
              {{"key", std::string(key)}},
              nullptr});
  return absl::OkStatus();
}

absl::StatusOr<std::string> RegistryService::GetDownloadUri(std::string_view name,
                                                            std::string_view version) {
  FERRY_ASSIGN_OR_RETURN(auto mv, GetModelVersion(name, version));
  FERRY_ASSIGN_OR_RETURN(auto resolved, ResolveSource(mv.source));
  return resolved.artifact_uri;
}

absl::StatusOr<std::string> RegistryService::ResolveVersionArtifact(std::string_view name,
                                                                    std::string_view version,
                                                                    std::string_view path) {
  FERRY_ASSIGN_OR_RETURN(auto mv, GetModelVersion(name, version));
  FERRY_ASSIGN_OR_RETURN(auto resolved, ResolveSource(mv.source));
  FERRY_ASSIGN_OR_RETURN(std::string rel, artifacts::CanonicalizeRelativePath(path));
  return Join(resolved.store_path, rel);
}

// ---------------------------------------------------------------- governance

absl::StatusOr<governance::Policy> RegistryService::SetPolicy(std::string_view name,
                                                              const governance::Policy& policy,
                                                              const RequestContext& ctx) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  for (const auto& c : policy.conditions) FERRY_RETURN_IF_ERROR(governance::ValidateCondition(c));
  for (const auto& a : policy.protected_aliases) FERRY_RETURN_IF_ERROR(ValidateAlias(a));
  governance::Policy canonical = policy;
  for (auto& s : canonical.protected_stages) {
    FERRY_ASSIGN_OR_RETURN(s, CanonicalStage(s));
  }
  if (canonical.required_approvals < 0 || canonical.required_approvals > 100) {
    return absl::InvalidArgumentError("'required_approvals' must be between 0 and 100, got " +
                                      std::to_string(canonical.required_approvals));
  }
  FERRY_RETURN_IF_ERROR(reg()->GetRegisteredModel(name).status());
  json before = nullptr;
  if (auto old = reg()->GetPolicy(name); old.ok()) before = json::parse(*old, nullptr, false);
  std::string text = governance::PolicyToJson(canonical);
  FERRY_RETURN_IF_ERROR(reg()->SetPolicy(name, text));
  Audit(ctx,
        {"policy.set", "policy", std::string(name), before, json::parse(text, nullptr, false)});
  return canonical;
}

absl::StatusOr<governance::Policy> RegistryService::GetPolicy(std::string_view name) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  FERRY_RETURN_IF_ERROR(reg()->GetRegisteredModel(name).status());
  auto text = reg()->GetPolicy(name);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError("Registered model '" + std::string(name) +
                               "' has no promotion policy.");
  }
  if (!text.ok()) return text.status();
  return governance::ParsePolicyJson(*text);
}

absl::Status RegistryService::DeletePolicy(std::string_view name, const RequestContext& ctx) {
  FERRY_ASSIGN_OR_RETURN(auto before, GetPolicy(name));
  FERRY_RETURN_IF_ERROR(reg()->DeletePolicy(name));
  Audit(ctx, {"policy.delete", "policy", std::string(name),
              json::parse(governance::PolicyToJson(before), nullptr, false), nullptr});
  return absl::OkStatus();
}

absl::StatusOr<store::Approval> RegistryService::Approve(std::string_view name,
                                                         std::string_view version,
                                                         std::string_view target,
                                                         std::string_view comment,
                                                         const RequestContext& ctx) {
  FERRY_ASSIGN_OR_RETURN(auto mv, GetModelVersion(name, version));
  std::string canonical_target;
  if (target.starts_with("alias:")) {
    FERRY_RETURN_IF_ERROR(ValidateAlias(target.substr(6)));
    canonical_target = std::string(target);
  } else if (target.starts_with("stage:")) {
    FERRY_ASSIGN_OR_RETURN(std::string stage, CanonicalStage(target.substr(6)));
    canonical_target = "stage:" + stage;
  } else {
    return absl::InvalidArgumentError(
        "Invalid value '" + std::string(target) +
        "' for parameter 'target': must be alias:<name> or stage:<Stage>");
  }
  if (ctx.actor.empty() || ctx.actor == "unknown") {
    return absl::InvalidArgumentError(
        "An approval needs an identified user: send the X-Ferry-User header (ferry CLI: --user).");
  }
  store::Approval approval{.name = mv.name,
                           .version = mv.version,
                           .target = canonical_target,
                           .user = ctx.actor,
                           .comment = std::string(comment),
                           .timestamp = options_.clock->NowMillis()};
  FERRY_ASSIGN_OR_RETURN(auto stored, reg()->AddApproval(approval));
  Audit(ctx, {"approval.add",
              "approval",
              mv.name + "/" + std::to_string(mv.version),
              nullptr,
              {{"target", stored.target}, {"user", stored.user}, {"comment", stored.comment}}});
  return stored;
}

absl::StatusOr<std::vector<store::Approval>> RegistryService::ListApprovals(
    std::string_view name, std::optional<std::string_view> version) {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  std::optional<int64_t> v;
  if (version) {
    FERRY_ASSIGN_OR_RETURN(v, ParseVersion(*version));
  }
  return reg()->ListApprovals(name, v);
}

absl::StatusOr<std::vector<store::AuditEntry>> RegistryService::AuditLog(std::string_view object_id,
                                                                         int64_t limit) {
  return reg()->ListAudit(object_id, limit);
}

absl::StatusOr<governance::AuditVerification> RegistryService::VerifyAudit() {
  // Head first: an entry appended between the two reads then lies beyond
  // the head and is checked for linkage only, instead of looking like a
  // truncated log.
  FERRY_ASSIGN_OR_RETURN(auto head, reg()->GetAuditHead());
  FERRY_ASSIGN_OR_RETURN(auto entries, reg()->ListAudit("", 0));
  return governance::VerifyAuditChain(entries, head.first, head.second);
}

absl::StatusOr<store::ModelVersion> RegistryService::ResolveModelUri(std::string_view uri) {
  if (!uri.starts_with("models:/")) {
    return absl::InvalidArgumentError(
        "Invalid model URI '" + std::string(uri) +
        "': expected models:/<name>/<version|stage|latest> or models:/<name>@<alias>");
  }
  std::string_view rest = uri.substr(8);
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos)
    return GetModelVersionByAlias(rest.substr(0, at), rest.substr(at + 1));
  size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError("Invalid model URI '" + std::string(uri) +
                                      "': no version, stage or alias");
  }
  std::string_view name = rest.substr(0, slash), which = rest.substr(slash + 1);
  if (!which.empty() && which.find_first_not_of("0123456789") == std::string_view::npos) {
    return GetModelVersion(name, which);
  }
  std::vector<std::string> stages;
  if (which != "latest") {
    FERRY_ASSIGN_OR_RETURN(std::string stage, CanonicalStage(which));
    stages.push_back(stage);
  }
  FERRY_ASSIGN_OR_RETURN(auto versions, GetLatestVersions(name, stages));
  if (versions.empty()) {
    return absl::NotFoundError("No versions of model '" + std::string(name) + "' match '" +
                               std::string(which) + "'");
  }
  return *std::max_element(versions.begin(), versions.end(),
                           [](const auto& a, const auto& b) { return a.version < b.version; });
}

absl::StatusOr<governance::Lineage> RegistryService::Lineage(std::string_view model_uri) {
  FERRY_ASSIGN_OR_RETURN(store::ModelVersion mv, ResolveModelUri(model_uri));
  governance::Lineage lineage;
  lineage.model_uri = std::string(model_uri);
  lineage.version = mv;
  std::string run_id = mv.run_id;
  if (run_id.empty() && !mv.model_id.empty()) {
    if (auto model = options_.store->GetLoggedModel(mv.model_id); model.ok())
      run_id = model->source_run_id;
  }
  if (!run_id.empty()) {
    if (auto run = options_.store->GetRun(run_id); run.ok()) {
      for (const auto& tag : run->tags) {
        if (tag.key == "mlflow.source.git.commit") lineage.git_commit = tag.value;
        if (tag.key == "mlflow.source.name") lineage.source_name = tag.value;
        if (tag.key == "mlflow.source.type") lineage.source_type = tag.value;
        if (tag.key == "ferry.pipeline.run_id") lineage.parent_pipeline_run = tag.value;
      }
      if (auto experiment = options_.store->GetExperiment(run->info.experiment_id);
          experiment.ok()) {
        lineage.experiment = std::move(*experiment);
      }
      lineage.run = std::move(*run);
    }
  }
  if (auto resolved = ResolveSource(mv.source); resolved.ok()) {
    for (const char* file : {"requirements.txt", "conda.yaml", "python_env.yaml"}) {
      auto path = options_.artifacts->ResolveForRead(Join(resolved->store_path, file));
      if (!path.ok()) continue;
      std::ifstream in(*path, std::ios::binary);
      std::string text(kMaxEnvironmentBytes, '\0');
      in.read(text.data(), static_cast<std::streamsize>(text.size()));
      text.resize(static_cast<size_t>(in.gcount()));
      lineage.environment_file = file;
      lineage.environment = std::move(text);
      break;
    }
  }
  return lineage;
}

absl::StatusOr<std::string> RegistryService::ModelCard(std::string_view name,
                                                       std::string_view version,
                                                       std::string_view format) {
  if (format != "markdown" && format != "html") {
    return absl::InvalidArgumentError("Invalid value '" + std::string(format) +
                                      "' for parameter 'format': must be markdown or html");
  }
  governance::ModelCardData data;
  FERRY_ASSIGN_OR_RETURN(data.model, GetRegisteredModel(name));
  FERRY_ASSIGN_OR_RETURN(data.version, GetModelVersion(name, version));
  FERRY_ASSIGN_OR_RETURN(data.lineage, Lineage("models:/" + std::string(name) + "/" +
                                               std::to_string(data.version.version)));
  FERRY_ASSIGN_OR_RETURN(data.history, reg()->ListAudit(name, 0));
  FERRY_ASSIGN_OR_RETURN(data.approvals, reg()->ListApprovals(name, data.version.version));
  if (auto policy = GetPolicy(name); policy.ok()) data.policy = std::move(*policy);
  data.generated_at_ms = options_.clock->NowMillis();
  return format == "html" ? governance::RenderModelCardHtml(data)
                          : governance::RenderModelCardMarkdown(data);
}

}  // namespace ferry::registry
