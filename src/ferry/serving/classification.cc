#include "ferry/serving/classification.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <numeric>
#include <vector>

namespace ferry::serving {
namespace {

// Reads element i of a numeric tensor as double.
std::optional<double> ElementAsDouble(const Tensor& t, size_t i) {
  if (t.datatype == DataType::kFp16) {
    uint16_t bits;
    std::memcpy(&bits, t.data.data() + i * 2, 2);
    return HalfToFloat(bits);
  }
  double value = 0;
  const bool numeric = VisitNumericType(t.datatype, [&](auto tag) {
    using T = decltype(tag);
    T v;
    std::memcpy(&v, t.data.data() + i * sizeof(T), sizeof(T));
    value = static_cast<double>(v);
  });
  if (!numeric) return std::nullopt;
  return value;
}

void AppendBytesElement(std::string& data, std::string_view value) {
  uint32_t n = static_cast<uint32_t>(value.size());
  char prefix[4];
  std::memcpy(prefix, &n, 4);  // little-endian hosts only (x86-64, aarch64)
  data.append(prefix, 4);
  data.append(value);
}

}  // namespace

absl::StatusOr<std::optional<int64_t>> ClassificationCount(const RequestedOutput& output) {
  if (!output.parameters.is_object() || !output.parameters.contains("classification"))
    return std::optional<int64_t>();
  const auto& value = output.parameters["classification"];
  if (!value.is_number_integer() || value.get<int64_t>() < 1)
    return absl::InvalidArgumentError("output '" + output.name +
                                      "': 'classification' must be an integer >= 1");
  return std::optional<int64_t>(value.get<int64_t>());
}

absl::Status ApplyClassification(std::span<const RequestedOutput> requested,
                                 InferResponse& response) {
  for (const RequestedOutput& wanted : requested) {
    auto count = ClassificationCount(wanted);
    if (!count.ok()) return count.status();
    if (!count->has_value()) continue;
    for (Tensor& out : response.outputs) {
      if (out.name != wanted.name) continue;
      if (out.datatype == DataType::kBytes || out.datatype == DataType::kBool)
        return absl::InvalidArgumentError("output '" + out.name + "': cannot classify " +
                                          std::string(DataTypeName(out.datatype)) + " values");
      int64_t total = out.ElementCount();
      int64_t rows = out.shape.empty() ? 1 : out.shape[0];
      int64_t classes = rows > 0 ? total / rows : 0;
      int64_t k = std::min<int64_t>(**count, classes);
      std::string data;
      std::vector<int64_t> order(classes);
      char buffer[64];
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<double> scores(classes);
        for (int64_t c = 0; c < classes; ++c)
          scores[c] = ElementAsDouble(out, r * classes + c).value_or(0);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
        for (int64_t i = 0; i < k; ++i) {
          double score = scores[order[i]];
          auto end =
              out.datatype == DataType::kFp32 || out.datatype == DataType::kFp16
                  ? std::to_chars(buffer, buffer + sizeof buffer, static_cast<float>(score)).ptr
                  : std::to_chars(buffer, buffer + sizeof buffer, score).ptr;
          std::string entry(buffer, end);
          entry += ":" + std::to_string(order[i]);
          AppendBytesElement(data, entry);
        }
      }
      out.datatype = DataType::kBytes;
      out.shape = {rows, k};
      out.data = std::move(data);
    }
  }
  return absl::OkStatus();
}

}  // namespace ferry::serving
