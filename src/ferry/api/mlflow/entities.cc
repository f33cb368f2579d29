#include "ferry/api/mlflow/entities.h"

#include "ferry/api/mlflow/json_request.h"
#include "ferry/common/status.h"

namespace ferry::api::mlflow {

using nlohmann::json;

json TagsToJson(const std::vector<store::Tag>& tags) {
  json out = json::array();
  for (const auto& t : tags) out.push_back({{"key", t.key}, {"value", t.value}});
  return out;
}

namespace {
json ParamsToJson(const std::vector<store::Param>& params) {
  json out = json::array();
  for (const auto& p : params) out.push_back({{"key", p.key}, {"value", p.value}});
  return out;
}
}  // namespace

json ToJson(const store::Experiment& e) {
  json j = {{"experiment_id", e.experiment_id},         {"name", e.name},
            {"artifact_location", e.artifact_location}, {"lifecycle_stage", e.lifecycle_stage},
            {"last_update_time", e.last_update_time},   {"creation_time", e.creation_time}};
  if (!e.tags.empty()) j["tags"] = TagsToJson(e.tags);
  return j;
}

json ToJson(const store::RunInfo& info) {
  json j = {{"run_id", info.run_id},
            {"run_uuid", info.run_id},
            {"run_name", info.run_name},
            {"experiment_id", info.experiment_id},
            {"user_id", info.user_id},
            {"status", info.status},
            {"start_time", info.start_time},
            {"artifact_uri", info.artifact_uri},
            {"lifecycle_stage", info.lifecycle_stage}};
  if (info.end_time) j["end_time"] = *info.end_time;
  return j;
}

json ToJson(const store::Metric& m) {
  json j = {
      {"key", m.key}, {"value", JsonDouble(m.value)}, {"timestamp", m.timestamp}, {"step", m.step}};
  if (!m.run_id.empty()) j["run_id"] = m.run_id;
  if (!m.model_id.empty()) j["model_id"] = m.model_id;
  if (!m.dataset_name.empty()) j["dataset_name"] = m.dataset_name;
  if (!m.dataset_digest.empty()) j["dataset_digest"] = m.dataset_digest;
  return j;
}

json ToJson(const store::Run& run) {
  json data = json::object();
  if (!run.metrics.empty()) {
    json metrics = json::array();
    for (const auto& m : run.metrics) {
      json jm = {{"key", m.key},
                 {"value", JsonDouble(m.value)},
                 {"timestamp", m.timestamp},
                 {"step", m.step}};
      metrics.push_back(std::move(jm));
    }
    data["metrics"] = std::move(metrics);
  }
  if (!run.params.empty()) data["params"] = ParamsToJson(run.params);
  if (!run.tags.empty()) data["tags"] = TagsToJson(run.tags);
  json inputs = json::object();
  if (!run.dataset_inputs.empty()) {
    json list = json::array();
    for (const auto& in : run.dataset_inputs) {
      json ds = {{"name", in.dataset.name},
                 {"digest", in.dataset.digest},
                 {"source_type", in.dataset.source_type},
                 {"source", in.dataset.source}};
      if (!in.dataset.schema.empty()) ds["schema"] = in.dataset.schema;
      if (!in.dataset.profile.empty()) ds["profile"] = in.dataset.profile;
      json entry = {{"dataset", std::move(ds)}};
      if (!in.tags.empty()) entry["tags"] = TagsToJson(in.tags);
      list.push_back(std::move(entry));
    }
    inputs["dataset_inputs"] = std::move(list);
  }
  if (!run.model_inputs.empty()) {
    json list = json::array();
    for (const auto& m : run.model_inputs) list.push_back({{"model_id", m.model_id}});
    inputs["model_inputs"] = std::move(list);
  }
  json j = {{"info", ToJson(run.info)}, {"data", std::move(data)}, {"inputs", std::move(inputs)}};
  if (!run.model_outputs.empty()) {
    json list = json::array();
    for (const auto& m : run.model_outputs)
      list.push_back({{"model_id", m.model_id}, {"step", m.step}});
    j["outputs"] = {{"model_outputs", std::move(list)}};
  }
  return j;
}

json ToJson(const store::LoggedModel& m) {
  json info = {{"model_id", m.model_id},
               {"experiment_id", m.experiment_id},
               {"name", m.name},
               {"artifact_uri", m.artifact_uri},
               {"creation_timestamp_ms", m.creation_timestamp_ms},
               {"last_updated_timestamp_ms", m.last_updated_timestamp_ms},
               {"status", m.status}};
  if (!m.status_message.empty()) info["status_message"] = m.status_message;
  if (!m.model_type.empty()) info["model_type"] = m.model_type;
  if (!m.source_run_id.empty()) info["source_run_id"] = m.source_run_id;
  if (!m.tags.empty()) info["tags"] = TagsToJson(m.tags);
  json data = json::object();
  if (!m.params.empty()) data["params"] = ParamsToJson(m.params);
  if (!m.metrics.empty()) {
    json metrics = json::array();
    for (const auto& metric : m.metrics) metrics.push_back(ToJson(metric));
    data["metrics"] = std::move(metrics);
  }
  return {{"info", std::move(info)}, {"data", std::move(data)}};
}

absl::StatusOr<std::vector<store::Tag>> TagsFromJson(const json& msg, std::string_view field) {
  FERRY_ASSIGN_OR_RETURN(auto items, GetObjectList(msg, field));
  std::vector<store::Tag> out;
  out.reserve(items.size());
  for (const auto& item : items) {
    FERRY_ASSIGN_OR_RETURN(std::string key, GetString(item, "key"));
    FERRY_ASSIGN_OR_RETURN(auto value, GetOptionalString(item, "value"));
    out.push_back({std::move(key), value.value_or("")});
  }
  return out;
}

absl::StatusOr<std::vector<store::Param>> ParamsFromJson(const json& msg, std::string_view field) {
  FERRY_ASSIGN_OR_RETURN(auto items, GetObjectList(msg, field));
  std::vector<store::Param> out;
  out.reserve(items.size());
  for (const auto& item : items) {
    FERRY_ASSIGN_OR_RETURN(std::string key, GetString(item, "key"));
    FERRY_ASSIGN_OR_RETURN(auto value, GetOptionalString(item, "value"));
    out.push_back({std::move(key), value.value_or("")});
  }
  return out;
}

absl::StatusOr<store::Metric> MetricFromJson(const json& msg) {
  store::Metric m;
  FERRY_ASSIGN_OR_RETURN(m.key, GetString(msg, "key"));
  FERRY_ASSIGN_OR_RETURN(m.value, GetDouble(msg, "value"));
  FERRY_ASSIGN_OR_RETURN(m.timestamp, GetInt(msg, "timestamp"));
  FERRY_ASSIGN_OR_RETURN(auto step, GetOptionalInt(msg, "step"));
  m.step = step.value_or(0);
  FERRY_ASSIGN_OR_RETURN(auto model_id, GetOptionalString(msg, "model_id"));
  FERRY_ASSIGN_OR_RETURN(auto dataset_name, GetOptionalString(msg, "dataset_name"));
  FERRY_ASSIGN_OR_RETURN(auto dataset_digest, GetOptionalString(msg, "dataset_digest"));
  m.model_id = model_id.value_or("");
  m.dataset_name = dataset_name.value_or("");
  m.dataset_digest = dataset_digest.value_or("");
  return m;
}

absl::StatusOr<std::vector<store::DatasetInput>> DatasetInputsFromJson(const json& msg) {
  FERRY_ASSIGN_OR_RETURN(auto items, GetObjectList(msg, "datasets"));
  std::vector<store::DatasetInput> out;
  for (const auto& item : items) {
    store::DatasetInput input;
    FERRY_ASSIGN_OR_RETURN(input.tags, TagsFromJson(item, "tags"));
    auto it = item.find("dataset");
    if (it == item.end() || !it->is_object()) return MissingParameter("dataset");
    const json& ds = *it;
    FERRY_ASSIGN_OR_RETURN(input.dataset.name, GetString(ds, "name"));
    FERRY_ASSIGN_OR_RETURN(input.dataset.digest, GetString(ds, "digest"));
    FERRY_ASSIGN_OR_RETURN(input.dataset.source_type, GetString(ds, "source_type"));
    FERRY_ASSIGN_OR_RETURN(input.dataset.source, GetString(ds, "source"));
    FERRY_ASSIGN_OR_RETURN(auto schema, GetOptionalString(ds, "schema"));
    FERRY_ASSIGN_OR_RETURN(auto profile, GetOptionalString(ds, "profile"));
    input.dataset.schema = schema.value_or("");
    input.dataset.profile = profile.value_or("");
    out.push_back(std::move(input));
  }
  return out;
}

}  // namespace ferry::api::mlflow
