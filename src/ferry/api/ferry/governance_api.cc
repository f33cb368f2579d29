#include "ferry/api/ferry/governance_api.h"

#include "ferry/api/mlflow/json_request.h"
#include "ferry/api/mlflow/mlflow_api.h"
#include "ferry/api/mlflow/routes.h"
#include "ferry/common/status.h"
#include "ferry/governance/lineage.h"

namespace ferry::api::ferry_api {

using nlohmann::json;
using namespace ::ferry::api::mlflow;  // NOLINT: request helpers and the shared error shape

namespace {

json PolicyJson(const governance::Policy& policy) {
  return json::parse(governance::PolicyToJson(policy), nullptr, false);
}

json ApprovalJson(const store::Approval& a) {
  return {{"id", a.id},
          {"name", a.name},
          {"version", std::to_string(a.version)},
          {"target", a.target},
          {"user", a.user},
          {"comment", a.comment},
          {"timestamp", a.timestamp}};
}

json JsonOrNull(const std::string& text) {
  if (text.empty()) return nullptr;
  auto parsed = json::parse(text, nullptr, false);
  return parsed.is_discarded() ? json(text) : parsed;
}

json AuditJson(const store::AuditEntry& e) {
  return {{"seq", e.seq},
          {"timestamp", e.timestamp},
          {"actor", e.actor},
          {"action", e.action},
          {"object_type", e.object_type},
          {"object_id", e.object_id},
          {"before", JsonOrNull(e.before_json)},
          {"after", JsonOrNull(e.after_json)},
          {"request_id", e.request_id},
          {"prev_hash", e.prev_hash},
          {"hash", e.hash}};
}

}  // namespace

void RegisterGovernanceRoutes(registry::RegistryService* reg, http::Router* router) {
  const std::string p = "/api/2.0/ferry";
  auto add = [&](std::string_view method, std::string_view path, Endpoint e) {
    router->Add(method, p + std::string(path), Wrap(std::move(e)));
  };
  add("POST", "/registered-models/policy/set",
      [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
        FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
        auto it = m.find("policy");
        if (it == m.end() || !it->is_object()) return MissingParameter("policy");
        FERRY_ASSIGN_OR_RETURN(governance::Policy policy, governance::ParsePolicyJson(it->dump()));
        FERRY_ASSIGN_OR_RETURN(auto stored, reg->SetPolicy(name, policy, Ctx(req)));
        return json{{"policy", PolicyJson(stored)}};
      });
  add("GET", "/registered-models/policy/get",
      [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
        FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
        FERRY_ASSIGN_OR_RETURN(auto policy, reg->GetPolicy(name));
        return json{{"policy", PolicyJson(policy)}};
      });
  add("POST", "/registered-models/policy/delete",
      [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
        FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
        FERRY_RETURN_IF_ERROR(reg->DeletePolicy(name, Ctx(req)));
        return json::object();
      });
  add("POST", "/registered-models/alias/force",
      [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
        FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
        FERRY_ASSIGN_OR_RETURN(std::string alias, GetString(m, "alias"));
        FERRY_ASSIGN_OR_RETURN(std::string version, GetVersion(m));
        FERRY_ASSIGN_OR_RETURN(std::string reason, GetString(m, "reason"));
        FERRY_RETURN_IF_ERROR(reg->ForceSetAlias(name, alias, version, reason, Ctx(req)));
        return json::object();
      });
  add("POST", "/model-versions/approve",
      [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
        FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
        FERRY_ASSIGN_OR_RETURN(std::string version, GetVersion(m));
        FERRY_ASSIGN_OR_RETURN(std::string target, GetString(m, "target"));
        FERRY_ASSIGN_OR_RETURN(auto comment, GetOptionalString(m, "comment"));
        FERRY_ASSIGN_OR_RETURN(auto approval,
                               reg->Approve(name, version, target, comment.value_or(""), Ctx(req)));
        return json{{"approval", ApprovalJson(approval)}};
      });
  add("GET", "/model-versions/approvals",
      [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
        FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
        FERRY_ASSIGN_OR_RETURN(auto version, GetOptionalString(m, "version"));
        std::optional<std::string_view> v;
        if (version) v = *version;
        FERRY_ASSIGN_OR_RETURN(auto approvals, reg->ListApprovals(name, v));
        json list = json::array();
        for (const auto& a : approvals) list.push_back(ApprovalJson(a));
        return json{{"approvals", std::move(list)}};
      });
  add("GET", "/audit/log", [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
    FERRY_ASSIGN_OR_RETURN(auto object, GetOptionalString(m, "object"));
    FERRY_ASSIGN_OR_RETURN(auto limit, GetOptionalInt(m, "limit"));
    if (limit && (*limit < 0 || *limit > 1'000'000)) {
      return absl::InvalidArgumentError("Invalid value for 'limit': must be between 0 and 1000000");
    }
    FERRY_ASSIGN_OR_RETURN(auto entries, reg->AuditLog(object.value_or(""), limit.value_or(0)));
    json list = json::array();
    for (const auto& e : entries) list.push_back(AuditJson(e));
    return json{{"entries", std::move(list)}};
  });
  add("GET", "/audit/verify", [reg](const json&, http::Request&) -> absl::StatusOr<json> {
    FERRY_ASSIGN_OR_RETURN(auto result, reg->VerifyAudit());
    json out = {{"ok", result.ok}, {"entries_checked", result.entries_checked}};
    if (!result.ok) {
      out["first_bad_seq"] = result.first_bad_seq;
      out["problem"] = result.problem;
    }
    return out;
  });
  add("GET", "/lineage", [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
    FERRY_ASSIGN_OR_RETURN(std::string uri, GetString(m, "uri"));
    FERRY_ASSIGN_OR_RETURN(auto lineage, reg->Lineage(uri));
    return json{{"lineage", governance::LineageToJson(lineage)},
                {"text", governance::LineageToText(lineage)}};
  });
  router->Add("GET", p + "/model-card", [reg](http::Request& req) {
    auto m = DecodeRequest(req);
    if (!m.ok()) return StatusToResponse(m.status());
    auto name = GetString(*m, "name");
    if (!name.ok()) return StatusToResponse(name.status());
    auto version = GetVersion(*m);
    if (!version.ok()) return StatusToResponse(version.status());
    auto format = GetOptionalString(*m, "format");
    if (!format.ok()) return StatusToResponse(format.status());
    std::string fmt = format->value_or("markdown");
    auto card = reg->ModelCard(*name, *version, fmt);
    if (!card.ok()) return StatusToResponse(card.status());
    http::Response r;
    r.content_type = fmt == "html" ? "text/html; charset=utf-8" : "text/markdown; charset=utf-8";
    r.body = std::move(*card);
    return r;
  });
}

}  // namespace ferry::api::ferry_api
