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
    // Model registry and governance records.
    // - Registered models are keyed by name, as in MLflow; every child table
    //   references it (directly or through model_versions) with ON UPDATE
    //   CASCADE, so a rename is one UPDATE, and ON DELETE CASCADE, so a
    //   delete is one DELETE. Versions, their tags, aliases and approvals
    //   reference model_versions (name, version), so deleting a version
    //   takes its aliases and approvals with it.
    // - registered_models.last_version is the highest version number ever
    //   assigned; version numbers are never reused after a delete.
    // - audit_log is append-only by contract (the store never updates or
    //   deletes it); audit_head holds the last seq and hash, written in the
    //   same transaction as each append, so a truncated tail is detectable.
    {2, R"sql(
CREATE TABLE registered_models (
  name              TEXT PRIMARY KEY,
  creation_time     INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL,
  description       TEXT NOT NULL DEFAULT '',
  user_id           TEXT NOT NULL DEFAULT '',
  last_version      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX registered_models_by_creation ON registered_models (creation_time, name);
CREATE INDEX registered_models_by_update ON registered_models (last_updated_time, name);

CREATE TABLE registered_model_tags (
  name  TEXT NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
  key   TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE INDEX registered_model_tags_by_key_value ON registered_model_tags (key, value, name);

CREATE TABLE model_versions (
  name              TEXT NOT NULL REFERENCES registered_models (name)
                      ON UPDATE CASCADE ON DELETE CASCADE,
  version           INTEGER NOT NULL,
  creation_time     INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL,
  description       TEXT NOT NULL DEFAULT '',
  user_id           TEXT NOT NULL DEFAULT '',
  current_stage     TEXT NOT NULL DEFAULT 'None'
                      CHECK (current_stage IN ('None', 'Staging', 'Production', 'Archived')),
  source            TEXT NOT NULL DEFAULT '',
  run_id            TEXT NOT NULL DEFAULT '',
  run_link          TEXT NOT NULL DEFAULT '',
  model_id          TEXT NOT NULL DEFAULT '',
  status            TEXT NOT NULL DEFAULT 'READY',
  status_message    TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (name, version)
);
-- The newest version per stage (latest_versions) is one index probe per stage.
CREATE INDEX model_versions_by_stage ON model_versions (name, current_stage, version);
CREATE INDEX model_versions_by_run ON model_versions (run_id);
CREATE INDEX model_versions_by_update ON model_versions (last_updated_time);

CREATE TABLE model_version_tags (
  name    TEXT NOT NULL,
  version INTEGER NOT NULL,
  key     TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (name, version, key),
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
    ON UPDATE CASCADE ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX model_version_tags_by_key_value ON model_version_tags (key, value, name, version);

CREATE TABLE registered_model_aliases (
  name    TEXT NOT NULL,
  alias   TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (name, alias),
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
    ON UPDATE CASCADE ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX registered_model_aliases_by_version ON registered_model_aliases (name, version);

CREATE TABLE registry_policies (
  name              TEXT PRIMARY KEY REFERENCES registered_models (name)
                      ON UPDATE CASCADE ON DELETE CASCADE,
  policy_json       TEXT NOT NULL,
  last_updated_time INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE approvals (
  id        INTEGER PRIMARY KEY,
  name      TEXT NOT NULL,
  version   INTEGER NOT NULL,
  target    TEXT NOT NULL,
  user      TEXT NOT NULL,
  comment   TEXT NOT NULL DEFAULT '',
  timestamp INTEGER NOT NULL,
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
    ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX approvals_by_version ON approvals (name, version, id);

CREATE TABLE audit_log (
  seq         INTEGER PRIMARY KEY,
  timestamp   INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  object_type TEXT NOT NULL,
  object_id   TEXT NOT NULL,
  before_json TEXT NOT NULL DEFAULT '',
  after_json  TEXT NOT NULL DEFAULT '',
  request_id  TEXT NOT NULL DEFAULT '',
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
);
CREATE INDEX audit_log_by_object ON audit_log (object_id, seq);

CREATE TABLE audit_head (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  INTEGER NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
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
