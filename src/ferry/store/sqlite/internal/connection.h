#ifndef FERRY_STORE_SQLITE_INTERNAL_CONNECTION_H_
#define FERRY_STORE_SQLITE_INTERNAL_CONNECTION_H_

// A thin RAII layer over the sqlite3 C API: one Connection per sqlite3
// handle, with a cache of prepared statements, and Statement handles that
// reset themselves when they go out of scope.
//
// Thread safety: a Connection and the Statements it hands out must be used by
// one thread at a time (the store serialises access with its writer mutex or
// its reader pool). SQLite itself is built thread-safe (SQLITE_THREADSAFE=1).

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ferry::store::sqlite_internal {

// A value bound to a `?` placeholder. std::monostate binds NULL.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

// A prepared statement borrowed from a Connection's cache. Destroying it
// resets the statement and clears its bindings so the next user starts clean.
class Statement {
 public:
  Statement(Statement&& other) noexcept
      : conn_(other.conn_),
        stmt_(other.stmt_),
        owned_(other.owned_),
        bind_error_(other.bind_error_) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Placeholders are numbered from 1.
  void BindInt(int index, int64_t value);
  void BindDouble(int index, double value);  // NaN binds NULL, as SQLite would.
  void BindText(int index, std::string_view value);
  void BindNull(int index);
  void Bind(int index, const SqlValue& value);
  // Binds `values` to placeholders 1..n.
  void BindAll(const std::vector<SqlValue>& values);

  // Advances one row: true when a row is available, false when done. Once
  // done (or failed) the statement is reset, keeping its bindings, so it can
  // be re-bound and run again. A failed Bind* surfaces here.
  absl::StatusOr<bool> Step();
  // Steps to completion, ignoring rows. For INSERT/UPDATE/DELETE.
  absl::Status Run();

  bool IsNull(int column) const;
  int64_t Int(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;

 private:
  friend class Connection;
  Statement(class Connection* conn, sqlite3_stmt* stmt, bool owned)
      : conn_(conn), stmt_(stmt), owned_(owned) {}

  void Check(int rc);

  class Connection* conn_;
  sqlite3_stmt* stmt_;
  bool owned_;  // not cached: finalized on destruction
  int bind_error_ = SQLITE_OK;
};

struct ConnectionOptions {
  // Filename passed to sqlite3_open_v2 (a path, or a "file:" URI).
  std::string filename;
  bool read_only = false;
  // How long a connection waits on a lock held by another connection before
  // giving up. Only other processes (or other stores on the same file) can
  // hold one: inside a store, writes are serialised before reaching SQLite.
  int busy_timeout_ms = 30'000;
  // Prepared statements kept per connection. Once full, further distinct SQL
  // texts are prepared per use and finalized afterwards (nothing is evicted,
  // so a live Statement never dangles).
  size_t statement_cache_capacity = 512;
};

class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectionOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Executes one or more statements without results (DDL, PRAGMA, BEGIN...).
  absl::Status Exec(std::string_view sql);
  // Returns a cached prepared statement for `sql`, preparing it on first use.
  absl::StatusOr<Statement> Prepare(const std::string& sql);

  // The status for the most recent failure on this connection, with `what`
  // as context. A UNIQUE / PRIMARY KEY violation maps to AlreadyExists,
  // SQLITE_BUSY/LOCKED to Unavailable, everything else to Internal.
  absl::Status Error(int rc, std::string_view what) const;

  int64_t Changes() const { return sqlite3_changes64(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db, size_t cache_capacity)
      : db_(db), cache_capacity_(cache_capacity) {}

  sqlite3* db_;
  size_t cache_capacity_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// BEGIN (IMMEDIATE for writes) on construction; Commit() commits; destroying
// an uncommitted transaction rolls it back.
class Transaction {
 public:
  enum class Mode { kRead, kWrite };
  static absl::StatusOr<Transaction> Begin(Connection* conn, Mode mode);
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  absl::Status Commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;
};

}  // namespace ferry::store::sqlite_internal

#endif  // FERRY_STORE_SQLITE_INTERNAL_CONNECTION_H_
