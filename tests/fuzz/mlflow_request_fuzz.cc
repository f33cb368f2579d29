// Fuzzes MLflow request decoding: the same bytes as a JSON POST body and as a
// GET query string, through every entity decoder the API uses.

#include <cstddef>
#include <cstdint>
#include <string>

#include "ferry/api/mlflow/entities.h"
#include "ferry/api/mlflow/json_request.h"

using namespace ferry::api::mlflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  for (const char* method : {"POST", "GET"}) {
    ferry::http::Request request;
    request.method = method;
    if (request.method == "POST") {
      request.body = bytes;
    } else {
      request.query = bytes;
    }
    auto msg = DecodeRequest(request);
    if (!msg.ok()) continue;
    (void)GetOptionalString(*msg, "run_id");
    (void)GetOptionalInt(*msg, "max_results");
    (void)GetStringList(*msg, "experiment_ids");
    (void)GetOptionalBool(*msg, "ascending");
    (void)MetricFromJson(*msg);
    (void)TagsFromJson(*msg, "tags");
    (void)ParamsFromJson(*msg, "params");
    (void)DatasetInputsFromJson(*msg);
    if (auto metrics = GetObjectList(*msg, "metrics"); metrics.ok()) {
      for (const auto& m : *metrics) (void)MetricFromJson(m);
    }
  }
  return 0;
}
