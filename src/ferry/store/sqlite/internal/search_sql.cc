#include "ferry/store/sqlite/internal/search_sql.h"

#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ferry/common/status.h"

namespace ferry::store::sqlite_internal {
namespace {

using search::Comparator;
using search::Comparison;
using search::KeyType;

constexpr char kDatasetContextTag[] = "mlflow.data.context";

enum class ValueKind { kNumber, kString };

struct Column {
  std::string sql;
  ValueKind kind = ValueKind::kString;
  bool nullable = false;
};

const char* KeyTypeText(KeyType type) {
  switch (type) {
    case KeyType::kMetric:
      return "metric";
    case KeyType::kParam:
      return "parameter";
    case KeyType::kTag:
      return "tag";
    case KeyType::kAttribute:
      return "attribute";
    case KeyType::kDataset:
      return "dataset";
  }
  return "key";
}

bool IsOrdering(Comparator op) {
  return op == Comparator::kEq || op == Comparator::kNe || op == Comparator::kLt ||
         op == Comparator::kLe || op == Comparator::kGt || op == Comparator::kGe;
}

// Integral doubles bind as integers so INTEGER columns compare exactly.
SqlValue NumberValue(double d) {
  if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e18) {
    return SqlValue(static_cast<int64_t>(d));
  }
  return SqlValue(d);
}

absl::StatusOr<SqlValue> ToNumber(const Comparison& c, absl::string_view text) {
  double d = 0;
  if (!absl::SimpleAtod(text, &d)) {
    return absl::InvalidArgumentError(absl::StrCat("Expected a numeric value for ",
                                                   KeyTypeText(c.key_type), " '", c.key,
                                                   "' but got '", text, "'"));
  }
  return NumberValue(d);
}

std::string Placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// `column <op> ?` for one comparison, appending the bound values to `binds`.
absl::StatusOr<std::string> CompareSql(absl::string_view column, ValueKind kind,
                                       const Comparison& c, std::vector<SqlValue>* binds) {
  const auto* list = std::get_if<std::vector<std::string>>(&c.value);
  if (c.op == Comparator::kIn || c.op == Comparator::kNotIn) {
    if (list == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("The ", search::ComparatorName(c.op),
                                                     " comparator needs a list of values for ",
                                                     KeyTypeText(c.key_type), " '", c.key, "'"));
    }
    if (list->empty()) return std::string(c.op == Comparator::kIn ? "0" : "1");
    for (const std::string& v : *list) {
      if (kind == ValueKind::kNumber) {
        FERRY_ASSIGN_OR_RETURN(SqlValue n, ToNumber(c, v));
        binds->push_back(std::move(n));
      } else {
        binds->push_back(SqlValue(v));
      }
    }
    return absl::StrCat(column, " ", search::ComparatorName(c.op), " (", Placeholders(list->size()),
                        ")");
  }
  if (list != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("The ", search::ComparatorName(c.op),
                                                   " comparator needs a single value for ",
                                                   KeyTypeText(c.key_type), " '", c.key, "'"));
  }
  if (kind == ValueKind::kNumber) {
    if (!IsOrdering(c.op)) {
      return absl::InvalidArgumentError(absl::StrCat("Invalid comparator '",
                                                     search::ComparatorName(c.op), "' for numeric ",
                                                     KeyTypeText(c.key_type), " '", c.key, "'"));
    }
    if (const auto* d = std::get_if<double>(&c.value)) {
      binds->push_back(NumberValue(*d));
    } else {
      FERRY_ASSIGN_OR_RETURN(SqlValue n, ToNumber(c, std::get<std::string>(c.value)));
      binds->push_back(std::move(n));
    }
    return absl::StrCat(column, " ", search::ComparatorName(c.op), " ?");
  }
  const auto* text = std::get_if<std::string>(&c.value);
  if (text == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("Expected a string value for ", KeyTypeText(c.key_type), " '", c.key, "'"));
  }
  binds->push_back(SqlValue(*text));
  if (c.op == Comparator::kLike) return absl::StrCat("ferry_like(", column, ", ?)");
  if (c.op == Comparator::kILike) return absl::StrCat("ferry_ilike(", column, ", ?)");
  return absl::StrCat(column, " ", search::ComparatorName(c.op), " ?");
}

// The comparison of a metric value column, where NaN is stored as NULL with
// is_nan = 1: NaN satisfies only `!=`, as in IEEE arithmetic.
absl::StatusOr<std::string> CompareMetricSql(absl::string_view value_column,
                                             absl::string_view is_nan_column, const Comparison& c,
                                             std::vector<SqlValue>* binds) {
  FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql(value_column, ValueKind::kNumber, c, binds));
  if (c.op == Comparator::kNe) return absl::StrCat("(", is_nan_column, " = 1 OR ", cmp, ")");
  return cmp;
}

// Accumulates the pieces of one SELECT. Binds are kept per piece because the
// pieces appear in the SQL text in this order: joins, where, order.
struct Query {
  std::string joins;
  std::vector<SqlValue> join_binds;
  std::vector<std::string> where;
  std::vector<SqlValue> where_binds;
  std::vector<std::string> order;
  std::vector<SqlValue> order_binds;
  int next_alias = 0;

  // Joined key tables by (type, key): the alias, and whether every joined
  // row is known to hold a non-NaN value (so ordering needs no NULL/NaN case).
  struct Joined {
    std::string alias;
    bool value_not_nan = false;
  };
  std::map<std::pair<KeyType, std::string>, Joined> joined;

  std::string NewAlias(absl::string_view prefix) { return absl::StrCat(prefix, next_alias++); }

  // An inner join of `table` (keyed by `owner_column` and key) per key.
  Joined& JoinKey(KeyType type, const std::string& key, absl::string_view table,
                  absl::string_view owner_column, absl::string_view owner_ref) {
    auto [it, inserted] = joined.try_emplace({type, key});
    if (inserted) {
      it->second.alias = NewAlias("k");
      absl::StrAppend(&joins, " JOIN ", table, " ", it->second.alias, " ON ", it->second.alias, ".",
                      owner_column, " = ", owner_ref, " AND ", it->second.alias, ".key = ?");
      join_binds.push_back(SqlValue(key));
    }
    return it->second;
  }

  SearchSql Finish(absl::string_view select, int64_t limit, int64_t offset) {
    SearchSql out;
    out.sql = std::string(select);
    absl::StrAppend(&out.sql, joins);
    if (!where.empty()) absl::StrAppend(&out.sql, " WHERE ", absl::StrJoin(where, " AND "));
    if (!order.empty()) absl::StrAppend(&out.sql, " ORDER BY ", absl::StrJoin(order, ", "));
    absl::StrAppend(&out.sql, " LIMIT ? OFFSET ?");
    out.binds = std::move(join_binds);
    for (auto& v : where_binds) out.binds.push_back(std::move(v));
    for (auto& v : order_binds) out.binds.push_back(std::move(v));
    out.binds.push_back(SqlValue(limit));
    out.binds.push_back(SqlValue(offset));
    return out;
  }
};

const char* Direction(bool ascending) { return ascending ? "ASC" : "DESC"; }

// `column IN (...)` over the integer experiment ids; nullopt when none is a
// valid id (nothing can match).
std::optional<std::string> ExperimentIdClause(absl::string_view column,
                                              const std::vector<std::string>& experiment_ids,
                                              std::vector<SqlValue>* binds) {
  size_t n = 0;
  for (const std::string& id : experiment_ids) {
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
    if (id.empty() || ec != std::errc() || ptr != id.data() + id.size()) continue;
    binds->push_back(SqlValue(value));
    ++n;
  }
  if (n == 0) return std::nullopt;
  if (n == 1) return absl::StrCat(column, " = ?");
  return absl::StrCat(column, " IN (", Placeholders(n), ")");
}

std::optional<std::string> LifecycleClause(absl::string_view column, ViewType view_type) {
  switch (view_type) {
    case ViewType::kActiveOnly:
      return absl::StrCat(column, " = 'active'");
    case ViewType::kDeletedOnly:
      return absl::StrCat(column, " = 'deleted'");
    case ViewType::kAll:
      return std::nullopt;
  }
  return std::nullopt;
}

absl::Status UnsupportedKey(absl::string_view entity, const std::string& key, KeyType type) {
  return absl::InvalidArgumentError(
      absl::StrCat("Invalid ", KeyTypeText(type), " key '", key, "' for searching ", entity));
}

// ---------------------------------------------------------------------------
// Runs

std::optional<Column> RunAttribute(const std::string& key) {
  static const auto* kColumns = new std::map<std::string, Column>{
      {"run_id", {"r.run_uuid", ValueKind::kString, false}},
      {"run_name", {"r.name", ValueKind::kString, false}},
      {"status", {"r.status", ValueKind::kString, false}},
      {"user_id", {"r.user_id", ValueKind::kString, false}},
      {"artifact_uri", {"r.artifact_uri", ValueKind::kString, false}},
      {"lifecycle_stage", {"r.lifecycle_stage", ValueKind::kString, false}},
      {"start_time", {"r.start_time", ValueKind::kNumber, false}},
      {"end_time", {"r.end_time", ValueKind::kNumber, true}},
      {"experiment_id", {"r.experiment_id", ValueKind::kNumber, false}},
  };
  auto it = kColumns->find(key);
  if (it == kColumns->end()) return std::nullopt;
  return it->second;
}

// An inner-joined key table (latest_metrics, params or tags) for one key,
// with the conditions on its row. Conditions live in WHERE, not ON, so that
// the bind order follows the text however the joins are arranged.
struct Source {
  KeyType type = KeyType::kMetric;
  std::string key;
  std::string table;
  std::string alias;
  std::vector<std::string> conds;
  std::vector<SqlValue> binds;
  // Some condition can be answered from the (key, value, run_id) index.
  bool indexable = false;
  // Every row left by the conditions has a non-NaN value.
  bool value_not_nan = false;
};

bool IndexableOp(Comparator op) {
  return op == Comparator::kEq || op == Comparator::kLt || op == Comparator::kLe ||
         op == Comparator::kGt || op == Comparator::kGe || op == Comparator::kIn;
}

// The filter of a run search, before it is arranged into SELECTs.
struct RunFilter {
  std::vector<Source> sources;
  std::vector<std::string> run_where;  // on r: experiments, stage, attributes, datasets
  std::vector<SqlValue> run_binds;
  int next_alias = 0;
  // r.experiment_id = ? AND r.lifecycle_stage = ?: runs_by_experiment can
  // then yield runs in start_time order.
  bool runs_index_ordered = false;

  Source* Find(KeyType type, const std::string& key) {
    for (Source& s : sources) {
      if (s.type == type && s.key == key) return &s;
    }
    return nullptr;
  }
};

const char* KeyTable(KeyType type) {
  switch (type) {
    case KeyType::kMetric:
      return "latest_metrics";
    case KeyType::kParam:
      return "params";
    default:
      return "tags";
  }
}

absl::Status AddRunClause(RunFilter& f, const Comparison& c) {
  switch (c.key_type) {
    case KeyType::kAttribute: {
      std::optional<Column> col = RunAttribute(c.key);
      if (!col) return UnsupportedKey("runs", c.key, c.key_type);
      FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql(col->sql, col->kind, c, &f.run_binds));
      f.run_where.push_back(std::move(cmp));
      return absl::OkStatus();
    }
    case KeyType::kMetric:
    case KeyType::kParam:
    case KeyType::kTag: {
      Source* s = f.Find(c.key_type, c.key);
      if (s == nullptr) {
        s = &f.sources.emplace_back();
        s->type = c.key_type;
        s->key = c.key;
        s->table = KeyTable(c.key_type);
        s->alias = absl::StrCat("k", f.next_alias++);
      }
      std::string cmp;
      if (c.key_type == KeyType::kMetric) {
        FERRY_ASSIGN_OR_RETURN(cmp,
                               CompareMetricSql(absl::StrCat(s->alias, ".value"),
                                                absl::StrCat(s->alias, ".is_nan"), c, &s->binds));
        // Any comparison but != fails on NULL, so the rows left are not NaN.
        if (c.op != Comparator::kNe) s->value_not_nan = true;
      } else {
        FERRY_ASSIGN_OR_RETURN(
            cmp, CompareSql(absl::StrCat(s->alias, ".value"), ValueKind::kString, c, &s->binds));
        s->value_not_nan = true;
      }
      if (IndexableOp(c.op)) s->indexable = true;
      s->conds.push_back(std::move(cmp));
      return absl::OkStatus();
    }
    case KeyType::kDataset: {
      if (c.key == "name" || c.key == "digest") {
        FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql(absl::StrCat("d.", c.key),
                                                           ValueKind::kString, c, &f.run_binds));
        f.run_where.push_back(absl::StrCat(
            "EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.dataset_uuid "
            "WHERE i.run_id = r.id AND ",
            cmp, ")"));
        return absl::OkStatus();
      }
      if (c.key == "context") {
        f.run_binds.push_back(SqlValue(std::string(kDatasetContextTag)));
        FERRY_ASSIGN_OR_RETURN(std::string cmp,
                               CompareSql("t.value", ValueKind::kString, c, &f.run_binds));
        f.run_where.push_back(absl::StrCat(
            "EXISTS (SELECT 1 FROM inputs i JOIN input_tags t ON t.input_uuid = i.input_uuid "
            "WHERE i.run_id = r.id AND t.name = ? AND ",
            cmp, ")"));
        return absl::OkStatus();
      }
      return UnsupportedKey("runs", c.key, c.key_type);
    }
  }
  return UnsupportedKey("runs", c.key, c.key_type);
}

// One SELECT of a run search: the sources joined, extra conditions, and the
// ORDER BY. `driver` names the table SQLite must loop over outermost.
struct Segment {
  std::vector<Source> sources;
  std::vector<std::string> where;  // after the sources' and the filter's own
  std::vector<SqlValue> where_binds;
  std::vector<std::string> order;
  // A source whose (key, value) index yields rows in the order of `order`'s
  // first term, if any.
  std::optional<size_t> order_source;
  enum class Driver { kPlanner, kRuns, kSource } driver = Driver::kPlanner;
  size_t driver_source = 0;
};

struct OrderTail {
  std::string joins;  // LEFT JOINs for order keys the filter does not join
  std::vector<SqlValue> join_binds;
  std::vector<std::string> terms;
};

SearchSql AssembleSegment(const RunFilter& f, const Segment& seg, const OrderTail& tail,
                          bool count_only) {
  SearchSql out;
  out.sql = count_only ? "SELECT count(*)" : absl::StrCat("SELECT ", kRunColumns);
  auto join = [&](const Source& s, const char* op) {
    absl::StrAppend(&out.sql, " ", op, " ", s.table, " ", s.alias, " ON ", s.alias,
                    ".run_id = r.id");
  };
  // CROSS JOIN fixes the loop order in SQLite; the driver goes first.
  switch (seg.driver) {
    case Segment::Driver::kSource: {
      const Source& d = seg.sources[seg.driver_source];
      absl::StrAppend(&out.sql, " FROM ", d.table, " ", d.alias,
                      " CROSS JOIN runs r ON r.id = ", d.alias, ".run_id");
      for (size_t i = 0; i < seg.sources.size(); ++i) {
        if (i != seg.driver_source) join(seg.sources[i], "CROSS JOIN");
      }
      break;
    }
    case Segment::Driver::kRuns:
      out.sql += " FROM runs r";
      for (const Source& s : seg.sources) join(s, "CROSS JOIN");
      break;
    case Segment::Driver::kPlanner:
      out.sql += " FROM runs r";
      for (const Source& s : seg.sources) join(s, "JOIN");
      break;
  }
  if (!count_only) {
    out.sql += tail.joins;
    out.binds = tail.join_binds;
  }
  std::vector<std::string> where;
  for (const Source& s : seg.sources) {
    where.push_back(absl::StrCat(s.alias, ".key = ?"));
    out.binds.push_back(SqlValue(s.key));
    for (const std::string& c : s.conds) where.push_back(c);
    out.binds.insert(out.binds.end(), s.binds.begin(), s.binds.end());
  }
  where.insert(where.end(), f.run_where.begin(), f.run_where.end());
  out.binds.insert(out.binds.end(), f.run_binds.begin(), f.run_binds.end());
  where.insert(where.end(), seg.where.begin(), seg.where.end());
  out.binds.insert(out.binds.end(), seg.where_binds.begin(), seg.where_binds.end());
  absl::StrAppend(&out.sql, " WHERE ", absl::StrJoin(where, " AND "));
  if (!count_only) {
    std::vector<std::string> order = seg.order;
    order.insert(order.end(), tail.terms.begin(), tail.terms.end());
    absl::StrAppend(&out.sql, " ORDER BY ", absl::StrJoin(order, ", "), " LIMIT ? OFFSET ?");
  }
  return out;
}

// Picks the table each segment is driven from:
// 1. a filter whose index finds fewer than kSelectiveRows rows: loop over
//    those and sort them (cheap, whatever the order);
// 2. otherwise an index that yields rows already in ORDER BY order, so that
//    LIMIT stops the scan early;
// 3. otherwise SQLite's own choice.
// SQLite alone cannot do this well: without STAT4 statistics it cannot tell
// `metrics.acc > 0.99` (few runs) from `metrics.acc > 0` (all runs).
absl::Status ChooseDriver(Segment& seg, bool runs_order_first, const RunSearchEstimator& estimate,
                          std::map<std::string, int64_t>& estimates) {
  std::optional<size_t> best;
  int64_t best_rows = 0;
  for (size_t i = 0; i < seg.sources.size(); ++i) {
    const Source& s = seg.sources[i];
    if (!s.indexable) continue;
    const std::string probe_key =
        absl::StrCat(s.table, "|", s.key, "|", absl::StrJoin(s.conds, "&"));
    auto it = estimates.find(probe_key);
    if (it == estimates.end()) {
      SearchSql probe;
      probe.sql = absl::StrCat("SELECT count(*) FROM (SELECT 1 FROM ", s.table, " ", s.alias,
                               " WHERE ", s.alias, ".key = ?");
      probe.binds.push_back(SqlValue(s.key));
      for (const std::string& c : s.conds) absl::StrAppend(&probe.sql, " AND ", c);
      probe.binds.insert(probe.binds.end(), s.binds.begin(), s.binds.end());
      absl::StrAppend(&probe.sql, " LIMIT ", kSelectiveRows, ")");
      FERRY_ASSIGN_OR_RETURN(int64_t rows, estimate(probe));
      it = estimates.emplace(probe_key, rows).first;
    }
    if (!best || it->second < best_rows) {
      best = i;
      best_rows = it->second;
    }
  }
  if (best && best_rows < kSelectiveRows) {
    seg.driver = Segment::Driver::kSource;
    seg.driver_source = *best;
  } else if (seg.order_source) {
    seg.driver = Segment::Driver::kSource;
    seg.driver_source = *seg.order_source;
  } else if (runs_order_first) {
    seg.driver = Segment::Driver::kRuns;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunSearchPlan> BuildRunSearch(const RunQuery& query,
                                             const RunSearchEstimator& estimate) {
  RunFilter f;
  std::optional<std::string> experiment_clause =
      ExperimentIdClause("r.experiment_id", query.experiment_ids, &f.run_binds);
  if (!experiment_clause) return RunSearchPlan{};
  const size_t experiments = f.run_binds.size();
  f.run_where.push_back(*experiment_clause);
  std::optional<std::string> stage = LifecycleClause("r.lifecycle_stage", query.view_type);
  if (stage) f.run_where.push_back(*stage);
  f.runs_index_ordered = experiments == 1 && stage.has_value();
  for (const Comparison& c : query.filter.clauses) FERRY_RETURN_IF_ERROR(AddRunClause(f, c));

  // The first order_by key, when it is a metric, param or tag, splits the
  // result into segments so that "missing last" needs no CASE in ORDER BY
  // and an index can deliver each segment in order:
  //   A: runs with a (non-NaN) value, by value;  B: NaN (metrics);
  //   C: runs without the key.
  // Later keys and the tie-breakers order rows within a segment.
  const search::OrderBy* head = nullptr;
  size_t tail_from = 0;
  if (!query.order_by.empty() && query.order_by[0].key_type != KeyType::kAttribute &&
      query.order_by[0].key_type != KeyType::kDataset) {
    head = &query.order_by[0];
    tail_from = 1;
  }

  OrderTail tail;
  bool ordered_by_start_time = false;
  bool ordered_by_run_id = false;
  int next_order_alias = 0;
  for (size_t i = tail_from; i < query.order_by.size(); ++i) {
    const search::OrderBy& ob = query.order_by[i];
    const char* dir = Direction(ob.ascending);
    switch (ob.key_type) {
      case KeyType::kAttribute: {
        std::optional<Column> col = RunAttribute(ob.key);
        if (!col) return UnsupportedKey("runs", ob.key, ob.key_type);
        if (ob.key == "start_time") ordered_by_start_time = true;
        if (ob.key == "run_id") ordered_by_run_id = true;
        if (col->nullable) tail.terms.push_back(absl::StrCat("(", col->sql, " IS NULL)"));
        tail.terms.push_back(absl::StrCat(col->sql, " ", dir));
        break;
      }
      case KeyType::kMetric:
      case KeyType::kParam:
      case KeyType::kTag: {
        if (const Source* s = f.Find(ob.key_type, ob.key)) {
          if (!s->value_not_nan) tail.terms.push_back(absl::StrCat(s->alias, ".is_nan"));
          tail.terms.push_back(absl::StrCat(s->alias, ".value ", dir));
          break;
        }
        const std::string alias = absl::StrCat("o", next_order_alias++);
        absl::StrAppend(&tail.joins, " LEFT JOIN ", KeyTable(ob.key_type), " ", alias, " ON ",
                        alias, ".run_id = r.id AND ", alias, ".key = ?");
        tail.join_binds.push_back(SqlValue(ob.key));
        if (ob.key_type == KeyType::kMetric) {
          tail.terms.push_back(absl::StrCat("(CASE WHEN ", alias, ".run_id IS NULL THEN 2 WHEN ",
                                            alias, ".is_nan = 1 THEN 1 ELSE 0 END)"));
        } else {
          tail.terms.push_back(absl::StrCat("(", alias, ".run_id IS NULL)"));
        }
        tail.terms.push_back(absl::StrCat(alias, ".value ", dir));
        break;
      }
      case KeyType::kDataset:
        return absl::InvalidArgumentError(
            absl::StrCat("Cannot order runs by dataset key '", ob.key, "'"));
    }
  }
  // Runs come out of runs_by_experiment in start_time order only when that
  // is the first ordering term of a segment.
  const bool start_time_first = !ordered_by_start_time && tail.terms.empty();
  if (!ordered_by_start_time) tail.terms.push_back("r.start_time DESC");
  if (!ordered_by_run_id) tail.terms.push_back("r.run_uuid ASC");
  const bool runs_order_first =
      f.runs_index_ordered &&
      (start_time_first ||
       (query.order_by.size() > tail_from &&
        query.order_by[tail_from].key_type == KeyType::kAttribute &&
        query.order_by[tail_from].key == "start_time" && !query.order_by[tail_from].ascending));

  std::vector<Segment> segments;
  Segment base;
  base.sources = f.sources;
  if (head == nullptr) {
    segments.push_back(std::move(base));
  } else if (const Source* s = f.Find(head->key_type, head->key)) {
    // Filtered on the order key: every run has it; one segment.
    size_t index = static_cast<size_t>(s - f.sources.data());
    if (!s->value_not_nan) base.order.push_back(absl::StrCat(s->alias, ".is_nan"));
    base.order.push_back(absl::StrCat(s->alias, ".value ", Direction(head->ascending)));
    if (s->value_not_nan) base.order_source = index;
    segments.push_back(std::move(base));
  } else {
    Source o;
    o.type = head->key_type;
    o.key = head->key;
    o.table = KeyTable(head->key_type);
    o.alias = "h";
    o.indexable = true;
    Segment a = base;
    Source with_value = o;
    with_value.conds = {"h.value IS NOT NULL"};
    with_value.value_not_nan = true;
    a.sources.push_back(with_value);
    a.order.push_back(absl::StrCat("h.value ", Direction(head->ascending)));
    a.order_source = a.sources.size() - 1;
    segments.push_back(std::move(a));
    if (head->key_type == KeyType::kMetric) {
      Segment b = base;
      Source nan = o;
      nan.conds = {"h.value IS NULL"};  // NaN is stored as NULL
      b.sources.push_back(nan);
      segments.push_back(std::move(b));
    }
    Segment c = base;
    c.where.push_back(absl::StrCat("NOT EXISTS (SELECT 1 FROM ", o.table,
                                   " x WHERE x.run_id = r.id AND x.key = ?)"));
    c.where_binds.push_back(SqlValue(o.key));
    segments.push_back(std::move(c));
  }

  RunSearchPlan plan;
  std::map<std::string, int64_t> estimates;
  for (size_t i = 0; i < segments.size(); ++i) {
    Segment& seg = segments[i];
    // Segment A's order comes from its index; B and C (and unsegmented
    // searches without a key order) are in start_time order when that is
    // their first term.
    const bool runs_first = runs_order_first && seg.order.empty();
    FERRY_RETURN_IF_ERROR(ChooseDriver(seg, runs_first, estimate, estimates));
    plan.segments.push_back(AssembleSegment(f, seg, tail, /*count_only=*/false));
    plan.counts.push_back(AssembleSegment(f, seg, tail, /*count_only=*/true));
  }
  return plan;
}

// ---------------------------------------------------------------------------
// Experiments

namespace {

std::optional<Column> ExperimentAttribute(const std::string& key) {
  if (key == "name") return Column{"e.name", ValueKind::kString, false};
  if (key == "experiment_id") return Column{"e.experiment_id", ValueKind::kNumber, false};
  if (key == "creation_time") return Column{"e.creation_time", ValueKind::kNumber, false};
  if (key == "last_update_time") return Column{"e.last_update_time", ValueKind::kNumber, false};
  return std::nullopt;
}

}  // namespace

absl::StatusOr<SearchSql> BuildExperimentSearch(const ExperimentQuery& query, int64_t offset) {
  Query q;
  if (auto stage = LifecycleClause("e.lifecycle_stage", query.view_type)) q.where.push_back(*stage);
  for (const Comparison& c : query.filter.clauses) {
    if (c.key_type == KeyType::kAttribute) {
      std::optional<Column> col = ExperimentAttribute(c.key);
      if (!col) return UnsupportedKey("experiments", c.key, c.key_type);
      FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql(col->sql, col->kind, c, &q.where_binds));
      q.where.push_back(std::move(cmp));
    } else if (c.key_type == KeyType::kTag) {
      Query::Joined& j =
          q.JoinKey(KeyType::kTag, c.key, "experiment_tags", "experiment_id", "e.experiment_id");
      FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql(absl::StrCat(j.alias, ".value"),
                                                         ValueKind::kString, c, &q.where_binds));
      q.where.push_back(std::move(cmp));
    } else {
      return UnsupportedKey("experiments", c.key, c.key_type);
    }
  }
  std::vector<search::OrderBy> order_by = query.order_by;
  if (order_by.empty()) {
    order_by.push_back({KeyType::kAttribute, "last_update_time", /*ascending=*/false});
  }
  bool ordered_by_id = false;
  for (const search::OrderBy& ob : order_by) {
    const char* dir = Direction(ob.ascending);
    if (ob.key_type == KeyType::kAttribute) {
      std::optional<Column> col = ExperimentAttribute(ob.key);
      if (!col) return UnsupportedKey("experiments", ob.key, ob.key_type);
      if (ob.key == "experiment_id") ordered_by_id = true;
      q.order.push_back(absl::StrCat(col->sql, " ", dir));
    } else if (ob.key_type == KeyType::kTag) {
      std::string alias = q.NewAlias("o");
      absl::StrAppend(&q.joins, " LEFT JOIN experiment_tags ", alias, " ON ", alias,
                      ".experiment_id = e.experiment_id AND ", alias, ".key = ?");
      q.join_binds.push_back(SqlValue(ob.key));
      q.order.push_back(absl::StrCat("(", alias, ".experiment_id IS NULL)"));
      q.order.push_back(absl::StrCat(alias, ".value ", dir));
    } else {
      return UnsupportedKey("experiments", ob.key, ob.key_type);
    }
  }
  if (!ordered_by_id) q.order.push_back("e.experiment_id ASC");
  return q.Finish(absl::StrCat("SELECT ", kExperimentColumns, " FROM experiments e"),
                  int64_t{query.max_results} + 1, offset);
}

// ---------------------------------------------------------------------------
// Logged models

namespace {

std::optional<Column> LoggedModelAttribute(const std::string& key) {
  static const auto* kColumns = new std::map<std::string, Column>{
      {"name", {"lm.name", ValueKind::kString, false}},
      {"model_id", {"lm.model_id", ValueKind::kString, false}},
      {"model_type", {"lm.model_type", ValueKind::kString, false}},
      {"status", {"lm.status", ValueKind::kString, false}},
      {"source_run_id", {"lm.source_run_id", ValueKind::kString, false}},
      {"creation_timestamp", {"lm.creation_timestamp_ms", ValueKind::kNumber, false}},
      {"creation_timestamp_ms", {"lm.creation_timestamp_ms", ValueKind::kNumber, false}},
      {"last_updated_timestamp", {"lm.last_updated_timestamp_ms", ValueKind::kNumber, false}},
      {"last_updated_timestamp_ms", {"lm.last_updated_timestamp_ms", ValueKind::kNumber, false}},
  };
  auto it = kColumns->find(key);
  if (it == kColumns->end()) return std::nullopt;
  return it->second;
}

// The model's latest value of a metric (by timestamp, then step; NULL when
// NaN or missing), as MLflow orders logged models by metrics.
constexpr char kLatestModelMetric[] =
    "(SELECT CASE WHEN mm.is_nan = 1 THEN NULL ELSE mm.value END FROM logged_model_metrics mm "
    "WHERE mm.model_id = lm.model_id AND mm.key = ? ORDER BY mm.timestamp DESC, mm.step DESC "
    "LIMIT 1)";

}  // namespace

absl::StatusOr<SearchSql> BuildLoggedModelSearch(const LoggedModelQuery& query, int64_t offset) {
  Query q;
  std::optional<std::string> experiments =
      ExperimentIdClause("lm.experiment_id", query.experiment_ids, &q.where_binds);
  if (!experiments) return SearchSql{};
  q.where.push_back(*experiments);
  q.where.push_back("lm.lifecycle_stage = 'active'");
  for (const Comparison& c : query.filter.clauses) {
    switch (c.key_type) {
      case KeyType::kAttribute: {
        std::optional<Column> col = LoggedModelAttribute(c.key);
        if (!col) return UnsupportedKey("logged models", c.key, c.key_type);
        FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql(col->sql, col->kind, c, &q.where_binds));
        q.where.push_back(std::move(cmp));
        break;
      }
      case KeyType::kMetric: {
        // Any logged value of the metric matches, as in MLflow.
        q.where_binds.push_back(SqlValue(c.key));
        FERRY_ASSIGN_OR_RETURN(std::string cmp,
                               CompareMetricSql("mm.value", "mm.is_nan", c, &q.where_binds));
        // History rows keep NaN as value 0 with is_nan = 1.
        q.where.push_back(absl::StrCat(
            "EXISTS (SELECT 1 FROM logged_model_metrics mm WHERE mm.model_id = lm.model_id "
            "AND mm.key = ? AND ",
            c.op == Comparator::kNe ? "" : "mm.is_nan = 0 AND ", cmp, ")"));
        break;
      }
      case KeyType::kParam:
      case KeyType::kTag: {
        const bool param = c.key_type == KeyType::kParam;
        Query::Joined& j =
            q.JoinKey(c.key_type, c.key, param ? "logged_model_params" : "logged_model_tags",
                      "model_id", "lm.model_id");
        FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql(absl::StrCat(j.alias, ".value"),
                                                           ValueKind::kString, c, &q.where_binds));
        q.where.push_back(std::move(cmp));
        break;
      }
      case KeyType::kDataset: {
        if (c.key != "name" && c.key != "digest") {
          return UnsupportedKey("logged models", c.key, c.key_type);
        }
        FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql(absl::StrCat("mm.dataset_", c.key),
                                                           ValueKind::kString, c, &q.where_binds));
        q.where.push_back(absl::StrCat(
            "EXISTS (SELECT 1 FROM logged_model_metrics mm WHERE mm.model_id = lm.model_id AND ",
            cmp, ")"));
        break;
      }
    }
  }
  bool ordered_by_creation = false;
  bool ordered_by_id = false;
  for (const search::OrderBy& ob : query.order_by) {
    const char* dir = Direction(ob.ascending);
    switch (ob.key_type) {
      case KeyType::kAttribute: {
        std::optional<Column> col = LoggedModelAttribute(ob.key);
        if (!col) return UnsupportedKey("logged models", ob.key, ob.key_type);
        if (col->sql == "lm.creation_timestamp_ms") ordered_by_creation = true;
        if (ob.key == "model_id") ordered_by_id = true;
        q.order.push_back(absl::StrCat(col->sql, " ", dir));
        break;
      }
      case KeyType::kMetric:
        q.order.push_back(absl::StrCat("(", kLatestModelMetric, " IS NULL)"));
        q.order.push_back(absl::StrCat(kLatestModelMetric, " ", dir));
        q.order_binds.push_back(SqlValue(ob.key));
        q.order_binds.push_back(SqlValue(ob.key));
        break;
      case KeyType::kParam:
      case KeyType::kTag: {
        std::string alias = q.NewAlias("o");
        absl::StrAppend(
            &q.joins, " LEFT JOIN ",
            ob.key_type == KeyType::kParam ? "logged_model_params " : "logged_model_tags ", alias,
            " ON ", alias, ".model_id = lm.model_id AND ", alias, ".key = ?");
        q.join_binds.push_back(SqlValue(ob.key));
        q.order.push_back(absl::StrCat("(", alias, ".model_id IS NULL)"));
        q.order.push_back(absl::StrCat(alias, ".value ", dir));
        break;
      }
      case KeyType::kDataset:
        return UnsupportedKey("logged models", ob.key, ob.key_type);
    }
  }
  if (!ordered_by_creation) q.order.push_back("lm.creation_timestamp_ms DESC");
  if (!ordered_by_id) q.order.push_back("lm.model_id ASC");
  return q.Finish(absl::StrCat("SELECT ", kLoggedModelColumns, " FROM logged_models lm"),
                  int64_t{query.max_results} + 1, offset);
}

// ---------------------------------------------------------------------------
// Model registry

namespace {

std::optional<Column> RegisteredModelAttribute(const std::string& key) {
  if (key == "name") return Column{"rm.name", ValueKind::kString, false};
  return std::nullopt;
}

std::optional<Column> RegisteredModelOrderColumn(const std::string& key) {
  if (key == "name") return Column{"rm.name", ValueKind::kString, false};
  if (key == "creation_timestamp") {
    return Column{"rm.creation_time", ValueKind::kNumber, false};
  }
  // "timestamp" is MLflow's SQL-store alias of the last-update time.
  if (key == "last_updated_timestamp" || key == "timestamp") {
    return Column{"rm.last_updated_time", ValueKind::kNumber, false};
  }
  return std::nullopt;
}

std::optional<Column> ModelVersionAttribute(const std::string& key) {
  static const auto* kColumns = new std::map<std::string, Column>{
      {"name", {"mv.name", ValueKind::kString, false}},
      {"version_number", {"mv.version", ValueKind::kNumber, false}},
      {"run_id", {"mv.run_id", ValueKind::kString, false}},
      {"source_path", {"mv.source", ValueKind::kString, false}},
  };
  auto it = kColumns->find(key);
  if (it == kColumns->end()) return std::nullopt;
  return it->second;
}

std::optional<Column> ModelVersionOrderColumn(const std::string& key) {
  static const auto* kColumns = new std::map<std::string, Column>{
      {"name", {"mv.name", ValueKind::kString, false}},
      {"version_number", {"mv.version", ValueKind::kNumber, false}},
      {"creation_timestamp", {"mv.creation_time", ValueKind::kNumber, false}},
      {"last_updated_timestamp", {"mv.last_updated_time", ValueKind::kNumber, false}},
  };
  auto it = kColumns->find(key);
  if (it == kColumns->end()) return std::nullopt;
  return it->second;
}

// `EXISTS (...)` over the tag table for one tag clause: the tag is present
// and its value satisfies the comparison (so `!=` does not match entities
// without the tag, as in MLflow's inner join). The tag table's primary key
// serves the lookup.
absl::StatusOr<std::string> TagExists(absl::string_view table, absl::string_view owner_match,
                                      const Comparison& c, std::vector<SqlValue>* binds) {
  binds->push_back(SqlValue(c.key));
  FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql("t.value", ValueKind::kString, c, binds));
  return absl::StrCat("EXISTS (SELECT 1 FROM ", table, " t WHERE ", owner_match,
                      " AND t.key = ? AND ", cmp, ")");
}

// MLflow keeps prompts (registered models tagged mlflow.prompt.is_prompt =
// 'true') out of registry searches unless the filter asks for them, and the
// clients append `tags.`mlflow.prompt.is_prompt` != 'true'` to every search.
// Models without the tag must match, so the clause becomes an anti-join
// rather than a plain tag comparison. Returns the SQL for the prompt
// condition and removes prompt-tag clauses from `clauses`.
constexpr char kIsPromptTag[] = "mlflow.prompt.is_prompt";

std::string PromptCondition(std::vector<Comparison>& clauses, absl::string_view table,
                            absl::string_view owner_match) {
  bool want_prompts = false;
  for (auto it = clauses.begin(); it != clauses.end();) {
    if (it->key_type == KeyType::kTag && it->key == kIsPromptTag) {
      const std::string* value = std::get_if<std::string>(&it->value);
      std::string lower = value ? *value : "";
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      want_prompts = (it->op == Comparator::kEq && lower == "true") ||
                     (it->op == Comparator::kNe && lower == "false");
      it = clauses.erase(it);
    } else {
      ++it;
    }
  }
  return absl::StrCat(want_prompts ? "EXISTS" : "NOT EXISTS", " (SELECT 1 FROM ", table,
                      " t WHERE ", owner_match, " AND t.key = '", kIsPromptTag,
                      "' AND lower(t.value) = 'true')");
}

}  // namespace

absl::StatusOr<SearchSql> BuildRegisteredModelSearch(const RegisteredModelQuery& query,
                                                     int64_t offset) {
  Query q;
  std::vector<Comparison> clauses = query.filter.clauses;
  q.where.push_back(PromptCondition(clauses, "registered_model_tags", "t.name = rm.name"));
  for (const Comparison& c : clauses) {
    if (c.key_type == KeyType::kAttribute) {
      std::optional<Column> col = RegisteredModelAttribute(c.key);
      if (!col) return UnsupportedKey("registered models", c.key, c.key_type);
      FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql(col->sql, col->kind, c, &q.where_binds));
      q.where.push_back(std::move(cmp));
    } else if (c.key_type == KeyType::kTag) {
      FERRY_ASSIGN_OR_RETURN(std::string exists, TagExists("registered_model_tags",
                                                           "t.name = rm.name", c, &q.where_binds));
      q.where.push_back(std::move(exists));
    } else {
      return UnsupportedKey("registered models", c.key, c.key_type);
    }
  }
  bool ordered_by_name = false;
  for (const search::OrderBy& ob : query.order_by) {
    std::optional<Column> col =
        ob.key_type == KeyType::kAttribute ? RegisteredModelOrderColumn(ob.key) : std::nullopt;
    if (!col) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Invalid order by key '", ob.key,
          "' specified. Valid keys are 'name', 'creation_timestamp', 'last_updated_timestamp'"));
    }
    if (col->sql == "rm.name") ordered_by_name = true;
    q.order.push_back(absl::StrCat(col->sql, " ", Direction(ob.ascending)));
  }
  if (!ordered_by_name) q.order.push_back("rm.name ASC");
  return q.Finish(absl::StrCat("SELECT ", kRegisteredModelColumns, " FROM registered_models rm"),
                  int64_t{query.max_results} + 1, offset);
}

absl::StatusOr<SearchSql> BuildModelVersionSearch(const ModelVersionQuery& query, int64_t offset) {
  Query q;
  std::vector<Comparison> clauses = query.filter.clauses;
  // Prompt versions are those of prompt models (MLflow tags the model).
  q.where.push_back(PromptCondition(clauses, "registered_model_tags", "t.name = mv.name"));
  for (const Comparison& c : clauses) {
    if (c.key_type == KeyType::kAttribute) {
      std::optional<Column> col = ModelVersionAttribute(c.key);
      if (!col) return UnsupportedKey("model versions", c.key, c.key_type);
      FERRY_ASSIGN_OR_RETURN(std::string cmp, CompareSql(col->sql, col->kind, c, &q.where_binds));
      q.where.push_back(std::move(cmp));
    } else if (c.key_type == KeyType::kTag) {
      FERRY_ASSIGN_OR_RETURN(
          std::string exists,
          TagExists("model_version_tags", "t.name = mv.name AND t.version = mv.version", c,
                    &q.where_binds));
      q.where.push_back(std::move(exists));
    } else {
      return UnsupportedKey("model versions", c.key, c.key_type);
    }
  }
  bool ordered_by_name = false;
  bool ordered_by_version = false;
  for (const search::OrderBy& ob : query.order_by) {
    std::optional<Column> col =
        ob.key_type == KeyType::kAttribute ? ModelVersionOrderColumn(ob.key) : std::nullopt;
    if (!col) {
      return absl::InvalidArgumentError(
          absl::StrCat("Invalid order by key '", ob.key,
                       "' specified. Valid keys are 'name', 'version_number', "
                       "'creation_timestamp', 'last_updated_timestamp'"));
    }
    if (col->sql == "mv.name") ordered_by_name = true;
    if (col->sql == "mv.version") ordered_by_version = true;
    q.order.push_back(absl::StrCat(col->sql, " ", Direction(ob.ascending)));
  }
  if (!ordered_by_name) q.order.push_back("mv.name ASC");
  if (!ordered_by_version) q.order.push_back("mv.version DESC");
  return q.Finish(absl::StrCat("SELECT ", kModelVersionColumns, " FROM model_versions mv"),
                  int64_t{query.max_results} + 1, offset);
}

}  // namespace ferry::store::sqlite_internal
