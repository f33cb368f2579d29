#ifndef FERRY_API_V2_REST_API_H_
#define FERRY_API_V2_REST_API_H_

// The Open Inference Protocol V2 REST frontend (KServe / Triton HTTP), plus
// the Triton extensions clients rely on: binary tensor data, model
// configuration, statistics, the model repository, and /metrics. A thin
// edge: decode (codec.h), call the InferenceService, encode. Errors are
// {"error": "..."} with Triton's status mapping (StatusToHttp).

#include <string>

#include "absl/status/status.h"
#include "ferry/http/router.h"
#include "ferry/monitoring/prometheus.h"
#include "ferry/serving/inference_service.h"

namespace ferry::api::v2 {

struct RestOptions {
  // Header whose value pins a client to one version of a canary split
  // (sticky routing). Requests without it are routed by their id's hash.
  std::string sticky_header = "X-Ferry-Route-Key";
};

// Triton's HTTP mapping: InvalidArgument/AlreadyExists/FailedPrecondition
// 400, NotFound 404, Unavailable/ResourceExhausted/DeadlineExceeded 503,
// Unimplemented 501, else 500.
int StatusToHttp(const absl::Status& status);

// Registers every /v2 route and GET /metrics on `router`. `service` and
// `metrics` must outlive the router.
void RegisterRestRoutes(const RestOptions& options, serving::InferenceService* service,
                        const monitoring::Registry* metrics, http::Router* router);

}  // namespace ferry::api::v2

#endif  // FERRY_API_V2_REST_API_H_
