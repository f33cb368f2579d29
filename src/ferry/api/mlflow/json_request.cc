#include "ferry/api/mlflow/json_request.h"

#include <cmath>
#include <limits>

#include "ferry/common/status.h"
#include "ferry/common/url.h"
#include "ferry/tracking/validation.h"

namespace ferry::api::mlflow {
namespace {

std::string TypeName(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::string:
      return "str";
    case nlohmann::json::value_t::boolean:
      return "bool";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "int";
    case nlohmann::json::value_t::number_float:
      return "float";
    case nlohmann::json::value_t::array:
      return "list";
    case nlohmann::json::value_t::object:
      return "dict";
    case nlohmann::json::value_t::null:
      return "NoneType";
    default:
      return "unknown";
  }
}

absl::Status InvalidValue(const nlohmann::json& value, std::string_view field) {
  std::string shown = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (shown.size() > 200) shown = shown.substr(0, 200) + "...";
  return absl::InvalidArgumentError(
      "Invalid value " + shown + " for parameter '" + std::string(field) +
      "' supplied. Hint: Value was of type '" + TypeName(value) +
      "'. See the API docs for more information about request parameters.");
}

const nlohmann::json* Find(const nlohmann::json& msg, std::string_view field) {
  auto it = msg.find(std::string(field));
  if (it == msg.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

absl::Status MissingParameter(std::string_view field) {
  return absl::InvalidArgumentError(
      "Missing value for required parameter '" + std::string(field) +
      "'. See the API docs for more information about request parameters.");
}

absl::StatusOr<nlohmann::json> DecodeRequest(const http::Request& request) {
  bool from_body = request.method == "POST" || request.method == "PATCH" ||
                   request.method == "PUT" || (request.method == "DELETE" && !request.body.empty());
  if (from_body) {
    if (request.body.empty()) return nlohmann::json::object();
    auto msg = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (msg.is_discarded()) {
      return absl::InvalidArgumentError("Malformed request: the body is not valid JSON");
    }
    if (!msg.is_object())
      return absl::InvalidArgumentError("Malformed request: the body must be a JSON object");
    return msg;
  }
  auto pairs = ParseQuery(request.query);
  if (!pairs.ok())
    return absl::InvalidArgumentError("Malformed query string: " +
                                      std::string(pairs.status().message()));
  nlohmann::json msg = nlohmann::json::object();
  for (auto& [key, value] : *pairs) {
    auto it = msg.find(key);
    if (it == msg.end()) {
      msg[key] = value;
    } else {
      if (!it->is_array()) *it = nlohmann::json::array({*it});
      it->push_back(value);
    }
  }
  return msg;
}

absl::StatusOr<std::optional<std::string>> GetOptionalString(const nlohmann::json& msg,
                                                             std::string_view field) {
  const auto* v = Find(msg, field);
  if (v == nullptr) return std::optional<std::string>();
  if (v->is_string()) return std::optional<std::string>(v->get<std::string>());
  if (v->is_array() && v->size() == 1 && (*v)[0].is_string()) {
    return std::optional<std::string>((*v)[0].get<std::string>());  // repeated query key
  }
  return InvalidValue(*v, field);
}

absl::StatusOr<std::string> GetString(const nlohmann::json& msg, std::string_view field) {
  auto v = GetOptionalString(msg, field);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return MissingParameter(field);
  return std::move(**v);
}

absl::StatusOr<std::optional<int64_t>> GetOptionalInt(const nlohmann::json& msg,
                                                      std::string_view field) {
  const auto* v = Find(msg, field);
  if (v == nullptr) return std::optional<int64_t>();
  const nlohmann::json& value =
      v->is_array() && v->size() == 1 ? (*v)[0] : *v;  // repeated query key
  FERRY_ASSIGN_OR_RETURN(int64_t parsed, tracking::ParseInt64(value, field));
  return std::optional<int64_t>(parsed);
}

absl::StatusOr<int64_t> GetInt(const nlohmann::json& msg, std::string_view field) {
  auto v = GetOptionalInt(msg, field);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return MissingParameter(field);
  return **v;
}

absl::StatusOr<double> GetDouble(const nlohmann::json& msg, std::string_view field) {
  const auto* v = Find(msg, field);
  if (v == nullptr) return MissingParameter(field);
  return tracking::ParseMetricValue(*v, field);
}

absl::StatusOr<std::optional<bool>> GetOptionalBool(const nlohmann::json& msg,
                                                    std::string_view field) {
  const auto* v = Find(msg, field);
  if (v == nullptr) return std::optional<bool>();
  if (v->is_boolean()) return std::optional<bool>(v->get<bool>());
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    if (s == "true" || s == "True") return std::optional<bool>(true);
    if (s == "false" || s == "False") return std::optional<bool>(false);
  }
  return InvalidValue(*v, field);
}

absl::StatusOr<std::vector<std::string>> GetStringList(const nlohmann::json& msg,
                                                       std::string_view field) {
  std::vector<std::string> out;
  const auto* v = Find(msg, field);
  if (v == nullptr) return out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
    return out;
  }
  if (!v->is_array()) return InvalidValue(*v, field);
  for (const auto& item : *v) {
    if (!item.is_string()) return InvalidValue(*v, field);
    out.push_back(item.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::vector<nlohmann::json>> GetObjectList(const nlohmann::json& msg,
                                                          std::string_view field) {
  std::vector<nlohmann::json> out;
  const auto* v = Find(msg, field);
  if (v == nullptr) return out;
  if (!v->is_array()) return InvalidValue(*v, field);
  for (const auto& item : *v) {
    if (!item.is_object()) return InvalidValue(item, field);
    out.push_back(item);
  }
  return out;
}

absl::StatusOr<std::string> GetVersion(const nlohmann::json& msg) {
  auto it = msg.find("version");
  if (it != msg.end() && it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return GetString(msg, "version");
}

nlohmann::json JsonDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

}  // namespace ferry::api::mlflow
