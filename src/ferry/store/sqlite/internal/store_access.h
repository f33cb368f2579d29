#ifndef FERRY_STORE_SQLITE_INTERNAL_STORE_ACCESS_H_
#define FERRY_STORE_SQLITE_INTERNAL_STORE_ACCESS_H_

// Definitions of SqliteStore::Read and SqliteStore::Write, the two ways every
// store method reaches a connection. They live in a header so that the
// tracking half (sqlite_store.cc) and the registry half
// (sqlite_registry_store.cc) of SqliteStore share one implementation.
// Include only from those files.

#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "ferry/common/status.h"
#include "ferry/store/internal/page_token.h"
#include "ferry/store/sqlite/internal/connection.h"
#include "ferry/store/sqlite/internal/search_sql.h"
#include "ferry/store/sqlite/sqlite_store.h"

namespace ferry::store {
namespace sqlite_internal {

template <typename T>
bool IsOk(const T& result) {
  return result.ok();
}

// Runs a search built with LIMIT max_results + 1 and reads one page of rows
// with `read_row(statement)`; an extra row means there is a next page, whose
// token is the offset after this one.
template <typename T, typename ReadRow>
absl::StatusOr<Page<T>> ReadPage(Connection& conn, const SearchSql& sql, int64_t offset,
                                 int max_results, ReadRow read_row) {
  Page<T> page;
  FERRY_ASSIGN_OR_RETURN(Statement s, conn.Prepare(sql.sql));
  s.BindAll(sql.binds);
  while (true) {
    FERRY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    page.items.push_back(read_row(s));
  }
  if (page.items.size() > static_cast<size_t>(max_results)) {
    page.items.resize(static_cast<size_t>(max_results));
    page.next_page_token = internal::EncodePageToken(offset + max_results);
  }
  return page;
}

}  // namespace sqlite_internal

template <typename Fn>
auto SqliteStore::Read(Fn&& fn) -> decltype(fn(std::declval<sqlite_internal::Connection&>())) {
  using sqlite_internal::Connection;
  using sqlite_internal::Transaction;
  using Result = decltype(fn(std::declval<Connection&>()));
  auto run = [&](Connection& conn) -> Result {
    absl::StatusOr<Transaction> txn = Transaction::Begin(&conn, Transaction::Mode::kRead);
    if (!txn.ok()) return Result(txn.status());
    Result result = fn(conn);
    if (sqlite_internal::IsOk(result)) {
      absl::Status committed = txn->Commit();
      if (!committed.ok()) return Result(committed);
    }
    return result;
  };
  if (in_memory_) {
    std::lock_guard<std::mutex> lock(writer_mu_);
    return run(*writer_);
  }
  Connection* conn = AcquireReader();
  Result result = run(*conn);
  ReleaseReader(conn);
  return result;
}

template <typename Fn>
auto SqliteStore::Write(Fn&& fn) -> decltype(fn(std::declval<sqlite_internal::Connection&>())) {
  using sqlite_internal::Connection;
  using sqlite_internal::Transaction;
  using Result = decltype(fn(std::declval<Connection&>()));
  std::lock_guard<std::mutex> lock(writer_mu_);
  absl::StatusOr<Transaction> txn = Transaction::Begin(writer_.get(), Transaction::Mode::kWrite);
  if (!txn.ok()) return Result(txn.status());
  Result result = fn(*writer_);
  if (!sqlite_internal::IsOk(result)) return result;  // ~Transaction rolls back
  absl::Status committed = txn->Commit();
  if (!committed.ok()) return Result(committed);
  // Statistics upkeep must not fail a write that has committed.
  (void)MaybeAnalyzeLocked(/*force_check=*/false);
  return result;
}

}  // namespace ferry::store

#endif  // FERRY_STORE_SQLITE_INTERNAL_STORE_ACCESS_H_
