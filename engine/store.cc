#include "engine/store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "engine/fs.h"
#include "engine/sqlite.h"

namespace wfrun::engine {

namespace {

namespace fs = std::filesystem;

using Db = Handle<sqlite3, sqlite3_close_v2>;
using StmtHandle = Handle<sqlite3_stmt, sqlite3_finalize>;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY,
  number INTEGER NOT NULL,
  workflow TEXT NOT NULL,
  workflow_file TEXT NOT NULL DEFAULT '',
  dir TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  started REAL NOT NULL DEFAULT 0,
  finished REAL NOT NULL DEFAULT 0,
  UNIQUE(workflow, number));
CREATE TABLE IF NOT EXISTS jobs(
  run_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  state TEXT NOT NULL,
  exit_code INTEGER,
  signal INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  started REAL NOT NULL DEFAULT 0,
  finished REAL NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  outputs TEXT NOT NULL DEFAULT '{}',
  log_path TEXT NOT NULL DEFAULT '',
  seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(run_id, name));
CREATE TABLE IF NOT EXISTS datasets(
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  path TEXT NOT NULL,
  run_id INTEGER NOT NULL DEFAULT 0,
  created REAL NOT NULL,
  PRIMARY KEY(name, version));
CREATE TABLE IF NOT EXISTS models(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  dataset TEXT NOT NULL,
  dataset_version INTEGER NOT NULL,
  path TEXT NOT NULL,
  run_id INTEGER NOT NULL DEFAULT 0,
  created REAL NOT NULL);
)sql";

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

RunState parse_run_state(const std::string& s) {
  for (auto st : {RunState::kQueued, RunState::kRunning, RunState::kSucceeded, RunState::kFailed,
                  RunState::kCancelled, RunState::kInterrupted})
    if (s == run_state_name(st)) return st;
  return RunState::kInterrupted;
}

JobState parse_job_state(const std::string& s) {
  for (auto st : {JobState::kPending, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                  JobState::kSkipped, JobState::kCancelled, JobState::kTimedOut})
    if (s == job_state_name(st)) return st;
  return JobState::kFailed;
}

}  // namespace

/// The SQLite connection and its prepared statements.
struct StoreImpl {
  std::string state_dir;
  Db db;
  StmtHandle upsert_job;  // update_jobs(); finalized before the connection closes

  Error db_error(const std::string& what) const {
    return Error(what + ": " + sqlite3_errmsg(db.get()) + " (" + state_dir + "/wfrun.db)");
  }

  Status exec(const char* sql, const char* what) {
    char* msg = nullptr;
    int rc = sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg);
    if (rc != SQLITE_OK) {
      std::string m = msg ? msg : sqlite3_errstr(rc);
      sqlite3_free(msg);
      return Error(std::string(what) + ": " + m + " (" + state_dir + "/wfrun.db)");
    }
    return {};
  }

  Result<StmtHandle> prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql, -1, &s, nullptr) != SQLITE_OK)
      return db_error("preparing a query");
    return StmtHandle(s);
  }
};

namespace {

/// A prepared statement with positional binding: Query q(impl, sql); q.bind(1, x); q.step().
class Query {
 public:
  Query(StoreImpl& impl, const char* sql) : impl_(impl) {
    auto s = impl.prepare(sql);
    if (s) {
      owned_ = std::move(*s);
      stmt_ = owned_.get();
    } else {
      error_ = s.error();
    }
  }
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
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) {
      failed_ = true;
      error_ = impl_.db_error("querying the run store");
    }
    return false;
  }
  bool failed() const { return failed_ || !ok(); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t i64(int c) { return sqlite3_column_int64(stmt_, c); }
  double real(int c) { return sqlite3_column_double(stmt_, c); }
  bool null(int c) { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::string text(int c) {
    const unsigned char* t = sqlite3_column_text(stmt_, c);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, c)))
             : std::string();
  }

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

RunRecord read_run_row(Query& q) {
  RunRecord r;
  r.id = q.i64(0);
  r.number = q.i64(1);
  r.workflow = q.text(2);
  r.workflow_file = q.text(3);
  r.dir = q.text(4);
  r.state = parse_run_state(q.text(5));
  r.started = q.real(6);
  r.finished = q.real(7);
  return r;
}

// The highest version folder of a dataset on disk (folders created by hand count too).
int max_version_on_disk(const std::string& dir) {
  int best = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.empty() || n.size() > 9 || !std::all_of(n.begin(), n.end(), ::isdigit)) continue;
    if (e.is_directory(ec)) best = std::max(best, std::stoi(n));
  }
  return best;
}

}  // namespace

Result<RunStore> RunStore::open(const std::string& state_dir) {
  if (state_dir.empty()) return Error("no state directory given");
  if (auto s = make_dirs(state_dir + "/runs"); !s) return s.error();
  auto impl = std::make_unique<StoreImpl>();
  impl->state_dir = state_dir;
  // WAL lets readers (wfrun runs, the dashboard) work while a run writes; NORMAL is durable
  // enough for a run record (a power cut may lose the last transactions, never corrupt).
  auto db = open_sqlite(state_dir + "/wfrun.db", "NORMAL");
  if (!db) return db.error().context("opening the run store");
  impl->db.reset(*db);
  {
    Transaction t(*impl);
    if (!t.begun()) return t.begun().error();
    if (auto s = impl->exec(kSchema, "creating the run store's tables"); !s) return s.error();
    if (auto s = t.commit(); !s) return s.error();
  }
  return RunStore(std::move(impl));
}

RunStore::RunStore(std::unique_ptr<StoreImpl> impl) : impl_(std::move(impl)) {}
RunStore::RunStore(RunStore&&) noexcept = default;
RunStore& RunStore::operator=(RunStore&&) noexcept = default;
RunStore::~RunStore() = default;

const std::string& RunStore::state_dir() const { return impl_->state_dir; }

Result<RunRecord> RunStore::create_run(const std::string& workflow,
                                       const std::string& workflow_file) {
  RunRecord r;
  r.workflow = workflow;
  r.workflow_file = workflow_file;
  r.state = RunState::kQueued;
  r.started = now_seconds();
  {
    Transaction t(*impl_);
    if (!t.begun()) return t.begun().error();
    Query q(*impl_, "SELECT COALESCE(MAX(number), 0) + 1 FROM runs WHERE workflow = ?");
    if (!q.ok()) return q.error();
    q.bind(1, workflow);
    if (!q.step()) return q.error();
    r.number = q.i64(0);
    Query ins(*impl_,
              "INSERT INTO runs(number, workflow, workflow_file, state, started) "
              "VALUES (?, ?, ?, ?, ?)");
    if (!ins.ok()) return ins.error();
    ins.bind(1, r.number)
        .bind(2, workflow)
        .bind(3, workflow_file)
        .bind(4, std::string(run_state_name(r.state)))
        .bind(5, r.started);
    ins.step();
    if (ins.failed()) return ins.error();
    r.id = sqlite3_last_insert_rowid(impl_->db.get());
    r.dir = impl_->state_dir + "/runs/" + std::to_string(r.id);
    Query upd(*impl_, "UPDATE runs SET dir = ? WHERE id = ?");
    if (!upd.ok()) return upd.error();
    upd.bind(1, r.dir).bind(2, r.id);
    upd.step();
    if (upd.failed()) return upd.error();
    if (auto s = t.commit(); !s) return s.error();
  }
  if (auto s = make_dirs(r.dir + "/jobs"); !s) return s.error();
  return r;
}

Result<void> RunStore::update_run(const RunRecord& run) {
  Query q(*impl_, "UPDATE runs SET state = ?, started = ?, finished = ? WHERE id = ?");
  if (!q.ok()) return q.error();
  q.bind(1, std::string(run_state_name(run.state)))
      .bind(2, run.started)
      .bind(3, run.finished)
      .bind(4, run.id);
  q.step();
  if (q.failed()) return q.error();
  return {};
}

Result<void> RunStore::update_job(std::int64_t run_id, const JobResult& job) {
  return update_jobs(run_id, {&job});
}

Result<void> RunStore::update_jobs(std::int64_t run_id, const std::vector<const JobResult*>& jobs) {
  if (jobs.empty()) return {};
  // One transaction for a batch: the executor flushes every job that changed in one pass of
  // its loop, which keeps a run of many short jobs from paying a commit per change.
  Transaction t(*impl_);
  if (!t.begun()) return t.begun().error();
  if (!impl_->upsert_job) {
    auto st = impl_->prepare(
        "INSERT INTO jobs(run_id, name, state, exit_code, signal, attempts, started, finished, "
        "message, outputs, log_path, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?, "
        "(SELECT COUNT(*) FROM jobs WHERE run_id = ?1)) "
        "ON CONFLICT(run_id, name) DO UPDATE SET state = excluded.state, "
        "exit_code = excluded.exit_code, signal = excluded.signal, attempts = excluded.attempts, "
        "started = excluded.started, finished = excluded.finished, message = excluded.message, "
        "outputs = excluded.outputs, log_path = excluded.log_path");
    if (!st) return st.error();
    impl_->upsert_job = std::move(*st);
  }
  // Prepared once per connection: a run of many short jobs flushes often.
  Query q(*impl_, impl_->upsert_job.get());
  for (const JobResult* job : jobs) {
    nlohmann::json outputs = job->outputs;
    q.bind(1, run_id)
        .bind(2, job->name)
        .bind(3, std::string(job_state_name(job->state)))
        .bind(4, job->exit_code)
        .bind(5, job->signal)
        .bind(6, job->attempts)
        .bind(7, job->started)
        .bind(8, job->finished)
        .bind(9, job->message)
        .bind(10, outputs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
        .bind(11, job->log_path);
    q.step();
    if (q.failed()) {
      q.reset();
      return q.error();
    }
    q.reset();
  }
  return t.commit();
}

Result<RunRecord> RunStore::get_run(std::int64_t id) {
  Query q(*impl_,
          "SELECT id, number, workflow, workflow_file, dir, state, started, finished FROM runs "
          "WHERE id = ?");
  if (!q.ok()) return q.error();
  q.bind(1, id);
  if (!q.step()) {
    if (q.failed()) return q.error();
    return Error("no run " + std::to_string(id));
  }
  RunRecord r = read_run_row(q);
  Query j(*impl_,
          "SELECT name, state, exit_code, signal, attempts, started, finished, message, outputs, "
          "log_path FROM jobs WHERE run_id = ? ORDER BY seq");
  if (!j.ok()) return j.error();
  j.bind(1, id);
  while (j.step()) {
    JobResult jr;
    jr.name = j.text(0);
    jr.state = parse_job_state(j.text(1));
    if (!j.null(2)) jr.exit_code = static_cast<int>(j.i64(2));
    if (!j.null(3)) jr.signal = static_cast<int>(j.i64(3));
    jr.attempts = static_cast<int>(j.i64(4));
    jr.started = j.real(5);
    jr.finished = j.real(6);
    jr.message = j.text(7);
    auto outputs = nlohmann::json::parse(j.text(8), nullptr, false);
    if (outputs.is_object())
      for (auto it = outputs.begin(); it != outputs.end(); ++it)
        if (it->is_string()) jr.outputs[it.key()] = it->get<std::string>();
    jr.log_path = j.text(9);
    r.jobs.push_back(std::move(jr));
  }
  if (j.failed()) return j.error();
  return r;
}

Result<std::vector<RunRecord>> RunStore::list_runs(int limit) {
  Query q(*impl_,
          "SELECT id, number, workflow, workflow_file, dir, state, started, finished FROM runs "
          "ORDER BY id DESC LIMIT ?");
  if (!q.ok()) return q.error();
  q.bind(1, limit);
  std::vector<RunRecord> out;
  while (q.step()) out.push_back(read_run_row(q));
  if (q.failed()) return q.error();
  return out;
}

std::string RunStore::dataset_dir(const std::string& name, int version) const {
  return impl_->state_dir + "/datasets/" + name + "/" + std::to_string(version);
}

namespace {

Result<int> next_dataset_version(StoreImpl& impl, const std::string& name) {
  Query q(impl, "SELECT COALESCE(MAX(version), 0) FROM datasets WHERE name = ?");
  if (!q.ok()) return q.error();
  q.bind(1, name);
  if (!q.step()) return q.error();
  int in_db = static_cast<int>(q.i64(0));
  return std::max(in_db, max_version_on_disk(impl.state_dir + "/datasets/" + name)) + 1;
}

Result<DatasetVersion> insert_dataset(StoreImpl& impl, const std::string& name, int version,
                                      const std::string& path, std::int64_t run_id) {
  DatasetVersion d{name, version, path, run_id, now_seconds()};
  Query ins(impl, "INSERT INTO datasets(name, version, path, run_id, created) VALUES (?,?,?,?,?)");
  if (!ins.ok()) return ins.error();
  ins.bind(1, name).bind(2, version).bind(3, path).bind(4, run_id).bind(5, d.created);
  ins.step();
  if (ins.failed()) return ins.error();
  return d;
}

}  // namespace

Result<DatasetVersion> RunStore::add_dataset_version(const std::string& name,
                                                     const std::string& path, std::int64_t run_id) {
  Transaction t(*impl_);
  if (!t.begun()) return t.begun().error();
  auto v = next_dataset_version(*impl_, name);
  if (!v) return v.error();
  auto d = insert_dataset(*impl_, name, *v, path, run_id);
  if (!d) return d.error();
  if (auto s = t.commit(); !s) return s.error();
  return d;
}

Result<DatasetVersion> RunStore::commit_dataset_version(const std::string& name,
                                                        const std::string& from,
                                                        std::int64_t run_id) {
  // The rename happens inside the write transaction, so two processes committing versions
  // of one dataset at once get distinct numbers and never see a half-recorded version.
  Transaction t(*impl_);
  if (!t.begun()) return t.begun().error();
  auto v = next_dataset_version(*impl_, name);
  if (!v) return v.error();
  std::string dir = dataset_dir(name, *v);
  if (auto s = make_dirs(impl_->state_dir + "/datasets/" + name); !s) return s.error();
  if (::rename(from.c_str(), dir.c_str()) != 0)
    return errno_error("moving '" + from + "' to '" + dir + "'", errno);
  auto d = insert_dataset(*impl_, name, *v, dir, run_id);
  if (!d) {
    (void)::rename(dir.c_str(), from.c_str());
    return d.error();
  }
  if (auto s = t.commit(); !s) return s.error();
  return d;
}

Result<DatasetVersion> RunStore::find_dataset(const std::string& name, std::optional<int> version) {
  std::string label = version ? name + ":" + std::to_string(*version) : name;
  Query q(*impl_,
          version ? "SELECT version, path, run_id, created FROM datasets WHERE name = ? AND "
                    "version = ?"
                  : "SELECT version, path, run_id, created FROM datasets WHERE name = ? ORDER BY "
                    "version DESC LIMIT 1");
  if (!q.ok()) return q.error();
  q.bind(1, name);
  if (version) q.bind(2, *version);
  DatasetVersion d;
  d.name = name;
  bool found = q.step();
  if (q.failed()) return q.error();
  if (found) {
    d.version = static_cast<int>(q.i64(0));
    d.path = q.text(1);
    d.run_id = q.i64(2);
    d.created = q.real(3);
  }
  // A version folder made by hand under datasets/NAME/ counts as well.
  int on_disk = version ? 0 : max_version_on_disk(impl_->state_dir + "/datasets/" + name);
  if (version && !found && is_dir(dataset_dir(name, *version))) on_disk = *version;
  if (on_disk > d.version) {
    d.version = on_disk;
    d.path = dataset_dir(name, on_disk);
    d.run_id = 0;
    d.created = 0;
    found = true;
  }
  if (!found)
    return Error("dataset '" + label + "' not found in " + impl_->state_dir + "/datasets");
  return d;
}

Result<ModelRecord> RunStore::add_model(const ModelRecord& m) {
  ModelRecord out = m;
  if (out.created == 0) out.created = now_seconds();
  Transaction t(*impl_);
  if (!t.begun()) return t.begun().error();
  Query ins(*impl_,
            "INSERT INTO models(name, type, dataset, dataset_version, path, run_id, created) "
            "VALUES (?,?,?,?,?,?,?)");
  if (!ins.ok()) return ins.error();
  ins.bind(1, out.name)
      .bind(2, out.type)
      .bind(3, out.dataset)
      .bind(4, out.dataset_version)
      .bind(5, out.path)
      .bind(6, out.run_id)
      .bind(7, out.created);
  ins.step();
  if (ins.failed()) return ins.error();
  out.id = "mdl-" + std::to_string(sqlite3_last_insert_rowid(impl_->db.get()));
  Query upd(*impl_, "UPDATE models SET id = ? WHERE seq = ?");
  if (!upd.ok()) return upd.error();
  upd.bind(1, out.id).bind(2,
                           static_cast<std::int64_t>(sqlite3_last_insert_rowid(impl_->db.get())));
  upd.step();
  if (upd.failed()) return upd.error();
  if (auto s = t.commit(); !s) return s.error();
  return out;
}

Result<std::vector<ModelRecord>> RunStore::list_models() {
  Query q(*impl_,
          "SELECT id, name, type, dataset, dataset_version, path, run_id, created FROM models "
          "ORDER BY seq");
  if (!q.ok()) return q.error();
  std::vector<ModelRecord> out;
  while (q.step()) {
    ModelRecord m;
    m.id = q.text(0);
    m.name = q.text(1);
    m.type = q.text(2);
    m.dataset = q.text(3);
    m.dataset_version = static_cast<int>(q.i64(4));
    m.path = q.text(5);
    m.run_id = q.i64(6);
    m.created = q.real(7);
    out.push_back(std::move(m));
  }
  if (q.failed()) return q.error();
  return out;
}

}  // namespace wfrun::engine
