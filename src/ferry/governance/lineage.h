#ifndef FERRY_GOVERNANCE_LINEAGE_H_
#define FERRY_GOVERNANCE_LINEAGE_H_

// A model version's lineage (source run, its data, code and environment) as
// gathered by the registry service, and its JSON and text renderings. Pure
// functions; thread-safe.

#include <optional>
#include <string>

#include "ferry/store/registry_types.h"
#include "ferry/store/types.h"
#include "nlohmann/json.hpp"

namespace ferry::governance {

struct Lineage {
  std::string model_uri;  // as asked, e.g. models:/credit@champion
  store::ModelVersion version;
  std::optional<store::Run> run;  // the source run (params, metrics, tags, dataset_inputs)
  std::optional<store::Experiment> experiment;
  // From the run's tags mlflow.source.git.commit, mlflow.source.name,
  // mlflow.source.type. When left empty they are taken from run->tags.
  std::string git_commit, source_name, source_type;
  std::string environment_file;  // e.g. "requirements.txt" (relative to the model's artifacts)
  std::string environment;       // its text (may be truncated by the caller)
  // Run id of the parent pipeline run, from the run's tag ferry.pipeline.run_id
  // (taken from run->tags when not set).
  std::optional<std::string> parent_pipeline_run;
};

// {"model_uri", "model_version": {...}, "run": {... "params": {k: v},
//  "metrics": [{key, value, step, timestamp}], "tags": {k: v},
//  "datasets": [{name, digest, source_type, source, context, schema, profile}]} | null,
//  "experiment": {...} | null, "code": {git_commit, source_name, source_type},
//  "environment": {file, text} | null, "pipeline": {parent_run_id} | null}
// Non-finite metric values are the strings "NaN", "Infinity", "-Infinity".
// Strings are copied as given: dump with error_handler_t::replace if they
// may not be valid UTF-8.
nlohmann::json LineageToJson(const Lineage& lineage);

// A readable indented tree: model version -> run -> params / metrics / tags
// -> datasets (name, digest, source, context) -> code -> environment ->
// pipeline. Control characters in values are shown as \xNN so the text is
// safe to print on a terminal.
std::string LineageToText(const Lineage& lineage);

}  // namespace ferry::governance

#endif  // FERRY_GOVERNANCE_LINEAGE_H_
