#include "ferry/store/metadata_store.h"

#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ferry/store/internal/strings.h"
#include "ferry/store/sqlite/sqlite_store.h"

namespace ferry::store {
namespace {

// SQLAlchemy's SQLite URLs, which MLflow users already write:
//   sqlite:///mlflow.db      -> "mlflow.db" (relative to the working directory)
//   sqlite:////var/ferry.db  -> "/var/ferry.db"
//   sqlite:///:memory:, sqlite:// -> in-memory database
absl::StatusOr<std::string> SqlitePath(std::string_view uri) {
  std::string_view rest = uri.substr(std::string_view("sqlite://").size());
  if (rest.empty()) return std::string(":memory:");
  if (rest.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("Malformed store URI '", internal::Sv(uri),
                     "': a sqlite URI names no host; use sqlite:///relative/path.db or "
                     "sqlite:////absolute/path.db"));
  }
  std::string_view path = rest.substr(1);
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Malformed store URI '", internal::Sv(uri), "': no database path"));
  }
  return std::string(path);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetadataStore>> OpenMetadataStore(const StoreOptions& options) {
  const std::string& uri = options.uri;
  if (absl::StartsWith(uri, "sqlite://")) {
    absl::StatusOr<std::string> path = SqlitePath(uri);
    if (!path.ok()) return path.status();
    absl::StatusOr<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Create({.path = *path,
                             .clock = options.clock,
                             .default_artifact_root = options.default_artifact_root});
    if (!store.ok()) return store.status();
    return std::unique_ptr<MetadataStore>(std::move(*store));
  }
  size_t colon = uri.find("://");
  return absl::InvalidArgumentError(absl::StrCat(
      "Unsupported store URI '", uri, "'",
      colon == std::string::npos ? std::string(": expected scheme://...")
                                 : absl::StrCat(": unknown scheme '", uri.substr(0, colon), "'"),
      "; supported: sqlite:///path.db"));
}

}  // namespace ferry::store
