#include "ferry/governance/internal/format.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace ferry::governance::internal {

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return FormatRounded(value);
  return std::string(buf, end);
}

std::string FormatRounded(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%.10g", value);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

std::string FormatTimeMs(int64_t ms) {
  // Floor division so that negative times format as the second they fall in.
  int64_t seconds = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(ms) + " ms";
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

const std::string* FindTag(const std::vector<store::Tag>& tags, std::string_view key) {
  for (const auto& tag : tags) {
    if (tag.key == key) return &tag.value;
  }
  return nullptr;
}

std::string EscapeControl(std::string_view text, std::string_view keep) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 || u == 0x7f) && keep.find(c) == std::string_view::npos) {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace ferry::governance::internal
