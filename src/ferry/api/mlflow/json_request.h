#ifndef FERRY_API_MLFLOW_JSON_REQUEST_H_
#define FERRY_API_MLFLOW_JSON_REQUEST_H_

// Decoding of MLflow REST requests: POST bodies are JSON objects, GET (and
// bodiless DELETE) parameters come from the query string. Getters validate
// types and produce MLflow's INVALID_PARAMETER_VALUE messages naming the
// field. Lenient where the protobuf JSON mapping is: int64 may arrive as a
// string, doubles as "NaN"/"Infinity", booleans as "true"/"false".

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/http/http.h"
#include "nlohmann/json.hpp"

namespace ferry::api::mlflow {

// The request's parameters as one JSON object. InvalidArgument for a body
// that is not a JSON object or a malformed query string.
absl::StatusOr<nlohmann::json> DecodeRequest(const http::Request& request);

absl::StatusOr<std::string> GetString(const nlohmann::json& msg,
                                      std::string_view field);  // required
absl::StatusOr<std::optional<std::string>> GetOptionalString(const nlohmann::json& msg,
                                                             std::string_view field);
absl::StatusOr<std::optional<int64_t>> GetOptionalInt(const nlohmann::json& msg,
                                                      std::string_view field);
absl::StatusOr<int64_t> GetInt(const nlohmann::json& msg, std::string_view field);    // required
absl::StatusOr<double> GetDouble(const nlohmann::json& msg, std::string_view field);  // required
absl::StatusOr<std::optional<bool>> GetOptionalBool(const nlohmann::json& msg,
                                                    std::string_view field);
// A repeated string field: a JSON array of strings, or a single string.
absl::StatusOr<std::vector<std::string>> GetStringList(const nlohmann::json& msg,
                                                       std::string_view field);
// A repeated message field: a JSON array of objects (absent -> empty).
absl::StatusOr<std::vector<nlohmann::json>> GetObjectList(const nlohmann::json& msg,
                                                          std::string_view field);

absl::Status MissingParameter(std::string_view field);

// A registry `version` field: a string in MLflow's protos, a number from
// some clients; returned as its decimal string.
absl::StatusOr<std::string> GetVersion(const nlohmann::json& msg);

// Doubles the way protobuf's JSON mapping writes them: NaN and infinities as
// the strings "NaN", "Infinity", "-Infinity".
nlohmann::json JsonDouble(double value);

}  // namespace ferry::api::mlflow

#endif  // FERRY_API_MLFLOW_JSON_REQUEST_H_
