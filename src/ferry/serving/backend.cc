#include "ferry/serving/backend.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ferry::serving {
namespace {

const TensorSpec* FindSpec(const std::vector<TensorSpec>& specs, const std::string& name) {
  for (const TensorSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool ShapeMatches(const std::vector<int64_t>& spec, const std::vector<int64_t>& got) {
  if (spec.size() != got.size()) return false;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] != -1 && spec[i] != got[i]) return false;
  }
  return true;
}

std::string Names(const std::vector<TensorSpec>& specs) {
  std::string out;
  for (const TensorSpec& spec : specs) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", "'", spec.name, "'");
  }
  return out;
}

}  // namespace

absl::Status CheckInputs(const ModelMetadata& metadata, const InferRequest& request) {
  const Tensor* batch_source = nullptr;
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const Tensor& input = request.inputs[i];
    const std::string prefix = absl::StrCat("input '", input.name, "': ");
    for (size_t j = 0; j < i; ++j) {
      if (request.inputs[j].name == input.name) {
        return absl::InvalidArgumentError(absl::StrCat(prefix, "given more than once"));
      }
    }
    const TensorSpec* spec = FindSpec(metadata.inputs, input.name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, "unknown input; the model expects ", Names(metadata.inputs)));
    }
    if (input.datatype != spec->datatype) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, "expected datatype ", std::string(DataTypeName(spec->datatype)),
                       ", got ", std::string(DataTypeName(input.datatype))));
    }
    if (!ShapeMatches(spec->shape, input.shape)) {
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, "expected shape ", ShapeString(spec->shape), ", got ", ShapeString(input.shape)));
    }
    if (metadata.max_batch_size > 0 && !input.shape.empty()) {
      const int64_t rows = input.shape.front();
      if (rows > metadata.max_batch_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            prefix, "batch size ", rows, " exceeds max_batch_size ", metadata.max_batch_size));
      }
      if (batch_source == nullptr) {
        batch_source = &input;
      } else if (batch_source->shape.front() != rows) {
        return absl::InvalidArgumentError(
            absl::StrCat(prefix, "batch size ", rows, " differs from input '", batch_source->name,
                         "' batch size ", batch_source->shape.front()));
      }
    }
    if (absl::Status valid = ValidateTensorData(input, "input"); !valid.ok()) return valid;
  }
  for (const TensorSpec& spec : metadata.inputs) {
    if (spec.optional) continue;
    bool present = false;
    for (const Tensor& input : request.inputs) {
      if (input.name == spec.name) {
        present = true;
        break;
      }
    }
    if (!present) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", spec.name, "': missing; the model requires it (",
                       std::string(DataTypeName(spec.datatype)), ShapeString(spec.shape), ")"));
    }
  }
  for (const RequestedOutput& output : request.outputs) {
    if (FindSpec(metadata.outputs, output.name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output '", output.name, "': unknown output; the model has ", Names(metadata.outputs)));
    }
  }
  return absl::OkStatus();
}

void BackendRegistry::Register(std::string format, Factory factory) {
  factories_[std::move(format)] = std::move(factory);
}

absl::StatusOr<std::unique_ptr<ModelBackend>> BackendRegistry::Create(const std::string& format,
                                                                      const LoadSpec& spec) const {
  auto it = factories_.find(format);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& [name, factory] : factories_) {
      absl::StrAppend(&known, known.empty() ? "" : ", ", name);
    }
    return absl::NotFoundError(absl::StrCat("no backend for model format '", format,
                                            "' (available: ", known.empty() ? "none" : known, ")"));
  }
  return it->second(spec);
}

}  // namespace ferry::serving
