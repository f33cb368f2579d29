#ifndef FERRY_SEARCH_PARSER_H_
#define FERRY_SEARCH_PARSER_H_

// MLflow's search filter language: a tokenizer and a recursive-descent
// parser (no regular expressions). Errors are InvalidArgument with a message
// naming the offending token and its 0-based byte position, which the MLflow
// API returns as INVALID_PARAMETER_VALUE, e.g.
//   Invalid filter 'metrics.x >> 1': unexpected token '>' at position 11; ...
// Messages are printable UTF-8 (control and invalid bytes appear as \xHH).
//
// Grammar (keywords case-insensitive; prefixes and attribute names are
// case-sensitive, as in MLflow):
//   filter     := <empty or blank> | comparison (AND comparison)*
//   comparison := key comparator value
//   key        := [prefix '.'] name      no whitespace around the '.'
//   prefix     := word | `word`          per-entity list below
//   name       := word | `backtick quoted` | "double quoted"
//                 (an unquoted name keeps its dots: tags.mlflow.runName)
//   comparator := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
//   value      := number | 'single quoted' | "double quoted"
//               | '(' string (',' string)* [','] ')'      only after IN / NOT IN
//   order_by   := key [ASC | DESC]       default ASC
// OR, parentheses around clauses, a dangling AND and trailing tokens are
// errors. Quoted keys and values keep escape sequences verbatim, as MLflow
// only strips the quotes ('it''s' is the value it''s); IN-list elements are
// Python literals, as MLflow reads them with ast.literal_eval: ('it\'s')
// gives it's and ('a''b') gives ab. Exact lexing rules: tokenizer.h.
//
// Per entity (MLflow's SearchUtils / SearchExperimentsUtils /
// SearchLoggedModelsUtils):
//   runs          prefixes metric(s), param(s), parameter(s), tag(s),
//                 attribute(s), attr, run, dataset(s); order_by: all but
//                 dataset(s), no surrounding whitespace.
//   experiments   prefixes attribute, tag, tags (no `backticks`); order_by:
//                 attributes only, no surrounding whitespace.
//   logged models prefixes as runs minus dataset(s); order_by: metrics.<name>
//                 or a bare attribute, surrounding whitespace ignored.
//   registered    prefixes attribute, tag, tags (unquoted); attribute `name`
//   models        only (= != LIKE ILIKE); order_by: name, creation_timestamp,
//                 last_updated_timestamp, timestamp (= last_updated_timestamp,
//                 as MLflow's SQL store), bare or attribute.<key>.
//   model         prefixes as registered models; attributes name,
//   versions      source_path (= != LIKE ILIKE), run_id (also IN, not NOT
//                 IN), version_number (numeric; '3' quoted is accepted as
//                 MLflow does); order_by: name, version_number,
//                 creation_timestamp, last_updated_timestamp.
// Key kinds: metrics and numeric attributes take a number and = != < <= > >=;
// params and tags a quoted string and = != LIKE ILIKE; string attributes
// also IN / NOT IN where MLflow allows a list (runs: run_id only; logged
// models: every string attribute); datasets.{name,digest,context} take
// = != LIKE ILIKE IN NOT IN. Attribute keys and aliases: see ast.h.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/search/ast.h"

namespace ferry::search {

enum class Entity { kRun, kExperiment, kLoggedModel, kRegisteredModel, kModelVersion };

// All three functions are pure and thread-safe, and never crash on any
// input bytes (fuzzed by tests/fuzz/filter_parser_fuzz.cc).

// Parses a search filter for `entity`. An empty or blank filter gives an
// empty Filter (match everything).
absl::StatusOr<Filter> ParseFilter(std::string_view text, Entity entity);

// Parses one order_by clause, e.g. "metrics.`my acc` DESC", "start_time".
absl::StatusOr<OrderBy> ParseOrderBy(std::string_view text, Entity entity);

// Parses every clause, in order. Two clauses on the same key type and
// canonical key ("start_time", "created DESC") are an InvalidArgument
// "order_by contains duplicate fields: ...", as in MLflow's run store;
// Ferry applies the rule to every entity.
absl::StatusOr<std::vector<OrderBy>> ParseOrderByList(const std::vector<std::string>& clauses,
                                                      Entity entity);

}  // namespace ferry::search

#endif  // FERRY_SEARCH_PARSER_H_
