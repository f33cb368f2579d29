#include "ferry/tracking/validation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ferry::tracking {
namespace {

using Json = nlohmann::json;

// Debian's Abseil is built with its own string_view type.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(message); }

// ---- UTF-8 -----------------------------------------------------------------

// Decodes the code point at `s[*i]` and advances. Input is trusted UTF-8
// (validated by the JSON parser); a stray byte decodes as itself.
uint32_t NextCodePoint(std::string_view s, size_t* i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = b(*i);
  int len = b0 < 0x80             ? 1
            : (b0 & 0xE0) == 0xC0 ? 2
            : (b0 & 0xF0) == 0xE0 ? 3
            : (b0 & 0xF8) == 0xF0 ? 4
                                  : 1;
  if (*i + len > s.size()) len = 1;
  uint32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (b(*i + k) & 0x3F);
  *i += len;
  return cp;
}

// ---- Python's \w beyond ASCII ----------------------------------------------

struct CodePointRange {
  uint32_t first;
  uint32_t last;
};

constexpr CodePointRange kUnicodeWordRanges[] = {
#include "ferry/tracking/validation_unicode_word.inc"
};

bool IsPythonWordChar(uint32_t cp) {
  if (cp < 0x80) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_';
  }
  const auto* end = std::end(kUnicodeWordRanges);
  const auto* it =
      std::upper_bound(std::begin(kUnicodeWordRanges), end, cp,
                       [](uint32_t v, const CodePointRange& r) { return v < r.first; });
  if (it == std::begin(kUnicodeWordRanges)) return false;
  --it;
  return cp <= it->last;
}

bool IsAsciiWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsAsciiAlnum(char c) { return IsAsciiWordChar(c) && c != '_'; }

// ---- Python text formatting --------------------------------------------------

void AppendHex4(std::string* out, uint32_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(v >> shift) & 0xF]);
}

// json.dumps(str) with ensure_ascii=True.
std::string PythonJsonString(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = NextCodePoint(s, &i);
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (cp < 0x20 || cp > 0x7E) {  // json.dumps escapes all but ' '..'~'
          if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            out += "\\u";
            AppendHex4(&out, 0xD800 + (v >> 10));
            out += "\\u";
            AppendHex4(&out, 0xDC00 + (v & 0x3FF));
          } else {
            out += "\\u";
            AppendHex4(&out, cp);
          }
        } else {
          out.push_back(static_cast<char>(cp));
        }
    }
  }
  out.push_back('"');
  return out;
}

// json.dumps(value, sort_keys=True, separators=(",", ":")).
std::string PythonJsonDumps(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case Json::value_t::number_integer:
      return std::to_string(value.get<int64_t>());
    case Json::value_t::number_unsigned:
      return std::to_string(value.get<uint64_t>());
    case Json::value_t::number_float: {
      double d = value.get<double>();
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      return PythonFloatRepr(d);
    }
    case Json::value_t::string:
      return PythonJsonString(value.get_ref<const std::string&>());
    case Json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < value.size(); ++i) {
        if (i > 0) out += ",";
        out += PythonJsonDumps(value[i]);
      }
      return out + "]";
    }
    case Json::value_t::object: {
      // nlohmann's object is a std::map: byte order, which for UTF-8 is code
      // point order, as Python's sort_keys.
      std::string out = "{";
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        if (!first) out += ",";
        first = false;
        out += PythonJsonString(key) + ":" + PythonJsonDumps(item);
      }
      return out + "}";
    }
    default:
      return "null";
  }
}

// Python's type(value).__name__ for a JSON value.
std::string_view PythonTypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "NoneType";
    case Json::value_t::boolean:
      return "bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "int";
    case Json::value_t::number_float:
      return "float";
    case Json::value_t::string:
      return "str";
    case Json::value_t::array:
      return "list";
    case Json::value_t::object:
      return "dict";
    default:
      return "object";
  }
}

// repr(str), for lists of keys in messages.
std::string PythonStrRepr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = NextCodePoint(s, &i);
    if (cp == '\\') {
      out += "\\\\";
    } else if (cp == static_cast<uint32_t>(quote)) {
      out += '\\';
      out += quote;
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0)) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[cp >> 4]);
      out.push_back(kHex[cp & 0xF]);
    } else {
      // Re-encode the code point as UTF-8.
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    }
  }
  out.push_back(quote);
  return out;
}

// mlflow.utils.validation.append_to_json_path.
std::string AppendToJsonPath(std::string_view current, std::string_view value) {
  if (current.empty()) return std::string(value);
  if (!value.empty() && value.front() == '[') return absl::StrCat(Sv(current), Sv(value));
  return absl::StrCat(Sv(current), ".", Sv(value));
}

// ---- MLflow checks -----------------------------------------------------------

constexpr char kBadCharacterMessage[] =
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
    "colon(:) and slashes (/).";

// The non-Windows form of validate_param_and_metric_name: ^[/\w.\- :]*$.
// (Python's '$' also matches before a final '\n'; Ferry does not.)
bool HasOnlyKeyCharacters(std::string_view name) {
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = NextCodePoint(name, &i);
    if (cp == '/' || cp == '.' || cp == '-' || cp == ' ' || cp == ':') continue;
    if (!IsPythonWordChar(cp)) return false;
  }
  return true;
}

bool PathNotUnique(std::string_view name, std::string* norm) {
  *norm = PosixNormPath(name);
  return *norm != name || *norm == "." || norm->starts_with("..") || norm->starts_with("/");
}

absl::Status ValidateKeyName(std::string_view name, std::string_view path) {
  if (!HasOnlyKeyCharacters(name)) {
    return Invalid(InvalidValueMessage(path, Json(std::string(name)), kBadCharacterMessage));
  }
  std::string norm;
  if (PathNotUnique(name, &norm)) {
    return Invalid(InvalidValueMessage(
        path, Json(std::string(name)),
        absl::StrCat("Names may be treated as files in certain cases, and must not resolve to "
                     "other names when treated as such. This name would resolve to ",
                     PythonStrRepr(norm))));
  }
  return absl::OkStatus();
}

// _validate_length_limit without truncation.
absl::Status CheckLength(std::string_view entity_name, int64_t limit, std::string_view value) {
  if (CodePointLength(value) <= limit) return absl::OkStatus();
  return Invalid(ExceedsMaximumLengthMessage(entity_name, limit));
}

// _validate_length_limit(..., truncate=True) under `options`.
absl::StatusOr<std::string> CheckLengthOrTruncate(std::string_view entity_name, int64_t limit,
                                                  std::string_view value,
                                                  const ValidationOptions& options) {
  if (CodePointLength(value) <= limit) return std::string(value);
  if (options.long_values == LongValues::kTruncate) return TruncateCodePoints(value, limit);
  return Invalid(ExceedsMaximumLengthMessage(entity_name, limit));
}

bool MatchesIdPattern(std::string_view id, size_t max_tail) {
  if (id.empty() || !IsAsciiAlnum(id[0]) || id.size() - 1 > max_tail) return false;
  return std::all_of(id.begin() + 1, id.end(),
                     [](char c) { return IsAsciiWordChar(c) || c == '-'; });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// urllib.parse.unquote: valid escapes decode, anything else stays.
std::string LenientUnquote(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Schemes for which urllib.parse.urlparse splits ';params' off the path.
bool SchemeUsesParams(std::string_view scheme) {
  static constexpr std::string_view kSchemes[] = {"",     "ftp",   "hdl",   "prospero", "http",
                                                  "imap", "https", "shttp", "rtsp",     "rtspu",
                                                  "sip",  "sips",  "mms",   "sftp",     "tel"};
  return std::find(std::begin(kSchemes), std::end(kSchemes), scheme) != std::end(kSchemes);
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

// ---- Message builders ---------------------------------------------------------

std::string InvalidValueMessage(std::string_view path, const Json& value,
                                std::string_view message) {
  std::string formatted = PythonJsonDumps(value);
  if (message.empty()) {
    return absl::StrCat("Invalid value ", formatted, " for parameter '", Sv(path), "' supplied.");
  }
  return absl::StrCat("Invalid value ", formatted, " for parameter '", Sv(path),
                      "' supplied: ", Sv(message));
}

std::string MissingValueMessage(std::string_view path) {
  return absl::StrCat("Missing value for required parameter '", Sv(path), "'.");
}

std::string ExceedsMaximumLengthMessage(std::string_view path, int64_t limit) {
  return absl::StrCat("'", Sv(path), "' exceeds the maximum length of ", limit, " characters");
}

// ---- Keys -----------------------------------------------------------------------

absl::Status ValidateMetricName(std::string_view name, std::string_view path) {
  return ValidateKeyName(name, path);
}

absl::Status ValidateParamName(std::string_view name, std::string_view path) {
  return ValidateKeyName(name, path);
}

absl::Status ValidateTagName(std::string_view name, std::string_view path) {
  return ValidateKeyName(name, path);
}

// ---- Entities -------------------------------------------------------------------

absl::Status ValidateMetric(const store::Metric& metric, std::string_view path) {
  if (auto s = ValidateMetricName(metric.key, AppendToJsonPath(path, "name")); !s.ok()) return s;
  if (metric.timestamp < 0) {
    return Invalid(InvalidValueMessage(
        AppendToJsonPath(path, "timestamp"), Json(metric.timestamp),
        absl::StrCat("metric '", metric.key, "' (value=", PythonFloatRepr(metric.value),
                     "). Timestamp must be a nonnegative long (64-bit integer) ")));
  }
  return CheckLength("Metric name", kMaxEntityKeyLength, metric.key);
}

absl::StatusOr<store::Param> ValidateParam(const store::Param& param, std::string_view path,
                                           const ValidationOptions& options) {
  if (auto s = ValidateParamName(param.key, AppendToJsonPath(path, "key")); !s.ok()) return s;
  if (auto s = CheckLength("Param key", kMaxEntityKeyLength, param.key); !s.ok()) return s;
  auto value = CheckLengthOrTruncate("Param value", kMaxParamValueLength, param.value, options);
  if (!value.ok()) return value.status();
  return store::Param{.key = param.key, .value = *std::move(value)};
}

absl::StatusOr<store::Tag> ValidateRunTag(const store::Tag& tag, std::string_view path,
                                          const ValidationOptions& options) {
  std::string key_path = AppendToJsonPath(path, "key");
  if (auto s = ValidateTagName(tag.key, key_path); !s.ok()) return s;
  if (auto s = CheckLength(key_path, kMaxEntityKeyLength, tag.key); !s.ok()) return s;
  auto value = CheckLengthOrTruncate(AppendToJsonPath(path, "value"), kMaxTagValueLength, tag.value,
                                     options);
  if (!value.ok()) return value.status();
  return store::Tag{.key = tag.key, .value = *std::move(value)};
}

absl::Status ValidateExperimentTag(const store::Tag& tag) {
  if (auto s = ValidateTagName(tag.key); !s.ok()) return s;
  if (auto s = CheckLength("key", kMaxExperimentTagKeyLength, tag.key); !s.ok()) return s;
  return CheckLength("value", kMaxExperimentTagValueLength, tag.value);
}

absl::Status ValidateExperimentName(std::string_view name) {
  if (name.empty()) return Invalid("Invalid experiment name: ''");
  return CheckLength("name", kMaxExperimentNameLength, name);
}

absl::Status ValidateRunName(std::string_view run_name, const std::vector<store::Tag>& tags) {
  std::string_view tag_name;
  for (const store::Tag& tag : tags) {
    if (tag.key == "mlflow.runName") {
      tag_name = tag.value;
      break;
    }
  }
  if (!run_name.empty() && !tag_name.empty() && run_name != tag_name) {
    return Invalid(absl::StrCat(
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
        "values (run_name='",
        Sv(run_name), "', mlflow.runName='", Sv(tag_name), "')."));
  }
  return CheckLength("run_name", kMaxRunNameLength, run_name.empty() ? tag_name : run_name);
}

absl::Status ValidateRunId(std::string_view run_id, std::string_view path) {
  if (MatchesIdPattern(run_id, 255)) return absl::OkStatus();
  return Invalid(InvalidValueMessage(path, Json(std::string(run_id))));
}

absl::Status ValidateExperimentId(std::string_view experiment_id) {
  if (MatchesIdPattern(experiment_id, 63)) return absl::OkStatus();
  return Invalid(absl::StrCat("Invalid experiment ID: '", Sv(experiment_id), "'"));
}

absl::Status ValidateArtifactLocation(std::string_view location, const ValidationOptions& options) {
  if (location.starts_with("runs:")) {
    return Invalid(
        absl::StrCat("Artifact location cannot be a runs:/ URI. Given: '", Sv(location), "'"));
  }
  constexpr char kFragmentsOrParams[] =
      "'artifact_location' URL can't include fragments or params.";
  if (location.find('#') != std::string_view::npos) return Invalid(kFragmentsOrParams);

  // urlparse: scheme ':' ['//' netloc] path ['?' query].
  std::string_view rest = location;
  std::string scheme;
  size_t colon = rest.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      ((rest[0] >= 'a' && rest[0] <= 'z') || (rest[0] >= 'A' && rest[0] <= 'Z')) &&
      std::all_of(rest.begin(), rest.begin() + colon,
                  [](char c) { return IsAsciiAlnum(c) || c == '+' || c == '-' || c == '.'; })) {
    scheme = AsciiLower(rest.substr(0, colon));
    rest.remove_prefix(colon + 1);
  }
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.starts_with("//")) {
    size_t slash = rest.find('/', 2);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  if (SchemeUsesParams(scheme)) {
    size_t last_slash = rest.rfind('/');
    size_t semi = rest.find(';', last_slash == std::string_view::npos ? 0 : last_slash);
    if (semi != std::string_view::npos && semi + 1 < rest.size()) {
      return Invalid(kFragmentsOrParams);
    }
  }

  // validate_query_string: decode until stable (at most 10 rounds), then no "..".
  std::string decoded(query);
  bool stable = false;
  for (int round = 0; round < 10 && !stable; ++round) {
    std::string next = LenientUnquote(decoded);
    stable = next == decoded;
    decoded = std::move(next);
  }
  if (!stable || decoded.find("..") != std::string::npos) return Invalid("Invalid query string");

  if (CodePointLength(location) > options.max_artifact_location_length) {
    return Invalid(absl::StrCat(
        "Invalid artifact path length. The length of the artifact path cannot be greater than ",
        options.max_artifact_location_length,
        " characters. To configure this limit, please set the MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH "
        "environment variable."));
  }
  return absl::OkStatus();
}

// ---- LogBatch ---------------------------------------------------------------------

namespace {
absl::Status CheckBatchLimit(std::string_view entity_name, int64_t limit, size_t length) {
  if (static_cast<int64_t>(length) <= limit) return absl::OkStatus();
  return Invalid(absl::StrCat("A batch logging request can contain at most ", limit, " ",
                              Sv(entity_name), ". Got ", length, " ", Sv(entity_name),
                              ". Please split up ", Sv(entity_name),
                              " across multiple requests and try again."));
}
}  // namespace

absl::Status ValidateBatchLogLimits(size_t metrics, size_t params, size_t tags) {
  if (auto s = CheckBatchLimit("metrics", kMaxMetricsPerBatch, metrics); !s.ok()) return s;
  if (auto s = CheckBatchLimit("params", kMaxParamsTagsPerBatch, params); !s.ok()) return s;
  if (auto s = CheckBatchLimit("tags", kMaxParamsTagsPerBatch, tags); !s.ok()) return s;
  return CheckBatchLimit("metrics, params, and tags", kMaxEntitiesPerBatch,
                         metrics + params + tags);
}

absl::Status ValidateBatchLogRequestSize(size_t bytes) {
  if (static_cast<int64_t>(bytes) <= kMaxBatchLogRequestBytes) return absl::OkStatus();
  return Invalid(absl::StrCat("Batched logging API requests must be at most ",
                              kMaxBatchLogRequestBytes, " bytes, got a request of size ", bytes,
                              "."));
}

absl::Status ValidateParamKeysUnique(const std::vector<store::Param>& params) {
  std::set<std::string_view> seen;
  std::vector<std::string_view> dupes;
  for (const store::Param& param : params) {
    if (!seen.insert(param.key).second) dupes.push_back(param.key);
  }
  if (dupes.empty()) return absl::OkStatus();
  std::string list = "[";
  for (size_t i = 0; i < dupes.size(); ++i) {
    if (i > 0) list += ", ";
    list += PythonStrRepr(dupes[i]);
  }
  list += "]";
  return Invalid(absl::StrCat("Duplicate parameter keys have been submitted: ", list,
                              ". Please ensure the request contains only one param value per "
                              "param key."));
}

absl::StatusOr<LogBatchInput> ValidateLogBatch(std::string_view run_id, LogBatchInput batch,
                                               const ValidationOptions& options) {
  if (auto s = ValidateRunId(run_id); !s.ok()) return s;
  if (auto s = ValidateBatchLogLimits(batch.metrics.size(), batch.params.size(), batch.tags.size());
      !s.ok()) {
    return s;
  }
  for (size_t i = 0; i < batch.metrics.size(); ++i) {
    if (auto s = ValidateMetric(batch.metrics[i], absl::StrCat("metrics[", i, "]")); !s.ok()) {
      return s;
    }
  }
  for (size_t i = 0; i < batch.params.size(); ++i) {
    auto param = ValidateParam(batch.params[i], absl::StrCat("params[", i, "]"), options);
    if (!param.ok()) return param.status();
    batch.params[i] = *std::move(param);
  }
  for (size_t i = 0; i < batch.tags.size(); ++i) {
    auto tag = ValidateRunTag(batch.tags[i], absl::StrCat("tags[", i, "]"), options);
    if (!tag.ok()) return tag.status();
    batch.tags[i] = *std::move(tag);
  }
  if (auto s = ValidateParamKeysUnique(batch.params); !s.ok()) return s;
  return batch;
}

// ---- Datasets -----------------------------------------------------------------------

absl::Status ValidateDataset(const store::Dataset& dataset) {
  if (auto s = CheckLength("name", kMaxDatasetNameLength, dataset.name); !s.ok()) return s;
  if (auto s = CheckLength("digest", kMaxDatasetDigestLength, dataset.digest); !s.ok()) return s;
  if (auto s = CheckLength("source", kMaxDatasetSourceLength, dataset.source); !s.ok()) return s;
  if (auto s = CheckLength("schema", kMaxDatasetSchemaLength, dataset.schema); !s.ok()) return s;
  return CheckLength("profile", kMaxDatasetProfileLength, dataset.profile);
}

absl::Status ValidateInputTag(const store::Tag& tag) {
  if (auto s = CheckLength("key", kMaxInputTagKeyLength, tag.key); !s.ok()) return s;
  return CheckLength("value", kMaxInputTagValueLength, tag.value);
}

absl::Status ValidateDatasetInputs(const std::vector<store::DatasetInput>& inputs) {
  for (const store::DatasetInput& input : inputs) {
    if (auto s = ValidateDataset(input.dataset); !s.ok()) return s;
    for (const store::Tag& tag : input.tags) {
      if (auto s = ValidateInputTag(tag); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// ---- Paging and request shapes ------------------------------------------------------

namespace {
absl::Status CheckMaxResults(int64_t max_results, int64_t threshold) {
  if (max_results < 1) {
    return Invalid(absl::StrCat("Invalid value ", max_results,
                                " for parameter 'max_results' supplied. It must be a positive "
                                "integer"));
  }
  if (max_results > threshold) {
    return Invalid(absl::StrCat("Invalid value ", max_results,
                                " for parameter 'max_results' supplied. It must be at most ",
                                threshold));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status ValidateSearchMaxResults(int64_t max_results) {
  return CheckMaxResults(max_results, kSearchMaxResultsThreshold);
}

absl::Status ValidateMetricHistoryMaxResults(int64_t max_results) {
  return CheckMaxResults(max_results, kGetMetricHistoryMaxResults);
}

absl::Status ValidateMetricHistoryBulkRunIds(size_t run_ids) {
  if (run_ids == 0)
    return Invalid("GetMetricHistoryBulk request must specify at least one run_id.");
  if (static_cast<int64_t>(run_ids) > kMaxRunIdsMetricHistoryBulk) {
    return Invalid(absl::StrCat("GetMetricHistoryBulk request cannot specify more than ",
                                kMaxRunIdsMetricHistoryBulk, " run_ids. Received ", run_ids,
                                " run_ids."));
  }
  return absl::OkStatus();
}

absl::Status ValidateMetricHistoryBulkInterval(size_t run_ids, std::optional<int64_t> max_results,
                                               std::optional<int64_t> start_step,
                                               std::optional<int64_t> end_step) {
  if (run_ids == 0) return Invalid(MissingValueMessage("run_ids") + kSeeApiDocs);
  if (static_cast<int64_t>(run_ids) > kMaxRunIdsMetricHistoryBulk) {
    return Invalid(absl::StrCat("GetMetricHistoryBulkInterval request must specify at most ",
                                kMaxRunIdsMetricHistoryBulk, " run_ids. Received ", run_ids,
                                " run_ids.", kSeeApiDocs));
  }
  if (max_results.has_value() &&
      (*max_results < 1 || *max_results > kMaxResultsPerRunBulkInterval)) {
    return Invalid(absl::StrCat("max_results must be between 1 and ", kMaxResultsPerRunBulkInterval,
                                ".", kSeeApiDocs));
  }
  if (start_step.has_value() != end_step.has_value()) {
    return Invalid("If either start step or end step are specified, both must be specified.");
  }
  if (start_step.has_value() && *start_step > *end_step) {
    return Invalid(absl::StrCat("end_step must be greater than start_step. Found start_step=",
                                *start_step, " and end_step=", *end_step, "."));
  }
  return absl::OkStatus();
}

absl::Status ValidateSearchDatasetsExperimentIds(size_t experiment_ids) {
  if (experiment_ids == 0) {
    return Invalid("SearchDatasets request must specify at least one experiment_id.");
  }
  if (static_cast<int64_t>(experiment_ids) > kMaxExperimentIdsSearchDatasets) {
    return Invalid(absl::StrCat("SearchDatasets request cannot specify more than ",
                                kMaxExperimentIdsSearchDatasets, " experiment_ids. Received ",
                                experiment_ids, " experiment_ids."));
  }
  return absl::OkStatus();
}

// ---- JSON field coercion -----------------------------------------------------------

namespace {
absl::Status SchemaError(std::string_view path, const Json& value) {
  if (value.is_null()) return Invalid(MissingValueMessage(path) + kSeeApiDocs);
  return Invalid(InvalidValueMessage(
                     path, value,
                     absl::StrCat(" Hint: Value was of type '", Sv(PythonTypeName(value)), "'.")) +
                 kSeeApiDocs);
}
}  // namespace

absl::StatusOr<double> ParseMetricValue(const Json& value, std::string_view path) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    double d = 0;
    const char* begin = s.data();
    const char* end = s.data() + s.size();
    if (!s.empty() && *begin == '+') ++begin;  // Python's float() takes a leading '+'
    auto [ptr, ec] = std::from_chars(begin, end, d);
    if (!s.empty() && ec == std::errc() && ptr == end) return d;
  }
  return SchemaError(path, value);
}

absl::StatusOr<int64_t> ParseInt64(const Json& value, std::string_view path) {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<int64_t>();
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(u);
    }
  }
  if (value.is_number_float()) {
    double d = value.get<double>();
    // 2^63 is exactly representable; anything at or above it is out of range.
    if (std::isfinite(d) && std::trunc(d) == d && d >= -9223372036854775808.0 &&
        d < 9223372036854775808.0) {
      return static_cast<int64_t>(d);
    }
  }
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    int64_t n = 0;
    const char* begin = s.data();
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(begin, end, n);
    if (!s.empty() && ec == std::errc() && ptr == end) return n;
  }
  return SchemaError(path, value);
}

// ---- Helpers ---------------------------------------------------------------------------

int64_t CodePointLength(std::string_view utf8) {
  int64_t n = 0;
  for (char c : utf8) {
    if ((static_cast<uint8_t>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string TruncateCodePoints(std::string_view utf8, int64_t limit) {
  int64_t seen = 0;
  for (size_t i = 0; i < utf8.size(); ++i) {
    if ((static_cast<uint8_t>(utf8[i]) & 0xC0) != 0x80) {
      if (seen == limit) return std::string(utf8.substr(0, i));
      ++seen;
    }
  }
  return std::string(utf8);
}

std::string PosixNormPath(std::string_view path) {
  if (path.empty()) return ".";
  int initial_slashes = path.starts_with("/") ? 1 : 0;
  // POSIX keeps exactly two leading slashes; three or more become one.
  if (initial_slashes && path.starts_with("//") && !path.starts_with("///")) initial_slashes = 2;
  std::vector<std::string_view> comps;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view comp = path.substr(start, slash - start);
    start = slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp != ".." || (!initial_slashes && comps.empty()) ||
        (!comps.empty() && comps.back() == "..")) {
      comps.push_back(comp);
    } else if (!comps.empty()) {
      comps.pop_back();
    }
  }
  std::string out(static_cast<size_t>(initial_slashes), '/');
  for (size_t i = 0; i < comps.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(comps[i]);
  }
  return out.empty() ? "." : out;
}

std::string PythonFloatRepr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string sign = std::signbit(value) ? "-" : "";
  char buf[64];
  // Shortest round-trip digits, in scientific form: d[.ddd]e±XX.
  auto [ptr, ec] =
      std::to_chars(buf, buf + sizeof(buf), std::fabs(value), std::chars_format::scientific);
  if (ec != std::errc()) return std::to_string(value);
  std::string_view sci(buf, static_cast<size_t>(ptr - buf));
  size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  if (exponent >= -4 && exponent < 16) {
    if (exponent >= 0) {
      size_t int_len = static_cast<size_t>(exponent) + 1;
      std::string int_part = digits.substr(0, std::min(int_len, digits.size()));
      int_part.resize(int_len, '0');
      std::string frac = digits.size() > int_len ? digits.substr(int_len) : "0";
      return sign + int_part + "." + frac;
    }
    return sign + "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  }
  std::string mantissa = digits.substr(0, 1);
  if (digits.size() > 1) {
    // Appended in two steps: GCC 12 at -O3 raises a false -Wrestrict on
    // `"." + std::string`.
    mantissa.push_back('.');
    mantissa.append(digits, 1, std::string::npos);
  }
  int abs_exp = std::abs(exponent);
  return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (abs_exp < 10 ? "0" : "") +
         std::to_string(abs_exp);
}

}  // namespace ferry::tracking
