#ifndef FERRY_API_MLFLOW_ENTITIES_H_
#define FERRY_API_MLFLOW_ENTITIES_H_

// MLflow REST JSON <-> store entities (field names as in MLflow's protos).

#include <vector>

#include "absl/status/statusor.h"
#include "ferry/store/types.h"
#include "nlohmann/json.hpp"

namespace ferry::api::mlflow {

nlohmann::json ToJson(const store::Experiment& experiment);
nlohmann::json ToJson(const store::RunInfo& info);
nlohmann::json ToJson(const store::Run& run);
nlohmann::json ToJson(const store::Metric& metric);
nlohmann::json ToJson(const store::LoggedModel& model);
nlohmann::json TagsToJson(const std::vector<store::Tag>& tags);

absl::StatusOr<std::vector<store::Tag>> TagsFromJson(const nlohmann::json& msg,
                                                     std::string_view field);
absl::StatusOr<std::vector<store::Param>> ParamsFromJson(const nlohmann::json& msg,
                                                         std::string_view field);
// `default_timestamp` fills a missing timestamp where MLflow allows it.
absl::StatusOr<store::Metric> MetricFromJson(const nlohmann::json& msg);
absl::StatusOr<std::vector<store::DatasetInput>> DatasetInputsFromJson(const nlohmann::json& msg);

}  // namespace ferry::api::mlflow

#endif  // FERRY_API_MLFLOW_ENTITIES_H_
