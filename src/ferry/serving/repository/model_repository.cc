#include "ferry/serving/repository/model_repository.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ferry/common/status.h"
#include "ferry/serving/repository/model_config.pb.h"
#include "spdlog/spdlog.h"

namespace ferry::serving::repository {
namespace {

namespace fs = std::filesystem;
namespace pb = ::google::protobuf;

constexpr std::string_view kConfigText = "config.pbtxt";
constexpr std::string_view kConfigJson = "config.json";

// ---------------------------------------------------------------------------
// Config parsing

// Keeps the first error (with its position) and every unknown-field warning.
class CollectingErrorCollector : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (!error_) error_ = Located{line, column, message};
  }
  void AddWarning(int line, pb::io::ColumnNumber column, const std::string& message) override {
    warnings_.push_back(Located{line, column, message});
  }

  struct Located {
    int line;
    int column;
    std::string message;
  };
  const std::optional<Located>& error() const { return error_; }
  const std::vector<Located>& warnings() const { return warnings_; }

 private:
  std::optional<Located> error_;
  std::vector<Located> warnings_;
};

// Path of every message type reachable from ModelConfig ("" for the root,
// "input", "dynamic_batching.default_queue_policy", "parameters.value", ...).
// Breadth-first in field order, so a type used in two places gets its first
// path (TritonTensorReshape: "input.reshape").
const std::map<std::string, std::string>& MessagePaths() {
  static const auto* paths = [] {
    auto* out = new std::map<std::string, std::string>();
    std::deque<std::pair<const pb::Descriptor*, std::string>> todo = {
        {TritonModelConfig::descriptor(), ""}};
    while (!todo.empty()) {
      auto [descriptor, path] = todo.front();
      todo.pop_front();
      if (!out->emplace(descriptor->full_name(), path).second) continue;
      for (int i = 0; i < descriptor->field_count(); ++i) {
        const pb::FieldDescriptor* field = descriptor->field(i);
        if (field->message_type() == nullptr) continue;
        todo.emplace_back(field->message_type(),
                          path.empty() ? field->name() : absl::StrCat(path, ".", field->name()));
      }
    }
    return out;
  }();
  return *paths;
}

// Text between the first `prefix` and the next '"' in `text`.
std::optional<std::string> QuotedAfter(std::string_view text, std::string_view prefix) {
  size_t start = text.find(prefix);
  if (start == std::string_view::npos) return std::nullopt;
  start += prefix.size();
  size_t end = text.find('"', start);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(text.substr(start, end - start));
}

// Turns protobuf's unknown-field warning ("Message type \"<type>\" has no
// field named \"<field>\".") into a config path; other warnings (unknown
// extensions) are kept verbatim.
std::string IgnoredFieldFromWarning(const std::string& warning) {
  std::optional<std::string> type = QuotedAfter(warning, "Message type \"");
  std::optional<std::string> field = QuotedAfter(warning, "has no field named \"");
  if (!type || !field) return warning;
  auto it = MessagePaths().find(*type);
  if (it == MessagePaths().end() || it->second.empty()) return *field;
  return absl::StrCat(it->second, ".", *field);
}

// Configuration fields Ferry skipped, in first-seen order without repeats.
class IgnoredFields {
 public:
  void Add(std::string path) {
    if (seen_.insert(path).second) list_.push_back(std::move(path));
  }
  std::vector<std::string> Take() && { return std::move(list_); }

 private:
  std::set<std::string> seen_;
  std::vector<std::string> list_;
};

// Records the keys of `object` that `descriptor` does not have, descending
// into known message fields only (so the depth is bounded by the schema).
void CollectUnknownJsonKeys(const nlohmann::json& object, const pb::Descriptor* descriptor,
                            const std::string& path, IgnoredFields* ignored) {
  if (!object.is_object()) return;
  for (const auto& [key, value] : object.items()) {
    const pb::FieldDescriptor* field = nullptr;
    for (int i = 0; i < descriptor->field_count(); ++i) {
      if (descriptor->field(i)->name() == key || descriptor->field(i)->json_name() == key) {
        field = descriptor->field(i);
        break;
      }
    }
    if (field == nullptr) {
      ignored->Add(path.empty() ? key : absl::StrCat(path, ".", key));
      continue;
    }
    if (field->message_type() == nullptr) continue;
    std::string field_path = path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    if (field->is_map()) {
      const pb::FieldDescriptor* map_value = field->message_type()->map_value();
      if (map_value->message_type() == nullptr || !value.is_object()) continue;
      for (const auto& [map_key, map_entry] : value.items()) {
        (void)map_key;
        CollectUnknownJsonKeys(map_entry, map_value->message_type(),
                               absl::StrCat(field_path, ".value"), ignored);
      }
    } else if (field->is_repeated()) {
      if (!value.is_array()) continue;
      for (const auto& element : value) {
        CollectUnknownJsonKeys(element, field->message_type(), field_path, ignored);
      }
    } else {
      CollectUnknownJsonKeys(value, field->message_type(), field_path, ignored);
    }
  }
}

std::optional<DataType> ConvertDataType(TritonDataType type) {
  switch (type) {
    case TYPE_BOOL:
      return DataType::kBool;
    case TYPE_UINT8:
      return DataType::kUint8;
    case TYPE_UINT16:
      return DataType::kUint16;
    case TYPE_UINT32:
      return DataType::kUint32;
    case TYPE_UINT64:
      return DataType::kUint64;
    case TYPE_INT8:
      return DataType::kInt8;
    case TYPE_INT16:
      return DataType::kInt16;
    case TYPE_INT32:
      return DataType::kInt32;
    case TYPE_INT64:
      return DataType::kInt64;
    case TYPE_FP16:
      return DataType::kFp16;
    case TYPE_FP32:
      return DataType::kFp32;
    case TYPE_FP64:
      return DataType::kFp64;
    case TYPE_STRING:
      return DataType::kBytes;
    default:
      return std::nullopt;
  }
}

std::string_view TritonTypeName(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "TYPE_BOOL";
    case DataType::kUint8:
      return "TYPE_UINT8";
    case DataType::kUint16:
      return "TYPE_UINT16";
    case DataType::kUint32:
      return "TYPE_UINT32";
    case DataType::kUint64:
      return "TYPE_UINT64";
    case DataType::kInt8:
      return "TYPE_INT8";
    case DataType::kInt16:
      return "TYPE_INT16";
    case DataType::kInt32:
      return "TYPE_INT32";
    case DataType::kInt64:
      return "TYPE_INT64";
    case DataType::kFp16:
      return "TYPE_FP16";
    case DataType::kFp32:
      return "TYPE_FP32";
    case DataType::kFp64:
      return "TYPE_FP64";
    case DataType::kBytes:
      return "TYPE_STRING";
  }
  return "TYPE_INVALID";
}

// Length of the well-formed UTF-8 sequence at text[i] (no overlong forms,
// surrogates or code points past U+10FFFF); 0 if there is none.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  auto byte = static_cast<unsigned char>(text[i]);
  size_t length = 0;
  uint32_t code_point = 0;
  if (byte < 0x80) return 1;
  if ((byte & 0xE0) == 0xC0) {
    length = 2;
    code_point = byte & 0x1F;
  } else if ((byte & 0xF0) == 0xE0) {
    length = 3;
    code_point = byte & 0x0F;
  } else if ((byte & 0xF8) == 0xF0) {
    length = 4;
    code_point = byte & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kMinimum[length] || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// protobuf's text parser accepts any bytes in a string field, but config
// strings end up in JSON responses, which must be UTF-8.
bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

// Error messages quote the input (tokens, paths); callers put them in JSON.
std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out.push_back('?');
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

absl::Status InvalidArgument(std::string_view message) {
  return absl::InvalidArgumentError(SanitizeUtf8(message));
}

absl::Status Invalid(const std::string& source, const std::string& message) {
  return InvalidArgument(absl::StrCat(source, ": ", message));
}

absl::Status CheckUtf8(const std::string& value, const std::string& what,
                       const std::string& source) {
  if (IsValidUtf8(value)) return absl::OkStatus();
  return InvalidArgument(absl::StrCat(source, ": ", what, " is not valid UTF-8"));
}

// Shared by inputs and outputs: name, datatype and dims checks as Triton
// applies them, then the batch dimension.
template <typename Tensor>
absl::StatusOr<TensorSpec> ConvertTensor(const Tensor& tensor, const char* kind,
                                         int64_t max_batch_size, const std::string& source) {
  if (tensor.name().empty()) return Invalid(source, absl::StrCat("an ", kind, " has no name"));
  FERRY_RETURN_IF_ERROR(CheckUtf8(tensor.name(), absl::StrCat(kind, " name"), source));
  std::string label = absl::StrCat(kind, " '", tensor.name(), "'");
  if (tensor.data_type() == TYPE_INVALID) {
    return Invalid(source, absl::StrCat(label, " must specify data_type"));
  }
  std::optional<DataType> type = ConvertDataType(tensor.data_type());
  if (!type) {
    return Invalid(source, absl::StrCat(label, " has unsupported data_type ",
                                        TritonDataType_Name(tensor.data_type())));
  }
  if (tensor.dims_size() == 0) return Invalid(source, absl::StrCat(label, " must specify dims"));
  TensorSpec spec{.name = tensor.name(), .datatype = *type};
  if (max_batch_size > 0) spec.shape.push_back(-1);
  for (int64_t dim : tensor.dims()) {
    if (dim < 1 && dim != -1) {
      return Invalid(source, absl::StrCat(label, " has dimension ", dim,
                                          "; dims must be >= 1, or -1 for a variable size"));
    }
    spec.shape.push_back(dim);
  }
  return spec;
}

absl::StatusOr<VersionPolicy> ConvertVersionPolicy(const TritonVersionPolicy& proto,
                                                   const std::string& source) {
  VersionPolicy policy;
  switch (proto.policy_choice_case()) {
    case TritonVersionPolicy::kLatest:
      if (proto.latest().num_versions() < 1) {
        return Invalid(source, "version_policy.latest.num_versions must be >= 1");
      }
      policy.num_versions = proto.latest().num_versions();
      break;
    case TritonVersionPolicy::kAll:
      policy.kind = VersionPolicy::Kind::kAll;
      break;
    case TritonVersionPolicy::kSpecific:
      policy.kind = VersionPolicy::Kind::kSpecific;
      for (int64_t version : proto.specific().versions()) {
        if (version < 1) {
          return Invalid(source, absl::StrCat("version_policy.specific lists version ", version,
                                              "; versions are >= 1"));
        }
        policy.versions.push_back(version);
      }
      if (policy.versions.empty()) {
        return Invalid(source, "version_policy.specific lists no versions");
      }
      std::sort(policy.versions.begin(), policy.versions.end());
      policy.versions.erase(std::unique(policy.versions.begin(), policy.versions.end()),
                            policy.versions.end());
      break;
    case TritonVersionPolicy::POLICY_CHOICE_NOT_SET:
      break;
  }
  return policy;
}

absl::StatusOr<RepositoryModelConfig> ConvertConfig(const TritonModelConfig& proto,
                                                    IgnoredFields ignored,
                                                    const std::string& source) {
  FERRY_RETURN_IF_ERROR(CheckUtf8(proto.name(), "name", source));
  FERRY_RETURN_IF_ERROR(CheckUtf8(proto.platform(), "platform", source));
  FERRY_RETURN_IF_ERROR(CheckUtf8(proto.backend(), "backend", source));
  RepositoryModelConfig config;
  config.name = proto.name();
  config.platform = proto.platform();
  config.backend = proto.backend();
  if (proto.max_batch_size() < 0) {
    return Invalid(source,
                   absl::StrCat("max_batch_size must be >= 0, got ", proto.max_batch_size()));
  }
  config.max_batch_size = proto.max_batch_size();

  std::set<std::string> names;
  for (const TritonModelInput& input : proto.input()) {
    auto spec = ConvertTensor(input, "input", config.max_batch_size, source);
    if (!spec.ok()) return spec.status();
    spec->optional = input.optional();
    if (!names.insert(spec->name).second) {
      return Invalid(source, absl::StrCat("input '", spec->name, "' is declared twice"));
    }
    config.inputs.push_back(*std::move(spec));
  }
  names.clear();
  for (const TritonModelOutput& output : proto.output()) {
    auto spec = ConvertTensor(output, "output", config.max_batch_size, source);
    if (!spec.ok()) return spec.status();
    if (!names.insert(spec->name).second) {
      return Invalid(source, absl::StrCat("output '", spec->name, "' is declared twice"));
    }
    config.outputs.push_back(*std::move(spec));
  }

  if (proto.has_dynamic_batching()) {
    const TritonDynamicBatching& batching = proto.dynamic_batching();
    config.dynamic_batching_enabled = true;
    for (int32_t size : batching.preferred_batch_size()) {
      if (size < 1 || (config.max_batch_size > 0 && size > config.max_batch_size)) {
        return Invalid(source,
                       absl::StrCat("dynamic_batching.preferred_batch_size ", size,
                                    " must be in [1, max_batch_size=", config.max_batch_size, "]"));
      }
      config.preferred_batch_sizes.push_back(size);
    }
    if (batching.max_queue_delay_microseconds() >
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Invalid(source, "dynamic_batching.max_queue_delay_microseconds is too large");
    }
    config.max_queue_delay_us = static_cast<int64_t>(batching.max_queue_delay_microseconds());
    if (batching.priority_levels() > std::numeric_limits<uint32_t>::max()) {
      return Invalid(source, "dynamic_batching.priority_levels is too large");
    }
    config.priority_levels = static_cast<uint32_t>(batching.priority_levels());
    if (config.priority_levels > 0) {
      if (batching.default_priority_level() < 1 ||
          batching.default_priority_level() > config.priority_levels) {
        return Invalid(source, absl::StrCat("dynamic_batching.default_priority_level ",
                                            batching.default_priority_level(), " must be in [1, ",
                                            config.priority_levels, "] (priority_levels)"));
      }
      config.default_priority_level = static_cast<uint32_t>(batching.default_priority_level());
    }
    const TritonQueuePolicy& queue = batching.default_queue_policy();
    config.default_timeout_us = queue.default_timeout_microseconds();
    config.max_queue_size = queue.max_queue_size();
    // Ferry always rejects a request whose queue timeout expires and never
    // lets a request override the default; say so instead of silently
    // behaving differently.
    if (queue.timeout_action() != TritonQueuePolicy::REJECT) {
      ignored.Add("dynamic_batching.default_queue_policy.timeout_action");
    }
    if (queue.allow_timeout_override()) {
      ignored.Add("dynamic_batching.default_queue_policy.allow_timeout_override");
    }
    if (batching.preserve_ordering()) {
      ignored.Add("dynamic_batching.preserve_ordering");
    }
  }

  if (proto.instance_group_size() > 0) {
    int64_t total = 0;
    for (const TritonInstanceGroup& group : proto.instance_group()) {
      if (group.count() < 0) {
        return Invalid(source,
                       absl::StrCat("instance_group count must be >= 0, got ", group.count()));
      }
      total += group.count() == 0 ? 1 : group.count();
      if (group.kind() == TritonInstanceGroup::KIND_GPU || group.gpus_size() > 0) {
        ignored.Add("instance_group.kind");
      }
    }
    if (total > std::numeric_limits<int>::max()) {
      return Invalid(source, "instance_group counts add up to more than an int");
    }
    config.instance_count = static_cast<int>(total);
  }

  for (const auto& [key, value] : proto.parameters()) {
    FERRY_RETURN_IF_ERROR(CheckUtf8(key, "a parameters key", source));
    FERRY_RETURN_IF_ERROR(
        CheckUtf8(value.string_value(), absl::StrCat("parameters['", key, "']"), source));
    config.parameters[key] = value.string_value();
  }

  auto policy = ConvertVersionPolicy(proto.version_policy(), source);
  if (!policy.ok()) return policy.status();
  config.version_policy = *std::move(policy);
  config.ignored_fields = std::move(ignored).Take();
  return config;
}

// 1-based line and column of byte `offset` in `text`.
std::pair<size_t, size_t> LineAndColumn(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, offset - line_start + 1};
}

// Rejects an enum given by a name the schema does not have: protobuf's JSON
// parser, told to ignore unknown fields, would silently use the default
// (TYPE_INVALID), which hides the real mistake.
absl::Status CheckJsonEnums(const nlohmann::json& object, const pb::Descriptor* descriptor,
                            const std::string& path, const std::string& source) {
  if (!object.is_object()) return absl::OkStatus();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    const nlohmann::json* value = nullptr;
    if (auto it = object.find(field->name()); it != object.end()) {
      value = &*it;
    } else if (auto jt = object.find(field->json_name()); jt != object.end()) {
      value = &*jt;
    }
    if (value == nullptr) continue;
    std::string field_path = path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    if (field->enum_type() != nullptr && value->is_string() &&
        field->enum_type()->FindValueByName(value->get<std::string>()) == nullptr) {
      return Invalid(
          source, absl::StrCat(field_path, ": unknown value \"", value->get<std::string>(), "\""));
    }
    if (field->message_type() == nullptr || field->is_map()) continue;
    if (field->is_repeated() && value->is_array()) {
      for (const auto& element : *value) {
        FERRY_RETURN_IF_ERROR(CheckJsonEnums(element, field->message_type(), field_path, source));
      }
    } else if (!field->is_repeated()) {
      FERRY_RETURN_IF_ERROR(CheckJsonEnums(*value, field->message_type(), field_path, source));
    }
  }
  return absl::OkStatus();
}

// Deepest nesting of '{', '<' and '[' accepted in config.pbtxt. protobuf
// skips unknown fields recursively without a limit, so a hostile file could
// otherwise exhaust the stack; real Triton configs nest about 6 deep.
constexpr int kMaxTextNesting = 100;

size_t SkipSpaceAndComments(std::string_view text, size_t i) {
  while (i < text.size()) {
    if (text[i] == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r' ||
               text[i] == '\f' || text[i] == '\v') {
      ++i;
    } else {
      break;
    }
  }
  return i;
}

bool IsIdentifierStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentifierChar(char c) { return IsIdentifierStart(c) || (c >= '0' && c <= '9'); }

// Prepares config.pbtxt for protobuf's text parser:
//  - Triton configs write lists of messages as `field [ {...}, {...} ]`
//    (no ':'). protobuf 3.21 parses that for fields it knows but fails with
//    'Expected "{", found "["' when it skips an unknown one (model_warmup,
//    sequence_batching.control_input, ...). The equivalent `field: [ ... ]`
//    skips fine, so a ':' is put in: over the space before '[' when there is
//    one, else inserted (shifting later columns on that line by one).
//  - An empty list `field [ ]`, which protobuf cannot skip either, is blanked
//    out (it sets nothing).
//  - Rejects nesting deeper than kMaxTextNesting.
// Lines never change, so parse errors point into the file as written.
absl::StatusOr<std::string> PrepareTextConfig(std::string_view text, const std::string& source) {
  std::string out(text);
  std::vector<size_t> insert_colon_at;
  int depth = 0;
  bool after_colon = false;
  size_t i = 0;
  while ((i = SkipSpaceAndComments(text, i)) < text.size()) {
    char c = text[i];
    if (c == '"' || c == '\'') {
      for (++i; i < text.size() && text[i] != c && text[i] != '\n'; ++i) {
        if (text[i] == '\\') ++i;
      }
      ++i;
      after_colon = false;
    } else if (IsIdentifierStart(c)) {
      size_t end = i;
      while (end < text.size() && IsIdentifierChar(text[end])) ++end;
      bool is_field_name = !after_colon;
      after_colon = false;
      size_t bracket = SkipSpaceAndComments(text, end);
      if (is_field_name && bracket < text.size() && text[bracket] == '[') {
        size_t next = SkipSpaceAndComments(text, bracket + 1);
        if (next < text.size() && text[next] == ']') {
          for (size_t k = i; k <= next; ++k) {
            if (out[k] != '\n') out[k] = ' ';
          }
          i = next + 1;
          continue;
        }
        if (next < text.size() && (text[next] == '{' || text[next] == '<')) {
          if (end < bracket && text[end] == ' ') {
            out[end] = ':';
          } else {
            insert_colon_at.push_back(end);
          }
        }
      }
      i = end;
    } else if (c == '{' || c == '<' || c == '[') {
      if (++depth > kMaxTextNesting) {
        auto [line, column] = LineAndColumn(text, i);
        return InvalidArgument(absl::StrCat(source, ":", line, ":", column, ": nested deeper than ",
                                            kMaxTextNesting, " levels"));
      }
      after_colon = false;
      ++i;
    } else if (c == '}' || c == '>' || c == ']') {
      --depth;
      after_colon = false;
      ++i;
    } else if (c == ':') {
      after_colon = true;
      ++i;
    } else if (c == '-') {
      ++i;  // sign of a value such as -inf: still after the ':'
    } else {
      after_colon = false;
      ++i;
    }
  }
  for (auto it = insert_colon_at.rbegin(); it != insert_colon_at.rend(); ++it) {
    out.insert(*it, 1, ':');
  }
  return out;
}

// ---------------------------------------------------------------------------
// Repository helpers

bool IsInside(const fs::path& path, const fs::path& root) {
  auto [root_it, path_it] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  (void)path_it;
  return root_it == root.end();
}

// Version number of a directory name: a positive decimal without leading
// zeros (Triton ignores other names).
std::optional<int64_t> ParseVersionName(std::string_view name) {
  if (name.empty() || name[0] == '0') return std::nullopt;
  if (!std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t version = 0;
  auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), version);
  if (error != std::errc() || end != name.data() + name.size()) return std::nullopt;
  return version;
}

// Resolves `path` (which must exist) and checks it stays inside `root`.
absl::StatusOr<fs::path> ResolveInside(const fs::path& path, const fs::path& root,
                                       const char* what) {
  std::error_code error;
  fs::path resolved = fs::canonical(path, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat(what, " ", path.string(), " cannot be resolved: ", error.message()));
  }
  if (!IsInside(resolved, root)) {
    return InvalidArgument(absl::StrCat(what, " ", path.string(), " resolves to ",
                                        resolved.string(), ", outside the model repository ",
                                        root.string()));
  }
  return resolved;
}

absl::StatusOr<std::string> ReadConfigFile(const fs::path& path) {
  std::error_code error;
  uintmax_t size = fs::file_size(path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot stat ", path.string(), ": ", error.message()));
  }
  if (size > ModelRepository::kMaxConfigBytes) {
    return InvalidArgument(absl::StrCat(path.string(), " is ", size, " bytes; the limit is ",
                                        ModelRepository::kMaxConfigBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot open ", path.string()));
  std::string content(static_cast<size_t>(size), '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  content.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", path.string()));
  return content;
}

// Numbered version directories of `model_dir` (unsorted). Entries that are
// not directories or not version names are skipped.
absl::StatusOr<std::vector<RepositoryVersion>> ScanVersions(const fs::path& model_dir,
                                                            const fs::path& root) {
  std::vector<RepositoryVersion> versions;
  std::error_code error;
  fs::directory_iterator it(model_dir, error);
  for (; !error && it != fs::directory_iterator(); it.increment(error)) {
    std::optional<int64_t> number = ParseVersionName(it->path().filename().string());
    if (!number) continue;
    std::error_code type_error;
    if (!it->is_directory(type_error)) continue;  // follows symlinks
    auto resolved = ResolveInside(it->path(), root, "version directory");
    if (!resolved.ok()) return resolved.status();
    versions.push_back(RepositoryVersion{.version = *number, .path = resolved->string()});
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot list ", model_dir.string(), ": ", error.message()));
  }
  return versions;
}

}  // namespace

absl::StatusOr<RepositoryModelConfig> ParseModelConfigText(std::string_view text,
                                                           std::string_view source_name) {
  const std::string source(source_name);
  TritonModelConfig proto;
  CollectingErrorCollector collector;
  pb::TextFormat::Parser parser;
  parser.AllowUnknownField(true);
  parser.AllowUnknownExtension(true);
  parser.RecordErrorsTo(&collector);
  auto prepared = PrepareTextConfig(text, source);
  if (!prepared.ok()) return prepared.status();
  bool parsed = parser.ParseFromString(*prepared, &proto);
  if (!parsed || collector.error()) {
    if (!collector.error()) return Invalid(source, "cannot parse model configuration");
    const auto& error = *collector.error();
    return InvalidArgument(
        absl::StrCat(source, ":", error.line + 1, ":", error.column + 1, ": ", error.message));
  }
  IgnoredFields ignored;
  for (const auto& warning : collector.warnings()) {
    ignored.Add(SanitizeUtf8(IgnoredFieldFromWarning(warning.message)));
  }
  return ConvertConfig(proto, std::move(ignored), source);
}

absl::StatusOr<RepositoryModelConfig> ParseModelConfigJson(std::string_view text,
                                                           std::string_view source_name) {
  const std::string source(source_name);
  // nlohmann first: it reports where a syntax error is, and its tree tells us
  // which keys protobuf will skip.
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& error) {
    auto [line, column] = LineAndColumn(text, error.byte == 0 ? 0 : error.byte - 1);
    std::string message = error.what();
    if (size_t colon = message.find(": "); colon != std::string::npos) message.erase(0, colon + 2);
    return InvalidArgument(absl::StrCat(source, ":", line, ":", column, ": ", message));
  } catch (const nlohmann::json::exception& error) {
    // out_of_range: a number too large for any JSON number type.
    return Invalid(source, error.what());
  }
  if (!document.is_object()) return Invalid(source, "the configuration must be a JSON object");
  FERRY_RETURN_IF_ERROR(CheckJsonEnums(document, TritonModelConfig::descriptor(), "", source));
  IgnoredFields ignored;
  CollectUnknownJsonKeys(document, TritonModelConfig::descriptor(), "", &ignored);

  TritonModelConfig proto;
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status =
      pb::util::JsonStringToMessage(pb::StringPiece(text.data(), text.size()), &proto, options);
  if (!status.ok()) return Invalid(source, std::string(status.message()));
  return ConvertConfig(proto, std::move(ignored), source);
}

std::string FormatFromConfig(const RepositoryModelConfig& config) {
  if (config.backend == "xgboost" || config.platform == "xgboost") return "xgboost";
  if (config.backend == "fil") {
    auto it = config.parameters.find("model_type");
    if (it != config.parameters.end() &&
        (it->second == "xgboost" || it->second == "xgboost_json" || it->second == "xgboost_ubj")) {
      return "xgboost";
    }
  }
  return "";
}

nlohmann::json ToTritonConfigJson(const RepositoryModelConfig& config) {
  auto config_dims = [&config](const TensorSpec& spec) {
    std::vector<int64_t> dims = spec.shape;
    if (config.max_batch_size > 0 && !dims.empty() && dims.front() == -1) dims.erase(dims.begin());
    return dims;
  };
  nlohmann::json inputs = nlohmann::json::array();
  for (const TensorSpec& spec : config.inputs) {
    inputs.push_back({{"name", spec.name},
                      {"data_type", TritonTypeName(spec.datatype)},
                      {"format", "FORMAT_NONE"},
                      {"dims", config_dims(spec)},
                      {"is_shape_tensor", false},
                      {"allow_ragged_batch", false},
                      {"optional", spec.optional},
                      {"is_non_linear_format_io", false}});
  }
  nlohmann::json outputs = nlohmann::json::array();
  for (const TensorSpec& spec : config.outputs) {
    outputs.push_back({{"name", spec.name},
                       {"data_type", TritonTypeName(spec.datatype)},
                       {"dims", config_dims(spec)},
                       {"label_filename", ""},
                       {"is_shape_tensor", false},
                       {"is_non_linear_format_io", false}});
  }

  nlohmann::json version_policy;
  switch (config.version_policy.kind) {
    case VersionPolicy::Kind::kLatest:
      version_policy = {{"latest", {{"num_versions", config.version_policy.num_versions}}}};
      break;
    case VersionPolicy::Kind::kAll:
      version_policy = {{"all", nlohmann::json::object()}};
      break;
    case VersionPolicy::Kind::kSpecific:
      version_policy = {{"specific", {{"versions", config.version_policy.versions}}}};
      break;
  }

  nlohmann::json parameters = nlohmann::json::object();
  for (const auto& [key, value] : config.parameters) {
    parameters[key] = {{"string_value", value}};
  }

  nlohmann::json out = {
      {"name", config.name},
      {"platform", config.platform},
      {"backend", config.backend},
      {"runtime", ""},
      {"version_policy", version_policy},
      {"max_batch_size", config.max_batch_size},
      {"input", inputs},
      {"output", outputs},
      {"batch_input", nlohmann::json::array()},
      {"batch_output", nlohmann::json::array()},
      {"instance_group", nlohmann::json::array({{{"name", absl::StrCat(config.name, "_0")},
                                                 {"kind", "KIND_CPU"},
                                                 {"count", config.instance_count},
                                                 {"gpus", nlohmann::json::array()},
                                                 {"secondary_devices", nlohmann::json::array()},
                                                 {"profile", nlohmann::json::array()},
                                                 {"passive", false},
                                                 {"host_policy", ""}}})},
      {"default_model_filename", ""},
      {"cc_model_filenames", nlohmann::json::object()},
      {"metric_tags", nlohmann::json::object()},
      {"parameters", parameters},
      {"model_warmup", nlohmann::json::array()},
  };
  if (config.dynamic_batching_enabled) {
    nlohmann::json batching = {
        {"preferred_batch_size", config.preferred_batch_sizes},
        {"max_queue_delay_microseconds", config.max_queue_delay_us},
        {"preserve_ordering", false},
        {"priority_levels", config.priority_levels},
        {"default_priority_level", config.default_priority_level},
        {"priority_queue_policy", nlohmann::json::object()},
    };
    if (config.default_timeout_us != 0 || config.max_queue_size != 0) {
      batching["default_queue_policy"] = {
          {"timeout_action", "REJECT"},
          {"default_timeout_microseconds", config.default_timeout_us},
          {"allow_timeout_override", false},
          {"max_queue_size", config.max_queue_size},
      };
    }
    out["dynamic_batching"] = std::move(batching);
  }
  return out;
}

absl::Status ModelRepository::ValidateModelName(std::string_view name_view) {
  const std::string name(name_view);
  if (name.empty()) return InvalidArgument("model name is empty");
  if (name.size() > kMaxModelNameLength) {
    return InvalidArgument(
        absl::StrCat("model name is ", name.size(), " bytes; the limit is ", kMaxModelNameLength));
  }
  if (!IsValidUtf8(name)) return InvalidArgument("model name is not valid UTF-8");
  if (name.front() == '.') {
    return InvalidArgument(absl::StrCat("model name '", name, "' must not start with '.'"));
  }
  for (char c : name) {
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgument("model name must not contain '/', '\\' or control characters");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ModelRepository>> ModelRepository::Open(const std::string& root) {
  std::error_code error;
  fs::path resolved = fs::canonical(root, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("model repository ", root, " cannot be opened: ", error.message()));
  }
  if (!fs::is_directory(resolved, error)) {
    return InvalidArgument(absl::StrCat("model repository ", root, " is not a directory"));
  }
  return std::unique_ptr<ModelRepository>(new ModelRepository(resolved.string()));
}

absl::StatusOr<std::vector<std::string>> ModelRepository::ListModels() const {
  const fs::path root(root_);
  std::vector<std::string> models;
  std::error_code error;
  fs::directory_iterator it(root, error);
  for (; !error && it != fs::directory_iterator(); it.increment(error)) {
    std::string name = it->path().filename().string();
    if (!ValidateModelName(name).ok()) continue;  // hidden entries included
    std::error_code entry_error;
    if (!it->is_directory(entry_error)) continue;
    auto model_dir = ResolveInside(it->path(), root, "model directory");
    if (!model_dir.ok()) {
      spdlog::warn("model repository: skipping '{}': {}", name,
                   std::string(model_dir.status().message()));
      continue;
    }
    bool is_model = fs::is_regular_file(*model_dir / kConfigText, entry_error) ||
                    fs::is_regular_file(*model_dir / kConfigJson, entry_error);
    if (!is_model) {
      fs::directory_iterator versions(*model_dir, entry_error);
      for (; !entry_error && versions != fs::directory_iterator();
           versions.increment(entry_error)) {
        std::error_code type_error;
        if (ParseVersionName(versions->path().filename().string()) &&
            versions->is_directory(type_error)) {
          is_model = true;
          break;
        }
      }
    }
    if (is_model) models.push_back(std::move(name));
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot list model repository ", root_, ": ", error.message()));
  }
  std::sort(models.begin(), models.end());
  return models;
}

absl::StatusOr<RepositoryModel> ModelRepository::Load(const std::string& name) const {
  FERRY_RETURN_IF_ERROR(ValidateModelName(name));
  const fs::path root(root_);
  const fs::path entry = root / name;
  std::error_code error;
  if (!fs::exists(fs::symlink_status(entry, error))) {
    return absl::NotFoundError(
        absl::StrCat("model '", name, "' not found in model repository ", root_));
  }
  auto model_dir = ResolveInside(entry, root, "model directory");
  if (!model_dir.ok()) return model_dir.status();
  if (!fs::is_directory(*model_dir, error)) {
    return absl::NotFoundError(
        absl::StrCat("model '", name, "': ", entry.string(), " is not a directory"));
  }

  RepositoryModel model;
  model.path = model_dir->string();
  bool have_config = false;
  for (std::string_view file : {kConfigText, kConfigJson}) {
    fs::path candidate = *model_dir / file;
    if (!fs::exists(fs::symlink_status(candidate, error))) continue;
    auto config_path = ResolveInside(candidate, root, "config file");
    if (!config_path.ok()) return config_path.status();
    if (!fs::is_regular_file(*config_path, error)) {
      return InvalidArgument(
          absl::StrCat("config file ", candidate.string(), " is not a regular file"));
    }
    auto text = ReadConfigFile(*config_path);
    if (!text.ok()) return text.status();
    std::string source = candidate.string();
    auto config = file == kConfigText ? ParseModelConfigText(*text, source)
                                      : ParseModelConfigJson(*text, source);
    if (!config.ok()) return config.status();
    model.config = *std::move(config);
    model.config_path = config_path->string();
    have_config = true;
    break;  // config.pbtxt wins over config.json, as in Triton
  }
  if (!have_config) model.config.name = name;
  if (model.config.name.empty()) model.config.name = name;
  if (model.config.name != name) {
    return InvalidArgument(absl::StrCat("model '", name, "': ", model.config_path,
                                        " names the model '", model.config.name,
                                        "'; it must match the directory name"));
  }
  if (!model.config.ignored_fields.empty()) {
    spdlog::info("model '{}': ignoring configuration fields Ferry does not use: {}", name,
                 absl::StrJoin(model.config.ignored_fields, ", "));
  }

  auto found = ScanVersions(*model_dir, root);
  if (!found.ok()) return found.status();
  std::vector<RepositoryVersion> versions = *std::move(found);
  std::sort(
      versions.begin(), versions.end(),
      [](const RepositoryVersion& a, const RepositoryVersion& b) { return a.version < b.version; });
  if (versions.empty()) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' has no version directory (",
                                            model.path, "/<n>/ with n >= 1)"));
  }
  const VersionPolicy& policy = model.config.version_policy;
  switch (policy.kind) {
    case VersionPolicy::Kind::kLatest: {
      size_t keep = std::min<size_t>(policy.num_versions, versions.size());
      model.versions.assign(versions.end() - static_cast<std::ptrdiff_t>(keep), versions.end());
      break;
    }
    case VersionPolicy::Kind::kAll:
      model.versions = std::move(versions);
      break;
    case VersionPolicy::Kind::kSpecific:
      for (int64_t wanted : policy.versions) {
        auto it =
            std::find_if(versions.begin(), versions.end(),
                         [wanted](const RepositoryVersion& v) { return v.version == wanted; });
        if (it == versions.end()) {
          return absl::NotFoundError(absl::StrCat("model '", name, "': version ", wanted,
                                                  " is listed in version_policy.specific but ",
                                                  model.path, "/", wanted, " does not exist"));
        }
        model.versions.push_back(*it);
      }
      break;
  }
  return model;
}

}  // namespace ferry::serving::repository
