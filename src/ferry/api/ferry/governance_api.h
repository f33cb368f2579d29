#ifndef FERRY_API_FERRY_GOVERNANCE_API_H_
#define FERRY_API_FERRY_GOVERNANCE_API_H_

// Ferry's own REST endpoints for what MLflow lacks — promotion policies,
// approvals, forced promotion, the audit log, lineage and model cards —
// under /api/2.0/ferry/, in MLflow's error shape:
//   POST /registered-models/policy/set      {name, policy}
//   GET  /registered-models/policy/get      ?name=
//   POST /registered-models/policy/delete   {name}
//   POST /registered-models/alias/force     {name, alias, version, reason}
//   POST /model-versions/approve            {name, version, target, comment}
//   GET  /model-versions/approvals          ?name=&version=
//   GET  /audit/log                         ?object=&limit=
//   GET  /audit/verify
//   GET  /lineage                           ?uri=models:/name@alias
//   GET  /model-card                        ?name=&version=&format=markdown|html

#include "ferry/http/router.h"
#include "ferry/registry/service.h"

namespace ferry::api::ferry_api {

// `registry` must outlive the router's use.
void RegisterGovernanceRoutes(registry::RegistryService* registry, http::Router* router);

}  // namespace ferry::api::ferry_api

#endif  // FERRY_API_FERRY_GOVERNANCE_API_H_
