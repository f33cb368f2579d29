#include "ferry/serving/routing/traffic.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ferry::serving {
namespace {

constexpr absl::string_view kSpecForm = "expected \"version:weight[,version:weight...]\"";

// Debian's Abseil is built with its own string_view type.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::Status ValidateTrafficPolicy(const TrafficPolicy& policy) {
  if (policy.splits.empty()) {
    return absl::InvalidArgumentError("traffic policy has no splits; at least one version needed");
  }
  uint64_t total = 0;
  absl::flat_hash_map<std::string_view, size_t> seen;
  for (size_t i = 0; i < policy.splits.size(); ++i) {
    const TrafficSplit& split = policy.splits[i];
    if (split.version.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("traffic policy split ", i + 1, " has an empty version"));
    }
    if (split.weight > kMaxTrafficWeight) {
      return absl::InvalidArgumentError(absl::StrCat("traffic policy split ", i + 1, " (version \"",
                                                     split.version, "\") has weight ", split.weight,
                                                     "; weights are 0..", kMaxTrafficWeight));
    }
    auto [it, inserted] = seen.try_emplace(split.version, i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("traffic policy names version \"",
                                                     split.version, "\" twice (splits ",
                                                     it->second + 1, " and ", i + 1, ")"));
    }
    total += split.weight;
  }
  if (total == 0) {
    return absl::InvalidArgumentError(
        "traffic policy has no positive weight; at least one version needs weight > 0");
  }
  if (policy.shadow_version.has_value()) {
    const std::string& shadow = *policy.shadow_version;
    if (shadow.empty()) {
      return absl::InvalidArgumentError("traffic policy shadow version is empty");
    }
    auto it = seen.find(shadow);
    if (it != seen.end() && policy.splits[it->second].weight > 0) {
      return absl::InvalidArgumentError(absl::StrCat("traffic policy shadow version \"", shadow,
                                                     "\" also receives primary traffic (weight ",
                                                     policy.splits[it->second].weight, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TrafficSplit>> ParseTrafficSpec(std::string_view spec) {
  if (absl::StripAsciiWhitespace(Sv(spec)).empty()) {
    return absl::InvalidArgumentError(absl::StrCat("traffic spec is empty; ", kSpecForm));
  }
  std::vector<TrafficSplit> splits;
  absl::flat_hash_map<std::string, size_t> seen;
  size_t number = 0;
  for (absl::string_view raw : absl::StrSplit(Sv(spec), ',')) {
    ++number;
    absl::string_view entry = absl::StripAsciiWhitespace(raw);
    if (entry.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("traffic spec entry ", number, " is empty; ", kSpecForm));
    }
    size_t colon = entry.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("traffic spec entry ", number, " \"", entry,
                                                     "\" has no \":weight\"; ", kSpecForm));
    }
    absl::string_view version = absl::StripAsciiWhitespace(entry.substr(0, colon));
    absl::string_view weight_text = absl::StripAsciiWhitespace(entry.substr(colon + 1));
    if (version.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("traffic spec entry ", number, " \"", entry, "\" has an empty version"));
    }
    // Digits only (no sign, no exponent); at most 6 so the value cannot
    // overflow before the range check.
    const bool digits = !weight_text.empty() && weight_text.size() <= 6 &&
                        std::all_of(weight_text.begin(), weight_text.end(),
                                    [](char c) { return c >= '0' && c <= '9'; });
    uint32_t weight = 0;
    if (digits) {
      for (char c : weight_text) weight = weight * 10 + static_cast<uint32_t>(c - '0');
    }
    if (!digits || weight > kMaxTrafficWeight) {
      return absl::InvalidArgumentError(
          absl::StrCat("traffic spec entry ", number, " \"", entry, "\" has weight \"", weight_text,
                       "\"; expected an integer 0..", kMaxTrafficWeight));
    }
    auto [it, inserted] = seen.try_emplace(std::string(version), number);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("traffic spec names version \"", version,
                                                     "\" twice (entries ", it->second, " and ",
                                                     number, ")"));
    }
    splits.push_back({.version = std::string(version), .weight = weight});
  }
  bool any_positive =
      std::any_of(splits.begin(), splits.end(), [](const TrafficSplit& s) { return s.weight > 0; });
  if (!any_positive) {
    return absl::InvalidArgumentError(
        "traffic spec has no positive weight; at least one version needs weight > 0");
  }
  return splits;
}

std::string FormatTrafficSpec(absl::Span<const TrafficSplit> splits) {
  std::string out;
  for (const TrafficSplit& split : splits) {
    absl::StrAppend(&out, out.empty() ? "" : ",", split.version, ":", split.weight);
  }
  return out;
}

uint64_t StableRouteHash(std::string_view key) {
  constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ULL;
  constexpr uint64_t kFnvPrime = 1099511628211ULL;
  uint64_t hash = kFnvOffsetBasis;
  for (char c : key) {
    hash ^= static_cast<uint8_t>(c);
    hash *= kFnvPrime;
  }
  // fmix64 (MurmurHash3).
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ULL;
  hash ^= hash >> 33;
  return hash;
}

struct TrafficRouter::Compiled {
  std::shared_ptr<const TrafficPolicy> policy;
  std::vector<uint64_t> cumulative;  // cumulative[i] = sum of the weights of splits 0..i
  uint64_t total = 0;                // > 0
};

absl::StatusOr<std::shared_ptr<const TrafficRouter::Compiled>> TrafficRouter::Compile(
    TrafficPolicy policy) {
  if (absl::Status status = ValidateTrafficPolicy(policy); !status.ok()) return status;
  auto compiled = std::make_shared<Compiled>();
  compiled->policy = std::make_shared<const TrafficPolicy>(std::move(policy));
  for (const TrafficSplit& split : compiled->policy->splits) {
    compiled->total += split.weight;
    compiled->cumulative.push_back(compiled->total);
  }
  return compiled;
}

TrafficRouter::TrafficRouter(std::shared_ptr<const Compiled> compiled)
    : compiled_(std::move(compiled)) {}

absl::StatusOr<std::unique_ptr<TrafficRouter>> TrafficRouter::Create(TrafficPolicy policy) {
  absl::StatusOr<std::shared_ptr<const Compiled>> compiled = Compile(std::move(policy));
  if (!compiled.ok()) return compiled.status();
  // Private constructor: no make_unique.
  return std::unique_ptr<TrafficRouter>(new TrafficRouter(*std::move(compiled)));
}

absl::Status TrafficRouter::Set(TrafficPolicy policy) {
  absl::StatusOr<std::shared_ptr<const Compiled>> compiled = Compile(std::move(policy));
  if (!compiled.ok()) return compiled.status();
  std::shared_ptr<const Compiled> old;  // released outside the lock
  std::lock_guard lock(mu_);
  old = std::exchange(compiled_, *std::move(compiled));
  return absl::OkStatus();
}

std::shared_ptr<const TrafficRouter::Compiled> TrafficRouter::Current() const {
  std::lock_guard lock(mu_);
  return compiled_;
}

Route TrafficRouter::Choose(std::string_view route_key) const {
  std::shared_ptr<const Compiled> compiled = Current();
  // Multiply-shift maps the hash onto [0, total) by its high bits; the bias
  // is below total / 2^64, far under anything measurable.
  const uint64_t point = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(StableRouteHash(route_key)) * compiled->total) >> 64);
  size_t index = std::upper_bound(compiled->cumulative.begin(), compiled->cumulative.end(), point) -
                 compiled->cumulative.begin();
  const TrafficPolicy& policy = *compiled->policy;
  return Route{.version = policy.splits[index].version, .shadow_version = policy.shadow_version};
}

std::shared_ptr<const TrafficPolicy> TrafficRouter::policy() const { return Current()->policy; }

}  // namespace ferry::serving
