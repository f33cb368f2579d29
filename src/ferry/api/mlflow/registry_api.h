#ifndef FERRY_API_MLFLOW_REGISTRY_API_H_
#define FERRY_API_MLFLOW_REGISTRY_API_H_

// MLflow's Model Registry REST API (registered-models/*, model-versions/*,
// /model-versions/get-artifact) under /api/2.0/mlflow and
// /ajax-api/2.0/mlflow, over registry::RegistryService.

#include "ferry/artifacts/artifact_store.h"
#include "ferry/http/router.h"
#include "ferry/registry/service.h"
#include "nlohmann/json.hpp"

namespace ferry::api::mlflow {

// `registry` and `artifacts` must outlive the router's use.
void RegisterRegistryRoutes(registry::RegistryService* registry,
                            artifacts::ArtifactStore* artifacts, http::Router* router);

nlohmann::json ToJson(const store::RegisteredModel& model);
nlohmann::json ToJson(const store::ModelVersion& version);

}  // namespace ferry::api::mlflow

#endif  // FERRY_API_MLFLOW_REGISTRY_API_H_
