#ifndef FERRY_GOVERNANCE_INTERNAL_RESOLVE_H_
#define FERRY_GOVERNANCE_INTERNAL_RESOLVE_H_

#include <optional>
#include <string>

#include "ferry/governance/lineage.h"

namespace ferry::governance::internal {

// A lineage's code and pipeline fields, each taken from the Lineage when set
// and otherwise from the source run's tags (mlflow.source.git.commit,
// mlflow.source.name, mlflow.source.type, ferry.pipeline.run_id).
struct ResolvedCode {
  std::string git_commit;
  std::string source_name;
  std::string source_type;
  std::optional<std::string> pipeline_run;
};
ResolvedCode ResolveCode(const Lineage& lineage);

// The mlflow.data.context input tag of a dataset input ("" if absent).
std::string DatasetContext(const store::DatasetInput& input);

}  // namespace ferry::governance::internal

#endif  // FERRY_GOVERNANCE_INTERNAL_RESOLVE_H_
