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

// Canonical attribute keys. The parser resolves MLflow's aliases: for runs
// `created`/`Created` -> "start_time" and `run name`/`Run name`/`Run Name`
// -> "run_name" (filter only); for logged models creation_time ->
// "creation_timestamp", last_updated_time -> "last_updated_timestamp".
//   runs:          run_id, run_name, status, user_id, artifact_uri,
//                  start_time, end_time   (MLflow does not search or order
//                  by lifecycle_stage; the view type covers it)
//   experiments:   name, creation_time, last_update_time; order_by also
//                  experiment_id
//   logged models: name, model_id, model_type, status, source_run_id,
//                  creation_timestamp, last_updated_timestamp
//   registered models: name; order_by also creation_timestamp,
//                  last_updated_timestamp ("timestamp" -> last_updated_timestamp)
//   model versions: name, version_number (numeric), run_id, source_path;
//                  order_by name, version_number, creation_timestamp,
//                  last_updated_timestamp
//   datasets (runs): name, digest, context
// Numeric attributes (times) carry a double value. Metric, param and tag
// keys are the names as written, without quotes.

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

// The comparator as written in the filter language ("=", "NOT IN", ...).
const char* ComparatorName(Comparator op);

}  // namespace ferry::search

#endif  // FERRY_SEARCH_AST_H_
