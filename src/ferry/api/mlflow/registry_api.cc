#include "ferry/api/mlflow/registry_api.h"

#include "ferry/api/mlflow/entities.h"
#include "ferry/api/mlflow/json_request.h"
#include "ferry/api/mlflow/mlflow_api.h"
#include "ferry/api/mlflow/routes.h"
#include "ferry/common/status.h"

namespace ferry::api::mlflow {

using nlohmann::json;

json ToJson(const store::ModelVersion& v) {
  json j = {{"name", v.name},
            {"version", std::to_string(v.version)},
            {"creation_timestamp", v.creation_timestamp},
            {"last_updated_timestamp", v.last_updated_timestamp},
            {"current_stage", v.current_stage},
            {"description", v.description},
            {"source", v.source},
            {"status", v.status}};
  if (!v.user_id.empty()) j["user_id"] = v.user_id;
  if (!v.run_id.empty()) j["run_id"] = v.run_id;
  if (!v.run_link.empty()) j["run_link"] = v.run_link;
  if (!v.model_id.empty()) j["model_id"] = v.model_id;
  if (!v.status_message.empty()) j["status_message"] = v.status_message;
  if (!v.tags.empty()) j["tags"] = TagsToJson(v.tags);
  if (!v.aliases.empty()) j["aliases"] = v.aliases;
  return j;
}

json ToJson(const store::RegisteredModel& m) {
  json j = {{"name", m.name},
            {"creation_timestamp", m.creation_timestamp},
            {"last_updated_timestamp", m.last_updated_timestamp}};
  if (!m.user_id.empty()) j["user_id"] = m.user_id;
  if (!m.description.empty()) j["description"] = m.description;
  if (!m.latest_versions.empty()) {
    json list = json::array();
    for (const auto& v : m.latest_versions) list.push_back(ToJson(v));
    j["latest_versions"] = std::move(list);
  }
  if (!m.tags.empty()) j["tags"] = TagsToJson(m.tags);
  if (!m.aliases.empty()) {
    json list = json::array();
    for (const auto& a : m.aliases)
      list.push_back({{"alias", a.alias}, {"version", std::to_string(a.version)}});
    j["aliases"] = std::move(list);
  }
  return j;
}

namespace {

int ClampInt(int64_t v) { return static_cast<int>(std::clamp<int64_t>(v, -1, INT32_MAX)); }

}  // namespace

void RegisterRegistryRoutes(registry::RegistryService* reg, artifacts::ArtifactStore* artifacts,
                            http::Router* router) {
  for (std::string p : {"/api/2.0/mlflow", "/ajax-api/2.0/mlflow"}) {
    auto add = [&](std::string_view method, std::string_view path, Endpoint e) {
      router->Add(method, p + std::string(path), Wrap(std::move(e)));
    };
    // ---- registered models
    add("POST", "/registered-models/create",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(auto description, GetOptionalString(m, "description"));
          FERRY_ASSIGN_OR_RETURN(auto tags, TagsFromJson(m, "tags"));
          FERRY_ASSIGN_OR_RETURN(auto model, reg->CreateRegisteredModel(
                                                 name, description.value_or(""), tags, Ctx(req)));
          return json{{"registered_model", ToJson(model)}};
        });
    add("GET", "/registered-models/get",
        [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(auto model, reg->GetRegisteredModel(name));
          return json{{"registered_model", ToJson(model)}};
        });
    add("POST", "/registered-models/rename",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string new_name, GetString(m, "new_name"));
          FERRY_ASSIGN_OR_RETURN(auto model, reg->RenameRegisteredModel(name, new_name, Ctx(req)));
          return json{{"registered_model", ToJson(model)}};
        });
    add("PATCH", "/registered-models/update",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(auto description, GetOptionalString(m, "description"));
          FERRY_ASSIGN_OR_RETURN(
              auto model, reg->UpdateRegisteredModel(name, description.value_or(""), Ctx(req)));
          return json{{"registered_model", ToJson(model)}};
        });
    add("DELETE", "/registered-models/delete",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_RETURN_IF_ERROR(reg->DeleteRegisteredModel(name, Ctx(req)));
          return json::object();
        });
    auto search_models = [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
      FERRY_ASSIGN_OR_RETURN(auto filter, GetOptionalString(m, "filter"));
      FERRY_ASSIGN_OR_RETURN(auto max_results, GetOptionalInt(m, "max_results"));
      FERRY_ASSIGN_OR_RETURN(auto order_by, GetStringList(m, "order_by"));
      FERRY_ASSIGN_OR_RETURN(auto token, GetOptionalString(m, "page_token"));
      FERRY_ASSIGN_OR_RETURN(
          auto page,
          reg->SearchRegisteredModels(filter.value_or(""), order_by,
                                      ClampInt(max_results.value_or(100)), token.value_or("")));
      json out = json::object();
      json list = json::array();
      for (const auto& model : page.items) list.push_back(ToJson(model));
      if (!list.empty()) out["registered_models"] = std::move(list);
      if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
      return out;
    };
    add("GET", "/registered-models/search", search_models);
    add("POST", "/registered-models/search", search_models);
    auto latest = [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
      FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
      FERRY_ASSIGN_OR_RETURN(auto stages, GetStringList(m, "stages"));
      FERRY_ASSIGN_OR_RETURN(auto versions, reg->GetLatestVersions(name, stages));
      json list = json::array();
      for (const auto& v : versions) list.push_back(ToJson(v));
      json out = json::object();
      if (!list.empty()) out["model_versions"] = std::move(list);
      return out;
    };
    add("POST", "/registered-models/get-latest-versions", latest);
    add("GET", "/registered-models/get-latest-versions", latest);
    add("POST", "/registered-models/set-tag",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "key"));
          FERRY_ASSIGN_OR_RETURN(auto value, GetOptionalString(m, "value"));
          FERRY_RETURN_IF_ERROR(
              reg->SetRegisteredModelTag(name, {key, value.value_or("")}, Ctx(req)));
          return json::object();
        });
    add("DELETE", "/registered-models/delete-tag",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "key"));
          FERRY_RETURN_IF_ERROR(reg->DeleteRegisteredModelTag(name, key, Ctx(req)));
          return json::object();
        });
    add("POST", "/registered-models/alias",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string alias, GetString(m, "alias"));
          FERRY_ASSIGN_OR_RETURN(std::string version, GetVersion(m));
          FERRY_RETURN_IF_ERROR(reg->SetAlias(name, alias, version, Ctx(req)));
          return json::object();
        });
    add("DELETE", "/registered-models/alias",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string alias, GetString(m, "alias"));
          FERRY_RETURN_IF_ERROR(reg->DeleteAlias(name, alias, Ctx(req)));
          return json::object();
        });
    add("GET", "/registered-models/alias",
        [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string alias, GetString(m, "alias"));
          FERRY_ASSIGN_OR_RETURN(auto version, reg->GetModelVersionByAlias(name, alias));
          return json{{"model_version", ToJson(version)}};
        });

    // ---- model versions
    add("POST", "/model-versions/create",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          registry::CreateModelVersionRequest r;
          FERRY_ASSIGN_OR_RETURN(r.name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(r.source, GetString(m, "source"));
          FERRY_ASSIGN_OR_RETURN(auto run_id, GetOptionalString(m, "run_id"));
          FERRY_ASSIGN_OR_RETURN(auto run_link, GetOptionalString(m, "run_link"));
          FERRY_ASSIGN_OR_RETURN(auto model_id, GetOptionalString(m, "model_id"));
          FERRY_ASSIGN_OR_RETURN(auto description, GetOptionalString(m, "description"));
          r.run_id = run_id.value_or("");
          r.run_link = run_link.value_or("");
          r.model_id = model_id.value_or("");
          r.description = description.value_or("");
          FERRY_ASSIGN_OR_RETURN(r.tags, TagsFromJson(m, "tags"));
          FERRY_ASSIGN_OR_RETURN(auto version, reg->CreateModelVersion(r, Ctx(req)));
          return json{{"model_version", ToJson(version)}};
        });
    add("GET", "/model-versions/get", [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
      FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
      FERRY_ASSIGN_OR_RETURN(std::string version, GetVersion(m));
      FERRY_ASSIGN_OR_RETURN(auto mv, reg->GetModelVersion(name, version));
      return json{{"model_version", ToJson(mv)}};
    });
    add("PATCH", "/model-versions/update",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string version, GetVersion(m));
          FERRY_ASSIGN_OR_RETURN(auto description, GetOptionalString(m, "description"));
          FERRY_ASSIGN_OR_RETURN(
              auto mv, reg->UpdateModelVersion(name, version, description.value_or(""), Ctx(req)));
          return json{{"model_version", ToJson(mv)}};
        });
    add("DELETE", "/model-versions/delete",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string version, GetVersion(m));
          FERRY_RETURN_IF_ERROR(reg->DeleteModelVersion(name, version, Ctx(req)));
          return json::object();
        });
    auto search_versions = [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
      FERRY_ASSIGN_OR_RETURN(auto filter, GetOptionalString(m, "filter"));
      FERRY_ASSIGN_OR_RETURN(auto max_results, GetOptionalInt(m, "max_results"));
      FERRY_ASSIGN_OR_RETURN(auto order_by, GetStringList(m, "order_by"));
      FERRY_ASSIGN_OR_RETURN(auto token, GetOptionalString(m, "page_token"));
      FERRY_ASSIGN_OR_RETURN(
          auto page,
          reg->SearchModelVersions(filter.value_or(""), order_by,
                                   ClampInt(max_results.value_or(10000)), token.value_or("")));
      json out = json::object();
      json list = json::array();
      for (const auto& v : page.items) list.push_back(ToJson(v));
      if (!list.empty()) out["model_versions"] = std::move(list);
      if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
      return out;
    };
    add("GET", "/model-versions/search", search_versions);
    add("POST", "/model-versions/search", search_versions);
    add("POST", "/model-versions/transition-stage",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string version, GetVersion(m));
          FERRY_ASSIGN_OR_RETURN(std::string stage, GetString(m, "stage"));
          FERRY_ASSIGN_OR_RETURN(auto archive, GetOptionalBool(m, "archive_existing_versions"));
          FERRY_ASSIGN_OR_RETURN(auto mv, reg->TransitionStage(name, version, stage,
                                                               archive.value_or(false), Ctx(req)));
          return json{{"model_version", ToJson(mv)}};
        });
    add("POST", "/model-versions/set-tag",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string version, GetVersion(m));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "key"));
          FERRY_ASSIGN_OR_RETURN(auto value, GetOptionalString(m, "value"));
          FERRY_RETURN_IF_ERROR(
              reg->SetModelVersionTag(name, version, {key, value.value_or("")}, Ctx(req)));
          return json::object();
        });
    add("DELETE", "/model-versions/delete-tag",
        [reg](const json& m, http::Request& req) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string version, GetVersion(m));
          FERRY_ASSIGN_OR_RETURN(std::string key, GetString(m, "key"));
          FERRY_RETURN_IF_ERROR(reg->DeleteModelVersionTag(name, version, key, Ctx(req)));
          return json::object();
        });
    add("GET", "/model-versions/get-download-uri",
        [reg](const json& m, http::Request&) -> absl::StatusOr<json> {
          FERRY_ASSIGN_OR_RETURN(std::string name, GetString(m, "name"));
          FERRY_ASSIGN_OR_RETURN(std::string version, GetVersion(m));
          FERRY_ASSIGN_OR_RETURN(std::string uri, reg->GetDownloadUri(name, version));
          return json{{"artifact_uri", uri}};
        });
  }
  for (const char* path :
       {"/model-versions/get-artifact", "/ajax-api/2.0/mlflow/model-versions/get-artifact"}) {
    router->Add("GET", path, [reg, artifacts](http::Request& req) {
      auto m = DecodeRequest(req);
      if (!m.ok()) return StatusToResponse(m.status());
      auto name = GetString(*m, "name");
      if (!name.ok()) return StatusToResponse(name.status());
      auto version = GetVersion(*m);
      if (!version.ok()) return StatusToResponse(version.status());
      auto sub = GetString(*m, "path");
      if (!sub.ok()) return StatusToResponse(sub.status());
      auto path = reg->ResolveVersionArtifact(*name, *version, *sub);
      if (!path.ok()) return StatusToResponse(path.status());
      auto file = artifacts->ResolveForRead(*path);
      if (!file.ok()) return StatusToResponse(file.status());
      http::Response r;
      r.content_type = "application/octet-stream";
      r.file_path = *file;
      return r;
    });
  }
}

}  // namespace ferry::api::mlflow
