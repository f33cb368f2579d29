#ifndef FERRY_SERVING_ROUTING_TRAFFIC_H_
#define FERRY_SERVING_ROUTING_TRAFFIC_H_

// Traffic policy of one served model name: weighted splits between versions
// (champion / canary) and an optional shadow version that receives a copy of
// every request whose answer is discarded.
//
// Selection is deterministic: the route key (the client's sticky key, else
// the request id) is hashed with StableRouteHash() and mapped onto the
// cumulative weights, so one key keeps its version while the policy is
// unchanged, in every replica and across restarts, and random request ids
// spread by weight.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ferry::serving {

struct TrafficSplit {
  std::string version;
  uint32_t weight = 0;  // relative; 0 keeps the version configured but idle

  bool operator==(const TrafficSplit&) const = default;
};

inline constexpr uint32_t kMaxTrafficWeight = 100000;

struct TrafficPolicy {
  // At least one split; versions non-empty and distinct; each weight
  // 0..kMaxTrafficWeight; the sum is > 0. Order matters for stickiness across
  // weight changes (see TrafficRouter).
  std::vector<TrafficSplit> splits;
  // Receives a mirrored copy of every request. Must not be a split with
  // weight > 0 (it would compare a version against itself).
  std::optional<std::string> shadow_version;

  bool operator==(const TrafficPolicy&) const = default;
};

// What one request is sent to.
struct Route {
  std::string version;                        // answers the request
  std::optional<std::string> shadow_version;  // also receives a copy, if set
};

// OK, or InvalidArgument saying which rule the policy breaks.
absl::Status ValidateTrafficPolicy(const TrafficPolicy& policy);

// Parses "champion:90,challenger:10" (the CLI / config form): comma-separated
// "version:weight" entries, blanks around tokens ignored; the weight follows
// the last ':' so a version may itself contain ':'. Weights are decimal
// integers 0..100000, at least one positive, versions distinct.
// InvalidArgument names the entry (1-based) and the rule it breaks.
absl::StatusOr<std::vector<TrafficSplit>> ParseTrafficSpec(std::string_view spec);
// The inverse: "champion:90,challenger:10".
std::string FormatTrafficSpec(absl::Span<const TrafficSplit> splits);

// 64-bit FNV-1a of `key`, then MurmurHash3's fmix64 finaliser (FNV-1a alone
// leaves the high bits weakly mixed for keys differing in the last byte,
// such as sequential request ids). Fixed forever: it is the stickiness
// contract across processes, replicas and releases, which is why
// absl::Hash / std::hash (seeded or implementation-defined) are not used.
// Changing it reassigns every sticky key.
uint64_t StableRouteHash(std::string_view key);

// Thread-safe; Choose() runs concurrently with Set(), and each Choose() sees
// either the old or the new policy entirely.
//
// Mapping: point = floor(StableRouteHash(key) * total_weight / 2^64); the
// split whose cumulative weight range [from, to) holds the point is chosen.
// A key therefore keeps its version while the policy is unchanged, and when
// only weights change (same versions, same order) a key moves only if its
// point left its version's range: ramping the last split 10% -> 20% keeps
// every key that was on it.
class TrafficRouter {
 public:
  // InvalidArgument as ValidateTrafficPolicy().
  static absl::StatusOr<std::unique_ptr<TrafficRouter>> Create(TrafficPolicy policy);

  // Replaces the policy atomically. On error the old policy stays.
  absl::Status Set(TrafficPolicy policy);

  // The route for `route_key`: the caller passes the sticky key (header or
  // request parameter) if the client sent one, else the request id.
  Route Choose(std::string_view route_key) const;

  // The current policy; never null.
  std::shared_ptr<const TrafficPolicy> policy() const;

 private:
  struct Compiled;
  // Validates and precomputes cumulative weights.
  static absl::StatusOr<std::shared_ptr<const Compiled>> Compile(TrafficPolicy policy);
  explicit TrafficRouter(std::shared_ptr<const Compiled> compiled);
  std::shared_ptr<const Compiled> Current() const;

  mutable std::mutex mu_;
  std::shared_ptr<const Compiled> compiled_;  // guarded by mu_; never null
};

}  // namespace ferry::serving

#endif  // FERRY_SERVING_ROUTING_TRAFFIC_H_
