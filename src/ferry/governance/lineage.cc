#include "ferry/governance/lineage.h"

#include <cmath>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ferry/governance/internal/format.h"
#include "ferry/governance/internal/resolve.h"

namespace ferry::governance {
namespace internal {

ResolvedCode ResolveCode(const Lineage& lineage) {
  ResolvedCode code{.git_commit = lineage.git_commit,
                    .source_name = lineage.source_name,
                    .source_type = lineage.source_type,
                    .pipeline_run = lineage.parent_pipeline_run};
  if (!lineage.run) return code;
  const auto& tags = lineage.run->tags;
  auto fill = [&](std::string* field, std::string_view key) {
    if (!field->empty()) return;
    if (const std::string* value = FindTag(tags, key)) *field = *value;
  };
  fill(&code.git_commit, "mlflow.source.git.commit");
  fill(&code.source_name, "mlflow.source.name");
  fill(&code.source_type, "mlflow.source.type");
  if (!code.pipeline_run) {
    if (const std::string* value = FindTag(tags, "ferry.pipeline.run_id"))
      code.pipeline_run = *value;
  }
  return code;
}

std::string DatasetContext(const store::DatasetInput& input) {
  const std::string* context = FindTag(input.tags, "mlflow.data.context");
  return context ? *context : std::string();
}

}  // namespace internal

namespace {

using internal::EscapeControl;
using internal::FormatNumber;
using internal::FormatTimeMs;
using nlohmann::json;

json TagsObject(const std::vector<store::Tag>& tags) {
  json out = json::object();
  for (const auto& tag : tags) out[tag.key] = tag.value;
  return out;
}

json MetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

json VersionJson(const store::ModelVersion& v) {
  return json{{"name", v.name},
              {"version", v.version},
              {"creation_timestamp", v.creation_timestamp},
              {"last_updated_timestamp", v.last_updated_timestamp},
              {"user_id", v.user_id},
              {"current_stage", v.current_stage},
              {"description", v.description},
              {"source", v.source},
              {"run_id", v.run_id},
              {"run_link", v.run_link},
              {"model_id", v.model_id},
              {"status", v.status},
              {"status_message", v.status_message},
              {"tags", TagsObject(v.tags)},
              {"aliases", v.aliases}};
}

json RunJson(const store::Run& run) {
  json params = json::object();
  for (const auto& p : run.params) params[p.key] = p.value;
  json metrics = json::array();
  for (const auto& m : run.metrics) {
    metrics.push_back({{"key", m.key},
                       {"value", MetricValue(m.value)},
                       {"step", m.step},
                       {"timestamp", m.timestamp}});
  }
  json datasets = json::array();
  for (const auto& input : run.dataset_inputs) {
    const store::Dataset& d = input.dataset;
    datasets.push_back({{"name", d.name},
                        {"digest", d.digest},
                        {"source_type", d.source_type},
                        {"source", d.source},
                        {"context", internal::DatasetContext(input)},
                        {"schema", d.schema},
                        {"profile", d.profile},
                        {"tags", TagsObject(input.tags)}});
  }
  const store::RunInfo& info = run.info;
  return json{{"run_id", info.run_id},
              {"run_name", info.run_name},
              {"experiment_id", info.experiment_id},
              {"user_id", info.user_id},
              {"status", info.status},
              {"start_time", info.start_time},
              {"end_time", info.end_time ? json(*info.end_time) : json(nullptr)},
              {"artifact_uri", info.artifact_uri},
              {"lifecycle_stage", info.lifecycle_stage},
              {"params", std::move(params)},
              {"metrics", std::move(metrics)},
              {"tags", TagsObject(run.tags)},
              {"datasets", std::move(datasets)}};
}

// Builds the indented text tree.
class TreeWriter {
 public:
  void Line(int depth, std::string_view text) {
    out_.append(static_cast<size_t>(depth) * 2, ' ');
    out_ += EscapeControl(text);
    out_ += '\n';
  }
  void Field(int depth, std::string_view label, std::string_view value) {
    if (value.empty()) return;
    Line(depth, absl::StrCat(internal::Sv(label), ": ", internal::Sv(value)));
  }
  // Multi-line text, each line prefixed by "| " (tabs kept).
  void Block(int depth, std::string_view text) {
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    for (absl::string_view line : absl::StrSplit(internal::Sv(text), '\n')) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      out_.append(static_cast<size_t>(depth) * 2, ' ');
      out_ += "| ";
      out_ += EscapeControl(std::string_view(line.data(), line.size()), "\t");
      out_ += '\n';
    }
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

json LineageToJson(const Lineage& lineage) {
  internal::ResolvedCode code = internal::ResolveCode(lineage);
  json out = json::object();
  out["model_uri"] = lineage.model_uri;
  out["model_version"] = VersionJson(lineage.version);
  out["run"] = lineage.run ? RunJson(*lineage.run) : json(nullptr);
  if (lineage.experiment) {
    const store::Experiment& e = *lineage.experiment;
    out["experiment"] = {{"experiment_id", e.experiment_id},
                         {"name", e.name},
                         {"artifact_location", e.artifact_location},
                         {"lifecycle_stage", e.lifecycle_stage}};
  } else {
    out["experiment"] = nullptr;
  }
  out["code"] = {{"git_commit", code.git_commit},
                 {"source_name", code.source_name},
                 {"source_type", code.source_type}};
  if (lineage.environment_file.empty() && lineage.environment.empty()) {
    out["environment"] = nullptr;
  } else {
    out["environment"] = {{"file", lineage.environment_file}, {"text", lineage.environment}};
  }
  out["pipeline"] = code.pipeline_run ? json{{"parent_run_id", *code.pipeline_run}} : json(nullptr);
  return out;
}

std::string LineageToText(const Lineage& lineage) {
  internal::ResolvedCode code = internal::ResolveCode(lineage);
  const store::ModelVersion& v = lineage.version;
  TreeWriter w;
  w.Line(0, absl::StrCat("lineage of ", lineage.model_uri));
  w.Line(1, absl::StrCat("model version ", v.name, " v", v.version));
  w.Field(2, "status", v.status);
  w.Field(2, "stage", v.current_stage);
  w.Field(2, "aliases", absl::StrJoin(v.aliases, ", "));
  std::string registered = FormatTimeMs(v.creation_timestamp);
  if (!v.user_id.empty()) absl::StrAppend(&registered, " by ", v.user_id);
  w.Field(2, "registered", registered);
  w.Field(2, "source", v.source);
  w.Field(2, "logged model", v.model_id);
  w.Field(2, "description", v.description);
  if (!v.tags.empty()) {
    w.Line(2, absl::StrCat("version tags (", v.tags.size(), ")"));
    for (const auto& t : v.tags) w.Line(3, absl::StrCat(t.key, " = ", t.value));
  }

  if (!lineage.run) {
    w.Line(2, "run: none (no source run is recorded for this version)");
  } else {
    const store::Run& run = *lineage.run;
    std::string head = absl::StrCat("run ", run.info.run_id);
    if (!run.info.run_name.empty()) absl::StrAppend(&head, " \"", run.info.run_name, "\"");
    absl::StrAppend(&head, " (", run.info.status, ")");
    w.Line(2, head);
    if (lineage.experiment) {
      w.Line(3, absl::StrCat("experiment ", lineage.experiment->experiment_id, " \"",
                             lineage.experiment->name, "\""));
    } else {
      w.Field(3, "experiment", run.info.experiment_id);
    }
    w.Field(3, "user", run.info.user_id);
    w.Field(3, "started", FormatTimeMs(run.info.start_time));
    if (run.info.end_time) w.Field(3, "ended", FormatTimeMs(*run.info.end_time));
    w.Field(3, "artifact uri", run.info.artifact_uri);
    w.Line(3, absl::StrCat("params (", run.params.size(), ")"));
    for (const auto& p : run.params) w.Line(4, absl::StrCat(p.key, " = ", p.value));
    w.Line(3, absl::StrCat("metrics (", run.metrics.size(), ")"));
    for (const auto& m : run.metrics) {
      w.Line(4, absl::StrCat(m.key, " = ", FormatNumber(m.value), " (step ", m.step, ")"));
    }
    w.Line(3, absl::StrCat("tags (", run.tags.size(), ")"));
    for (const auto& t : run.tags) w.Line(4, absl::StrCat(t.key, " = ", t.value));
    w.Line(3, absl::StrCat("datasets (", run.dataset_inputs.size(), ")"));
    for (const auto& input : run.dataset_inputs) {
      const store::Dataset& d = input.dataset;
      w.Line(4, d.name.empty() ? "(unnamed dataset)" : d.name);
      w.Field(5, "digest", d.digest);
      std::string source = d.source;
      if (!d.source_type.empty()) absl::StrAppend(&source, " (", d.source_type, ")");
      w.Field(5, "source", source);
      w.Field(5, "context", internal::DatasetContext(input));
    }
  }

  w.Line(1, "code");
  if (code.git_commit.empty() && code.source_name.empty() && code.source_type.empty()) {
    w.Line(2, "not recorded");
  }
  w.Field(2, "git commit", code.git_commit);
  w.Field(2, "source name", code.source_name);
  w.Field(2, "source type", code.source_type);

  if (lineage.environment_file.empty() && lineage.environment.empty()) {
    w.Line(1, "environment: not found with the model's artifacts");
  } else {
    w.Line(1,
           absl::StrCat("environment: ",
                        lineage.environment_file.empty() ? "(unnamed)" : lineage.environment_file));
    w.Block(2, lineage.environment);
  }
  w.Line(1, code.pipeline_run ? absl::StrCat("pipeline: parent run ", *code.pipeline_run)
                              : std::string("pipeline: none"));
  return w.Take();
}

}  // namespace ferry::governance
