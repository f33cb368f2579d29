// Fuzzes the V2 REST codec. The first two bytes (little-endian) choose the
// Inference-Header-Content-Length value (0xffff: no header); the rest is the
// body. A body that decodes must satisfy the decoder's contract, and its
// tensors, encoded back as a response, must decode to the same tensors.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/api/v2/codec.h"
#include "nlohmann/json.hpp"

namespace {

using ferry::serving::DataType;
using ferry::serving::Tensor;
using json = nlohmann::json;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// True when the tensor's JSON form decodes back to the same bytes: no
// non-finite floats (JSON null) and no invalid UTF-8 in BYTES (replaced).
bool JsonExact(const Tensor& tensor) {
  const std::string_view data = tensor.data;
  switch (tensor.datatype) {
    case DataType::kFp16:
      for (size_t i = 0; i + 2 <= data.size(); i += 2) {
        uint16_t bits;
        std::memcpy(&bits, data.data() + i, 2);
        if ((bits & 0x7c00) == 0x7c00) return false;
      }
      return true;
    case DataType::kFp32:
      for (size_t i = 0; i + 4 <= data.size(); i += 4) {
        float v;
        std::memcpy(&v, data.data() + i, 4);
        if (!std::isfinite(v)) return false;
      }
      return true;
    case DataType::kFp64:
      for (size_t i = 0; i + 8 <= data.size(); i += 8) {
        double v;
        std::memcpy(&v, data.data() + i, 8);
        if (!std::isfinite(v)) return false;
      }
      return true;
    case DataType::kBytes: {
      size_t offset = 0;
      while (offset + 4 <= data.size()) {
        uint32_t length;
        std::memcpy(&length, data.data() + offset, 4);
        offset += 4;
        try {
          (void)json(std::string(data.substr(offset, length))).dump();
        } catch (const json::exception&) {
          return false;  // invalid UTF-8
        }
        offset += length;
      }
      return true;
    }
    default:
      return true;
  }
}

void CheckRoundTrip(const ferry::serving::InferRequest& request) {
  ferry::serving::InferResponse response;
  response.id = request.id;
  response.model_name = "m";
  response.parameters = request.parameters;
  response.outputs = request.inputs;
  for (Tensor& output : response.outputs) {
    if (output.parameters.is_object()) output.parameters.erase("binary_data_size");
  }
  const ferry::api::v2::EncodedBody encoded =
      ferry::api::v2::EncodeInferResponse(response, request);
  const size_t header_length = encoded.json_header_length.value_or(encoded.body.size());
  FUZZ_CHECK(header_length <= encoded.body.size());
  // The encoder must always produce valid JSON.
  json header = json::parse(encoded.body.substr(0, header_length));
  FUZZ_CHECK(header["outputs"].size() == response.outputs.size());

  bool exact = true;
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    const bool binary = header["outputs"][i].contains("parameters") &&
                        header["outputs"][i]["parameters"].contains("binary_data_size");
    if (!binary && !JsonExact(response.outputs[i])) exact = false;
  }
  if (!exact) return;

  header["inputs"] = std::move(header["outputs"]);
  header.erase("outputs");
  std::string body = header.dump();
  const size_t length = body.size();
  body += encoded.body.substr(header_length);
  auto again = ferry::api::v2::DecodeInferRequest(body, length);
  if (!again.ok()) {
    std::fprintf(stderr, "re-decode failed: %s\n", std::string(again.status().message()).c_str());
  }
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->inputs.size() == request.inputs.size());
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const Tensor& want = request.inputs[i];
    const Tensor& got = again->inputs[i];
    FUZZ_CHECK(got.name == want.name);
    FUZZ_CHECK(got.datatype == want.datatype);
    FUZZ_CHECK(got.shape == want.shape);
    FUZZ_CHECK(got.data == want.data);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto selector = static_cast<uint16_t>(data[0] | (data[1] << 8));
  std::optional<size_t> header_length;
  if (selector != 0xffff) header_length = selector;
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);

  const ferry::api::v2::DecodeLimits limits;
  auto request = ferry::api::v2::DecodeInferRequest(body, header_length, limits);
  if (!request.ok()) {
    FUZZ_CHECK(request.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  for (const Tensor& input : request->inputs) {
    FUZZ_CHECK(!input.name.empty());
    FUZZ_CHECK(input.shape.size() <= limits.max_dims);
    FUZZ_CHECK(input.ElementCount() >= 0 && input.ElementCount() <= limits.max_elements);
    FUZZ_CHECK(ferry::serving::ValidateTensorData(input).ok());
  }
  CheckRoundTrip(*request);
  return 0;
}
