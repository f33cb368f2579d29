#include "ferry/store/sqlite/internal/schema.h"

#include <iterator>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ferry::store::sqlite_internal {
namespace {

struct Migration {
  int version;
  std::string_view sql;
};

// Notes on the shape of the schema:
// - runs has an INTEGER primary key `id` that child tables reference; the
//   32-hex run_uuid is the public id. Integer keys halve the size of every
//   child index and make the search joins cheaper.
// - Child tables keyed by their owner are WITHOUT ROWID so the primary key is
//   the table (one B-tree, rows clustered per run).
// - metrics is the full history; latest_metrics holds one row per run and key
//   (max step, then max timestamp, then max value) so that GetRun and
//   SearchRuns never read history.
// - NaN: SQLite stores a NaN REAL as NULL. History rows keep value 0 with
//   is_nan = 1 (the value is part of the dedup key and must be NOT NULL);
//   latest_metrics keeps value NULL with is_nan = 1 so that no comparison in a
//   search filter matches NaN. +-inf are stored as REAL infinities.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE experiments (
  experiment_id     INTEGER PRIMARY KEY AUTOINCREMENT,
  name              TEXT NOT NULL UNIQUE,
  artifact_location TEXT NOT NULL DEFAULT '',
  lifecycle_stage   TEXT NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted')),
  creation_time     INTEGER NOT NULL,
  last_update_time  INTEGER NOT NULL
);
CREATE INDEX experiments_by_stage_update ON experiments (lifecycle_stage, last_update_time);

CREATE TABLE experiment_tags (
  experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
  key           TEXT NOT NULL,
  value         TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;
CREATE INDEX experiment_tags_by_key_value ON experiment_tags (key, value, experiment_id);

CREATE TABLE runs (
  id              INTEGER PRIMARY KEY,
  run_uuid        TEXT NOT NULL UNIQUE,
  experiment_id   INTEGER NOT NULL REFERENCES experiments (experiment_id),
  name            TEXT NOT NULL DEFAULT '',
  user_id         TEXT NOT NULL DEFAULT '',
  status          TEXT NOT NULL DEFAULT 'RUNNING',
  start_time      INTEGER NOT NULL,
  end_time        INTEGER,
  deleted_time    INTEGER,
  artifact_uri    TEXT NOT NULL DEFAULT '',
  lifecycle_stage TEXT NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted'))
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time);

CREATE TABLE params (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_by_key_value ON params (key, value, run_id);

CREATE TABLE tags (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX tags_by_key_value ON tags (key, value, run_id);

CREATE TABLE metrics (
  run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key       TEXT NOT NULL,
  step      INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  value     REAL NOT NULL,
  is_nan    INTEGER NOT NULL,
  PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
) WITHOUT ROWID;

CREATE TABLE latest_metrics (
  run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key       TEXT NOT NULL,
  value     REAL,
  step      INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  is_nan    INTEGER NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX latest_metrics_by_key_value ON latest_metrics (key, value, run_id);

CREATE TABLE datasets (
  dataset_uuid  TEXT PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
  name          TEXT NOT NULL,
  digest        TEXT NOT NULL,
  source_type   TEXT NOT NULL DEFAULT '',
  source        TEXT NOT NULL DEFAULT '',
  schema        TEXT NOT NULL DEFAULT '',
  profile       TEXT NOT NULL DEFAULT '',
  UNIQUE (experiment_id, name, digest)
);

CREATE TABLE inputs (
  input_uuid   TEXT PRIMARY KEY,
  dataset_uuid TEXT NOT NULL REFERENCES datasets (dataset_uuid),
  run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  UNIQUE (run_id, dataset_uuid)
);
CREATE INDEX inputs_by_dataset ON inputs (dataset_uuid);

CREATE TABLE input_tags (
  input_uuid TEXT NOT NULL REFERENCES inputs (input_uuid) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  value      TEXT NOT NULL,
  PRIMARY KEY (input_uuid, name)
) WITHOUT ROWID;

CREATE TABLE run_model_inputs (
  run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  model_id TEXT NOT NULL,
  PRIMARY KEY (run_id, model_id)
) WITHOUT ROWID;

CREATE TABLE run_model_outputs (
  run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  model_id TEXT NOT NULL,
  step     INTEGER NOT NULL,
  PRIMARY KEY (run_id, model_id, step)
) WITHOUT ROWID;

CREATE TABLE logged_models (
  model_id                  TEXT PRIMARY KEY,
  experiment_id             INTEGER NOT NULL REFERENCES experiments (experiment_id),
  name                      TEXT NOT NULL,
  artifact_uri              TEXT NOT NULL DEFAULT '',
  creation_timestamp_ms     INTEGER NOT NULL,
  last_updated_timestamp_ms INTEGER NOT NULL,
  status                    TEXT NOT NULL,
  status_message            TEXT NOT NULL DEFAULT '',
  model_type                TEXT NOT NULL DEFAULT '',
  source_run_id             TEXT NOT NULL DEFAULT '',
  lifecycle_stage           TEXT NOT NULL DEFAULT 'active'
);
CREATE INDEX logged_models_by_experiment
  ON logged_models (experiment_id, lifecycle_stage, creation_timestamp_ms);

CREATE TABLE logged_model_tags (
  model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
  key      TEXT NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE logged_model_params (
  model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
  key      TEXT NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE logged_model_metrics (
  model_id       TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
  key            TEXT NOT NULL,
  step           INTEGER NOT NULL,
  timestamp      INTEGER NOT NULL,
  value          REAL NOT NULL,
  is_nan         INTEGER NOT NULL,
  run_id         TEXT NOT NULL DEFAULT '',
  dataset_name   TEXT NOT NULL DEFAULT '',
  dataset_digest TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (model_id, key, step, timestamp, value, is_nan, run_id, dataset_name, dataset_digest)
) WITHOUT ROWID;
)sql"},
};

}  // namespace

int LatestSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

absl::StatusOr<int> CurrentSchemaVersion(Connection* conn) {
  absl::Status created =
      conn->Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  if (!created.ok()) return created;
  absl::StatusOr<Statement> stmt =
      conn->Prepare("SELECT coalesce(max(version), 0) FROM schema_version");
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  return static_cast<int>(stmt->Int(0));
}

absl::Status Migrate(Connection* conn) {
  for (const Migration& migration : kMigrations) {
    absl::StatusOr<Transaction> txn = Transaction::Begin(conn, Transaction::Mode::kWrite);
    if (!txn.ok()) return txn.status();
    // Read the version inside the write transaction so two processes opening
    // the same new file cannot both apply a migration.
    absl::StatusOr<int> current = CurrentSchemaVersion(conn);
    if (!current.ok()) return current.status();
    if (*current > LatestSchemaVersion()) {
      return absl::FailedPreconditionError(absl::StrCat("database schema version ", *current,
                                                        " is newer than this Ferry supports (",
                                                        LatestSchemaVersion(), ")"));
    }
    if (*current >= migration.version) continue;
    absl::Status status = conn->Exec(migration.sql);
    if (!status.ok()) return status;
    absl::StatusOr<Statement> record =
        conn->Prepare("INSERT INTO schema_version (version) VALUES (?)");
    if (!record.ok()) return record.status();
    record->BindInt(1, migration.version);
    status = record->Run();
    if (!status.ok()) return status;
    status = txn->Commit();
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace ferry::store::sqlite_internal
