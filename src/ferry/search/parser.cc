#include "ferry/search/parser.h"

#include <cstdint>
#include <iterator>
#include <map>
#include <span>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ferry/common/status.h"
#include "ferry/search/tokenizer.h"

namespace ferry::search {
namespace {

using internal::Describe;
using internal::Printable;
using internal::Token;
using internal::TokenKind;

// Debian's Abseil has its own absl::string_view, distinct from std's.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// ---------------------------------------------------------------------------
// MLflow's rules, as data. Sources: mlflow/utils/search_utils.py (SearchUtils,
// SearchExperimentsUtils, SearchLoggedModelsUtils), RunInfo's searchable and
// orderable attributes, and the SQLAlchemy store's order_by handling.
// Prefix and attribute names are case-sensitive there, and so here.
// ---------------------------------------------------------------------------

struct PrefixSpec {
  std::string_view name;
  KeyType type;
};

struct AttributeSpec {
  std::string_view name;       // as written in a filter
  std::string_view canonical;  // what the AST carries
  bool numeric = false;        // value is a number; ordering comparators
  bool list_allowed = false;   // IN / NOT IN with a value list
  // With list_allowed: IN only, no NOT IN (model versions' run_id).
  bool in_only = false;
  // With numeric: a quoted string holding an integer is accepted too, as
  // MLflow's registry compares `version_number = '3'` against the column.
  bool quoted_number = false;
};

// Which keys one kind of clause (filter or order_by) accepts for an entity.
struct KeyRules {
  std::span<const PrefixSpec> prefixes;
  // Whether the prefix may be written in backticks (`metrics`.x). MLflow
  // strips them for runs; experiments compare the raw prefix.
  bool backticked_prefix = false;
  std::span<const AttributeSpec> attributes;
};

struct EntityRules {
  KeyRules filter;
  KeyRules order_by;
  // MLflow parses run and experiment order_by clauses with sqlparse, which
  // rejects surrounding whitespace; logged-model field names are stripped.
  bool order_by_strips_whitespace = false;
};

// The dataset prefixes come last so the other entity shapes can take the
// leading part of this one table.
constexpr PrefixSpec kRunFilterPrefixes[] = {
    {"metric", KeyType::kMetric},
    {"metrics", KeyType::kMetric},
    {"parameter", KeyType::kParam},
    {"parameters", KeyType::kParam},
    {"param", KeyType::kParam},
    {"params", KeyType::kParam},
    {"tag", KeyType::kTag},
    {"tags", KeyType::kTag},
    {"attribute", KeyType::kAttribute},
    {"attributes", KeyType::kAttribute},
    {"attr", KeyType::kAttribute},
    {"run", KeyType::kAttribute},
    {"dataset", KeyType::kDataset},
    {"datasets", KeyType::kDataset},
};

// Runs cannot be ordered by datasets (the store rejects the dataset type);
// logged models have no datasets.* filter (dataset filters are a separate
// request field).
constexpr std::span<const PrefixSpec> kNonDatasetPrefixes =
    std::span<const PrefixSpec>(kRunFilterPrefixes).first(std::size(kRunFilterPrefixes) - 2);

// RunInfo's searchable attributes plus MLflow's aliases: created/Created
// for start_time, "run name"/"Run name"/"Run Name" for run_name. Only run_id
// takes a value list.
constexpr AttributeSpec kRunFilterAttributes[] = {
    {.name = "run_id", .canonical = "run_id", .list_allowed = true},
    {.name = "run_name", .canonical = "run_name"},
    {.name = "run name", .canonical = "run_name"},
    {.name = "Run name", .canonical = "run_name"},
    {.name = "Run Name", .canonical = "run_name"},
    {.name = "user_id", .canonical = "user_id"},
    {.name = "status", .canonical = "status"},
    {.name = "artifact_uri", .canonical = "artifact_uri"},
    {.name = "start_time", .canonical = "start_time", .numeric = true},
    {.name = "end_time", .canonical = "end_time", .numeric = true},
    {.name = "created", .canonical = "start_time", .numeric = true},
    {.name = "Created", .canonical = "start_time", .numeric = true},
};

// RunInfo's orderable attributes plus created/Created; the run-name aliases
// are filter-only in MLflow.
constexpr AttributeSpec kRunOrderByAttributes[] = {
    {.name = "run_id", .canonical = "run_id"},
    {.name = "run_name", .canonical = "run_name"},
    {.name = "user_id", .canonical = "user_id"},
    {.name = "status", .canonical = "status"},
    {.name = "artifact_uri", .canonical = "artifact_uri"},
    {.name = "start_time", .canonical = "start_time", .numeric = true},
    {.name = "end_time", .canonical = "end_time", .numeric = true},
    {.name = "created", .canonical = "start_time", .numeric = true},
    {.name = "Created", .canonical = "start_time", .numeric = true},
};

// SearchExperimentsUtils only accepts these three prefixes, unquoted.
constexpr PrefixSpec kExperimentFilterPrefixes[] = {
    {"attribute", KeyType::kAttribute},
    {"tag", KeyType::kTag},
    {"tags", KeyType::kTag},
};

// The store only orders experiments by attributes.
constexpr PrefixSpec kExperimentOrderByPrefixes[] = {
    {"attribute", KeyType::kAttribute},
};

constexpr AttributeSpec kExperimentFilterAttributes[] = {
    {.name = "name", .canonical = "name"},
    {.name = "creation_time", .canonical = "creation_time", .numeric = true},
    {.name = "last_update_time", .canonical = "last_update_time", .numeric = true},
};

constexpr AttributeSpec kExperimentOrderByAttributes[] = {
    {.name = "name", .canonical = "name"},
    {.name = "experiment_id", .canonical = "experiment_id"},
    {.name = "creation_time", .canonical = "creation_time", .numeric = true},
    {.name = "last_update_time", .canonical = "last_update_time", .numeric = true},
};

// SearchLoggedModelsUtils: every string attribute takes a value list;
// creation_time and last_updated_time are aliases of the *_timestamp keys.
// The same keys are valid for order_by.
constexpr AttributeSpec kLoggedModelAttributes[] = {
    {.name = "name", .canonical = "name", .list_allowed = true},
    {.name = "model_id", .canonical = "model_id", .list_allowed = true},
    {.name = "model_type", .canonical = "model_type", .list_allowed = true},
    {.name = "status", .canonical = "status", .list_allowed = true},
    {.name = "source_run_id", .canonical = "source_run_id", .list_allowed = true},
    {.name = "creation_timestamp", .canonical = "creation_timestamp", .numeric = true},
    {.name = "creation_time", .canonical = "creation_timestamp", .numeric = true},
    {.name = "last_updated_timestamp", .canonical = "last_updated_timestamp", .numeric = true},
    {.name = "last_updated_time", .canonical = "last_updated_timestamp", .numeric = true},
};

// Logged-model order_by field names: "metrics.<key>" (exactly that prefix)
// or a bare attribute.
constexpr PrefixSpec kLoggedModelOrderByPrefixes[] = {
    {"metrics", KeyType::kMetric},
};

constexpr AttributeSpec kDatasetKeys[] = {
    {.name = "name", .canonical = "name", .list_allowed = true},
    {.name = "digest", .canonical = "digest", .list_allowed = true},
    {.name = "context", .canonical = "context", .list_allowed = true},
};

// Model registry (SearchModelUtils / SearchModelVersionUtils and the
// SQLAlchemy registry store). Filters accept the prefixes attribute, tag and
// tags, unquoted; order_by clauses are bare attributes (or attribute.<key>).
constexpr PrefixSpec kRegistryFilterPrefixes[] = {
    {"attribute", KeyType::kAttribute},
    {"tag", KeyType::kTag},
    {"tags", KeyType::kTag},
};

constexpr PrefixSpec kRegistryOrderByPrefixes[] = {
    {"attribute", KeyType::kAttribute},
};

// Registered models filter on name only (=, !=, LIKE, ILIKE; no lists).
constexpr AttributeSpec kRegisteredModelFilterAttributes[] = {
    {.name = "name", .canonical = "name"},
};

// The SQLAlchemy store orders by name and last_updated_timestamp, with
// "timestamp" an alias of last_updated_timestamp; creation_timestamp is
// what SearchModelUtils (the file store) adds.
constexpr AttributeSpec kRegisteredModelOrderByAttributes[] = {
    {.name = "name", .canonical = "name"},
    {.name = "creation_timestamp", .canonical = "creation_timestamp", .numeric = true},
    {.name = "last_updated_timestamp", .canonical = "last_updated_timestamp", .numeric = true},
    {.name = "timestamp", .canonical = "last_updated_timestamp", .numeric = true},
};

// Only run_id takes a list, and only with IN. source_path is the version's
// source.
constexpr AttributeSpec kModelVersionFilterAttributes[] = {
    {.name = "name", .canonical = "name"},
    {.name = "version_number",
     .canonical = "version_number",
     .numeric = true,
     .quoted_number = true},
    {.name = "run_id", .canonical = "run_id", .list_allowed = true, .in_only = true},
    {.name = "source_path", .canonical = "source_path"},
};

constexpr AttributeSpec kModelVersionOrderByAttributes[] = {
    {.name = "name", .canonical = "name"},
    {.name = "version_number", .canonical = "version_number", .numeric = true},
    {.name = "creation_timestamp", .canonical = "creation_timestamp", .numeric = true},
    {.name = "last_updated_timestamp", .canonical = "last_updated_timestamp", .numeric = true},
};

constexpr EntityRules kRunRules = {
    .filter = {.prefixes = kRunFilterPrefixes,
               .backticked_prefix = true,
               .attributes = kRunFilterAttributes},
    .order_by = {.prefixes = kNonDatasetPrefixes,
                 .backticked_prefix = true,
                 .attributes = kRunOrderByAttributes},
};

constexpr EntityRules kExperimentRules = {
    .filter = {.prefixes = kExperimentFilterPrefixes,
               .backticked_prefix = false,
               .attributes = kExperimentFilterAttributes},
    .order_by = {.prefixes = kExperimentOrderByPrefixes,
                 .backticked_prefix = false,
                 .attributes = kExperimentOrderByAttributes},
};

constexpr EntityRules kLoggedModelRules = {
    .filter = {.prefixes = kNonDatasetPrefixes,
               .backticked_prefix = true,
               .attributes = kLoggedModelAttributes},
    .order_by = {.prefixes = kLoggedModelOrderByPrefixes,
                 .backticked_prefix = false,
                 .attributes = kLoggedModelAttributes},
    .order_by_strips_whitespace = true,
};

constexpr EntityRules kRegisteredModelRules = {
    .filter = {.prefixes = kRegistryFilterPrefixes,
               .backticked_prefix = false,
               .attributes = kRegisteredModelFilterAttributes},
    .order_by = {.prefixes = kRegistryOrderByPrefixes,
                 .backticked_prefix = false,
                 .attributes = kRegisteredModelOrderByAttributes},
};

constexpr EntityRules kModelVersionRules = {
    .filter = {.prefixes = kRegistryFilterPrefixes,
               .backticked_prefix = false,
               .attributes = kModelVersionFilterAttributes},
    .order_by = {.prefixes = kRegistryOrderByPrefixes,
                 .backticked_prefix = false,
                 .attributes = kModelVersionOrderByAttributes},
};

const EntityRules* RulesFor(Entity entity) {
  switch (entity) {
    case Entity::kRun:
      return &kRunRules;
    case Entity::kExperiment:
      return &kExperimentRules;
    case Entity::kLoggedModel:
      return &kLoggedModelRules;
    case Entity::kRegisteredModel:
      return &kRegisteredModelRules;
    case Entity::kModelVersion:
      return &kModelVersionRules;
  }
  return nullptr;
}

constexpr Comparator kNumericComparators[] = {Comparator::kEq, Comparator::kNe, Comparator::kLt,
                                              Comparator::kLe, Comparator::kGt, Comparator::kGe};
constexpr Comparator kStringComparators[] = {Comparator::kEq, Comparator::kNe, Comparator::kLike,
                                             Comparator::kILike};
constexpr Comparator kStringListComparators[] = {Comparator::kEq,   Comparator::kNe,
                                                 Comparator::kLike, Comparator::kILike,
                                                 Comparator::kIn,   Comparator::kNotIn};
constexpr Comparator kStringInComparators[] = {Comparator::kEq, Comparator::kNe, Comparator::kLike,
                                               Comparator::kILike, Comparator::kIn};

const char* KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kMetric:
      return "metric";
    case KeyType::kParam:
      return "param";
    case KeyType::kTag:
      return "tag";
    case KeyType::kAttribute:
      return "attribute";
    case KeyType::kDataset:
      return "dataset";
  }
  return "?";
}

bool IsWordLike(TokenKind kind) {
  switch (kind) {
    case TokenKind::kWord:
    case TokenKind::kAnd:
    case TokenKind::kOr:
    case TokenKind::kLike:
    case TokenKind::kILike:
    case TokenKind::kIn:
    case TokenKind::kNot:
    case TokenKind::kAsc:
    case TokenKind::kDesc:
      return true;
    default:
      return false;
  }
}

bool IsQuotedName(TokenKind kind) {
  return kind == TokenKind::kBacktickQuoted || kind == TokenKind::kDoubleQuoted;
}

bool IsStringValue(TokenKind kind) {
  return kind == TokenKind::kSingleQuoted || kind == TokenKind::kDoubleQuoted;
}

// A key after prefix resolution and validation.
struct ResolvedKey {
  KeyType type = KeyType::kAttribute;
  std::string key;           // canonical
  std::string_view written;  // the name as written, unquoted, for messages
  std::string_view source;   // source text of the whole key
  size_t position = 0;
  bool numeric = false;
  bool list_allowed = false;
  bool in_only = false;
  bool quoted_number = false;

  std::string Describe() const {
    return absl::StrCat(KeyTypeName(type), " '", Printable(written, 64), "'");
  }
};

// Recursive-descent parser over the token list. One instance per input.
class Parser {
 public:
  // `context` opens every error message, e.g. "Invalid filter 'x = 1'".
  Parser(std::string_view text, std::string context) : text_(text), context_(std::move(context)) {}

  absl::StatusOr<Filter> ParseFilter(const EntityRules& rules) {
    FERRY_RETURN_IF_ERROR(Lex());
    Filter filter;
    if (Peek().kind == TokenKind::kEnd) return filter;  // match everything
    while (true) {
      FERRY_ASSIGN_OR_RETURN(Comparison comparison, ParseComparison(rules.filter));
      filter.clauses.push_back(std::move(comparison));
      const Token& next = Next();
      if (next.kind == TokenKind::kEnd) return filter;
      if (next.kind == TokenKind::kAnd) continue;
      if (next.kind == TokenKind::kOr) {
        return Fail(absl::StrCat("unsupported operator ", Describe(next), " at position ",
                                 next.position, "; search filters only support AND"));
      }
      return Fail(Unexpected(next, "expected AND or the end of the filter"));
    }
  }

  absl::StatusOr<OrderBy> ParseOrderBy(const EntityRules& rules) {
    if (rules.order_by_strips_whitespace) {
      // Positions in messages stay relative to the original text.
      while (!text_.empty() && absl::ascii_isspace(text_.front())) {
        text_.remove_prefix(1);
        ++offset_;
      }
      while (!text_.empty() && absl::ascii_isspace(text_.back())) text_.remove_suffix(1);
    } else if (!text_.empty() &&
               (absl::ascii_isspace(text_.front()) || absl::ascii_isspace(text_.back()))) {
      const size_t position = absl::ascii_isspace(text_.front()) ? 0 : text_.size() - 1;
      return Fail(absl::StrCat("unexpected whitespace at position ", position,
                               "; order_by clauses must not start or end with whitespace"));
    }
    if (text_.empty()) return Fail("empty order_by clause");
    FERRY_RETURN_IF_ERROR(Lex());
    FERRY_ASSIGN_OR_RETURN(ResolvedKey key, ParseKey(rules.order_by));
    OrderBy order_by{.key_type = key.type, .key = std::move(key.key), .ascending = true};
    const Token* next = &Next();
    if (next->kind == TokenKind::kAsc || next->kind == TokenKind::kDesc) {
      order_by.ascending = next->kind == TokenKind::kAsc;
      next = &Next();
      if (next->kind != TokenKind::kEnd) {
        return Fail(Unexpected(*next, "expected the end of the order_by clause"));
      }
    } else if (next->kind != TokenKind::kEnd) {
      return Fail(Unexpected(*next, "expected ASC, DESC or the end of the order_by clause"));
    }
    return order_by;
  }

 private:
  absl::Status Lex() {
    absl::StatusOr<std::vector<Token>> tokens = internal::Tokenize(text_);
    if (!tokens.ok()) return Fail(tokens.status().message());
    tokens_ = *std::move(tokens);
    for (Token& token : tokens_) token.position += offset_;
    return absl::OkStatus();
  }

  const Token& Peek() const { return tokens_[index_]; }
  // Returns the current token and moves past it; stays on kEnd.
  const Token& Next() {
    const Token& token = tokens_[index_];
    if (token.kind != TokenKind::kEnd) ++index_;
    return token;
  }

  absl::Status Fail(absl::string_view detail) const {
    return absl::InvalidArgumentError(absl::StrCat(context_, ": ", detail));
  }

  static std::string Unexpected(const Token& token, std::string_view expected) {
    std::string message = token.kind == TokenKind::kEnd
                              ? "unexpected end of input"
                              : absl::StrCat("unexpected token ", Describe(token));
    absl::StrAppend(&message, " at position ", token.position);
    if (!expected.empty()) absl::StrAppend(&message, "; ", Sv(expected));
    return message;
  }

  // Source text from `first` through `last`, in the original input.
  std::string_view SourceBetween(const Token& first, const Token& last) const {
    return std::string_view(
        first.text.data(),
        static_cast<size_t>(last.text.data() + last.text.size() - first.text.data()));
  }

  // key := [prefix '.'] name, where the prefix is a word or a backticked
  // word and the name a word (dots allowed), `backticked` or "double quoted".
  // Everything is adjacent: "metrics . x" is not a key.
  absl::StatusOr<ResolvedKey> ParseKey(const KeyRules& rules) {
    const Token& first = Next();
    const Token* last = &first;
    std::string_view prefix;
    bool has_prefix = false;
    std::string_view name;

    if (first.kind == TokenKind::kWord) {
      const size_t dot = first.value.find('.');
      if (dot == std::string_view::npos) {
        name = first.value;
      } else {
        has_prefix = true;
        prefix = first.value.substr(0, dot);
        name = first.value.substr(dot + 1);
        if (name.empty()) {
          // "metrics.`a b`" lexes as the word "metrics." and a quoted name.
          const Token& quoted = Peek();
          if (!IsQuotedName(quoted.kind) || quoted.position != first.end()) {
            return Fail(Unexpected(quoted, absl::StrCat("expected a key name right after '",
                                                        Printable(first.text, 64), "'")));
          }
          name = quoted.value;
          last = &Next();
        } else if (name.front() == '.' || name.back() == '.') {
          return Fail(
              absl::StrCat("invalid key ", Describe(first), " at position ", first.position));
        }
      }
    } else if (IsQuotedName(first.kind)) {
      const Token& dot = Peek();
      if (dot.kind == TokenKind::kDot && dot.position == first.end()) {
        Next();
        if (first.kind != TokenKind::kBacktickQuoted || !rules.backticked_prefix) {
          return Fail(InvalidPrefix(first.text, first.position, rules));
        }
        has_prefix = true;
        prefix = first.value;
        const Token& rest = Next();
        if (rest.position != dot.end() || !(IsWordLike(rest.kind) || IsQuotedName(rest.kind))) {
          return Fail(Unexpected(rest, "expected a key name right after '.'"));
        }
        if (IsWordLike(rest.kind) && rest.value.back() == '.') {
          return Fail(absl::StrCat("invalid key ", Describe(rest), " at position ", rest.position));
        }
        name = rest.value;
        last = &rest;
      } else {
        name = first.value;
      }
    } else {
      return Fail(Unexpected(first, "expected a key such as metrics.<name> or an attribute"));
    }

    ResolvedKey key;
    key.position = first.position;
    key.source = SourceBetween(first, *last);
    key.written = name;
    if (has_prefix) {
      const PrefixSpec* spec = nullptr;
      for (const PrefixSpec& candidate : rules.prefixes) {
        if (candidate.name == prefix) spec = &candidate;
      }
      if (spec == nullptr) return Fail(InvalidPrefix(prefix, first.position, rules));
      key.type = spec->type;
    }
    if (name.empty()) {
      return Fail(absl::StrCat("empty key name in '", Printable(key.source, 64), "' at position ",
                               key.position));
    }

    switch (key.type) {
      case KeyType::kMetric:
        key.key = std::string(name);
        key.numeric = true;
        break;
      case KeyType::kParam:
      case KeyType::kTag:
        key.key = std::string(name);
        break;
      case KeyType::kAttribute:
      case KeyType::kDataset: {
        const bool dataset = key.type == KeyType::kDataset;
        const std::span<const AttributeSpec> valid =
            dataset ? std::span<const AttributeSpec>(kDatasetKeys) : rules.attributes;
        const AttributeSpec* spec = nullptr;
        for (const AttributeSpec& candidate : valid) {
          if (candidate.name == name) spec = &candidate;
        }
        if (spec == nullptr) {
          std::vector<std::string> names;
          for (const AttributeSpec& candidate : valid) names.emplace_back(candidate.name);
          return Fail(absl::StrCat("invalid ", dataset ? "dataset" : "attribute", " key '",
                                   Printable(name, 64), "' at position ", key.position,
                                   "; valid keys are ", absl::StrJoin(names, ", ")));
        }
        key.key = std::string(spec->canonical);
        key.numeric = spec->numeric;
        key.list_allowed = spec->list_allowed;
        key.in_only = spec->in_only;
        key.quoted_number = spec->quoted_number;
        break;
      }
    }
    return key;
  }

  static std::string InvalidPrefix(std::string_view prefix, size_t position,
                                   const KeyRules& rules) {
    std::vector<std::string> names;
    for (const PrefixSpec& candidate : rules.prefixes) names.emplace_back(candidate.name);
    return absl::StrCat("invalid entity type '", Printable(prefix, 64), "' at position ", position,
                        "; valid types are ", absl::StrJoin(names, ", "));
  }

  // comparison := key comparator value
  absl::StatusOr<Comparison> ParseComparison(const KeyRules& rules) {
    FERRY_ASSIGN_OR_RETURN(ResolvedKey key, ParseKey(rules));

    const Token& op_token = Next();
    const Token* op_last = &op_token;
    Comparator op;
    switch (op_token.kind) {
      case TokenKind::kComparator:
        op = op_token.comparator;
        break;
      case TokenKind::kLike:
        op = Comparator::kLike;
        break;
      case TokenKind::kILike:
        op = Comparator::kILike;
        break;
      case TokenKind::kIn:
        op = Comparator::kIn;
        break;
      case TokenKind::kNot:
        op_last = &Next();
        if (op_last->kind != TokenKind::kIn) {
          return Fail(Unexpected(*op_last, "expected IN after NOT"));
        }
        op = Comparator::kNotIn;
        break;
      default:
        return Fail(
            Unexpected(op_token, absl::StrCat("expected a comparator after ", key.Describe())));
    }

    const std::span<const Comparator> allowed =
        key.numeric        ? std::span<const Comparator>(kNumericComparators)
        : key.in_only      ? std::span<const Comparator>(kStringInComparators)
        : key.list_allowed ? std::span<const Comparator>(kStringListComparators)
                           : std::span<const Comparator>(kStringComparators);
    bool valid = false;
    for (Comparator candidate : allowed) valid = valid || candidate == op;
    if (!valid) {
      std::vector<std::string> names;
      for (Comparator candidate : allowed) names.emplace_back(ComparatorName(candidate));
      return Fail(absl::StrCat("invalid comparator '",
                               Printable(SourceBetween(op_token, *op_last), 64), "' at position ",
                               op_token.position, " for ", key.Describe(),
                               "; valid comparators are ", absl::StrJoin(names, ", ")));
    }

    Comparison comparison{.key_type = key.type, .key = std::move(key.key), .op = op};
    if (op == Comparator::kIn || op == Comparator::kNotIn) {
      FERRY_ASSIGN_OR_RETURN(comparison.value, ParseValueList());
      return comparison;
    }

    const Token& value = Next();
    if (key.numeric) {
      if (value.kind == TokenKind::kNumber) {
        comparison.value = value.number;
        return comparison;
      }
      if (key.quoted_number && IsStringValue(value.kind)) {
        int64_t number = 0;
        if (!absl::SimpleAtoi(Sv(value.value), &number)) {
          return Fail(absl::StrCat("expected an integer for ", key.Describe(), " but got ",
                                   Describe(value), " at position ", value.position));
        }
        comparison.value = static_cast<double>(number);
        return comparison;
      }
      if (IsStringValue(value.kind) || value.kind == TokenKind::kBacktickQuoted ||
          IsWordLike(value.kind)) {
        return Fail(absl::StrCat("expected a number for ", key.Describe(), " but got ",
                                 Describe(value), " at position ", value.position));
      }
      return Fail(Unexpected(value, absl::StrCat("expected a number for ", key.Describe())));
    }
    if (IsStringValue(value.kind)) {
      comparison.value = std::string(value.value);
      return comparison;
    }
    if (value.kind == TokenKind::kNumber || value.kind == TokenKind::kBacktickQuoted ||
        IsWordLike(value.kind)) {
      return Fail(absl::StrCat("expected a quoted string for ", key.Describe(), " but got ",
                               Describe(value), " at position ", value.position,
                               "; quote string values with ' or \""));
    }
    return Fail(Unexpected(value, absl::StrCat("expected a quoted string for ", key.Describe())));
  }

  // list := '(' string (',' string)* [','] ')'. MLflow evaluates the list
  // with Python's ast.literal_eval, so elements are decoded as Python
  // literals and a trailing comma is fine; an empty list is an error.
  absl::StatusOr<std::vector<std::string>> ParseValueList() {
    const Token& open = Next();
    if (open.kind != TokenKind::kLeftParen) {
      return Fail(Unexpected(open, "expected '(' to start a list of quoted strings"));
    }
    if (Peek().kind == TokenKind::kRightParen) {
      return Fail(absl::StrCat("empty value list '", Printable(SourceBetween(open, Peek()), 64),
                               "' at position ", open.position,
                               "; expected at least one quoted string"));
    }
    std::vector<std::string> values;
    while (true) {
      const Token& element = Next();
      if (!IsStringValue(element.kind)) {
        return Fail(Unexpected(element, "expected a quoted string in the value list"));
      }
      absl::StatusOr<std::string> decoded = internal::DecodePythonStringLiteral(
          element.value, element.kind == TokenKind::kSingleQuoted ? '\'' : '"');
      if (!decoded.ok()) {
        return Fail(absl::StrCat("ill-formed value list element ", Describe(element),
                                 " at position ", element.position, ": ",
                                 decoded.status().message()));
      }
      values.push_back(*std::move(decoded));
      const Token& separator = Next();
      if (separator.kind == TokenKind::kRightParen) return values;
      if (separator.kind != TokenKind::kComma) {
        return Fail(Unexpected(separator, "expected ',' or ')' in the value list"));
      }
      if (Peek().kind == TokenKind::kRightParen) {
        Next();
        return values;
      }
    }
  }

  std::string_view text_;
  size_t offset_ = 0;  // of text_ within the caller's input
  std::string context_;
  std::vector<Token> tokens_;
  size_t index_ = 0;
};

absl::Status UnknownEntity(Entity entity) {
  return absl::InvalidArgumentError(
      absl::StrCat("unknown search entity ", static_cast<int>(entity)));
}

}  // namespace

absl::StatusOr<Filter> ParseFilter(std::string_view text, Entity entity) {
  const EntityRules* rules = RulesFor(entity);
  if (rules == nullptr) return UnknownEntity(entity);
  Parser parser(text, absl::StrCat("Invalid filter '", Printable(text), "'"));
  return parser.ParseFilter(*rules);
}

absl::StatusOr<OrderBy> ParseOrderBy(std::string_view text, Entity entity) {
  const EntityRules* rules = RulesFor(entity);
  if (rules == nullptr) return UnknownEntity(entity);
  Parser parser(text, absl::StrCat("Invalid order_by clause '", Printable(text), "'"));
  return parser.ParseOrderBy(*rules);
}

absl::StatusOr<std::vector<OrderBy>> ParseOrderByList(const std::vector<std::string>& clauses,
                                                      Entity entity) {
  std::vector<OrderBy> result;
  result.reserve(clauses.size());
  // (key type, canonical key) -> index of the clause that first used it.
  std::map<std::pair<KeyType, std::string>, size_t> seen;
  for (size_t i = 0; i < clauses.size(); ++i) {
    FERRY_ASSIGN_OR_RETURN(OrderBy order_by, ParseOrderBy(clauses[i], entity));
    const auto [it, inserted] = seen.emplace(std::pair(order_by.key_type, order_by.key), i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("order_by contains duplicate fields: '", Printable(clauses[it->second], 64),
                       "' and '", Printable(clauses[i], 64), "' both order by ",
                       KeyTypeName(order_by.key_type), " '", Printable(order_by.key, 64), "'"));
    }
    result.push_back(std::move(order_by));
  }
  return result;
}

}  // namespace ferry::search
