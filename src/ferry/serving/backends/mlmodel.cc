#include "ferry/serving/backends/mlmodel.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ferry/common/status.h"
#include "nlohmann/json.hpp"

namespace ferry::serving {
namespace {

using nlohmann::json;

// Debian's abseil has its own string_view; this converts for StrCat.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Malformed(std::string_view source, std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(Sv(source), ": ", Sv(field), ": ", Sv(what)));
}

// Parses one shape list; `field` names it in errors.
absl::StatusOr<std::vector<int64_t>> ParseShape(const json& shape, std::string_view source,
                                                const std::string& field) {
  if (!shape.is_array()) return Malformed(source, field, "expected a list of integers");
  std::vector<int64_t> dims;
  for (const json& dim : shape) {
    if (!dim.is_number_integer() || dim.get<int64_t>() < -1) {
      return Malformed(source, field, absl::StrCat("invalid dimension ", dim.dump()));
    }
    dims.push_back(dim.get<int64_t>());
  }
  return dims;
}

struct ParsedSchema {
  std::vector<TensorSpec> specs;
  bool column_based = false;
};

// Parses an MLflow schema JSON string (signature.inputs / .outputs).
// `unnamed_prefix` is "input" or "output".
absl::StatusOr<ParsedSchema> ParseSchema(const std::string& text, std::string_view source,
                                         std::string_view field, std::string_view unnamed_prefix) {
  json doc = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Malformed(source, field, "not valid JSON");
  if (!doc.is_array()) return Malformed(source, field, "expected a JSON list of column or tensors");
  ParsedSchema out;
  bool saw_tensor = false;
  bool saw_column = false;
  for (size_t i = 0; i < doc.size(); ++i) {
    const json& entry = doc[i];
    const std::string entry_field = absl::StrCat(Sv(field), "[", i, "]");
    if (!entry.is_object()) return Malformed(source, entry_field, "expected an object");
    auto type_it = entry.find("type");
    if (type_it == entry.end() || !type_it->is_string()) {
      return Malformed(source, entry_field + ".type", "missing or not a string");
    }
    const std::string type = type_it->get<std::string>();
    TensorSpec spec;
    if (auto name_it = entry.find("name"); name_it != entry.end() && !name_it->is_null()) {
      if (!name_it->is_string()) return Malformed(source, entry_field + ".name", "not a string");
      spec.name = name_it->get<std::string>();
    }
    if (spec.name.empty()) spec.name = absl::StrCat(Sv(unnamed_prefix), "-", i);
    if (auto required_it = entry.find("required"); required_it != entry.end()) {
      if (!required_it->is_boolean()) {
        return Malformed(source, entry_field + ".required", "not a boolean");
      }
      spec.optional = !required_it->get<bool>();
    }
    if (type == "tensor") {
      saw_tensor = true;
      auto ts_it = entry.find("tensor-spec");
      if (ts_it == entry.end() || !ts_it->is_object()) {
        return Malformed(source, entry_field + ".tensor-spec", "missing or not an object");
      }
      auto dtype_it = ts_it->find("dtype");
      if (dtype_it == ts_it->end() || !dtype_it->is_string()) {
        return Malformed(source, entry_field + ".tensor-spec.dtype", "missing or not a string");
      }
      std::optional<DataType> datatype = NumpyDtype(dtype_it->get<std::string>());
      if (!datatype) {
        return Malformed(
            source, entry_field + ".tensor-spec.dtype",
            absl::StrCat("unsupported numpy dtype '", dtype_it->get<std::string>(), "'"));
      }
      spec.datatype = *datatype;
      auto shape_it = ts_it->find("shape");
      if (shape_it == ts_it->end()) {
        return Malformed(source, entry_field + ".tensor-spec.shape", "missing");
      }
      FERRY_ASSIGN_OR_RETURN(spec.shape,
                             ParseShape(*shape_it, source, entry_field + ".tensor-spec.shape"));
    } else {
      saw_column = true;
      std::optional<DataType> datatype = MlflowColumnType(type);
      if (!datatype) {
        return Malformed(source, entry_field + ".type",
                         absl::StrCat("unsupported MLflow column type '", type, "'"));
      }
      spec.datatype = *datatype;
      spec.shape = {-1};
    }
    out.specs.push_back(std::move(spec));
  }
  if (saw_tensor && saw_column) {
    return Malformed(source, field, "mixes tensor and column specs");
  }
  out.column_based = saw_column;
  return out;
}

// Reads signature.<key>: a JSON string, null or absent.
absl::StatusOr<std::optional<ParsedSchema>> ReadSignatureField(const YAML::Node& signature,
                                                               const std::string& key,
                                                               std::string_view source,
                                                               std::string_view unnamed_prefix) {
  const std::string field = "signature." + key;
  YAML::Node node = signature[key];
  if (!node.IsDefined() || node.IsNull()) return std::nullopt;
  if (!node.IsScalar()) return Malformed(source, field, "expected a JSON string");
  FERRY_ASSIGN_OR_RETURN(ParsedSchema schema,
                         ParseSchema(node.as<std::string>(), source, field, unnamed_prefix));
  return schema;
}

absl::StatusOr<std::string> ScalarString(const YAML::Node& node, std::string_view source,
                                         std::string_view field) {
  if (!node.IsDefined() || node.IsNull()) return std::string();
  if (!node.IsScalar()) return Malformed(source, field, "expected a string");
  return node.as<std::string>();
}

absl::StatusOr<MlflowModelInfo> ParseMlflowModelOrThrow(std::string_view yaml,
                                                        std::string_view source) {
  YAML::Node root = YAML::Load(std::string(yaml));
  if (!root.IsMap()) return Malformed(source, "<root>", "expected a YAML mapping");
  MlflowModelInfo info;

  YAML::Node flavors = root["flavors"];
  if (!flavors.IsDefined() || !flavors.IsMap()) {
    return Malformed(source, "flavors", "missing or not a mapping");
  }
  for (const auto& flavor : flavors) {
    if (!flavor.first.IsScalar()) return Malformed(source, "flavors", "flavor name not a string");
    info.flavors.push_back(flavor.first.as<std::string>());
  }
  if (info.HasFlavor("xgboost")) {
    YAML::Node xgb = flavors["xgboost"];
    if (!xgb.IsMap()) return Malformed(source, "flavors.xgboost", "not a mapping");
    FERRY_ASSIGN_OR_RETURN(info.xgboost_data,
                           ScalarString(xgb["data"], source, "flavors.xgboost.data"));
    if (info.xgboost_data.empty()) return Malformed(source, "flavors.xgboost.data", "missing");
    FERRY_ASSIGN_OR_RETURN(info.xgboost_format, ScalarString(xgb["model_format"], source,
                                                             "flavors.xgboost.model_format"));
    FERRY_ASSIGN_OR_RETURN(info.model_class,
                           ScalarString(xgb["model_class"], source, "flavors.xgboost.model_class"));
  }

  YAML::Node signature = root["signature"];
  if (signature.IsDefined() && !signature.IsNull()) {
    if (!signature.IsMap()) return Malformed(source, "signature", "not a mapping");
    FERRY_ASSIGN_OR_RETURN(std::optional<ParsedSchema> inputs,
                           ReadSignatureField(signature, "inputs", source, "input"));
    FERRY_ASSIGN_OR_RETURN(std::optional<ParsedSchema> outputs,
                           ReadSignatureField(signature, "outputs", source, "output"));
    if (inputs) {
      info.column_signature = inputs->column_based;
      info.signature_inputs = std::move(inputs->specs);
    }
    if (outputs) info.signature_outputs = std::move(outputs->specs);
  }
  return info;
}

}  // namespace

bool MlflowModelInfo::HasFlavor(std::string_view name) const {
  return std::find(flavors.begin(), flavors.end(), name) != flavors.end();
}

std::optional<DataType> MlflowColumnType(std::string_view type) {
  if (type == "double") return DataType::kFp64;
  if (type == "float") return DataType::kFp32;
  if (type == "long") return DataType::kInt64;
  if (type == "integer") return DataType::kInt32;
  if (type == "boolean") return DataType::kBool;
  if (type == "string" || type == "binary") return DataType::kBytes;
  return std::nullopt;
}

std::optional<DataType> NumpyDtype(std::string_view dtype) {
  // MLflow writes str(numpy.dtype): "float32", "<U10", "|S5", "object", ...
  if (!dtype.empty() &&
      (dtype[0] == '<' || dtype[0] == '>' || dtype[0] == '|' || dtype[0] == '=')) {
    dtype.remove_prefix(1);
  }
  struct Entry {
    std::string_view name;
    std::string_view code;
    DataType type;
  };
  static constexpr Entry kTable[] = {
      {"bool", "b1", DataType::kBool},      {"int8", "i1", DataType::kInt8},
      {"int16", "i2", DataType::kInt16},    {"int32", "i4", DataType::kInt32},
      {"int64", "i8", DataType::kInt64},    {"uint8", "u1", DataType::kUint8},
      {"uint16", "u2", DataType::kUint16},  {"uint32", "u4", DataType::kUint32},
      {"uint64", "u8", DataType::kUint64},  {"float16", "f2", DataType::kFp16},
      {"float32", "f4", DataType::kFp32},   {"float64", "f8", DataType::kFp64},
      {"object", "O", DataType::kBytes},    {"str", "str", DataType::kBytes},
      {"bytes", "bytes", DataType::kBytes}, {"string", "string", DataType::kBytes},
  };
  for (const Entry& entry : kTable) {
    if (dtype == entry.name || dtype == entry.code) return entry.type;
  }
  // Fixed-width numpy strings: "U10" (unicode), "S5" (bytes).
  if (dtype.size() >= 1 && (dtype[0] == 'U' || dtype[0] == 'S') &&
      std::all_of(dtype.begin() + 1, dtype.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return DataType::kBytes;
  }
  return std::nullopt;
}

absl::StatusOr<MlflowModelInfo> ParseMlflowModel(std::string_view yaml, std::string_view source) {
  try {
    return ParseMlflowModelOrThrow(yaml, source);
  } catch (const YAML::Exception& e) {
    return Malformed(source, "<yaml>", e.what());
  } catch (const std::exception& e) {
    return Malformed(source, "<yaml>", e.what());
  }
}

absl::StatusOr<MlflowModelInfo> ReadMlflowModel(const std::string& dir) {
  const std::filesystem::path path = std::filesystem::path(dir) / kMlmodelFileName;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path.string(), " does not exist"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot open ", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path.string()));
  return ParseMlflowModel(text.str(), path.string());
}

}  // namespace ferry::serving
