#include "ferry/api/v2/rest_api.h"

#include <charconv>
#include <optional>

#include "absl/strings/str_cat.h"
#include "ferry/api/v2/codec.h"
#include "ferry/common/url.h"
#include "ferry/serving/batching/dynamic_batcher.h"
#include "nlohmann/json.hpp"

namespace ferry::api::v2 {
namespace {

using nlohmann::json;

http::Response Error(const absl::Status& status) {
  http::Response response =
      http::Response::Json(StatusToHttp(status), ErrorBody(std::string(status.message())));
  if (auto retry = status.GetPayload(serving::batching::kRetryAfterMsPayload)) {
    int64_t ms = 0;
    std::string text(*retry);
    std::from_chars(text.data(), text.data() + text.size(), ms);
    response.headers.emplace_back("Retry-After",
                                  std::to_string(std::max<int64_t>(1, (ms + 999) / 1000)));
  }
  return response;
}

std::string Param(const http::Request& request, std::string_view name) {
  auto decoded = PercentDecode(request.PathParam(name));
  return decoded.ok() ? *decoded : std::string(request.PathParam(name));
}

http::Response Health(bool ok) {
  return http::Response::Json(ok ? 200 : 400, ok ? "" : ErrorBody("not ready"));
}

}  // namespace

int StatusToHttp(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kCancelled:
      return 400;
    default:
      return 500;
  }
}

void RegisterRestRoutes(const RestOptions& options, serving::InferenceService* service,
                        const monitoring::Registry* metrics, http::Router* router) {
  router->SetErrorFormatter([](const absl::Status& status) { return Error(status); });
  router->SetNotFound([](http::Request& request) {
    return http::Response::Json(404,
                                ErrorBody("no route for " + request.method + " " + request.path));
  });
  router->Add("GET", "/v2", [service](http::Request&) {
    return http::Response::Json(200, ServerMetadataJson(service->GetServerMetadata()).dump());
  });
  router->Add("GET", "/v2/health/live",
              [service](http::Request&) { return Health(service->Live()); });
  router->Add("GET", "/v2/health/ready",
              [service](http::Request&) { return Health(service->Ready()); });

  auto metadata = [service](http::Request& request) {
    auto view = service->GetModelMetadata(Param(request, "model"), Param(request, "version"));
    if (!view.ok()) return Error(view.status());
    return http::Response::Json(200, ModelMetadataJson(*view).dump());
  };
  auto ready = [service](http::Request& request) {
    return Health(service->ModelReady(Param(request, "model"), Param(request, "version")));
  };
  auto config = [service](http::Request& request) {
    auto c = service->GetModelConfig(Param(request, "model"), Param(request, "version"));
    if (!c.ok()) return Error(c.status());
    return http::Response::Json(200, c->dump());
  };
  auto stats = [service](http::Request& request) {
    auto s = service->GetModelStatistics(Param(request, "model"), Param(request, "version"));
    if (!s.ok()) return Error(s.status());
    return http::Response::Json(200, s->dump());
  };
  std::string sticky_header = options.sticky_header;
  auto infer = [service, sticky_header](http::Request& request, http::Responder respond) {
    std::optional<size_t> header_length;
    std::string_view length_text = request.Header("Inference-Header-Content-Length");
    if (!length_text.empty()) {
      size_t value = 0;
      auto [ptr, ec] =
          std::from_chars(length_text.data(), length_text.data() + length_text.size(), value);
      if (ec != std::errc() || ptr != length_text.data() + length_text.size())
        return respond(Error(absl::InvalidArgumentError(
            "Inference-Header-Content-Length must be a non-negative integer")));
      header_length = value;
    }
    auto decoded = DecodeInferRequest(request.body, header_length);
    if (!decoded.ok()) return respond(Error(decoded.status()));
    serving::InferRequest infer_request = std::move(*decoded);
    infer_request.model_name = Param(request, "model");
    infer_request.model_version = Param(request, "version");
    if (infer_request.id.empty()) infer_request.id = request.request_id;
    if (!sticky_header.empty() && infer_request.route_key.empty())
      infer_request.route_key = std::string(request.Header(sticky_header));
    // The encoder needs the output requests after the service consumed the request.
    auto wanted = std::make_shared<serving::InferRequest>();
    wanted->outputs = infer_request.outputs;
    wanted->binary_data_output = infer_request.binary_data_output;
    service->Infer(std::move(infer_request),
                   [respond, wanted](absl::StatusOr<serving::InferResponse> result) {
                     if (!result.ok()) return respond(Error(result.status()));
                     EncodedBody encoded = EncodeInferResponse(*result, *wanted);
                     http::Response response;
                     response.status = 200;
                     response.body = std::move(encoded.body);
                     if (encoded.json_header_length) {
                       response.content_type = "application/octet-stream";
                       response.headers.emplace_back("Inference-Header-Content-Length",
                                                     std::to_string(*encoded.json_header_length));
                     }
                     response.headers.emplace_back("X-Ferry-Model-Version", result->model_version);
                     respond(std::move(response));
                   });
  };
  for (std::string base : {"/v2/models/{model}", "/v2/models/{model}/versions/{version}"}) {
    router->Add("GET", base, metadata);
    router->Add("GET", base + "/ready", ready);
    router->Add("GET", base + "/config", config);
    router->Add("GET", base + "/stats", stats);
    router->AddAsync("POST", base + "/infer", infer);
  }
  router->Add("GET", "/v2/models/stats", stats);

  router->Add("POST", "/v2/repository/index", [service](http::Request& request) {
    bool ready_only = false;
    if (!request.body.empty()) {
      json body = json::parse(request.body, nullptr, false);
      if (!body.is_object())
        return Error(absl::InvalidArgumentError("repository index body must be a JSON object"));
      if (body.contains("ready")) {
        if (!body["ready"].is_boolean())
          return Error(absl::InvalidArgumentError("'ready' must be a boolean"));
        ready_only = body["ready"].get<bool>();
      }
    }
    json index = json::array();
    for (const auto& e : service->RepositoryIndex(ready_only)) {
      json entry = {{"name", e.name}, {"state", e.state}};
      if (!e.version.empty()) entry["version"] = e.version;
      if (!e.reason.empty()) entry["reason"] = e.reason;
      index.push_back(std::move(entry));
    }
    return http::Response::Json(200, index.dump());
  });
  router->Add("POST", "/v2/repository/models/{model}/load", [service](http::Request& request) {
    absl::Status status = service->LoadModel(Param(request, "model"));
    return status.ok() ? http::Response::Json(200, "{}") : Error(status);
  });
  router->Add("POST", "/v2/repository/models/{model}/unload", [service](http::Request& request) {
    absl::Status status = service->UnloadModel(Param(request, "model"));
    return status.ok() ? http::Response::Json(200, "{}") : Error(status);
  });
  router->Add("GET", "/metrics", [metrics](http::Request&) {
    http::Response response = http::Response::Text(200, metrics->Render());
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  });
}

}  // namespace ferry::api::v2
