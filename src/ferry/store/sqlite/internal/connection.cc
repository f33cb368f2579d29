#include "ferry/store/sqlite/internal/connection.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ferry/store/internal/strings.h"

namespace ferry::store::sqlite_internal {

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::Check(int rc) {
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

void Statement::BindInt(int index, int64_t value) {
  Check(sqlite3_bind_int64(stmt_, index, value));
}

void Statement::BindDouble(int index, double value) {
  Check(std::isnan(value) ? sqlite3_bind_null(stmt_, index)
                          : sqlite3_bind_double(stmt_, index, value));
}

void Statement::BindText(int index, std::string_view value) {
  Check(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

void Statement::BindNull(int index) { Check(sqlite3_bind_null(stmt_, index)); }

void Statement::Bind(int index, const SqlValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    BindInt(index, *i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    BindDouble(index, *d);
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    BindText(index, *s);
  } else {
    BindNull(index);
  }
}

void Statement::BindAll(const std::vector<SqlValue>& values) {
  for (size_t i = 0; i < values.size(); ++i) Bind(static_cast<int>(i + 1), values[i]);
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_error_ != SQLITE_OK) {
    int rc = bind_error_;
    bind_error_ = SQLITE_OK;
    sqlite3_reset(stmt_);
    return conn_->Error(rc, absl::StrCat("bind: ", sqlite3_sql(stmt_)));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  // Reset (keeping the bindings) once done or failed, so the statement can
  // be bound and stepped again.
  sqlite3_reset(stmt_);
  if (rc == SQLITE_DONE) return false;
  return conn_->Error(rc, sqlite3_sql(stmt_));
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectionOptions& options) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(options.filename.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open SQLite database '", options.filename, "': ", message));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  return std::unique_ptr<Connection>(new Connection(db, options.statement_cache_capacity));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

absl::Status Connection::Exec(std::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  absl::Status status = Error(rc, text);
  return absl::Status(status.code(), absl::StrCat("SQLite error: ", detail, " [", text, "]"));
}

absl::StatusOr<Statement> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Statement(this, it->second, /*owned=*/false);
  bool cache = cache_.size() < cache_capacity_;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, sql);
  }
  if (!cache) return Statement(this, stmt, /*owned=*/true);
  cache_.emplace(sql, stmt);
  return Statement(this, stmt, /*owned=*/false);
}

absl::Status Connection::Error(int rc, std::string_view what) const {
  std::string message =
      absl::StrCat("SQLite error: ", sqlite3_errmsg(db_), " [", internal::Sv(what), "]");
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return absl::AlreadyExistsError(message);
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<Transaction> Transaction::Begin(Connection* conn, Mode mode) {
  absl::Status status = conn->Exec(mode == Mode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
  if (!status.ok()) return status;
  return Transaction(conn);
}

Transaction::~Transaction() {
  if (conn_ != nullptr && !sqlite3_get_autocommit(conn_->raw())) {
    (void)conn_->Exec("ROLLBACK");
  }
}

absl::Status Transaction::Commit() {
  absl::Status status = conn_->Exec("COMMIT");
  if (status.ok()) conn_ = nullptr;
  return status;
}

}  // namespace ferry::store::sqlite_internal
