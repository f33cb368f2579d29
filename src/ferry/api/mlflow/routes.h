#ifndef FERRY_API_MLFLOW_ROUTES_H_
#define FERRY_API_MLFLOW_ROUTES_H_

// Helpers shared by the route tables of the MLflow-shaped APIs (tracking,
// registry, and Ferry's own governance endpoints, which use MLflow's error
// shape so the mlflow client and `ferry` CLI read them the same way).

#include <functional>
#include <string_view>

#include "absl/status/statusor.h"
#include "ferry/common/audit_sink.h"
#include "ferry/http/http.h"
#include "nlohmann/json.hpp"

namespace ferry::api::mlflow {

// An endpoint taking the decoded request message (JSON body or query
// string) and returning the JSON response body.
using Endpoint = std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json& msg,
                                                              http::Request& request)>;

http::Response Ok(const nlohmann::json& body);
// Decodes, calls, and maps a non-OK status with StatusToResponse().
http::Handler Wrap(Endpoint endpoint);
// The actor (X-Ferry-User header, else "unknown"; authentication will
// replace it) and the request id.
RequestContext Ctx(const http::Request& request);

}  // namespace ferry::api::mlflow

#endif  // FERRY_API_MLFLOW_ROUTES_H_
