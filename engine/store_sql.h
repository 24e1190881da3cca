#pragma once
// Inside the run store (store.cc, store_data.cc, store_owner.cc): the connection, prepared
// statements with positional binding, and write transactions. Not for other folders.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "engine/store.h"

namespace wfrun::engine {

using StmtHandle = Handle<sqlite3_stmt, sqlite3_finalize>;

/// The SQLite connection and its prepared statements.
struct StoreImpl {
  std::string state_dir;
  Handle<sqlite3, sqlite3_close_v2> db;
  StmtHandle upsert_job;  // update_jobs(); finalized before the connection closes

  Error db_error(const std::string& what) const;
  Status exec(const char* sql, const char* what);
  Result<StmtHandle> prepare(const char* sql);
};

/// A prepared statement with positional binding: Query q(impl, sql); q.bind(1, x); q.step().
class Query {
 public:
  Query(StoreImpl& impl, const char* sql);
  /// A statement prepared earlier and kept by the caller.
  Query(StoreImpl& impl, sqlite3_stmt* borrowed) : impl_(impl), stmt_(borrowed) {}
  bool ok() const { return stmt_ != nullptr; }
  const Error& error() const { return error_; }
  Query& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Query& bind(int i, int v) {
    sqlite3_bind_int(stmt_, i, v);
    return *this;
  }
  Query& bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Query& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Query& bind(int i, std::optional<int> v) {
    if (v)
      sqlite3_bind_int(stmt_, i, *v);
    else
      sqlite3_bind_null(stmt_, i);
    return *this;
  }
  /// SQLITE_ROW -> true, SQLITE_DONE -> false; errors land in error().
  bool step();
  /// Steps a statement that returns no rows; its error, if any.
  Status run();
  bool failed() const { return failed_ || !ok(); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t i64(int c) { return sqlite3_column_int64(stmt_, c); }
  double real(int c) { return sqlite3_column_double(stmt_, c); }
  bool null(int c) { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::string text(int c);

 private:
  StoreImpl& impl_;
  StmtHandle owned_;
  sqlite3_stmt* stmt_ = nullptr;
  Error error_;
  bool failed_ = false;
};

/// BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() succeeded. IMMEDIATE takes the
/// write lock up front, so two processes allocating numbers wait on busy_timeout instead of
/// failing with SQLITE_BUSY when a read transaction would have to be upgraded.
class Transaction {
 public:
  explicit Transaction(StoreImpl& impl) : impl_(impl) {
    status_ = impl_.exec("BEGIN IMMEDIATE", "locking the run store");
  }
  ~Transaction() {
    if (status_ && !done_) (void)impl_.exec("ROLLBACK", "rolling back");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  const Status& begun() const { return status_; }
  Status commit() {
    done_ = true;
    return impl_.exec("COMMIT", "writing to the run store");
  }

 private:
  StoreImpl& impl_;
  Status status_;
  bool done_ = false;
};

/// Unix time now, in seconds.
double store_now();

/// The runs table's columns as read_run_row() expects them first in a SELECT.
extern const char* const kRunColumns;
inline constexpr int kRunColumnCount = 18;
RunRecord read_run_row(Query& q);
/// "0,3" -> {0, 3}: a job's GPUs as the jobs table keeps them.
std::vector<int> split_ints(const std::string& s);
/// Run `run_id`'s jobs, in workflow order.
Result<std::vector<JobResult>> read_jobs(StoreImpl& impl, std::int64_t run_id);

}  // namespace wfrun::engine
