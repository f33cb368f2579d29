#include "ferry/api/mlflow/routes.h"

#include "ferry/api/mlflow/json_request.h"
#include "ferry/api/mlflow/mlflow_api.h"

namespace ferry::api::mlflow {

using nlohmann::json;

http::Response Ok(const json& body) {
  return http::Response::Json(200, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

http::Handler Wrap(Endpoint endpoint) {
  return [endpoint = std::move(endpoint)](http::Request& request) {
    auto msg = DecodeRequest(request);
    if (!msg.ok()) return StatusToResponse(msg.status());
    auto result = endpoint(*msg, request);
    if (!result.ok()) return StatusToResponse(result.status());
    return Ok(*result);
  };
}

RequestContext Ctx(const http::Request& request) {
  RequestContext ctx;
  std::string_view user = request.Header("X-Ferry-User");
  if (!user.empty() && user.size() <= 256) ctx.actor = std::string(user);
  ctx.request_id = request.request_id;
  return ctx;
}

}  // namespace ferry::api::mlflow
