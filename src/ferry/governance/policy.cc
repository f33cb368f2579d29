#include "ferry/governance/policy.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ferry/common/status.h"
#include "ferry/governance/internal/format.h"
#include "nlohmann/json.hpp"

namespace ferry::governance {
namespace {

using internal::FormatNumber;
using internal::FormatRounded;
using internal::Sv;
using OrderedJson = nlohmann::ordered_json;

constexpr size_t kMaxConditionLength = 1000;

enum class Op { kGe, kGt, kLe, kLt, kEq, kNe };

// One parsed condition. Either `threshold` (no holder) or holder.holder_metric + offset.
struct Condition {
  std::string metric;
  Op op = Op::kGe;
  std::string op_text;
  bool has_holder = false;
  double threshold = 0;
  std::string holder;
  std::string holder_metric;
  double offset = 0;  // signed
};

bool IsMetricChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         c == '/';
}

bool IsHolderName(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A finite decimal without a sign: 1, 0.5, .5, 1e-3.
std::optional<double> ParseUnsignedNumber(std::string_view s) {
  if (s.empty() || !(absl::ascii_isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.')) {
    return std::nullopt;
  }
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<double> ParseNumber(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    auto value = ParseUnsignedNumber(s.substr(1));
    if (!value) return std::nullopt;
    return s[0] == '-' ? -*value : *value;
  }
  return ParseUnsignedNumber(s);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

class ConditionParser {
 public:
  explicit ConditionParser(std::string_view text) : text_(text) {}

  absl::StatusOr<Condition> Parse() {
    if (text_.size() > kMaxConditionLength) {
      return Error(absl::StrCat("it is longer than ", kMaxConditionLength, " characters"));
    }
    Condition c;
    SkipSpace();
    if (AtEnd()) return Error("it is empty");
    FERRY_ASSIGN_OR_RETURN(c.metric, MetricName());
    SkipSpace();
    FERRY_RETURN_IF_ERROR(Operator(&c));
    SkipSpace();
    if (AtEnd()) return Error("expected a number or <holder>.<metric> after the operator");
    std::string_view word = Word();
    if (auto number = ParseNumber(word)) {
      c.threshold = *number;
    } else {
      FERRY_RETURN_IF_ERROR(HolderReference(word, &c));
    }
    SkipSpace();
    if (!AtEnd()) {
      return Error(absl::StrCat("unexpected \"", Sv(text_.substr(pos_)), "\" at the end"));
    }
    return c;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(text_[pos_])) ++pos_;
  }

  absl::Status Error(std::string_view why) const {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid condition \"", Sv(Trim(text_)), "\": ", Sv(why)));
  }

  // Characters up to the next space or backtick.
  std::string_view Word() {
    size_t start = pos_;
    while (!AtEnd() && !IsSpace(text_[pos_]) && text_[pos_] != '`') ++pos_;
    return text_.substr(start, pos_ - start);
  }

  absl::StatusOr<std::string> Quoted() {
    ++pos_;  // opening backtick
    size_t close = text_.find('`', pos_);
    if (close == std::string_view::npos) return Error("unterminated ` in a metric name");
    std::string_view name = text_.substr(pos_, close - pos_);
    pos_ = close + 1;
    if (name.empty()) return Error("empty metric name ``");
    for (char c : name) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) return Error("control character in a metric name");
    }
    return std::string(name);
  }

  absl::StatusOr<std::string> MetricName() {
    if (Peek() == '`') return Quoted();
    size_t start = pos_;
    while (!AtEnd() && IsMetricChar(text_[pos_])) ++pos_;
    if (pos_ == start) {
      return Error(absl::StrCat("expected a metric name at \"", Sv(text_.substr(start)), "\""));
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  absl::Status Operator(Condition* c) {
    static constexpr std::pair<std::string_view, Op> kOps[] = {{">=", Op::kGe}, {"<=", Op::kLe},
                                                               {"==", Op::kEq}, {"!=", Op::kNe},
                                                               {">", Op::kGt},  {"<", Op::kLt}};
    std::string_view rest = text_.substr(pos_);
    for (const auto& [text, op] : kOps) {
      if (rest.starts_with(text)) {
        c->op = op;
        c->op_text = std::string(text);
        pos_ += text.size();
        return absl::OkStatus();
      }
    }
    return Error(absl::StrCat("expected an operator (>=, >, <=, <, ==, !=) at \"", Sv(rest), "\""));
  }

  // `word` is "<holder>.<metric>" or "<holder>." followed by a quoted metric;
  // an optional "+ <number>" / "- <number>" follows.
  absl::Status HolderReference(std::string_view word, Condition* c) {
    size_t dot = word.find('.');
    if (dot == std::string_view::npos) {
      return Error(absl::StrCat("expected a number or <holder>.<metric> after the operator, got \"",
                                Sv(word), "\""));
    }
    std::string_view holder = word.substr(0, dot);
    if (!IsHolderName(holder)) {
      return Error(absl::StrCat("\"", Sv(holder),
                                "\" is not a number or an alias/stage name ([A-Za-z0-9_-]+)"));
    }
    std::string_view metric = word.substr(dot + 1);
    if (metric.empty()) {
      if (Peek() != '`')
        return Error(absl::StrCat("expected a metric name after \"", Sv(word), "\""));
      FERRY_ASSIGN_OR_RETURN(c->holder_metric, Quoted());
    } else {
      if (!std::all_of(metric.begin(), metric.end(), IsMetricChar)) {
        return Error(absl::StrCat("invalid metric name \"", Sv(metric), "\""));
      }
      c->holder_metric = std::string(metric);
    }
    c->has_holder = true;
    c->holder = std::string(holder);
    SkipSpace();
    if (AtEnd()) return absl::OkStatus();
    char sign = Peek();
    if (sign != '+' && sign != '-') {
      return Error(absl::StrCat("expected \"+ <number>\" or \"- <number>\" at \"",
                                Sv(text_.substr(pos_)), "\""));
    }
    ++pos_;
    SkipSpace();
    std::string_view number = Word();
    auto value = ParseUnsignedNumber(number);
    if (!value) {
      return Error(absl::StrCat("expected a number after '", std::string(1, sign), "', got \"",
                                Sv(number), "\""));
    }
    c->offset = sign == '-' ? -*value : *value;
    return absl::OkStatus();
  }

  std::string_view text_;
  size_t pos_ = 0;
};

absl::StatusOr<Condition> ParseCondition(std::string_view text) {
  return ConditionParser(text).Parse();
}

bool Compare(double lhs, Op op, double rhs) {
  switch (op) {
    case Op::kGe:
      return lhs >= rhs;
    case Op::kGt:
      return lhs > rhs;
    case Op::kLe:
      return lhs <= rhs;
    case Op::kLt:
      return lhs < rhs;
    case Op::kEq:
      return lhs == rhs;
    case Op::kNe:
      return lhs != rhs;
  }
  return false;
}

struct Target {
  bool is_alias = false;
  std::string name;
};

std::optional<Target> ParseTarget(std::string_view target) {
  if (target.starts_with("alias:") && target.size() > 6) {
    return Target{.is_alias = true, .name = std::string(target.substr(6))};
  }
  if (target.starts_with("stage:") && target.size() > 6) {
    return Target{.is_alias = false, .name = std::string(target.substr(6))};
  }
  return std::nullopt;
}

// Whether `name` names the target: aliases match exactly, stages ignoring case.
bool Names(const Target& target, std::string_view name) {
  return target.is_alias ? target.name == name : absl::EqualsIgnoreCase(Sv(target.name), Sv(name));
}

bool SameTarget(std::string_view a, std::string_view b) {
  auto ta = ParseTarget(a);
  auto tb = ParseTarget(b);
  return ta && tb && ta->is_alias == tb->is_alias && Names(*ta, tb->name);
}

const store::Metric* FindMetric(const std::vector<store::Metric>* metrics, std::string_view key) {
  if (metrics == nullptr) return nullptr;
  for (const auto& m : *metrics) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

// The failure line for one condition, or "" when it passes.
std::string EvaluateCondition(std::string_view text, const Target& target, const GateInput& input) {
  std::string shown(Trim(text));
  auto parsed = ParseCondition(text);
  if (!parsed.ok()) return absl::StrCat(shown, ": ", parsed.status().message());
  const Condition& c = *parsed;

  if (c.has_holder) {
    if (!Names(target, c.holder)) return "";  // about another alias or stage
    if (!input.holder_version || *input.holder_version == input.candidate_version) return "";
  }
  if (input.candidate_metrics == nullptr) {
    return absl::StrCat(shown, ": candidate version ", input.candidate_version,
                        " has no source run, so metric ", c.metric, " cannot be checked");
  }
  const store::Metric* candidate = FindMetric(input.candidate_metrics, c.metric);
  if (candidate == nullptr) {
    return absl::StrCat(shown, ": metric ", c.metric, " is not logged on the candidate's run");
  }
  if (!c.has_holder) {
    if (Compare(candidate->value, c.op, c.threshold)) return "";
    return absl::StrCat(shown, ": candidate version ", input.candidate_version, " has ", c.metric,
                        " = ", FormatNumber(candidate->value));
  }

  std::string holder = absl::StrCat(target.name, " (version ", *input.holder_version, ")");
  if (input.holder_metrics == nullptr) {
    return absl::StrCat(shown, ": ", holder, " has no source run, so ", c.holder_metric,
                        " cannot be compared");
  }
  const store::Metric* held = FindMetric(input.holder_metrics, c.holder_metric);
  if (held == nullptr) {
    return absl::StrCat(shown, ": metric ", c.holder_metric, " is not logged on the run of ",
                        holder, ", so the comparison cannot be made");
  }
  double bound = held->value + c.offset;
  if (Compare(candidate->value, c.op, bound)) return "";
  return absl::StrCat(shown, ": ", holder, " has ", c.holder_metric, " = ",
                      FormatNumber(held->value), ", so ", c.metric, " must be ", c.op_text, " ",
                      c.offset == 0 ? FormatNumber(bound) : FormatRounded(bound),
                      "; candidate has ", FormatNumber(candidate->value));
}

std::string EvaluateTag(const std::string& key, const std::string& want, const GateInput& input) {
  std::string shown = absl::StrCat("required tag ", key, " = ", want);
  const std::string* on_version = input.candidate_version_tags
                                      ? internal::FindTag(*input.candidate_version_tags, key)
                                      : nullptr;
  const std::string* on_run =
      input.candidate_run_tags ? internal::FindTag(*input.candidate_run_tags, key) : nullptr;
  if ((on_version && *on_version == want) || (on_run && *on_run == want)) return "";
  if (on_version) return absl::StrCat(shown, ": the version has ", key, " = ", *on_version);
  if (on_run) return absl::StrCat(shown, ": the source run has ", key, " = ", *on_run);
  return absl::StrCat(shown, ": tag is missing");
}

std::string EvaluateApprovals(int required, const GateInput& input) {
  if (required <= 0) return "";
  std::set<std::string> users;
  for (const auto& a : input.approvals) {
    if (a.version != input.candidate_version || a.user.empty()) continue;
    if (!SameTarget(a.target, input.target)) continue;
    users.insert(a.user);
  }
  if (static_cast<int64_t>(users.size()) >= required) return "";
  std::string line = absl::StrCat("required approvals: ", users.size(), " of ", required);
  if (!users.empty()) absl::StrAppend(&line, " (from: ", absl::StrJoin(users, ", "), ")");
  return line;
}

absl::Status FieldError(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid policy field '", Sv(field), "': ", Sv(why)));
}

absl::StatusOr<std::vector<std::string>> StringArray(std::string_view field,
                                                     const OrderedJson& value) {
  std::vector<std::string> out;
  if (value.is_null()) return out;
  if (!value.is_array()) return FieldError(field, "must be an array of strings");
  for (const auto& item : value) {
    if (!item.is_string()) return FieldError(field, "must be an array of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::string> CanonicalStage(std::string_view stage) {
  for (const char* s : store::kStages) {
    if (absl::EqualsIgnoreCase(Sv(stage), s)) return std::string(s);
  }
  return FieldError("protected_stages",
                    absl::StrCat("unknown stage '", Sv(stage),
                                 "' (expected one of None, Staging, Production, Archived)"));
}

}  // namespace

absl::Status ValidateCondition(std::string_view condition) {
  return ParseCondition(condition).status();
}

absl::StatusOr<Policy> ParsePolicyJson(std::string_view json) {
  if (json.size() > kMaxPolicyJsonBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy JSON is larger than ", kMaxPolicyJsonBytes, " bytes"));
  }
  OrderedJson doc =
      OrderedJson::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("policy is not valid JSON");
  if (!doc.is_object()) return absl::InvalidArgumentError("policy must be a JSON object");

  Policy policy;
  for (const auto& [key, value] : doc.items()) {
    if (key == "protected_aliases") {
      FERRY_ASSIGN_OR_RETURN(policy.protected_aliases, StringArray(key, value));
      for (const auto& alias : policy.protected_aliases) {
        if (!IsHolderName(alias) || alias.size() > 255) {
          return FieldError(
              key, absl::StrCat("invalid alias name '", alias, "' (1-255 of A-Z a-z 0-9 _ -)"));
        }
      }
    } else if (key == "protected_stages") {
      FERRY_ASSIGN_OR_RETURN(policy.protected_stages, StringArray(key, value));
      for (auto& stage : policy.protected_stages) {
        FERRY_ASSIGN_OR_RETURN(stage, CanonicalStage(stage));
      }
    } else if (key == "conditions") {
      FERRY_ASSIGN_OR_RETURN(policy.conditions, StringArray(key, value));
      for (const auto& condition : policy.conditions) {
        absl::Status status = ValidateCondition(condition);
        if (!status.ok()) return FieldError(key, std::string(status.message()));
      }
    } else if (key == "required_tags") {
      if (value.is_null()) continue;
      if (!value.is_object()) return FieldError(key, "must be an object of tag name -> value");
      for (const auto& [tag, tag_value] : value.items()) {
        if (tag.empty()) return FieldError(key, "a tag name is empty");
        if (!tag_value.is_string()) {
          return FieldError(key, absl::StrCat("the value of tag '", tag, "' must be a string"));
        }
        policy.required_tags.emplace_back(tag, tag_value.get<std::string>());
      }
    } else if (key == "required_approvals") {
      if (value.is_null()) continue;
      bool in_range =
          (value.is_number_unsigned() && value.get<uint64_t>() <= kMaxRequiredApprovals) ||
          (value.is_number_integer() && !value.is_number_unsigned() && value.get<int64_t>() >= 0 &&
           value.get<int64_t>() <= kMaxRequiredApprovals);
      if (!in_range) {
        return FieldError(key, absl::StrCat("must be an integer from 0 to ", kMaxRequiredApprovals,
                                            ", got ", value.dump()));
      }
      policy.required_approvals = value.get<int>();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown policy field '", key,
          "' (expected protected_aliases, protected_stages, conditions, required_tags, "
          "required_approvals)"));
    }
  }

  // A comparison can only be made against the holder of the target being
  // promoted to, so its holder must be one of the protected targets.
  for (const auto& condition : policy.conditions) {
    auto parsed = ParseCondition(condition);
    if (!parsed.ok() || !parsed->has_holder) continue;
    const std::string& holder = parsed->holder;
    bool known =
        std::find(policy.protected_aliases.begin(), policy.protected_aliases.end(), holder) !=
            policy.protected_aliases.end() ||
        std::any_of(policy.protected_stages.begin(), policy.protected_stages.end(),
                    [&](const std::string& s) { return absl::EqualsIgnoreCase(s, holder); });
    if (!known) {
      return FieldError(
          "conditions",
          absl::StrCat("condition \"", Sv(Trim(condition)), "\" compares with '", holder,
                       "', which is not a protected alias or stage of this policy"));
    }
  }
  return policy;
}

std::string PolicyToJson(const Policy& policy) {
  OrderedJson doc = OrderedJson::object();
  doc["protected_aliases"] = policy.protected_aliases;
  doc["protected_stages"] = policy.protected_stages;
  doc["conditions"] = policy.conditions;
  OrderedJson tags = OrderedJson::object();
  for (const auto& [key, value] : policy.required_tags) tags[key] = value;
  doc["required_tags"] = std::move(tags);
  doc["required_approvals"] = policy.required_approvals;
  return doc.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

bool IsProtected(const Policy& policy, std::string_view target) {
  auto parsed = ParseTarget(target);
  if (!parsed) return false;
  const auto& names = parsed->is_alias ? policy.protected_aliases : policy.protected_stages;
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& name) { return Names(*parsed, name); });
}

std::vector<std::string> EvaluateGates(const Policy& policy, const GateInput& input) {
  std::vector<std::string> failures;
  if (!IsProtected(policy, input.target)) return failures;
  Target target = *ParseTarget(input.target);
  for (const auto& condition : policy.conditions) {
    std::string failure = EvaluateCondition(condition, target, input);
    if (!failure.empty()) failures.push_back(std::move(failure));
  }
  for (const auto& [key, value] : policy.required_tags) {
    std::string failure = EvaluateTag(key, value, input);
    if (!failure.empty()) failures.push_back(std::move(failure));
  }
  std::string approvals = EvaluateApprovals(policy.required_approvals, input);
  if (!approvals.empty()) failures.push_back(std::move(approvals));
  return failures;
}

}  // namespace ferry::governance
