#ifndef FERRY_SEARCH_AST_H_
#define FERRY_SEARCH_AST_H_

// The parsed form of MLflow's search filter language and order_by clauses.
// Parsers (parser.h) produce it; MetadataStore implementations translate it
// to their own query language. Values are already type-checked: a metric or
// numeric attribute comparison carries a double, everything else strings.

#include <string>
#include <variant>
#include <vector>

namespace ferry::search {

enum class KeyType {
  kMetric,     // metrics.<key>
  kParam,      // params.<key>
  kTag,        // tags.<key>
  kAttribute,  // attributes.<key> (or bare attribute name)
  kDataset,    // datasets.<name|digest|context>
};

enum class Comparator { kEq, kNe, kLt, kLe, kGt, kGe, kLike, kILike, kIn, kNotIn };

// Canonical attribute keys (aliases such as `run_name` -> "run_name",
// `created` -> "start_time", `Created` etc. are resolved by the parser):
//   runs:          run_id, run_name, status, user_id, artifact_uri,
//                  lifecycle_stage, start_time, end_time
//   experiments:   name, creation_time, last_update_time, experiment_id
//   logged models: name, model_id, model_type, status, source_run_id,
//                  creation_timestamp, last_updated_timestamp
// Numeric attributes (times) carry a double value.

using Value = std::variant<double, std::string, std::vector<std::string>>;

struct Comparison {
  KeyType key_type = KeyType::kAttribute;
  std::string key;
  Comparator op = Comparator::kEq;
  Value value;  // vector<string> exactly when op is kIn / kNotIn.
};

// MLflow's grammar only has AND: a filter is a conjunction of comparisons.
// An empty filter matches everything.
struct Filter {
  std::vector<Comparison> clauses;
};

struct OrderBy {
  KeyType key_type = KeyType::kAttribute;
  std::string key;
  bool ascending = true;
};

}  // namespace ferry::search

#endif  // FERRY_SEARCH_AST_H_
