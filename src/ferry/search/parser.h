#ifndef FERRY_SEARCH_PARSER_H_
#define FERRY_SEARCH_PARSER_H_

// MLflow's search filter language: a tokenizer and a recursive-descent
// parser (no regular expressions). Errors are InvalidArgument with a message
// naming the offending token and its position, which the MLflow API returns
// as INVALID_PARAMETER_VALUE.
//
// Grammar (keywords case-insensitive):
//   filter     := <empty> | comparison (AND comparison)*
//   comparison := key comparator value
//   key        := [prefix '.'] name          prefix: metrics|metric|params|param|parameters|
//                                             parameter|tags|tag|attributes|attribute|attr|run|
//                                             datasets|dataset
//   name       := identifier | `backtick quoted` | "double quoted"
//   comparator := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
//   value      := number | 'single quoted' | "double quoted" | '(' string (',' string)* ')'
// Type rules follow MLflow: metrics and numeric attributes take numbers and
// the six ordering comparators; params and tags take strings with
// = != LIKE ILIKE (and IN / NOT IN where MLflow allows it); and so on.

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/search/ast.h"

namespace ferry::search {

enum class Entity { kRun, kExperiment, kLoggedModel };

// Parses a search filter for `entity`. Never crashes on any input.
absl::StatusOr<Filter> ParseFilter(std::string_view text, Entity entity);

// Parses one order_by clause, e.g. "metrics.`my acc` DESC", "start_time".
absl::StatusOr<OrderBy> ParseOrderBy(std::string_view text, Entity entity);

// Parses every clause; rejects duplicates the way MLflow does.
absl::StatusOr<std::vector<OrderBy>> ParseOrderByList(const std::vector<std::string>& clauses,
                                                      Entity entity);

}  // namespace ferry::search

#endif  // FERRY_SEARCH_PARSER_H_
