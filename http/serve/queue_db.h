#pragma once
// Inside the run queue: the connection, prepared statements, transactions and the row readers
// that queue.cc (group commit), queue_schema.cc, queue_runs.cc and queue_outbox.cc share. Only
// those files include it.

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "http/serve/queue.h"

namespace wfrun::serve {

using Db = Handle<sqlite3, sqlite3_close_v2>;
using StmtHandle = Handle<sqlite3_stmt, sqlite3_finalize>;

struct Queue::Impl {
  Impl();   // both in queue_checkpoint.cc, where Checkpointer is complete
  ~Impl();
  std::string path;
  Db db;

  // submit() hands its work to the writer thread through this list.
  struct Pending {
    Submission in;
    std::optional<Result<Submitted>> out;
    // Its own lock and signal: a commit wakes only the handlers it answered, and they do not
    // queue up on one lock to wake (a convoy under load).
    std::mutex mu;
    std::condition_variable done;
  };
  std::mutex wmu;
  std::condition_variable work_cv;
  std::vector<Pending*> pending;
  bool stopping = false;

  // WAL checkpoints run on their own thread and connection (queue_checkpoint.cc): SQLite's
  // automatic one would copy pages back into the database inside a commit of the writer, and
  // every delivery waiting for that commit would wait for the copy too.
  struct Checkpointer;
  std::unique_ptr<Checkpointer> checkpointer;

  Error db_error(const std::string& what) const {
    return Error(what + ": " + sqlite3_errmsg(db.get()) + " (" + path + ")");
  }
  Status exec(const char* sql, const char* what) {
    char* msg = nullptr;
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : "error";
      sqlite3_free(msg);
      return Error(std::string(what) + ": " + m + " (" + path + ")");
    }
    return {};
  }
};

namespace queue_db {

/// A prepared statement: Stmt s(impl, sql); s.bind(1, x); while (s.step()) ...
class Stmt {
 public:
  Stmt(Queue::Impl& impl, const char* sql) : impl_(impl) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(impl.db.get(), sql, -1, &s, nullptr) != SQLITE_OK)
      error_ = impl.db_error("preparing a query");
    stmt_.reset(s);
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_.get(), i, v);
    return *this;
  }
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(stmt_.get(), i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  bool step() {
    if (!stmt_) return false;
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) {
      failed_ = true;
      error_ = impl_.db_error("querying the run queue");
    }
    return false;
  }
  /// Runs a statement that returns no rows.
  Status run() {
    step();
    if (failed()) return error_;
    return {};
  }
  bool failed() const { return failed_ || !stmt_; }
  const Error& error() const { return error_; }
  std::int64_t i64(int c) { return sqlite3_column_int64(stmt_.get(), c); }
  double real(int c) { return sqlite3_column_double(stmt_.get(), c); }
  std::string text(int c) {
    const unsigned char* t = sqlite3_column_text(stmt_.get(), c);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), c)))
             : std::string();
  }

 private:
  Queue::Impl& impl_;
  StmtHandle stmt_;
  Error error_;
  bool failed_ = false;
};

/// BEGIN IMMEDIATE ... COMMIT; rolled back unless committed.
class Tx {
 public:
  explicit Tx(Queue::Impl& impl) : impl_(impl) { begun_ = impl_.exec("BEGIN IMMEDIATE", "locking the run queue"); }
  ~Tx() {
    if (begun_ && !done_) (void)impl_.exec("ROLLBACK", "rolling back");
  }
  const Status& begun() const { return begun_; }
  Status commit() {
    done_ = true;
    return impl_.exec("COMMIT", "writing to the run queue");
  }

 private:
  Queue::Impl& impl_;
  Status begun_;
  bool done_ = false;
};

/// Creates the tables (and adds the columns an older queue.db lacks), inside a transaction.
Status create_schema(Queue::Impl& impl);

/// Starts the checkpointer (a second connection to impl.path) and turns SQLite's automatic
/// checkpoints off on impl.db; stop_checkpointer() ends it (before impl.db closes).
Status start_checkpointer(Queue::Impl& impl);
void stop_checkpointer(Queue::Impl& impl);
/// The polling tables (queue_poll.cc): heads polling saw, and which source queued an event.
Status create_poll_schema(Queue::Impl& impl);
/// Writes `in.seen` (polling's heads, and the repository's "polled" mark).
Status write_seen_refs(Queue::Impl& impl, const Submission& in);
/// The runs the other source (webhook or poll) already queued for every run of `in`; empty
/// when any run of `in` is new.
Result<std::vector<std::int64_t>> queued_by_other_source(Queue::Impl& impl, const Submission& in);
/// Remembers which source queued `runs` (ids[i] for in.runs[i]).
Status remember_sources(Queue::Impl& impl, const Submission& in,
                        const std::vector<std::int64_t>& ids, double now);

/// The runs columns read_run() reads, in its order.
extern const char* const kRunColumns;
RunRow read_run(Stmt& s);

/// Queues a commit status for `run_id` in the outbox.
Status insert_report(Queue::Impl& impl, std::int64_t run_id, const Report& r, double now);

}  // namespace queue_db
}  // namespace wfrun::serve
