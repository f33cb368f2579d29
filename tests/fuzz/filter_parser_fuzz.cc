// Fuzzes the MLflow search language parser: ParseFilter for every entity,
// ParseOrderBy, and ParseOrderByList over newline-separated clauses.
//
// Oracles beyond "no crash, no sanitizer report":
//  - errors are InvalidArgument with a printable message that names the
//    context ("Invalid filter '...'") and, for filters, a position;
//  - an accepted filter is well-typed (IN lists are non-empty vectors,
//    metrics carry doubles, params/tags strings, ...);
//  - an accepted filter or order_by, printed back in canonical syntax,
//    parses to the same AST (when every key and value can be printed
//    unambiguously).

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "ferry/search/parser.h"
#include "ferry/search/tokenizer.h"

namespace {

using ferry::search::Comparator;
using ferry::search::Comparison;
using ferry::search::Entity;
using ferry::search::Filter;
using ferry::search::KeyType;
using ferry::search::OrderBy;

constexpr Entity kEntities[] = {Entity::kRun, Entity::kExperiment, Entity::kLoggedModel,
                                Entity::kRegisteredModel, Entity::kModelVersion};

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "filter_parser_fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

void CheckError(const absl::Status& status, std::string_view context, bool needs_position) {
  Check(status.code() == absl::StatusCode::kInvalidArgument, "error code is InvalidArgument");
  const std::string message(status.message());
  Check(message.rfind(context, 0) == 0, "message starts with its context");
  Check(ferry::search::internal::Printable(message, std::string::npos) == message,
        "message is printable UTF-8");
  if (needs_position) Check(message.find(" at position ") != std::string::npos, "has position");
}

bool IsListOp(Comparator op) { return op == Comparator::kIn || op == Comparator::kNotIn; }
bool IsOrderingOp(Comparator op) {
  return op == Comparator::kLt || op == Comparator::kLe || op == Comparator::kGt ||
         op == Comparator::kGe;
}

void CheckWellTyped(const Filter& filter) {
  for (const Comparison& c : filter.clauses) {
    Check(!c.key.empty(), "key is not empty");
    const bool list = std::holds_alternative<std::vector<std::string>>(c.value);
    Check(list == IsListOp(c.op), "value is a list exactly for IN / NOT IN");
    if (list) Check(!std::get<std::vector<std::string>>(c.value).empty(), "list is not empty");
    switch (c.key_type) {
      case KeyType::kMetric:
        Check(std::holds_alternative<double>(c.value), "metric value is a number");
        break;
      case KeyType::kParam:
      case KeyType::kTag:
        Check(std::holds_alternative<std::string>(c.value), "param/tag value is a string");
        break;
      case KeyType::kDataset:
        Check(!std::holds_alternative<double>(c.value), "dataset value is a string");
        Check(c.key == "name" || c.key == "digest" || c.key == "context", "dataset key");
        break;
      case KeyType::kAttribute:
        if (std::holds_alternative<std::string>(c.value) || list) {
          Check(!IsOrderingOp(c.op), "string attribute has no ordering comparator");
        }
        break;
    }
    if (std::holds_alternative<double>(c.value)) {
      Check(c.op != Comparator::kLike && c.op != Comparator::kILike, "no LIKE on numbers");
    }
  }
}

// --- Canonical printing -----------------------------------------------------

// `name` in backticks, which the lexer returns verbatim as long as the name
// has no backtick of its own.
std::optional<std::string> QuoteName(const std::string& name) {
  if (name.find('`') != std::string::npos) return std::nullopt;
  return "`" + name + "`";
}

// A string value in quotes that the lexer returns verbatim: no quote of
// that kind inside, and no odd run of trailing backslashes (which would
// escape the closing quote).
std::optional<std::string> QuoteValue(const std::string& value) {
  size_t trailing = 0;
  while (trailing < value.size() && value[value.size() - 1 - trailing] == '\\') ++trailing;
  if (trailing % 2 == 1) return std::nullopt;
  for (char quote : {'\'', '"'}) {
    if (value.find(quote) == std::string::npos) return quote + value + quote;
  }
  return std::nullopt;
}

// A list element as a Python literal that decodes back to `value`.
std::string PythonLiteral(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\'') {
      out += "\\'";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string PrintNumber(double value) {
  if (std::isinf(value)) return value > 0 ? "1e999" : "-1e999";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

// Prefix for a key type, one each entity accepts in filters.
const char* FilterPrefix(KeyType type, Entity entity) {
  switch (type) {
    case KeyType::kMetric:
      return "metrics.";
    case KeyType::kParam:
      return "params.";
    case KeyType::kTag:
      return "tags.";
    case KeyType::kAttribute:
      // Experiments and the model registry only know the singular prefix.
      return entity == Entity::kExperiment || entity == Entity::kRegisteredModel ||
                     entity == Entity::kModelVersion
                 ? "attribute."
                 : "attributes.";
    case KeyType::kDataset:
      return "datasets.";
  }
  return "";
}

std::optional<std::string> PrintFilter(const Filter& filter, Entity entity) {
  std::string out;
  for (const Comparison& c : filter.clauses) {
    if (!out.empty()) out += " AND ";
    std::optional<std::string> name = QuoteName(c.key);
    if (!name) return std::nullopt;
    out +=
        FilterPrefix(c.key_type, entity) + *name + " " + ferry::search::ComparatorName(c.op) + " ";
    if (const double* number = std::get_if<double>(&c.value)) {
      out += PrintNumber(*number);
    } else if (const std::string* text = std::get_if<std::string>(&c.value)) {
      std::optional<std::string> quoted = QuoteValue(*text);
      if (!quoted) return std::nullopt;
      out += *quoted;
    } else {
      out += "(";
      for (const std::string& element : std::get<std::vector<std::string>>(c.value)) {
        out += PythonLiteral(element) + ", ";
      }
      out += ")";
    }
  }
  return out;
}

bool SameValue(const ferry::search::Value& a, const ferry::search::Value& b) {
  if (a.index() != b.index()) return false;
  if (const double* x = std::get_if<double>(&a)) {
    const double y = std::get<double>(b);
    return *x == y && std::signbit(*x) == std::signbit(y);
  }
  return a == b;
}

void CheckFilterRoundTrip(const Filter& filter, Entity entity) {
  std::optional<std::string> printed = PrintFilter(filter, entity);
  if (!printed) return;
  absl::StatusOr<Filter> again = ferry::search::ParseFilter(*printed, entity);
  if (!again.ok()) {
    std::fprintf(stderr, "printed filter rejected: %s\n%s\n", printed->c_str(),
                 std::string(again.status().message()).c_str());
  }
  Check(again.ok(), "printed filter parses");
  Check(again->clauses.size() == filter.clauses.size(), "same clause count");
  for (size_t i = 0; i < filter.clauses.size(); ++i) {
    const Comparison& a = filter.clauses[i];
    const Comparison& b = again->clauses[i];
    Check(a.key_type == b.key_type && a.key == b.key && a.op == b.op, "same key and op");
    Check(SameValue(a.value, b.value), "same value");
  }
}

void CheckOrderByRoundTrip(const OrderBy& order_by, Entity entity) {
  std::optional<std::string> name = QuoteName(order_by.key);
  if (!name) return;
  std::string printed;
  switch (order_by.key_type) {
    case KeyType::kMetric:
      printed = "metrics." + *name;
      break;
    case KeyType::kParam:
      printed = "params." + *name;
      break;
    case KeyType::kTag:
      printed = "tags." + *name;
      break;
    case KeyType::kAttribute:
      printed = order_by.key;  // canonical attribute keys are plain words
      break;
    case KeyType::kDataset:
      Check(false, "no dataset order_by");
  }
  printed += order_by.ascending ? " ASC" : " DESC";
  absl::StatusOr<OrderBy> again = ferry::search::ParseOrderBy(printed, entity);
  Check(again.ok(), "printed order_by parses");
  Check(again->key_type == order_by.key_type && again->key == order_by.key &&
            again->ascending == order_by.ascending,
        "same order_by");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  for (Entity entity : kEntities) {
    absl::StatusOr<Filter> filter = ferry::search::ParseFilter(input, entity);
    if (filter.ok()) {
      CheckWellTyped(*filter);
      CheckFilterRoundTrip(*filter, entity);
    } else {
      CheckError(filter.status(), "Invalid filter '", /*needs_position=*/true);
    }

    absl::StatusOr<OrderBy> order_by = ferry::search::ParseOrderBy(input, entity);
    if (order_by.ok()) {
      Check(!order_by->key.empty(), "order_by key is not empty");
      CheckOrderByRoundTrip(*order_by, entity);
    } else {
      CheckError(order_by.status(), "Invalid order_by clause '", /*needs_position=*/false);
    }

    // The same bytes as a list of clauses, one per line.
    std::vector<std::string> clauses;
    size_t start = 0;
    while (start <= input.size() && clauses.size() < 64) {
      size_t end = input.find('\n', start);
      if (end == std::string_view::npos) end = input.size();
      clauses.emplace_back(input.substr(start, end - start));
      start = end + 1;
    }
    absl::StatusOr<std::vector<OrderBy>> list = ferry::search::ParseOrderByList(clauses, entity);
    if (list.ok()) {
      Check(list->size() == clauses.size(), "one OrderBy per clause");
      for (size_t i = 0; i < list->size(); ++i) {
        for (size_t j = i + 1; j < list->size(); ++j) {
          Check((*list)[i].key_type != (*list)[j].key_type || (*list)[i].key != (*list)[j].key,
                "no duplicate order_by fields");
        }
      }
    } else {
      Check(list.status().code() == absl::StatusCode::kInvalidArgument, "list error code");
    }
  }
  return 0;
}
