#ifndef FERRY_GOVERNANCE_POLICY_H_
#define FERRY_GOVERNANCE_POLICY_H_

// Promotion policies: which aliases and stages of a registered model are
// protected, and the gates a model version must pass to be moved there.
// Everything here is a pure function of its arguments (no store, no clock),
// thread-safe, and never throws. The grammar and semantics are documented in
// docs/governance.md.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ferry/store/registry_types.h"
#include "ferry/store/types.h"

namespace ferry::governance {

// A policy for one registered model, stored as JSON:
//   {"protected_aliases": ["champion"], "protected_stages": ["Production"],
//    "conditions": ["auc >= 0.80", "auc >= champion.auc - 0.005"],
//    "required_tags": {"validation_status": "passed"},
//    "required_approvals": 2}
// Every field is optional; a default Policy protects nothing.
struct Policy {
  std::vector<std::string> protected_aliases;  // alias names ([A-Za-z0-9_-]+), exact match
  std::vector<std::string> protected_stages;   // canonical casing: Staging, Production, ...
  std::vector<std::string> conditions;         // see ValidateCondition
  std::vector<std::pair<std::string, std::string>> required_tags;  // key -> exact value, in order
  int required_approvals = 0;  // distinct approving users, 0..100
};

inline constexpr int kMaxRequiredApprovals = 100;
inline constexpr size_t kMaxPolicyJsonBytes = 64 * 1024;

// Parses and validates a policy. Unknown fields, wrong types, an invalid
// condition, an unknown stage (stages are matched case-insensitively and
// returned in canonical casing), an invalid alias name, a comparison whose
// holder is neither a protected alias nor a protected stage, or
// required_approvals outside 0..100 give InvalidArgument naming the field or
// condition. ParsePolicyJson(PolicyToJson(p)) == p for every policy this
// function returns.
absl::StatusOr<Policy> ParsePolicyJson(std::string_view json);

// Compact JSON with every field present, in the order of the struct;
// required_tags keeps its order.
std::string PolicyToJson(const Policy& policy);

// Validates one condition:
//   <metric> <op> <number>
//   <metric> <op> <holder>.<metric> [(+|-) <number>]
// op is one of >= > <= < == !=. A metric name is [A-Za-z0-9_./-]+ or any
// text without backticks quoted in backticks (`val auc`). holder is the name
// of the protected alias or stage the version is being promoted to (e.g.
// champion, Production); it is [A-Za-z0-9_-]+. Numbers are finite decimals
// (1, -0.5, .8, 1e-3). Spaces around the operator are optional; the +/- of
// an offset must be separated from the holder's metric by a space, because
// '-' may appear in metric names. InvalidArgument says what is wrong.
absl::Status ValidateCondition(std::string_view condition);

// target: "alias:<name>" (exact match) or "stage:<Stage>" (case-insensitive).
// Any other form is not protected.
bool IsProtected(const Policy& policy, std::string_view target);

// Everything EvaluateGates needs to know about one promotion. Pointers are
// borrowed for the duration of the call only; null means "absent".
struct GateInput {
  std::string target;  // "alias:champion" / "stage:Production"
  int64_t candidate_version = 0;
  // Latest metrics of the candidate's source run (null: the version has no run).
  const std::vector<store::Metric>* candidate_metrics = nullptr;
  const std::vector<store::Tag>* candidate_version_tags = nullptr;  // the model VERSION's tags
  const std::vector<store::Tag>* candidate_run_tags = nullptr;      // the source run's tags
  // Current holder of the alias (or newest version in the stage), if any.
  std::optional<int64_t> holder_version;
  const std::vector<store::Metric>* holder_metrics = nullptr;  // latest metrics of the holder's run
  // Approvals recorded for (candidate_version, target); approvals for another
  // version or target are ignored, and each user counts once.
  std::vector<store::Approval> approvals;
};

// Evaluates every gate of `policy` for a promotion to input.target and
// returns each failure as a human-readable line, in policy order (conditions,
// then required tags, then approvals). Empty = all gates pass; an
// unprotected target always passes. Examples:
//   "auc >= 0.80: candidate version 2 has auc = 0.7123"
//   "auc >= champion.auc - 0.005: champion (version 1) has auc = 0.91, so auc
//    must be >= 0.905; candidate has 0.88"
//   "auc >= 0.80: metric auc is not logged on the candidate's run"
//   "required tag validation_status = passed: tag is missing"
//   "required approvals: 1 of 2 (from: alice)"
// A comparison with a holder applies only to promotions to that holder's
// alias or stage. It passes when there is no current holder (the first
// promotion) or when the holder is the candidate itself; it fails when the
// holder has no such metric. A metric of NaN fails every comparison except
// "!=". A condition that does not parse (a Policy built without
// ParsePolicyJson) fails with the reason.
std::vector<std::string> EvaluateGates(const Policy& policy, const GateInput& input);

}  // namespace ferry::governance

#endif  // FERRY_GOVERNANCE_POLICY_H_
