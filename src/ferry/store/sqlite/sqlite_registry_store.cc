// SqliteStore's RegistryStore half: registered models, versions, aliases,
// promotion policies, approvals and the hash-chained audit log. Semantics
// follow MLflow's SqlAlchemyModelRegistryStore (see registry_store.h and
// docs/store.md, "Registry tables").

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ferry/common/status.h"
#include "ferry/store/internal/page_token.h"
#include "ferry/store/internal/strings.h"
#include "ferry/store/sqlite/internal/connection.h"
#include "ferry/store/sqlite/internal/search_sql.h"
#include "ferry/store/sqlite/internal/store_access.h"
#include "ferry/store/sqlite/sqlite_store.h"

namespace ferry::store {

using sqlite_internal::Connection;
using sqlite_internal::kModelVersionColumns;
using sqlite_internal::kRegisteredModelColumns;
using sqlite_internal::Statement;

namespace {

constexpr char kStageArchived[] = "Archived";

// ---------------------------------------------------------------------------
// MLflow's messages

absl::Status ModelNotFound(std::string_view name) {
  return absl::NotFoundError(
      absl::StrCat("Registered Model with name=", internal::Sv(name), " not found"));
}

absl::Status VersionNotFound(std::string_view name, int64_t version) {
  return absl::NotFoundError(absl::StrCat("Model Version (name=", internal::Sv(name),
                                          ", version=", version, ") not found"));
}

absl::Status AliasNotFound(std::string_view alias) {
  return absl::NotFoundError(
      absl::StrCat("Registered model alias ", internal::Sv(alias), " not found."));
}

absl::Status ModelAlreadyExists(std::string_view name) {
  return absl::AlreadyExistsError(
      absl::StrCat("Registered Model (name=", internal::Sv(name), ") already exists."));
}

// MLflow's get_canonical_stage: case-insensitive, canonical casing out.
absl::StatusOr<std::string> CanonicalStage(std::string_view stage) {
  for (const char* candidate : kStages) {
    if (absl::EqualsIgnoreCase(internal::Sv(stage), candidate)) return std::string(candidate);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("Invalid Model Version stage: ", internal::Sv(stage),
                   ". Value must be one of None, Staging, Production, Archived."));
}

// ---------------------------------------------------------------------------
// JSON arrays bound to `IN (SELECT ... FROM json_each(?))`, so one cached
// statement serves any number of keys.

void AppendJsonString(std::string& out, std::string_view value) {
  out += '"';
  for (char c : value) {
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
          snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string JsonNames(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, names[i]);
  }
  out += ']';
  return out;
}

// [["name", version], ...]
std::string JsonVersionKeys(const std::vector<ModelVersion*>& versions) {
  std::string out = "[";
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i > 0) out += ',';
    out += '[';
    AppendJsonString(out, versions[i]->name);
    absl::StrAppend(&out, ",", versions[i]->version, "]");
  }
  out += ']';
  return out;
}

// ---------------------------------------------------------------------------
// Row readers and loaders

// Columns as kModelVersionColumns.
ModelVersion ReadModelVersion(const Statement& s) {
  ModelVersion v;
  v.name = s.Text(0);
  v.version = s.Int(1);
  v.creation_timestamp = s.Int(2);
  v.last_updated_timestamp = s.Int(3);
  v.description = s.Text(4);
  v.user_id = s.Text(5);
  v.current_stage = s.Text(6);
  v.source = s.Text(7);
  v.run_id = s.Text(8);
  v.run_link = s.Text(9);
  v.model_id = s.Text(10);
  v.status = s.Text(11);
  v.status_message = s.Text(12);
  return v;
}

// Columns as kRegisteredModelColumns.
RegisteredModel ReadRegisteredModel(const Statement& s) {
  RegisteredModel m;
  m.name = s.Text(0);
  m.creation_timestamp = s.Int(1);
  m.last_updated_timestamp = s.Int(2);
  m.description = s.Text(3);
  m.user_id = s.Text(4);
  return m;
}

absl::Status CheckModelExists(Connection& conn, std::string_view name) {
  FERRY_ASSIGN_OR_RETURN(Statement s,
                         conn.Prepare("SELECT 1 FROM registered_models WHERE name = ?"));
  s.BindText(1, name);
  FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
  if (!found) return ModelNotFound(name);
  return s.Run();
}

absl::Status CheckVersionExists(Connection& conn, std::string_view name, int64_t version) {
  FERRY_ASSIGN_OR_RETURN(
      Statement s, conn.Prepare("SELECT 1 FROM model_versions WHERE name = ? AND version = ?"));
  s.BindText(1, name);
  s.BindInt(2, version);
  FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
  if (!found) return VersionNotFound(name, version);
  return s.Run();
}

// Fills the tags and aliases of `versions` with one query each.
absl::Status FillVersionDetails(Connection& conn, const std::vector<ModelVersion*>& versions) {
  if (versions.empty()) return absl::OkStatus();
  std::map<std::pair<std::string, int64_t>, std::vector<ModelVersion*>> index;
  for (ModelVersion* v : versions) index[{v->name, v->version}].push_back(v);
  const std::string keys = JsonVersionKeys(versions);
  constexpr char kKeyIn[] =
      "(x.name, x.version) IN (SELECT json_extract(j.value, '$[0]'), "
      "json_extract(j.value, '$[1]') FROM json_each(?) j)";
  {
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare(absl::StrCat("SELECT x.name, x.version, x.key, x.value FROM "
                                               "model_version_tags x WHERE ",
                                               kKeyIn, " ORDER BY x.name, x.version, x.key")));
    s.BindText(1, keys);
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      auto it = index.find({s.Text(0), s.Int(1)});
      if (it == index.end()) continue;
      for (ModelVersion* v : it->second) v->tags.push_back(Tag{s.Text(2), s.Text(3)});
    }
  }
  {
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare(absl::StrCat("SELECT x.name, x.version, x.alias FROM "
                                               "registered_model_aliases x WHERE ",
                                               kKeyIn, " ORDER BY x.name, x.version, x.alias")));
    s.BindText(1, keys);
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      auto it = index.find({s.Text(0), s.Int(1)});
      if (it == index.end()) continue;
      for (ModelVersion* v : it->second) v->aliases.push_back(s.Text(2));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelVersion> LoadModelVersion(Connection& conn, std::string_view name,
                                              int64_t version) {
  std::vector<ModelVersion> out;
  {
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare(absl::StrCat("SELECT ", kModelVersionColumns,
                                               " FROM model_versions mv WHERE mv.name = ? AND "
                                               "mv.version = ?")));
    s.BindText(1, name);
    s.BindInt(2, version);
    FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) return VersionNotFound(name, version);
    out.push_back(ReadModelVersion(s));
    FERRY_RETURN_IF_ERROR(s.Run());
  }
  FERRY_RETURN_IF_ERROR(FillVersionDetails(conn, {&out[0]}));
  return std::move(out[0]);
}

// Fills tags, aliases and latest_versions (the newest version per stage, in
// the order None, Staging, Production, Archived, each with its tags and
// aliases) of `models`.
absl::Status FillRegisteredModels(Connection& conn, std::vector<RegisteredModel>& models) {
  if (models.empty()) return absl::OkStatus();
  std::vector<std::string> names;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < models.size(); ++i) {
    names.push_back(models[i].name);
    index[models[i].name] = i;
  }
  const std::string name_list = JsonNames(names);
  constexpr char kNameIn[] = " IN (SELECT value FROM json_each(?))";
  {
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare(absl::StrCat("SELECT name, key, value FROM registered_model_tags "
                                               "WHERE name",
                                               kNameIn, " ORDER BY name, key")));
    s.BindText(1, name_list);
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      auto it = index.find(s.Text(0));
      if (it != index.end()) models[it->second].tags.push_back(Tag{s.Text(1), s.Text(2)});
    }
  }
  {
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare(absl::StrCat("SELECT name, alias, version FROM registered_model_aliases "
                                  "WHERE name",
                                  kNameIn, " ORDER BY name, alias")));
    s.BindText(1, name_list);
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      auto it = index.find(s.Text(0));
      if (it != index.end()) {
        models[it->second].aliases.push_back(RegisteredModelAlias{s.Text(1), s.Int(2)});
      }
    }
  }
  {
    // One probe of model_versions_by_stage per (model, stage) present.
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare(absl::StrCat(
            "SELECT ", kModelVersionColumns, " FROM model_versions mv WHERE mv.name", kNameIn,
            " AND mv.version = (SELECT max(x.version) FROM model_versions x WHERE x.name = "
            "mv.name AND x.current_stage = mv.current_stage) ORDER BY mv.name, "
            "CASE mv.current_stage WHEN 'None' THEN 0 WHEN 'Staging' THEN 1 "
            "WHEN 'Production' THEN 2 ELSE 3 END")));
    s.BindText(1, name_list);
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      auto it = index.find(s.Text(0));
      if (it != index.end()) models[it->second].latest_versions.push_back(ReadModelVersion(s));
    }
  }
  std::vector<ModelVersion*> latest;
  for (RegisteredModel& m : models) {
    for (ModelVersion& v : m.latest_versions) latest.push_back(&v);
  }
  return FillVersionDetails(conn, latest);
}

absl::StatusOr<RegisteredModel> LoadRegisteredModel(Connection& conn, std::string_view name) {
  std::vector<RegisteredModel> out;
  {
    FERRY_ASSIGN_OR_RETURN(Statement s,
                           conn.Prepare(absl::StrCat("SELECT ", kRegisteredModelColumns,
                                                     " FROM registered_models rm WHERE "
                                                     "rm.name = ?")));
    s.BindText(1, name);
    FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) return ModelNotFound(name);
    out.push_back(ReadRegisteredModel(s));
    FERRY_RETURN_IF_ERROR(s.Run());
  }
  FERRY_RETURN_IF_ERROR(FillRegisteredModels(conn, out));
  return std::move(out[0]);
}

absl::Status UpsertModelTag(Connection& conn, std::string_view name, const Tag& tag) {
  FERRY_ASSIGN_OR_RETURN(
      Statement s,
      conn.Prepare("INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) "
                   "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value"));
  s.BindText(1, name);
  s.BindText(2, tag.key);
  s.BindText(3, tag.value);
  return s.Run();
}

absl::Status UpsertVersionTag(Connection& conn, std::string_view name, int64_t version,
                              const Tag& tag) {
  FERRY_ASSIGN_OR_RETURN(
      Statement s,
      conn.Prepare("INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value"));
  s.BindText(1, name);
  s.BindInt(2, version);
  s.BindText(3, tag.key);
  s.BindText(4, tag.value);
  return s.Run();
}

absl::Status TouchModel(Connection& conn, std::string_view name, int64_t now) {
  FERRY_ASSIGN_OR_RETURN(
      Statement s,
      conn.Prepare("UPDATE registered_models SET last_updated_time = ? WHERE name = ?"));
  s.BindInt(1, now);
  s.BindText(2, name);
  return s.Run();
}

Approval ReadApproval(const Statement& s) {
  Approval a;
  a.id = s.Int(0);
  a.name = s.Text(1);
  a.version = s.Int(2);
  a.target = s.Text(3);
  a.user = s.Text(4);
  a.comment = s.Text(5);
  a.timestamp = s.Int(6);
  return a;
}

constexpr char kAuditColumns[] =
    "seq, timestamp, actor, action, object_type, object_id, before_json, after_json, request_id, "
    "prev_hash, hash";

AuditEntry ReadAudit(const Statement& s) {
  AuditEntry e;
  e.seq = s.Int(0);
  e.timestamp = s.Int(1);
  e.actor = s.Text(2);
  e.action = s.Text(3);
  e.object_type = s.Text(4);
  e.object_id = s.Text(5);
  e.before_json = s.Text(6);
  e.after_json = s.Text(7);
  e.request_id = s.Text(8);
  e.prev_hash = s.Text(9);
  e.hash = s.Text(10);
  return e;
}

absl::StatusOr<std::pair<int64_t, std::string>> ReadAuditHead(Connection& conn) {
  FERRY_ASSIGN_OR_RETURN(Statement s,
                         conn.Prepare("SELECT seq, hash FROM audit_head WHERE id = 1"));
  FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
  if (!found) return std::pair<int64_t, std::string>(0, "");
  std::pair<int64_t, std::string> head(s.Int(0), s.Text(1));
  FERRY_RETURN_IF_ERROR(s.Run());
  return head;
}

absl::Status CheckMaxResults(int max_results) {
  if (max_results >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid value for max_results. It must be a positive integer, but got ", max_results));
}

}  // namespace

// ---------------------------------------------------------------------------
// Registered models

absl::StatusOr<RegisteredModel> SqliteStore::CreateRegisteredModel(std::string_view name,
                                                                   std::string_view description,
                                                                   const std::vector<Tag>& tags,
                                                                   std::string_view user_id) {
  return Write([&](Connection& conn) -> absl::StatusOr<RegisteredModel> {
    const int64_t now = options_.clock->NowMillis();
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("INSERT INTO registered_models (name, creation_time, last_updated_time, "
                     "description, user_id) VALUES (?, ?, ?, ?, ?)"));
    s.BindText(1, name);
    s.BindInt(2, now);
    s.BindInt(3, now);
    s.BindText(4, description);
    s.BindText(5, user_id);
    absl::Status inserted = s.Run();
    if (absl::IsAlreadyExists(inserted)) return ModelAlreadyExists(name);
    FERRY_RETURN_IF_ERROR(inserted);
    // Later duplicates of a key win, as MLflow builds a dict of the tags.
    for (const Tag& tag : tags) FERRY_RETURN_IF_ERROR(UpsertModelTag(conn, name, tag));
    return LoadRegisteredModel(conn, name);
  });
}

absl::StatusOr<RegisteredModel> SqliteStore::GetRegisteredModel(std::string_view name) {
  return Read([&](Connection& conn) { return LoadRegisteredModel(conn, name); });
}

absl::StatusOr<RegisteredModel> SqliteStore::RenameRegisteredModel(std::string_view name,
                                                                   std::string_view new_name) {
  return Write([&](Connection& conn) -> absl::StatusOr<RegisteredModel> {
    FERRY_RETURN_IF_ERROR(CheckModelExists(conn, name));
    const int64_t now = options_.clock->NowMillis();
    if (new_name != name) {
      absl::Status taken = CheckModelExists(conn, new_name);
      if (taken.ok()) return ModelAlreadyExists(new_name);
      if (!absl::IsNotFound(taken)) return taken;
    }
    // Versions, tags, aliases, policy and approvals follow through
    // ON UPDATE CASCADE.
    {
      FERRY_ASSIGN_OR_RETURN(
          Statement s, conn.Prepare("UPDATE registered_models SET name = ?, last_updated_time = ? "
                                    "WHERE name = ?"));
      s.BindText(1, new_name);
      s.BindInt(2, now);
      s.BindText(3, name);
      absl::Status renamed = s.Run();
      if (absl::IsAlreadyExists(renamed)) return ModelAlreadyExists(new_name);
      FERRY_RETURN_IF_ERROR(renamed);
    }
    {
      // MLflow stamps every version of a renamed model.
      FERRY_ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("UPDATE model_versions SET last_updated_time = ? WHERE name = ?"));
      s.BindInt(1, now);
      s.BindText(2, new_name);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    return LoadRegisteredModel(conn, new_name);
  });
}

absl::StatusOr<RegisteredModel> SqliteStore::UpdateRegisteredModel(std::string_view name,
                                                                   std::string_view description) {
  return Write([&](Connection& conn) -> absl::StatusOr<RegisteredModel> {
    {
      FERRY_ASSIGN_OR_RETURN(Statement s,
                             conn.Prepare("UPDATE registered_models SET description = ?, "
                                          "last_updated_time = ? WHERE name = ?"));
      s.BindText(1, description);
      s.BindInt(2, options_.clock->NowMillis());
      s.BindText(3, name);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    if (conn.Changes() == 0) return ModelNotFound(name);
    return LoadRegisteredModel(conn, name);
  });
}

absl::Status SqliteStore::DeleteRegisteredModel(std::string_view name) {
  return Write([&](Connection& conn) -> absl::Status {
    // Versions, tags, aliases, policy and approvals go through ON DELETE
    // CASCADE; the audit log is not linked and keeps its history.
    FERRY_ASSIGN_OR_RETURN(Statement s,
                           conn.Prepare("DELETE FROM registered_models WHERE name = ?"));
    s.BindText(1, name);
    FERRY_RETURN_IF_ERROR(s.Run());
    if (conn.Changes() == 0) return ModelNotFound(name);
    return absl::OkStatus();
  });
}

absl::StatusOr<Page<RegisteredModel>> SqliteStore::SearchRegisteredModels(
    const RegisteredModelQuery& query) {
  FERRY_RETURN_IF_ERROR(CheckMaxResults(query.max_results));
  FERRY_ASSIGN_OR_RETURN(int64_t offset, internal::DecodePageToken(query.page_token));
  FERRY_ASSIGN_OR_RETURN(sqlite_internal::SearchSql sql,
                         sqlite_internal::BuildRegisteredModelSearch(query, offset));
  return Read([&](Connection& conn) -> absl::StatusOr<Page<RegisteredModel>> {
    FERRY_ASSIGN_OR_RETURN(Page<RegisteredModel> page,
                           sqlite_internal::ReadPage<RegisteredModel>(
                               conn, sql, offset, query.max_results,
                               [](Statement& s) { return ReadRegisteredModel(s); }));
    FERRY_RETURN_IF_ERROR(FillRegisteredModels(conn, page.items));
    return page;
  });
}

absl::Status SqliteStore::SetRegisteredModelTag(std::string_view name, const Tag& tag) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(CheckModelExists(conn, name));
    return UpsertModelTag(conn, name, tag);
  });
}

absl::Status SqliteStore::DeleteRegisteredModelTag(std::string_view name, std::string_view key) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(CheckModelExists(conn, name));
    // A missing tag is not an error (MLflow).
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare("DELETE FROM registered_model_tags WHERE name = ? AND key = ?"));
    s.BindText(1, name);
    s.BindText(2, key);
    return s.Run();
  });
}

absl::StatusOr<std::vector<ModelVersion>> SqliteStore::GetLatestVersions(
    std::string_view name, const std::vector<std::string>& stages) {
  std::set<std::string> wanted;
  for (const std::string& stage : stages) {
    FERRY_ASSIGN_OR_RETURN(std::string canonical, CanonicalStage(stage));
    wanted.insert(std::move(canonical));
  }
  FERRY_ASSIGN_OR_RETURN(RegisteredModel model, GetRegisteredModel(name));
  std::vector<ModelVersion> out;
  for (ModelVersion& v : model.latest_versions) {
    if (wanted.empty() || wanted.count(v.current_stage) > 0) out.push_back(std::move(v));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Aliases

absl::Status SqliteStore::SetRegisteredModelAlias(std::string_view name, std::string_view alias,
                                                  int64_t version) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(CheckVersionExists(conn, name, version));
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) "
                     "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version"));
    s.BindText(1, name);
    s.BindText(2, alias);
    s.BindInt(3, version);
    return s.Run();
  });
}

absl::Status SqliteStore::DeleteRegisteredModelAlias(std::string_view name,
                                                     std::string_view alias) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(CheckModelExists(conn, name));
    // A missing alias is not an error (MLflow).
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?"));
    s.BindText(1, name);
    s.BindText(2, alias);
    return s.Run();
  });
}

absl::StatusOr<ModelVersion> SqliteStore::GetModelVersionByAlias(std::string_view name,
                                                                 std::string_view alias) {
  return Read([&](Connection& conn) -> absl::StatusOr<ModelVersion> {
    int64_t version = 0;
    {
      FERRY_ASSIGN_OR_RETURN(
          Statement s, conn.Prepare("SELECT version FROM registered_model_aliases WHERE name = ? "
                                    "AND alias = ?"));
      s.BindText(1, name);
      s.BindText(2, alias);
      FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
      if (!found) return AliasNotFound(alias);
      version = s.Int(0);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    return LoadModelVersion(conn, name, version);
  });
}

// ---------------------------------------------------------------------------
// Model versions

absl::StatusOr<ModelVersion> SqliteStore::CreateModelVersion(const NewModelVersion& version) {
  return Write([&](Connection& conn) -> absl::StatusOr<ModelVersion> {
    const int64_t now = options_.clock->NowMillis();
    int64_t number = 0;
    {
      FERRY_ASSIGN_OR_RETURN(
          Statement s, conn.Prepare("SELECT last_version FROM registered_models WHERE name = ?"));
      s.BindText(1, version.name);
      FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
      if (!found) return ModelNotFound(version.name);
      number = s.Int(0) + 1;
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    {
      FERRY_ASSIGN_OR_RETURN(Statement s,
                             conn.Prepare("UPDATE registered_models SET last_version = ?, "
                                          "last_updated_time = ? WHERE name = ?"));
      s.BindInt(1, number);
      s.BindInt(2, now);
      s.BindText(3, version.name);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    {
      FERRY_ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("INSERT INTO model_versions (name, version, creation_time, "
                       "last_updated_time, description, user_id, current_stage, source, run_id, "
                       "run_link, model_id, status, status_message) "
                       "VALUES (?, ?, ?, ?, ?, ?, 'None', ?, ?, ?, ?, 'READY', '')"));
      s.BindText(1, version.name);
      s.BindInt(2, number);
      s.BindInt(3, now);
      s.BindInt(4, now);
      s.BindText(5, version.description);
      s.BindText(6, version.user_id);
      s.BindText(7, version.source);
      s.BindText(8, version.run_id);
      s.BindText(9, version.run_link);
      s.BindText(10, version.model_id);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    for (const Tag& tag : version.tags) {
      FERRY_RETURN_IF_ERROR(UpsertVersionTag(conn, version.name, number, tag));
    }
    return LoadModelVersion(conn, version.name, number);
  });
}

absl::StatusOr<ModelVersion> SqliteStore::GetModelVersion(std::string_view name, int64_t version) {
  return Read([&](Connection& conn) { return LoadModelVersion(conn, name, version); });
}

absl::StatusOr<ModelVersion> SqliteStore::UpdateModelVersion(std::string_view name, int64_t version,
                                                             std::string_view description) {
  return Write([&](Connection& conn) -> absl::StatusOr<ModelVersion> {
    {
      FERRY_ASSIGN_OR_RETURN(Statement s,
                             conn.Prepare("UPDATE model_versions SET description = ?, "
                                          "last_updated_time = ? WHERE name = ? AND version = ?"));
      s.BindText(1, description);
      s.BindInt(2, options_.clock->NowMillis());
      s.BindText(3, name);
      s.BindInt(4, version);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    if (conn.Changes() == 0) return VersionNotFound(name, version);
    return LoadModelVersion(conn, name, version);
  });
}

absl::Status SqliteStore::DeleteModelVersion(std::string_view name, int64_t version) {
  return Write([&](Connection& conn) -> absl::Status {
    {
      // Tags, aliases and approvals of the version go by ON DELETE CASCADE.
      FERRY_ASSIGN_OR_RETURN(
          Statement s, conn.Prepare("DELETE FROM model_versions WHERE name = ? AND version = ?"));
      s.BindText(1, name);
      s.BindInt(2, version);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    if (conn.Changes() == 0) return VersionNotFound(name, version);
    return TouchModel(conn, name, options_.clock->NowMillis());
  });
}

absl::StatusOr<Page<ModelVersion>> SqliteStore::SearchModelVersions(
    const ModelVersionQuery& query) {
  FERRY_RETURN_IF_ERROR(CheckMaxResults(query.max_results));
  FERRY_ASSIGN_OR_RETURN(int64_t offset, internal::DecodePageToken(query.page_token));
  FERRY_ASSIGN_OR_RETURN(sqlite_internal::SearchSql sql,
                         sqlite_internal::BuildModelVersionSearch(query, offset));
  return Read([&](Connection& conn) -> absl::StatusOr<Page<ModelVersion>> {
    FERRY_ASSIGN_OR_RETURN(
        Page<ModelVersion> page,
        sqlite_internal::ReadPage<ModelVersion>(conn, sql, offset, query.max_results,
                                                [](Statement& s) { return ReadModelVersion(s); }));
    std::vector<ModelVersion*> versions;
    for (ModelVersion& v : page.items) versions.push_back(&v);
    FERRY_RETURN_IF_ERROR(FillVersionDetails(conn, versions));
    return page;
  });
}

absl::StatusOr<ModelVersion> SqliteStore::TransitionModelVersionStage(
    std::string_view name, int64_t version, std::string_view stage,
    bool archive_existing_versions) {
  FERRY_ASSIGN_OR_RETURN(std::string canonical, CanonicalStage(stage));
  if (archive_existing_versions && canonical != "Staging" && canonical != "Production") {
    return absl::InvalidArgumentError(
        absl::StrCat("Model version transition cannot archive existing model versions because '",
                     internal::Sv(stage),
                     "' is not an Active stage. Valid stages are ['Staging', 'Production']"));
  }
  return Write([&](Connection& conn) -> absl::StatusOr<ModelVersion> {
    FERRY_RETURN_IF_ERROR(CheckVersionExists(conn, name, version));
    const int64_t now = options_.clock->NowMillis();
    if (archive_existing_versions) {
      FERRY_ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                       "WHERE name = ? AND version != ? AND current_stage = ?"));
      s.BindText(1, kStageArchived);
      s.BindInt(2, now);
      s.BindText(3, name);
      s.BindInt(4, version);
      s.BindText(5, canonical);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    {
      FERRY_ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                       "WHERE name = ? AND version = ?"));
      s.BindText(1, canonical);
      s.BindInt(2, now);
      s.BindText(3, name);
      s.BindInt(4, version);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    FERRY_RETURN_IF_ERROR(TouchModel(conn, name, now));
    return LoadModelVersion(conn, name, version);
  });
}

absl::Status SqliteStore::SetModelVersionTag(std::string_view name, int64_t version,
                                             const Tag& tag) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(CheckVersionExists(conn, name, version));
    return UpsertVersionTag(conn, name, version, tag);
  });
}

absl::Status SqliteStore::DeleteModelVersionTag(std::string_view name, int64_t version,
                                                std::string_view key) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(CheckVersionExists(conn, name, version));
    // A missing tag is not an error (MLflow).
    FERRY_ASSIGN_OR_RETURN(Statement s, conn.Prepare("DELETE FROM model_version_tags WHERE "
                                                     "name = ? AND version = ? AND key = ?"));
    s.BindText(1, name);
    s.BindInt(2, version);
    s.BindText(3, key);
    return s.Run();
  });
}

// ---------------------------------------------------------------------------
// Promotion policies

absl::Status SqliteStore::SetPolicy(std::string_view name, std::string_view policy_json) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(CheckModelExists(conn, name));
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("INSERT INTO registry_policies (name, policy_json, last_updated_time) "
                     "VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                     "policy_json = excluded.policy_json, "
                     "last_updated_time = excluded.last_updated_time"));
    s.BindText(1, name);
    s.BindText(2, policy_json);
    s.BindInt(3, options_.clock->NowMillis());
    return s.Run();
  });
}

absl::StatusOr<std::string> SqliteStore::GetPolicy(std::string_view name) {
  return Read([&](Connection& conn) -> absl::StatusOr<std::string> {
    {
      FERRY_ASSIGN_OR_RETURN(
          Statement s, conn.Prepare("SELECT policy_json FROM registry_policies WHERE name = ?"));
      s.BindText(1, name);
      FERRY_ASSIGN_OR_RETURN(bool found, s.Step());
      if (found) {
        std::string policy = s.Text(0);
        FERRY_RETURN_IF_ERROR(s.Run());
        return policy;
      }
    }
    FERRY_RETURN_IF_ERROR(CheckModelExists(conn, name));
    return absl::NotFoundError(absl::StrCat("Registered Model with name=", internal::Sv(name),
                                            " has no promotion policy"));
  });
}

absl::Status SqliteStore::DeletePolicy(std::string_view name) {
  return Write([&](Connection& conn) -> absl::Status {
    FERRY_RETURN_IF_ERROR(CheckModelExists(conn, name));
    FERRY_ASSIGN_OR_RETURN(Statement s,
                           conn.Prepare("DELETE FROM registry_policies WHERE name = ?"));
    s.BindText(1, name);
    return s.Run();
  });
}

// ---------------------------------------------------------------------------
// Approvals

absl::StatusOr<Approval> SqliteStore::AddApproval(const Approval& approval) {
  return Write([&](Connection& conn) -> absl::StatusOr<Approval> {
    FERRY_RETURN_IF_ERROR(CheckVersionExists(conn, approval.name, approval.version));
    Approval stored = approval;
    if (stored.timestamp == 0) stored.timestamp = options_.clock->NowMillis();
    FERRY_ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("INSERT INTO approvals (id, name, version, target, user, comment, timestamp) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    if (stored.id != 0) {
      s.BindInt(1, stored.id);
    } else {
      s.BindNull(1);  // SQLite assigns max(id) + 1
    }
    s.BindText(2, stored.name);
    s.BindInt(3, stored.version);
    s.BindText(4, stored.target);
    s.BindText(5, stored.user);
    s.BindText(6, stored.comment);
    s.BindInt(7, stored.timestamp);
    absl::Status inserted = s.Run();
    if (absl::IsAlreadyExists(inserted)) {
      return absl::AlreadyExistsError(
          absl::StrCat("Approval with id=", stored.id, " already exists."));
    }
    FERRY_RETURN_IF_ERROR(inserted);
    stored.id = sqlite3_last_insert_rowid(conn.raw());
    return stored;
  });
}

absl::StatusOr<std::vector<Approval>> SqliteStore::ListApprovals(std::string_view name,
                                                                 std::optional<int64_t> version) {
  return Read([&](Connection& conn) -> absl::StatusOr<std::vector<Approval>> {
    FERRY_RETURN_IF_ERROR(CheckModelExists(conn, name));
    constexpr char kSelect[] =
        "SELECT id, name, version, target, user, comment, timestamp FROM approvals WHERE name = ?";
    FERRY_ASSIGN_OR_RETURN(
        Statement s, conn.Prepare(version ? absl::StrCat(kSelect, " AND version = ? ORDER BY id")
                                          : absl::StrCat(kSelect, " ORDER BY id")));
    s.BindText(1, name);
    if (version) s.BindInt(2, *version);
    std::vector<Approval> out;
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(ReadApproval(s));
    }
    return out;
  });
}

// ---------------------------------------------------------------------------
// Audit log

absl::StatusOr<AuditEntry> SqliteStore::AppendAudit(AuditEntry entry, AuditHasher hasher) {
  if (hasher == nullptr) return absl::InvalidArgumentError("AppendAudit needs a hasher");
  return Write([&](Connection& conn) -> absl::StatusOr<AuditEntry> {
    FERRY_ASSIGN_OR_RETURN(auto head, ReadAuditHead(conn));
    {
      // The head must be the newest entry; if rows exist beyond it the log
      // or the head was edited outside the store, and appending would
      // either collide or fork the chain.
      FERRY_ASSIGN_OR_RETURN(Statement s,
                             conn.Prepare("SELECT coalesce(max(seq), 0) FROM audit_log"));
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      const int64_t last = row ? s.Int(0) : 0;
      FERRY_RETURN_IF_ERROR(s.Run());
      if (last > head.first) {
        return absl::DataLossError(absl::StrCat("audit log head (seq ", head.first,
                                                ") is behind the last entry (seq ", last,
                                                "); the log was modified outside Ferry"));
      }
    }
    if (entry.timestamp == 0) entry.timestamp = options_.clock->NowMillis();
    entry.seq = head.first + 1;
    entry.prev_hash = head.second;
    entry.hash = hasher(entry);
    {
      FERRY_ASSIGN_OR_RETURN(
          Statement s, conn.Prepare(absl::StrCat("INSERT INTO audit_log (", kAuditColumns,
                                                 ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")));
      s.BindInt(1, entry.seq);
      s.BindInt(2, entry.timestamp);
      s.BindText(3, entry.actor);
      s.BindText(4, entry.action);
      s.BindText(5, entry.object_type);
      s.BindText(6, entry.object_id);
      s.BindText(7, entry.before_json);
      s.BindText(8, entry.after_json);
      s.BindText(9, entry.request_id);
      s.BindText(10, entry.prev_hash);
      s.BindText(11, entry.hash);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    {
      FERRY_ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"));
      s.BindInt(1, entry.seq);
      s.BindText(2, entry.hash);
      FERRY_RETURN_IF_ERROR(s.Run());
    }
    return entry;
  });
}

absl::StatusOr<std::vector<AuditEntry>> SqliteStore::ListAudit(std::string_view object_id,
                                                               int64_t limit) {
  if (limit < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid audit log limit ", limit, ": must be 0 (all) or positive"));
  }
  // "credit" matches "credit", "credit/..." and "credit@...": two index
  // ranges, [credit/, credit0) and [credit@, creditA), since '0' follows
  // '/' and 'A' follows '@' in byte order.
  const bool filtered = !object_id.empty();
  std::string where;
  if (filtered) {
    where =
        " WHERE object_id = ?1 OR (object_id >= ?2 AND object_id < ?3) OR "
        "(object_id >= ?4 AND object_id < ?5)";
  }
  std::string sql =
      limit > 0
          ? absl::StrCat("SELECT ", kAuditColumns, " FROM (SELECT ", kAuditColumns,
                         " FROM audit_log", where, " ORDER BY seq DESC LIMIT ?6) ORDER BY seq")
          : absl::StrCat("SELECT ", kAuditColumns, " FROM audit_log", where, " ORDER BY seq");
  return Read([&](Connection& conn) -> absl::StatusOr<std::vector<AuditEntry>> {
    FERRY_ASSIGN_OR_RETURN(Statement s, conn.Prepare(sql));
    if (filtered) {
      const std::string id(object_id);
      s.BindText(1, id);
      s.BindText(2, id + "/");
      s.BindText(3, id + "0");
      s.BindText(4, id + "@");
      s.BindText(5, id + "A");
    }
    if (limit > 0) s.BindInt(6, limit);
    std::vector<AuditEntry> out;
    while (true) {
      FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(ReadAudit(s));
    }
    return out;
  });
}

absl::StatusOr<std::pair<int64_t, std::string>> SqliteStore::GetAuditHead() {
  return Read([&](Connection& conn) { return ReadAuditHead(conn); });
}

}  // namespace ferry::store
