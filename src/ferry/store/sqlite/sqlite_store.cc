#include "ferry/store/sqlite/sqlite_store.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "ferry/common/ids.h"
#include "ferry/common/status.h"
#include "ferry/store/internal/page_token.h"
#include "ferry/store/internal/strings.h"
#include "ferry/store/sqlite/internal/connection.h"
#include "ferry/store/sqlite/internal/like.h"
#include "ferry/store/sqlite/internal/schema.h"
#include "ferry/store/sqlite/internal/search_sql.h"
#include "ferry/store/sqlite/internal/store_access.h"

namespace ferry::store {

using sqlite_internal::Connection;
using sqlite_internal::kExperimentColumns;
using sqlite_internal::kLoggedModelColumns;
using sqlite_internal::kRunColumns;
using sqlite_internal::SqlValue;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;

namespace {

constexpr char kRunNameTag[] = "mlflow.runName";

// Re-run ANALYZE once the runs table has grown this much since the last
// statistics (and at least kAnalyzeMinRuns rows): the planner's choice of
// driving index for a search depends on them.
constexpr int64_t kAnalyzeMinRuns = 1000;
constexpr int64_t kAnalyzeGrowthFactor = 2;
constexpr int64_t kWritesBetweenAnalyzeChecks = 1000;

absl::Status RunNotFound(std::string_view run_id) {
  return absl::NotFoundError(absl::StrCat("Run with id=", internal::Sv(run_id), " not found"));
}

absl::Status ExperimentNotFound(std::string_view experiment_id) {
  return absl::NotFoundError(
      absl::StrCat("No Experiment with id=", internal::Sv(experiment_id), " exists"));
}

absl::Status LoggedModelNotFound(std::string_view model_id) {
  return absl::NotFoundError(
      absl::StrCat("Logged model with ID '", internal::Sv(model_id), "' not found."));
}

std::optional<int64_t> ParseInt64(std::string_view text) {
  int64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// JSON array of integers, bound to `IN (SELECT value FROM json_each(?))` so
// that one cached statement serves any number of ids.
std::string JsonIntArray(const std::vector<int64_t>& ids) {
  return absl::StrCat("[", absl::StrJoin(ids, ","), "]");
}

std::string JsonTextArray(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ",";
    out += "\"";
    for (char c : values[i]) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            snprintf(buf, sizeof(buf), "\\u%04x", c);
            out += buf;
          } else {
            out += c;
          }
      }
    }
    out += "\"";
  }
  out += "]";
  return out;
}

// "{experiment_id}" substituted; when the template has no placeholder and
// `append_id_if_missing`, "/<id>" is appended so that experiments sharing a
// root do not share a location (what MLflow does with its artifact root).
std::string ExpandArtifactLocation(std::string_view location, std::string_view experiment_id,
                                   bool append_id_if_missing) {
  if (location.find("{experiment_id}") != std::string_view::npos) {
    return absl::StrReplaceAll(internal::Sv(location),
                               {{"{experiment_id}", internal::Sv(experiment_id)}});
  }
  if (!append_id_if_missing) return std::string(location);
  std::string out(location);
  if (!out.empty() && out.back() != '/') out += "/";
  return absl::StrCat(out, internal::Sv(experiment_id));
}

// The value metrics are ordered by when step and timestamp tie; MLflow
// compares the stored value, which is 0 for NaN.
double ComparableValue(double value) { return std::isnan(value) ? 0.0 : value; }

bool IsNewer(const Metric& a, const Metric& b) {
  if (a.step != b.step) return a.step > b.step;
  if (a.timestamp != b.timestamp) return a.timestamp > b.timestamp;
  return ComparableValue(a.value) > ComparableValue(b.value);
}

// ---------------------------------------------------------------------------
// Row readers

struct RunRow {
  int64_t id = 0;
  RunInfo info;
};

RunRow ReadRunRow(const Statement& s) {
  RunRow row;
  row.id = s.Int(0);
  row.info.run_id = s.Text(1);
  row.info.run_name = s.Text(2);
  row.info.experiment_id = std::to_string(s.Int(3));
  row.info.user_id = s.Text(4);
  row.info.status = s.Text(5);
  row.info.start_time = s.Int(6);
  if (!s.IsNull(7)) row.info.end_time = s.Int(7);
  row.info.artifact_uri = s.Text(8);
  row.info.lifecycle_stage = s.Text(9);
  return row;
}

absl::StatusOr<RunRow> LoadRunRow(Connection& conn, std::string_view run_uuid) {
  FERRY_ASSIGN_OR_RETURN(
      Statement s,
      conn.Prepare(absl::StrCat("SELECT ", kRunColumns, " FROM runs r WHERE r.run_uuid = ?")));
  s.BindText(1, run_uuid);
  FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
  if (!found) return RunNotFound(run_uuid);
  return ReadRunRow(s);
}

absl::Status CheckRunActive(const RunRow& row) {
  if (row.info.lifecycle_stage == kLifecycleActive) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("The run ", row.info.run_id, " must be in the 'active' state. Current state is ",
                   row.info.lifecycle_stage, "."));
}

absl::StatusOr<RunRow> LoadActiveRunRow(Connection& conn, std::string_view run_uuid) {
  FERRY_ASSIGN_OR_RETURN(RunRow row, LoadRunRow(conn, run_uuid));
  FERRY_RETURN_IF_ERROR(CheckRunActive(row));
  return row;
}

Metric ReadLatestMetric(const Statement& s, int first) {
  // key, value, step, timestamp, is_nan
  Metric m;
  m.key = s.Text(first);
  m.value = s.Int(first + 4) != 0 ? std::numeric_limits<double>::quiet_NaN() : s.Double(first + 1);
  m.step = s.Int(first + 2);
  m.timestamp = s.Int(first + 3);
  return m;
}

// Loads metrics, params, tags, inputs and outputs of `runs` (whose internal
// ids are `ids`, same order) with one query per kind.
absl::Status FillRunData(Connection& conn, std::vector<Run>& runs,
                         const std::vector<int64_t>& ids) {
  if (runs.empty()) return absl::OkStatus();
  std::unordered_map<int64_t, size_t> index;
  for (size_t i = 0; i < ids.size(); ++i) index[ids[i]] = i;
  const std::string id_list = JsonIntArray(ids);
  constexpr char kIn[] = " IN (SELECT value FROM json_each(?))";
  {
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare(absl::StrCat("SELECT run_id, key, value, step, timestamp, is_nan "
                                               "FROM latest_metrics WHERE run_id",
                                               kIn, " ORDER BY run_id, key")));
    s.BindText(1, id_list);
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      Run& run = runs[index[s.Int(0)]];
      Metric m = ReadLatestMetric(s, 1);
      m.run_id = run.info.run_id;
      run.metrics.push_back(std::move(m));
    }
  }
  for (const char* table : {"params", "tags"}) {
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare(absl::StrCat("SELECT run_id, key, value FROM ", table,
                                               " WHERE run_id", kIn, " ORDER BY run_id, key")));
    s.BindText(1, id_list);
    const bool params = std::string_view(table) == "params";
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      Run& run = runs[index[s.Int(0)]];
      if (params) {
        run.params.push_back(Param{s.Text(1), s.Text(2)});
      } else {
        run.tags.push_back(Tag{s.Text(1), s.Text(2)});
      }
    }
  }
  {
    // Dataset inputs in the order they were logged, then their tags.
    std::unordered_map<std::string, std::pair<size_t, size_t>> input_pos;
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare(absl::StrCat(
            "SELECT i.run_id, i.input_uuid, d.name, d.digest, d.source_type, d.source, d.schema, "
            "d.profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.dataset_uuid "
            "WHERE i.run_id",
            kIn, " ORDER BY i.run_id, i.rowid")));
    s.BindText(1, id_list);
    bool any = false;
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      any = true;
      size_t r = index[s.Int(0)];
      DatasetInput input;
      input.dataset = Dataset{s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6), s.Text(7)};
      input_pos[s.Text(1)] = {r, runs[r].dataset_inputs.size()};
      runs[r].dataset_inputs.push_back(std::move(input));
    }
    if (any) {
      FERRY_ASSIGN_OR_RETURN(
          Statement t,
          conn.Prepare(absl::StrCat("SELECT t.input_uuid, t.name, t.value FROM input_tags t "
                                    "JOIN inputs i ON i.input_uuid = t.input_uuid WHERE i.run_id",
                                    kIn, " ORDER BY t.input_uuid, t.name")));
      t.BindText(1, id_list);
      while (true) {
        FERRY_ASSIGN_OR_RETURN(bool row, t.Step());
        if (!row) break;
        auto it = input_pos.find(t.Text(0));
        if (it == input_pos.end()) continue;
        runs[it->second.first].dataset_inputs[it->second.second].tags.push_back(
            Tag{t.Text(1), t.Text(2)});
      }
    }
  }
  {
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare(absl::StrCat("SELECT run_id, model_id FROM run_model_inputs "
                                               "WHERE run_id",
                                               kIn, " ORDER BY run_id, model_id")));
    s.BindText(1, id_list);
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      runs[index[s.Int(0)]].model_inputs.push_back(ModelInput{s.Text(1)});
    }
  }
  {
    FERRY_ASSIGN_OR_RETURN(Statement s, conn.Prepare(absl::StrCat(
                                            "SELECT run_id, model_id, step FROM run_model_outputs "
                                            "WHERE run_id",
                                            kIn, " ORDER BY run_id, step, model_id")));
    s.BindText(1, id_list);
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      runs[index[s.Int(0)]].model_outputs.push_back(ModelOutput{s.Text(1), s.Int(2)});
    }
  }
  return absl::OkStatus();
}

Experiment ReadExperiment(const Statement& s) {
  Experiment e;
  e.experiment_id = std::to_string(s.Int(0));
  e.name = s.Text(1);
  e.artifact_location = s.Text(2);
  e.lifecycle_stage = s.Text(3);
  e.creation_time = s.Int(4);
  e.last_update_time = s.Int(5);
  return e;
}

absl::Status FillExperimentTags(Connection& conn, std::vector<Experiment>& experiments) {
  if (experiments.empty()) return absl::OkStatus();
  std::vector<int64_t> ids;
  std::unordered_map<int64_t, size_t> index;
  for (size_t i = 0; i < experiments.size(); ++i) {
    int64_t id = ParseInt64(experiments[i].experiment_id).value_or(-1);
    ids.push_back(id);
    index[id] = i;
  }
  FERRY_ASSIGN_OR_RETURN(Statement s,
                         conn.Prepare("SELECT experiment_id, key, value FROM experiment_tags WHERE "
                                      "experiment_id IN (SELECT value FROM json_each(?)) "
                                      "ORDER BY experiment_id, key"));
  s.BindText(1, JsonIntArray(ids));
  while (true) {
    FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    experiments[index[s.Int(0)]].tags.push_back(Tag{s.Text(1), s.Text(2)});
  }
  return absl::OkStatus();
}

// NotFound for an id that is not an integer or names no experiment.
absl::StatusOr<Experiment> LoadExperiment(Connection& conn, std::string_view experiment_id) {
  std::optional<int64_t> id = ParseInt64(experiment_id);
  if (!id) return ExperimentNotFound(experiment_id);
  FERRY_ASSIGN_OR_RETURN(
      Statement s, conn.Prepare(absl::StrCat("SELECT ", kExperimentColumns,
                                             " FROM experiments e WHERE e.experiment_id = ?")));
  s.BindInt(1, *id);
  FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
  if (!found) return ExperimentNotFound(experiment_id);
  std::vector<Experiment> out = {ReadExperiment(s)};
  FERRY_RETURN_IF_ERROR(FillExperimentTags(conn, out));
  return std::move(out[0]);
}

absl::Status CheckExperimentActive(const Experiment& e) {
  if (e.lifecycle_stage == kLifecycleActive) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("The experiment ", e.experiment_id,
                   " must be in the 'active' state. Current state is ", e.lifecycle_stage, "."));
}

absl::Status UpsertRunTag(Connection& conn, int64_t run_id, const Tag& tag) {
  FERRY_ASSIGN_OR_RETURN(Statement s,
                         conn.Prepare("INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                                      "ON CONFLICT (run_id, key) DO UPDATE SET value = "
                                      "excluded.value"));
  s.BindInt(1, run_id);
  s.BindText(2, tag.key);
  s.BindText(3, tag.value);
  FERRY_RETURN_IF_ERROR(s.Run());
  if (tag.key == kRunNameTag) {
    FERRY_ASSIGN_OR_RETURN(Statement u, conn.Prepare("UPDATE runs SET name = ? WHERE id = ?"));
    u.BindText(1, tag.value);
    u.BindInt(2, run_id);
    FERRY_RETURN_IF_ERROR(u.Run());
  }
  return absl::OkStatus();
}

// Inserts `params` for the owner row `owner` of `table` (params or
// logged_model_params), enforcing immutability. `owner_kind` and
// `owner_name` only shape the error message.
absl::Status InsertImmutableParams(Connection& conn, std::string_view table,
                                   std::string_view owner_column, const SqlValue& owner,
                                   const std::vector<Param>& params, std::string_view owner_kind,
                                   std::string_view owner_name) {
  if (params.empty()) return absl::OkStatus();
  FERRY_ASSIGN_OR_RETURN(Statement select, conn.Prepare(absl::StrCat(
                                               "SELECT value FROM ", internal::Sv(table), " WHERE ",
                                               internal::Sv(owner_column), " = ? AND key = ?")));
  FERRY_ASSIGN_OR_RETURN(
      Statement insert,
      conn.Prepare(absl::StrCat("INSERT INTO ", internal::Sv(table), " (",
                                internal::Sv(owner_column), ", key, value) VALUES (?, ?, ?)")));
  for (const Param& param : params) {
    select.Bind(1, owner);
    select.BindText(2, param.key);
    FERRY_ASSIGN_OR_RETURN(bool exists, select.Step());
    std::string old_value = exists ? select.Text(0) : std::string();
    FERRY_RETURN_IF_ERROR(select.Run());  // finish, so the statement can be re-bound
    if (exists) {
      if (old_value != param.value) {
        return absl::InvalidArgumentError(
            absl::StrCat("Changing param values is not allowed. Param with key='", param.key,
                         "' was already logged with value='", old_value, "' for ",
                         internal::Sv(owner_kind), " ID='", internal::Sv(owner_name),
                         "'. Attempted logging new value '", param.value, "'."));
      }
      continue;
    }
    insert.Bind(1, owner);
    insert.BindText(2, param.key);
    insert.BindText(3, param.value);
    FERRY_RETURN_IF_ERROR(insert.Run());
  }
  return absl::OkStatus();
}

// Returns the experiment id of a live (not deleted) logged model.
absl::StatusOr<int64_t> LoggedModelExperiment(Connection& conn, std::string_view model_id) {
  FERRY_ASSIGN_OR_RETURN(Statement s,
                         conn.Prepare("SELECT experiment_id FROM logged_models WHERE model_id = ? "
                                      "AND lifecycle_stage = 'active'"));
  s.BindText(1, model_id);
  FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
  if (!found) return LoggedModelNotFound(model_id);
  return s.Int(0);
}

absl::Status InsertLoggedModelMetric(Connection& conn, std::string_view model_id, const Metric& m) {
  FERRY_ASSIGN_OR_RETURN(
      Statement s,
      conn.Prepare("INSERT OR IGNORE INTO logged_model_metrics (model_id, key, step, timestamp, "
                   "value, is_nan, run_id, dataset_name, dataset_digest) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  const bool is_nan = std::isnan(m.value);
  s.BindText(1, model_id);
  s.BindText(2, m.key);
  s.BindInt(3, m.step);
  s.BindInt(4, m.timestamp);
  s.BindDouble(5, is_nan ? 0.0 : m.value);
  s.BindInt(6, is_nan ? 1 : 0);
  s.BindText(7, m.run_id);
  s.BindText(8, m.dataset_name);
  s.BindText(9, m.dataset_digest);
  return s.Run();
}

LoggedModel ReadLoggedModel(const Statement& s) {
  LoggedModel m;
  m.model_id = s.Text(0);
  m.experiment_id = std::to_string(s.Int(1));
  m.name = s.Text(2);
  m.artifact_uri = s.Text(3);
  m.creation_timestamp_ms = s.Int(4);
  m.last_updated_timestamp_ms = s.Int(5);
  m.status = s.Text(6);
  m.status_message = s.Text(7);
  m.model_type = s.Text(8);
  m.source_run_id = s.Text(9);
  return m;
}

absl::Status FillLoggedModelData(Connection& conn, std::vector<LoggedModel>& models) {
  if (models.empty()) return absl::OkStatus();
  std::vector<std::string> ids;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < models.size(); ++i) {
    ids.push_back(models[i].model_id);
    index[models[i].model_id] = i;
  }
  const std::string id_list = JsonTextArray(ids);
  for (const char* table : {"logged_model_tags", "logged_model_params"}) {
    FERRY_ASSIGN_OR_RETURN(Statement s, conn.Prepare(absl::StrCat(
                                            "SELECT model_id, key, value FROM ", table,
                                            " WHERE model_id IN (SELECT value FROM json_each(?)) "
                                            "ORDER BY model_id, key")));
    s.BindText(1, id_list);
    const bool tags = std::string_view(table) == "logged_model_tags";
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      LoggedModel& m = models[index[s.Text(0)]];
      if (tags) {
        m.tags.push_back(Tag{s.Text(1), s.Text(2)});
      } else {
        m.params.push_back(Param{s.Text(1), s.Text(2)});
      }
    }
  }
  FERRY_ASSIGN_OR_RETURN(
      Statement s,
      conn.Prepare("SELECT model_id, key, value, step, timestamp, is_nan, run_id, dataset_name, "
                   "dataset_digest FROM logged_model_metrics WHERE model_id IN "
                   "(SELECT value FROM json_each(?)) ORDER BY model_id, key, step, timestamp"));
  s.BindText(1, id_list);
  while (true) {
    FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    LoggedModel& m = models[index[s.Text(0)]];
    Metric metric = ReadLatestMetric(s, 1);
    metric.run_id = s.Text(6);
    metric.dataset_name = s.Text(7);
    metric.dataset_digest = s.Text(8);
    metric.model_id = m.model_id;
    m.metrics.push_back(std::move(metric));
  }
  return absl::OkStatus();
}

absl::StatusOr<LoggedModel> LoadLoggedModel(Connection& conn, std::string_view model_id) {
  FERRY_ASSIGN_OR_RETURN(
      Statement s, conn.Prepare(absl::StrCat("SELECT ", kLoggedModelColumns,
                                             " FROM logged_models lm WHERE lm.model_id = ? AND "
                                             "lm.lifecycle_stage = 'active'")));
  s.BindText(1, model_id);
  FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
  if (!found) return LoggedModelNotFound(model_id);
  std::vector<LoggedModel> out = {ReadLoggedModel(s)};
  FERRY_RETURN_IF_ERROR(s.Run());
  FERRY_RETURN_IF_ERROR(FillLoggedModelData(conn, out));
  return std::move(out[0]);
}

// Steps to return for one bulk-interval request, as MLflow samples them:
// evenly spaced over the distinct steps in [start, end] of all runs together,
// always including the last step of that range. (MLflow compares the sampled
// index against the number of steps rather than the end index; this version
// stays inside the range.)
std::set<int64_t> SampleSteps(const std::vector<int64_t>& all_steps, int64_t start, int64_t end,
                              int max_results) {
  auto lo = std::lower_bound(all_steps.begin(), all_steps.end(), start);
  auto hi = std::upper_bound(all_steps.begin(), all_steps.end(), end);
  std::set<int64_t> out;
  if (lo >= hi) return out;
  const auto n = static_cast<size_t>(hi - lo);
  if (n <= static_cast<size_t>(max_results)) {
    out.insert(lo, hi);
    return out;
  }
  const double interval = static_cast<double>(n) / max_results;
  for (int i = 0; i < max_results; ++i) {
    auto idx = static_cast<size_t>(i * interval);
    if (idx < n) out.insert(*(lo + static_cast<std::ptrdiff_t>(idx)));
  }
  out.insert(*(hi - 1));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Lifecycle and connection management

SqliteStore::SqliteStore(const SqliteStoreOptions& options) : options_(options) {}

SqliteStore::~SqliteStore() = default;

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Create(
    const SqliteStoreOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("SQLite store needs a path");
  if (options.clock == nullptr) return absl::InvalidArgumentError("SQLite store needs a clock");
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  FERRY_RETURN_IF_ERROR(store->Init());
  return store;
}

namespace {

absl::StatusOr<std::unique_ptr<Connection>> OpenConnection(const std::string& filename,
                                                           int busy_timeout_ms, bool reader) {
  FERRY_ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> conn,
      Connection::Open(
          {.filename = filename, .read_only = false, .busy_timeout_ms = busy_timeout_ms}));
  FERRY_RETURN_IF_ERROR(sqlite_internal::RegisterLikeFunctions(conn->raw()));
  // synchronous=NORMAL in WAL mode: a commit appends to the WAL with write()
  // and returns; the WAL is fsynced at checkpoints. A committed transaction
  // is therefore in the OS page cache before the call returns and survives
  // the process being killed (kill -9); only an OS crash or power loss can
  // drop the last commits, and it never corrupts the database. FULL would
  // add an fsync per commit, which caps small writes at the disk's flush
  // rate.
  FERRY_RETURN_IF_ERROR(conn->Exec(
      "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; "
      "PRAGMA cache_size = -16384;"));
  if (reader) FERRY_RETURN_IF_ERROR(conn->Exec("PRAGMA query_only = ON"));
  return conn;
}

}  // namespace

absl::Status SqliteStore::Init() {
  std::string filename = options_.path;
  in_memory_ = filename == ":memory:";
  if (!in_memory_) {
    std::filesystem::path path(filename);
    if (path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(path.parent_path(), ec);
      if (ec) {
        return absl::UnavailableError(absl::StrCat(
            "cannot create directory '", path.parent_path().string(), "': ", ec.message()));
      }
    }
    // Open by "file:" URI so that '?' or '#' in a path is not taken as URI
    // syntax: percent-encode those.
    std::string uri = "file:";
    for (char c : std::filesystem::absolute(path).string()) {
      if (c == '?' || c == '#' || c == '%') {
        char buf[4];
        snprintf(buf, sizeof(buf), "%%%02X", static_cast<unsigned char>(c));
        uri += buf;
      } else {
        uri += c;
      }
    }
    filename = uri;
  }
  FERRY_ASSIGN_OR_RETURN(writer_,
                         OpenConnection(filename, options_.busy_timeout_ms, /*reader=*/false));
  if (!in_memory_) {
    FERRY_ASSIGN_OR_RETURN(Statement s, writer_->Prepare("PRAGMA journal_mode = WAL"));
    FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row || s.Text(0) != "wal") {
      return absl::InternalError("cannot switch the SQLite database to WAL mode");
    }
  }
  FERRY_RETURN_IF_ERROR(sqlite_internal::Migrate(writer_.get()));

  // Experiment "0" on a database without experiments.
  FERRY_RETURN_IF_ERROR(Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(Statement count, conn.Prepare("SELECT count(*) FROM experiments"));
    FERRY_ASSIGN_OR_RETURN(bool row, count.Step());
    if (row && count.Int(0) > 0) return absl::OkStatus();
    FERRY_RETURN_IF_ERROR(count.Run());
    FERRY_ASSIGN_OR_RETURN(
        Statement insert,
        conn.Prepare("INSERT INTO experiments (experiment_id, name, artifact_location, "
                     "lifecycle_stage, creation_time, last_update_time) "
                     "VALUES (0, ?, ?, 'active', ?, ?)"));
    const int64_t now = options_.clock->NowMillis();
    insert.BindText(1, kDefaultExperimentName);
    insert.BindText(2, ExpandArtifactLocation(options_.default_artifact_root, kDefaultExperimentId,
                                              /*append_id_if_missing=*/true));
    insert.BindInt(3, now);
    insert.BindInt(4, now);
    return insert.Run();
  }));

  if (!in_memory_) {
    const int readers = std::max(1, options_.reader_connections);
    for (int i = 0; i < readers; ++i) {
      FERRY_ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                             OpenConnection(filename, options_.busy_timeout_ms, /*reader=*/true));
      idle_readers_.push_back(reader.get());
      all_readers_.push_back(std::move(reader));
    }
  }
  std::lock_guard<std::mutex> lock(writer_mu_);
  return MaybeAnalyzeLocked(/*force_check=*/true);
}

absl::Status SqliteStore::MaybeAnalyzeLocked(bool force_check) {
  if (!force_check && ++writes_since_analyze_check_ < kWritesBetweenAnalyzeChecks) {
    return absl::OkStatus();
  }
  writes_since_analyze_check_ = 0;
  FERRY_ASSIGN_OR_RETURN(Statement s, writer_->Prepare("SELECT coalesce(max(id), 0) FROM runs"));
  FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
  const int64_t runs = row ? s.Int(0) : 0;
  FERRY_RETURN_IF_ERROR(s.Run());
  if (runs < kAnalyzeMinRuns) return absl::OkStatus();
  if (analyzed_runs_ == 0) {
    // First check since open: the row count the stored statistics saw (the
    // first number of sqlite_stat1.stat); none yet if ANALYZE never ran.
    absl::StatusOr<Statement> stat = writer_->Prepare(
        "SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' AND idx = 'runs_by_experiment'");
    if (stat.ok()) {
      absl::StatusOr<bool> has = stat->Step();
      if (has.ok() && *has) {
        std::string text = stat->Text(0);
        analyzed_runs_ = ParseInt64(text.substr(0, text.find(' '))).value_or(0);
      }
      (void)stat->Run();
    }
  }
  if (analyzed_runs_ > 0 && runs < analyzed_runs_ * kAnalyzeGrowthFactor) return absl::OkStatus();
  FERRY_RETURN_IF_ERROR(AnalyzeLocked());
  analyzed_runs_ = runs;
  return absl::OkStatus();
}

absl::Status SqliteStore::AnalyzeLocked() {
  // analysis_limit bounds the rows ANALYZE reads per index, so statistics
  // stay cheap to refresh on large tables.
  return writer_->Exec("PRAGMA analysis_limit = 2000; ANALYZE;");
}

absl::Status SqliteStore::Optimize() {
  std::lock_guard<std::mutex> lock(writer_mu_);
  FERRY_RETURN_IF_ERROR(AnalyzeLocked());
  return absl::OkStatus();
}

Connection* SqliteStore::AcquireReader() {
  std::unique_lock<std::mutex> lock(readers_mu_);
  readers_cv_.wait(lock, [&] { return !idle_readers_.empty(); });
  Connection* conn = idle_readers_.back();
  idle_readers_.pop_back();
  return conn;
}

void SqliteStore::ReleaseReader(Connection* conn) {
  {
    std::lock_guard<std::mutex> lock(readers_mu_);
    idle_readers_.push_back(conn);
  }
  readers_cv_.notify_one();
}

// ---------------------------------------------------------------------------
// Experiments

absl::StatusOr<std::string> SqliteStore::CreateExperiment(std::string_view name,
                                                          std::string_view artifact_location,
                                                          const std::vector<Tag>& tags) {
  return Write([&](Connection& conn) -> absl::StatusOr<std::string> {
    FERRY_ASSIGN_OR_RETURN(Statement exists,
                           conn.Prepare("SELECT 1 FROM experiments WHERE name = ?"));
    exists.BindText(1, name);
    FERRY_ASSIGN_OR_RETURN(bool taken, exists.Step());
    FERRY_RETURN_IF_ERROR(exists.Run());
    if (taken) {
      return absl::AlreadyExistsError(
          absl::StrCat("Experiment '", internal::Sv(name), "' already exists."));
    }
    const int64_t now = options_.clock->NowMillis();
    FERRY_ASSIGN_OR_RETURN(
        Statement insert,
        conn.Prepare("INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                     "creation_time, last_update_time) VALUES (?, '', 'active', ?, ?)"));
    insert.BindText(1, name);
    insert.BindInt(2, now);
    insert.BindInt(3, now);
    FERRY_RETURN_IF_ERROR(insert.Run());
    const int64_t id = sqlite3_last_insert_rowid(conn.raw());
    const std::string id_text = std::to_string(id);
    std::string location =
        artifact_location.empty()
            ? ExpandArtifactLocation(options_.default_artifact_root, id_text,
                                     /*append_id_if_missing=*/true)
            : ExpandArtifactLocation(artifact_location, id_text, /*append_id_if_missing=*/false);
    FERRY_ASSIGN_OR_RETURN(
        Statement update,
        conn.Prepare("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?"));
    update.BindText(1, location);
    update.BindInt(2, id);
    FERRY_RETURN_IF_ERROR(update.Run());
    FERRY_ASSIGN_OR_RETURN(
        Statement tag,
        conn.Prepare("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
                     "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value"));
    for (const Tag& t : tags) {
      tag.BindInt(1, id);
      tag.BindText(2, t.key);
      tag.BindText(3, t.value);
      FERRY_RETURN_IF_ERROR(tag.Run());
    }
    return id_text;
  });
}

absl::StatusOr<Experiment> SqliteStore::GetExperiment(std::string_view experiment_id) {
  return Read([&](Connection& conn) { return LoadExperiment(conn, experiment_id); });
}

absl::StatusOr<Experiment> SqliteStore::GetExperimentByName(std::string_view name) {
  return Read([&](Connection& conn) -> absl::StatusOr<Experiment> {
    FERRY_ASSIGN_OR_RETURN(Statement s,
                           conn.Prepare(absl::StrCat("SELECT ", kExperimentColumns,
                                                     " FROM experiments e WHERE e.name = ?")));
    s.BindText(1, name);
    FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("Could not find experiment with name '", internal::Sv(name), "'"));
    }
    std::vector<Experiment> out = {ReadExperiment(s)};
    FERRY_RETURN_IF_ERROR(s.Run());
    FERRY_RETURN_IF_ERROR(FillExperimentTags(conn, out));
    return std::move(out[0]);
  });
}

absl::StatusOr<Page<Experiment>> SqliteStore::SearchExperiments(const ExperimentQuery& query) {
  if (query.max_results < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid value for max_results. It must be a positive integer, but got ",
                     query.max_results));
  }
  FERRY_ASSIGN_OR_RETURN(int64_t offset, internal::DecodePageToken(query.page_token));
  FERRY_ASSIGN_OR_RETURN(sqlite_internal::SearchSql sql,
                         sqlite_internal::BuildExperimentSearch(query, offset));
  return Read([&](Connection& conn) -> absl::StatusOr<Page<Experiment>> {
    FERRY_ASSIGN_OR_RETURN(
        Page<Experiment> page,
        sqlite_internal::ReadPage<Experiment>(conn, sql, offset, query.max_results,
                                              [](Statement& s) { return ReadExperiment(s); }));
    FERRY_RETURN_IF_ERROR(FillExperimentTags(conn, page.items));
    return page;
  });
}

absl::Status SqliteStore::RenameExperiment(std::string_view experiment_id,
                                           std::string_view new_name) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(Experiment e, LoadExperiment(conn, experiment_id));
    if (e.lifecycle_stage != kLifecycleActive) {
      return absl::FailedPreconditionError("Cannot rename a non-active experiment.");
    }
    if (e.name == new_name) return absl::OkStatus();
    FERRY_ASSIGN_OR_RETURN(Statement exists,
                           conn.Prepare("SELECT 1 FROM experiments WHERE name = ?"));
    exists.BindText(1, new_name);
    FERRY_ASSIGN_OR_RETURN(bool taken, exists.Step());
    FERRY_RETURN_IF_ERROR(exists.Run());
    if (taken) {
      return absl::AlreadyExistsError(
          absl::StrCat("Experiment '", internal::Sv(new_name), "' already exists."));
    }
    FERRY_ASSIGN_OR_RETURN(Statement update,
                           conn.Prepare("UPDATE experiments SET name = ?, last_update_time = ? "
                                        "WHERE experiment_id = ?"));
    update.BindText(1, new_name);
    update.BindInt(2, options_.clock->NowMillis());
    update.BindText(3, e.experiment_id);
    return update.Run();
  });
}

absl::Status SqliteStore::DeleteExperiment(std::string_view experiment_id) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(Experiment e, LoadExperiment(conn, experiment_id));
    if (e.lifecycle_stage != kLifecycleActive) return ExperimentNotFound(experiment_id);
    const int64_t now = options_.clock->NowMillis();
    // The runs deleted here carry deleted_time == the experiment's
    // last_update_time, which RestoreExperiment uses to bring back exactly
    // these runs and not those deleted on their own before.
    FERRY_ASSIGN_OR_RETURN(
        Statement update,
        conn.Prepare("UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = ? "
                     "WHERE experiment_id = ?"));
    update.BindInt(1, now);
    update.BindText(2, e.experiment_id);
    FERRY_RETURN_IF_ERROR(update.Run());
    FERRY_ASSIGN_OR_RETURN(
        Statement runs,
        conn.Prepare("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? "
                     "WHERE experiment_id = ? AND lifecycle_stage = 'active'"));
    runs.BindInt(1, now);
    runs.BindText(2, e.experiment_id);
    return runs.Run();
  });
}

absl::Status SqliteStore::RestoreExperiment(std::string_view experiment_id) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(Experiment e, LoadExperiment(conn, experiment_id));
    if (e.lifecycle_stage != kLifecycleDeleted) return ExperimentNotFound(experiment_id);
    FERRY_ASSIGN_OR_RETURN(
        Statement runs,
        conn.Prepare("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL "
                     "WHERE experiment_id = ? AND lifecycle_stage = 'deleted' AND "
                     "deleted_time = ?"));
    runs.BindText(1, e.experiment_id);
    runs.BindInt(2, e.last_update_time);
    FERRY_RETURN_IF_ERROR(runs.Run());
    FERRY_ASSIGN_OR_RETURN(
        Statement update,
        conn.Prepare("UPDATE experiments SET lifecycle_stage = 'active', last_update_time = ? "
                     "WHERE experiment_id = ?"));
    update.BindInt(1, options_.clock->NowMillis());
    update.BindText(2, e.experiment_id);
    return update.Run();
  });
}

absl::Status SqliteStore::SetExperimentTag(std::string_view experiment_id, const Tag& tag) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(Experiment e, LoadExperiment(conn, experiment_id));
    FERRY_RETURN_IF_ERROR(CheckExperimentActive(e));
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
                     "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value"));
    s.BindText(1, e.experiment_id);
    s.BindText(2, tag.key);
    s.BindText(3, tag.value);
    return s.Run();
  });
}

absl::Status SqliteStore::DeleteExperimentTag(std::string_view experiment_id,
                                              std::string_view key) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(Experiment e, LoadExperiment(conn, experiment_id));
    FERRY_RETURN_IF_ERROR(CheckExperimentActive(e));
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?"));
    s.BindText(1, e.experiment_id);
    s.BindText(2, key);
    FERRY_RETURN_IF_ERROR(s.Run());
    if (conn.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("No tag with name: ", internal::Sv(key),
                                              " in experiment with id ",
                                              internal::Sv(experiment_id)));
    }
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------
// Runs

absl::StatusOr<Run> SqliteStore::CreateRun(const NewRun& new_run) {
  std::string run_name = new_run.run_name;
  std::optional<std::string> name_tag;
  for (const Tag& t : new_run.tags) {
    if (t.key == kRunNameTag) name_tag = t.value;
  }
  if (!run_name.empty() && name_tag && *name_tag != run_name) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
        "values (run_name='",
        run_name, "', mlflow.runName='", *name_tag, "')."));
  }
  if (run_name.empty() && name_tag) run_name = *name_tag;

  return Write([&](Connection& conn) -> absl::StatusOr<Run> {
    FERRY_ASSIGN_OR_RETURN(Experiment e, LoadExperiment(conn, new_run.experiment_id));
    FERRY_RETURN_IF_ERROR(CheckExperimentActive(e));
    Run run;
    run.info.run_id = NewHexId();
    run.info.run_name = run_name;
    run.info.experiment_id = e.experiment_id;
    run.info.user_id = new_run.user_id;
    run.info.status = "RUNNING";
    run.info.start_time = new_run.start_time;
    run.info.lifecycle_stage = kLifecycleActive;
    run.info.artifact_uri =
        new_run.artifact_uri_template.empty()
            ? absl::StrCat(e.artifact_location, "/", run.info.run_id, "/artifacts")
            : absl::StrReplaceAll(new_run.artifact_uri_template, {{"{run_id}", run.info.run_id}});
    FERRY_ASSIGN_OR_RETURN(
        Statement insert,
        conn.Prepare("INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, "
                     "start_time, artifact_uri, lifecycle_stage) "
                     "VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, 'active')"));
    insert.BindText(1, run.info.run_id);
    insert.BindText(2, e.experiment_id);
    insert.BindText(3, run.info.run_name);
    insert.BindText(4, run.info.user_id);
    insert.BindInt(5, run.info.start_time);
    insert.BindText(6, run.info.artifact_uri);
    FERRY_RETURN_IF_ERROR(insert.Run());
    const int64_t id = sqlite3_last_insert_rowid(conn.raw());
    std::map<std::string, std::string> tags;
    for (const Tag& t : new_run.tags) tags[t.key] = t.value;
    if (!run_name.empty()) tags[kRunNameTag] = run_name;
    for (const auto& [key, value] : tags) {
      FERRY_RETURN_IF_ERROR(UpsertRunTag(conn, id, Tag{key, value}));
      run.tags.push_back(Tag{key, value});
    }
    return run;
  });
}

absl::StatusOr<Run> SqliteStore::GetRun(std::string_view run_id) {
  return Read([&](Connection& conn) -> absl::StatusOr<Run> {
    FERRY_ASSIGN_OR_RETURN(RunRow row, LoadRunRow(conn, run_id));
    std::vector<Run> runs(1);
    runs[0].info = std::move(row.info);
    FERRY_RETURN_IF_ERROR(FillRunData(conn, runs, {row.id}));
    return std::move(runs[0]);
  });
}

absl::StatusOr<RunInfo> SqliteStore::UpdateRun(std::string_view run_id, const RunUpdate& update) {
  return Write([&](Connection& conn) -> absl::StatusOr<RunInfo> {
    FERRY_ASSIGN_OR_RETURN(RunRow row, LoadActiveRunRow(conn, run_id));
    if (update.status) row.info.status = *update.status;
    if (update.end_time) row.info.end_time = *update.end_time;
    FERRY_ASSIGN_OR_RETURN(Statement s,
                           conn.Prepare("UPDATE runs SET status = ?, end_time = ? WHERE id = ?"));
    s.BindText(1, row.info.status);
    if (row.info.end_time) {
      s.BindInt(2, *row.info.end_time);
    } else {
      s.BindNull(2);
    }
    s.BindInt(3, row.id);
    FERRY_RETURN_IF_ERROR(s.Run());
    if (update.run_name && !update.run_name->empty()) {
      row.info.run_name = *update.run_name;
      FERRY_RETURN_IF_ERROR(UpsertRunTag(conn, row.id, Tag{kRunNameTag, *update.run_name}));
    }
    return row.info;
  });
}

absl::Status SqliteStore::DeleteRun(std::string_view run_id) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(RunRow row, LoadRunRow(conn, run_id));
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE id = ?"));
    s.BindInt(1, options_.clock->NowMillis());
    s.BindInt(2, row.id);
    return s.Run();
  });
}

absl::Status SqliteStore::RestoreRun(std::string_view run_id) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(RunRow row, LoadRunRow(conn, run_id));
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL "
                                  "WHERE id = ?"));
    s.BindInt(1, row.id);
    return s.Run();
  });
}

absl::Status SqliteStore::LogBatch(std::string_view run_id, const std::vector<Metric>& metrics,
                                   const std::vector<Param>& params, const std::vector<Tag>& tags) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(RunRow row, LoadActiveRunRow(conn, run_id));
    FERRY_RETURN_IF_ERROR(InsertImmutableParams(conn, "params", "run_id", SqlValue(row.id), params,
                                                "run", row.info.run_id));
    if (!metrics.empty()) {
      FERRY_ASSIGN_OR_RETURN(
          Statement history,
          conn.Prepare("INSERT OR IGNORE INTO metrics (run_id, key, step, timestamp, value, "
                       "is_nan) VALUES (?, ?, ?, ?, ?, ?)"));
      // The newest value per key in this batch; one upsert per key below.
      std::unordered_map<std::string_view, const Metric*> newest;
      std::set<std::string_view> live_models;
      for (const Metric& m : metrics) {
        const bool is_nan = std::isnan(m.value);
        history.BindInt(1, row.id);
        history.BindText(2, m.key);
        history.BindInt(3, m.step);
        history.BindInt(4, m.timestamp);
        history.BindDouble(5, is_nan ? 0.0 : m.value);
        history.BindInt(6, is_nan ? 1 : 0);
        FERRY_RETURN_IF_ERROR(history.Run());
        auto [it, inserted] = newest.try_emplace(m.key, &m);
        if (!inserted && IsNewer(m, *it->second)) it->second = &m;
        if (!m.model_id.empty()) {
          if (live_models.insert(m.model_id).second) {
            FERRY_RETURN_IF_ERROR(LoggedModelExperiment(conn, m.model_id).status());
          }
          Metric model_metric = m;
          model_metric.run_id = row.info.run_id;
          FERRY_RETURN_IF_ERROR(InsertLoggedModelMetric(conn, m.model_id, model_metric));
        }
      }
      FERRY_ASSIGN_OR_RETURN(
          Statement latest,
          conn.Prepare(
              "INSERT INTO latest_metrics (run_id, key, value, step, timestamp, is_nan) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (run_id, key) DO UPDATE SET "
              "value = excluded.value, step = excluded.step, timestamp = excluded.timestamp, "
              "is_nan = excluded.is_nan WHERE (excluded.step, excluded.timestamp, ?7) > "
              "(latest_metrics.step, latest_metrics.timestamp, "
              "coalesce(latest_metrics.value, 0.0))"));
      for (const auto& [key, m] : newest) {
        latest.BindInt(1, row.id);
        latest.BindText(2, key);
        latest.BindDouble(3, m->value);  // NaN binds NULL
        latest.BindInt(4, m->step);
        latest.BindInt(5, m->timestamp);
        latest.BindInt(6, std::isnan(m->value) ? 1 : 0);
        latest.BindDouble(7, ComparableValue(m->value));
        FERRY_RETURN_IF_ERROR(latest.Run());
      }
    }
    for (const Tag& tag : tags) FERRY_RETURN_IF_ERROR(UpsertRunTag(conn, row.id, tag));
    return absl::OkStatus();
  });
}

absl::Status SqliteStore::DeleteTag(std::string_view run_id, std::string_view key) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(RunRow row, LoadActiveRunRow(conn, run_id));
    FERRY_ASSIGN_OR_RETURN(Statement s,
                           conn.Prepare("DELETE FROM tags WHERE run_id = ? AND key = ?"));
    s.BindInt(1, row.id);
    s.BindText(2, key);
    FERRY_RETURN_IF_ERROR(s.Run());
    if (conn.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("No tag with name: ", internal::Sv(key),
                                              " in run with id ", internal::Sv(run_id)));
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteStore::LogInputs(std::string_view run_id,
                                    const std::vector<DatasetInput>& datasets,
                                    const std::vector<ModelInput>& models) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(RunRow row, LoadActiveRunRow(conn, run_id));
    std::set<std::pair<std::string, std::string>> seen;
    FERRY_ASSIGN_OR_RETURN(
        Statement find_dataset,
        conn.Prepare("SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? "
                     "AND digest = ?"));
    FERRY_ASSIGN_OR_RETURN(
        Statement insert_dataset,
        conn.Prepare("INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, "
                     "source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    FERRY_ASSIGN_OR_RETURN(
        Statement find_input,
        conn.Prepare("SELECT 1 FROM inputs WHERE run_id = ? AND dataset_uuid = ?"));
    FERRY_ASSIGN_OR_RETURN(
        Statement insert_input,
        conn.Prepare("INSERT INTO inputs (input_uuid, dataset_uuid, run_id) VALUES (?, ?, ?)"));
    FERRY_ASSIGN_OR_RETURN(
        Statement insert_tag,
        conn.Prepare("INSERT INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?) "
                     "ON CONFLICT (input_uuid, name) DO UPDATE SET value = excluded.value"));
    for (const DatasetInput& input : datasets) {
      // The first of several inputs with the same name and digest wins.
      if (!seen.emplace(input.dataset.name, input.dataset.digest).second) continue;
      find_dataset.BindText(1, row.info.experiment_id);
      find_dataset.BindText(2, input.dataset.name);
      find_dataset.BindText(3, input.dataset.digest);
      FERRY_ASSIGN_OR_RETURN(bool found, find_dataset.Step());
      std::string dataset_uuid = found ? find_dataset.Text(0) : NewHexId();
      FERRY_RETURN_IF_ERROR(find_dataset.Run());
      if (!found) {
        insert_dataset.BindText(1, dataset_uuid);
        insert_dataset.BindText(2, row.info.experiment_id);
        insert_dataset.BindText(3, input.dataset.name);
        insert_dataset.BindText(4, input.dataset.digest);
        insert_dataset.BindText(5, input.dataset.source_type);
        insert_dataset.BindText(6, input.dataset.source);
        insert_dataset.BindText(7, input.dataset.schema);
        insert_dataset.BindText(8, input.dataset.profile);
        FERRY_RETURN_IF_ERROR(insert_dataset.Run());
      }
      find_input.BindInt(1, row.id);
      find_input.BindText(2, dataset_uuid);
      FERRY_ASSIGN_OR_RETURN(bool linked, find_input.Step());
      FERRY_RETURN_IF_ERROR(find_input.Run());
      if (linked) continue;  // already an input of this run: MLflow keeps the first tags
      const std::string input_uuid = NewHexId();
      insert_input.BindText(1, input_uuid);
      insert_input.BindText(2, dataset_uuid);
      insert_input.BindInt(3, row.id);
      FERRY_RETURN_IF_ERROR(insert_input.Run());
      for (const Tag& tag : input.tags) {
        insert_tag.BindText(1, input_uuid);
        insert_tag.BindText(2, tag.key);
        insert_tag.BindText(3, tag.value);
        FERRY_RETURN_IF_ERROR(insert_tag.Run());
      }
    }
    if (!models.empty()) {
      FERRY_ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("INSERT OR IGNORE INTO run_model_inputs (run_id, model_id) VALUES (?, ?)"));
      for (const ModelInput& m : models) {
        s.BindInt(1, row.id);
        s.BindText(2, m.model_id);
        FERRY_RETURN_IF_ERROR(s.Run());
      }
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteStore::LogOutputs(std::string_view run_id,
                                     const std::vector<ModelOutput>& models) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_ASSIGN_OR_RETURN(RunRow row, LoadActiveRunRow(conn, run_id));
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare("INSERT OR IGNORE INTO run_model_outputs (run_id, model_id, "
                                  "step) VALUES (?, ?, ?)"));
    for (const ModelOutput& m : models) {
      s.BindInt(1, row.id);
      s.BindText(2, m.model_id);
      s.BindInt(3, m.step);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    return absl::OkStatus();
  });
}

namespace {

absl::StatusOr<sqlite_internal::RunSearchPlan> PlanRunSearch(Connection& conn,
                                                             const RunQuery& query) {
  return sqlite_internal::BuildRunSearch(
      query, [&](const sqlite_internal::SearchSql& probe) -> absl::StatusOr<int64_t> {
        FERRY_ASSIGN_OR_RETURN(Statement s, conn.Prepare(probe.sql));
        s.BindAll(probe.binds);
        FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
        const int64_t rows = row ? s.Int(0) : 0;
        FERRY_RETURN_IF_ERROR(s.Run());
        return rows;
      });
}

}  // namespace

absl::StatusOr<Page<Run>> SqliteStore::SearchRuns(const RunQuery& query) {
  if (query.max_results < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid value for max_results. It must be a positive integer, but got ",
                     query.max_results));
  }
  FERRY_ASSIGN_OR_RETURN(int64_t offset, internal::DecodePageToken(query.page_token));
  return Read([&](Connection& conn) -> absl::StatusOr<Page<Run>> {
    FERRY_ASSIGN_OR_RETURN(sqlite_internal::RunSearchPlan plan, PlanRunSearch(conn, query));
    Page<Run> page;
    std::vector<int64_t> ids;
    // One row more than a page tells whether another page follows.
    int64_t wanted = int64_t{query.max_results} + 1;
    int64_t skip = offset;  // rows still to skip, counted from the current segment
    for (size_t i = 0; i < plan.segments.size() && wanted > 0; ++i) {
      FERRY_ASSIGN_OR_RETURN(Statement s, conn.Prepare(plan.segments[i].sql));
      std::vector<SqlValue> binds = plan.segments[i].binds;
      binds.push_back(SqlValue(wanted));
      binds.push_back(SqlValue(skip));
      s.BindAll(binds);
      int64_t got = 0;
      while (true) {
        FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        RunRow run_row = ReadRunRow(s);
        ids.push_back(run_row.id);
        page.items.emplace_back().info = std::move(run_row.info);
        ++got;
      }
      wanted -= got;
      if (wanted == 0 || i + 1 == plan.segments.size()) break;
      if (got > 0 || skip == 0) {
        skip = 0;  // this segment ended inside the page
        continue;
      }
      // The whole segment lies before the page: skip past it.
      FERRY_ASSIGN_OR_RETURN(Statement count, conn.Prepare(plan.counts[i].sql));
      count.BindAll(plan.counts[i].binds);
      FERRY_ASSIGN_OR_RETURN(bool row, count.Step());
      skip = std::max<int64_t>(0, skip - (row ? count.Int(0) : 0));
      FERRY_RETURN_IF_ERROR(count.Run());
    }
    if (page.items.size() > static_cast<size_t>(query.max_results)) {
      page.items.resize(static_cast<size_t>(query.max_results));
      ids.resize(static_cast<size_t>(query.max_results));
      page.next_page_token = internal::EncodePageToken(offset + query.max_results);
    }
    FERRY_RETURN_IF_ERROR(FillRunData(conn, page.items, ids));
    return page;
  });
}

absl::StatusOr<std::string> SqliteStore::ExplainSearchRuns(const RunQuery& query) {
  return Read([&](Connection& conn) -> absl::StatusOr<std::string> {
    FERRY_ASSIGN_OR_RETURN(sqlite_internal::RunSearchPlan plan, PlanRunSearch(conn, query));
    std::string out;
    for (size_t i = 0; i < plan.segments.size(); ++i) {
      if (plan.segments.size() > 1) absl::StrAppend(&out, "segment ", i, ":\n");
      FERRY_ASSIGN_OR_RETURN(Statement s,
                             conn.Prepare("EXPLAIN QUERY PLAN " + plan.segments[i].sql));
      std::vector<SqlValue> binds = plan.segments[i].binds;
      binds.push_back(SqlValue(int64_t{query.max_results} + 1));
      binds.push_back(SqlValue(int64_t{0}));
      s.BindAll(binds);
      while (true) {
        FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        absl::StrAppend(&out, s.Text(3), "\n");
      }
    }
    return out;
  });
}

// ---------------------------------------------------------------------------
// Metric history

absl::StatusOr<Page<Metric>> SqliteStore::GetMetricHistory(std::string_view run_id,
                                                           std::string_view key, int max_results,
                                                           std::string_view page_token) {
  FERRY_ASSIGN_OR_RETURN(int64_t offset, internal::DecodePageToken(page_token));
  return Read([&](Connection& conn) -> absl::StatusOr<Page<Metric>> {
    FERRY_ASSIGN_OR_RETURN(RunRow row, LoadRunRow(conn, run_id));
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare("SELECT key, value, step, timestamp, is_nan FROM metrics "
                                  "WHERE run_id = ? AND key = ? ORDER BY step, timestamp, value "
                                  "LIMIT ? OFFSET ?"));
    s.BindInt(1, row.id);
    s.BindText(2, key);
    s.BindInt(3, max_results > 0 ? int64_t{max_results} + 1 : -1);
    s.BindInt(4, offset);
    Page<Metric> page;
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool more, s.Step());
      if (!more) break;
      Metric m = ReadLatestMetric(s, 0);
      m.run_id = row.info.run_id;
      page.items.push_back(std::move(m));
    }
    if (max_results > 0 && page.items.size() > static_cast<size_t>(max_results)) {
      page.items.resize(static_cast<size_t>(max_results));
      page.next_page_token = internal::EncodePageToken(offset + max_results);
    }
    return page;
  });
}

absl::StatusOr<std::vector<Metric>> SqliteStore::GetMetricHistoryBulkInterval(
    const std::vector<std::string>& run_ids, std::string_view key,
    std::optional<int64_t> start_step, std::optional<int64_t> end_step, int max_results) {
  if (max_results < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_results must be a positive integer, but got ", max_results));
  }
  if (start_step && end_step && *start_step > *end_step) {
    return absl::InvalidArgumentError(
        absl::StrCat("end_step must be greater than start_step. Found start_step=", *start_step,
                     " and end_step=", *end_step, "."));
  }
  return Read([&](Connection& conn) -> absl::StatusOr<std::vector<Metric>> {
    struct RunSteps {
      RunRow row;
      std::vector<int64_t> steps;  // sorted, distinct
    };
    std::vector<RunSteps> runs;
    std::set<std::string_view> seen;
    FERRY_ASSIGN_OR_RETURN(
        Statement steps,
        conn.Prepare("SELECT DISTINCT step FROM metrics WHERE run_id = ? AND key = ? "
                     "ORDER BY step"));
    for (const std::string& run_id : run_ids) {
      if (!seen.insert(run_id).second) continue;
      absl::StatusOr<RunRow> row = LoadRunRow(conn, run_id);
      if (absl::IsNotFound(row.status())) continue;  // unknown runs contribute nothing
      if (!row.ok()) return row.status();
      RunSteps& r = runs.emplace_back(RunSteps{std::move(*row), {}});
      steps.BindInt(1, r.row.id);
      steps.BindText(2, key);
      while (true) {
        FERRY_ASSIGN_OR_RETURN(bool more, steps.Step());
        if (!more) break;
        r.steps.push_back(steps.Int(0));
      }
    }
    std::vector<int64_t> all_steps;
    for (const RunSteps& r : runs)
      all_steps.insert(all_steps.end(), r.steps.begin(), r.steps.end());
    std::sort(all_steps.begin(), all_steps.end());
    all_steps.erase(std::unique(all_steps.begin(), all_steps.end()), all_steps.end());
    std::vector<Metric> out;
    if (all_steps.empty()) return out;
    const int64_t start = start_step.value_or(all_steps.front());
    const int64_t end = end_step.value_or(all_steps.back());
    std::set<int64_t> sampled = SampleSteps(all_steps, start, end, max_results);
    // Every run's own first and last step in range are kept too.
    for (const RunSteps& r : runs) {
      auto lo = std::lower_bound(r.steps.begin(), r.steps.end(), start);
      auto hi = std::upper_bound(r.steps.begin(), r.steps.end(), end);
      if (lo < hi) {
        sampled.insert(*lo);
        sampled.insert(*(hi - 1));
      }
    }
    const std::string step_list =
        JsonIntArray(std::vector<int64_t>(sampled.begin(), sampled.end()));
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("SELECT key, value, step, timestamp, is_nan FROM metrics WHERE run_id = ? "
                     "AND key = ? AND step IN (SELECT value FROM json_each(?)) "
                     "ORDER BY step, timestamp, value"));
    for (const RunSteps& r : runs) {
      s.BindInt(1, r.row.id);
      s.BindText(2, key);
      s.BindText(3, step_list);
      while (true) {
        FERRY_ASSIGN_OR_RETURN(bool more, s.Step());
        if (!more) break;
        Metric m = ReadLatestMetric(s, 0);
        m.run_id = r.row.info.run_id;
        out.push_back(std::move(m));
      }
    }
    return out;
  });
}

// ---------------------------------------------------------------------------
// Logged models

absl::StatusOr<LoggedModel> SqliteStore::CreateLoggedModel(const LoggedModel& model) {
  if (model.model_id.empty()) return absl::InvalidArgumentError("A logged model needs an id");
  return Write([&](Connection& conn) -> absl::StatusOr<LoggedModel> {
    FERRY_ASSIGN_OR_RETURN(Experiment e, LoadExperiment(conn, model.experiment_id));
    FERRY_RETURN_IF_ERROR(CheckExperimentActive(e));
    const int64_t now = options_.clock->NowMillis();
    const int64_t created = model.creation_timestamp_ms != 0 ? model.creation_timestamp_ms : now;
    const int64_t updated =
        model.last_updated_timestamp_ms != 0 ? model.last_updated_timestamp_ms : created;
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, "
                     "creation_timestamp_ms, last_updated_timestamp_ms, status, status_message, "
                     "model_type, source_run_id, lifecycle_stage) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active')"));
    s.BindText(1, model.model_id);
    s.BindText(2, e.experiment_id);
    s.BindText(3, model.name);
    s.BindText(4, model.artifact_uri);
    s.BindInt(5, created);
    s.BindInt(6, updated);
    s.BindText(7, model.status);
    s.BindText(8, model.status_message);
    s.BindText(9, model.model_type);
    s.BindText(10, model.source_run_id);
    absl::Status inserted = s.Run();
    if (absl::IsAlreadyExists(inserted)) {
      return absl::AlreadyExistsError(
          absl::StrCat("Logged model with ID '", model.model_id, "' already exists."));
    }
    FERRY_RETURN_IF_ERROR(inserted);
    FERRY_ASSIGN_OR_RETURN(
        Statement tag,
        conn.Prepare("INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?) "
                     "ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"));
    for (const Tag& t : model.tags) {
      tag.BindText(1, model.model_id);
      tag.BindText(2, t.key);
      tag.BindText(3, t.value);
      FERRY_RETURN_IF_ERROR(tag.Run());
    }
    FERRY_RETURN_IF_ERROR(InsertImmutableParams(conn, "logged_model_params", "model_id",
                                                SqlValue(model.model_id), model.params,
                                                "logged model", model.model_id));
    for (const Metric& m : model.metrics) {
      FERRY_RETURN_IF_ERROR(InsertLoggedModelMetric(conn, model.model_id, m));
    }
    return LoadLoggedModel(conn, model.model_id);
  });
}

absl::StatusOr<LoggedModel> SqliteStore::GetLoggedModel(std::string_view model_id) {
  return Read([&](Connection& conn) { return LoadLoggedModel(conn, model_id); });
}

absl::StatusOr<LoggedModel> SqliteStore::FinalizeLoggedModel(std::string_view model_id,
                                                             std::string_view status) {
  return Write([&](Connection& conn) -> absl::StatusOr<LoggedModel> {
    FERRY_RETURN_IF_ERROR(LoggedModelExperiment(conn, model_id).status());
    FERRY_ASSIGN_OR_RETURN(Statement s,
                           conn.Prepare("UPDATE logged_models SET status = ?, "
                                        "last_updated_timestamp_ms = ? WHERE model_id = ?"));
    s.BindText(1, status);
    s.BindInt(2, options_.clock->NowMillis());
    s.BindText(3, model_id);
    FERRY_RETURN_IF_ERROR(s.Run());
    return LoadLoggedModel(conn, model_id);
  });
}

absl::Status SqliteStore::SetLoggedModelTags(std::string_view model_id,
                                             const std::vector<Tag>& tags) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(LoggedModelExperiment(conn, model_id).status());
    FERRY_ASSIGN_OR_RETURN(
        Statement tag,
        conn.Prepare("INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?) "
                     "ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"));
    for (const Tag& t : tags) {
      tag.BindText(1, model_id);
      tag.BindText(2, t.key);
      tag.BindText(3, t.value);
      FERRY_RETURN_IF_ERROR(tag.Run());
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteStore::DeleteLoggedModelTag(std::string_view model_id, std::string_view key) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(LoggedModelExperiment(conn, model_id).status());
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare("DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?"));
    s.BindText(1, model_id);
    s.BindText(2, key);
    FERRY_RETURN_IF_ERROR(s.Run());
    if (conn.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("No tag with key '", internal::Sv(key),
                                              "' found for model with ID '", internal::Sv(model_id),
                                              "'."));
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteStore::LogLoggedModelParams(std::string_view model_id,
                                               const std::vector<Param>& params) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(LoggedModelExperiment(conn, model_id).status());
    return InsertImmutableParams(conn, "logged_model_params", "model_id",
                                 SqlValue(std::string(model_id)), params, "logged model", model_id);
  });
}

absl::Status SqliteStore::DeleteLoggedModel(std::string_view model_id) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(LoggedModelExperiment(conn, model_id).status());
    FERRY_ASSIGN_OR_RETURN(Statement s,
                           conn.Prepare("UPDATE logged_models SET lifecycle_stage = 'deleted', "
                                        "last_updated_timestamp_ms = ? WHERE model_id = ?"));
    s.BindInt(1, options_.clock->NowMillis());
    s.BindText(2, model_id);
    return s.Run();
  });
}

absl::StatusOr<Page<LoggedModel>> SqliteStore::SearchLoggedModels(const LoggedModelQuery& query) {
  if (query.max_results < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid value for max_results. It must be a positive integer, but got ",
                     query.max_results));
  }
  FERRY_ASSIGN_OR_RETURN(int64_t offset, internal::DecodePageToken(query.page_token));
  FERRY_ASSIGN_OR_RETURN(sqlite_internal::SearchSql sql,
                         sqlite_internal::BuildLoggedModelSearch(query, offset));
  if (sql.sql.empty()) return Page<LoggedModel>{};
  return Read([&](Connection& conn) -> absl::StatusOr<Page<LoggedModel>> {
    FERRY_ASSIGN_OR_RETURN(
        Page<LoggedModel> page,
        sqlite_internal::ReadPage<LoggedModel>(conn, sql, offset, query.max_results,
                                               [](Statement& s) { return ReadLoggedModel(s); }));
    FERRY_RETURN_IF_ERROR(FillLoggedModelData(conn, page.items));
    return page;
  });
}

}  // namespace ferry::store
