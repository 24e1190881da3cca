#include "http/serve/queue.h"

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "engine/fs.h"
#include "engine/sqlite.h"

namespace wfrun::serve {

namespace {

using Db = Handle<sqlite3, sqlite3_close_v2>;
using StmtHandle = Handle<sqlite3_stmt, sqlite3_finalize>;
using nlohmann::json;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS deliveries(
  guid TEXT PRIMARY KEY,
  event TEXT NOT NULL,
  received REAL NOT NULL,
  runs TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery TEXT NOT NULL DEFAULT '',
  event TEXT NOT NULL,
  repo TEXT NOT NULL,
  clone_url TEXT NOT NULL DEFAULT '',
  sha TEXT NOT NULL DEFAULT '',
  ref TEXT NOT NULL DEFAULT '',
  base_ref TEXT NOT NULL DEFAULT '',
  workflow TEXT NOT NULL DEFAULT '',
  inputs TEXT NOT NULL DEFAULT '{}',
  payload TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  interruptions INTEGER NOT NULL DEFAULT 0,
  pid INTEGER NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  queued REAL NOT NULL DEFAULT 0,
  started REAL NOT NULL DEFAULT 0,
  finished REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, id);
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL,
  repo TEXT NOT NULL,
  sha TEXT NOT NULL,
  state TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  target_url TEXT NOT NULL DEFAULT '',
  context TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_try REAL NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,  -- 0 pending, 1 sent, 2 given up, 3 superseded
  last_error TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(done, next_try);
CREATE TABLE IF NOT EXISTS skip_decisions(
  repo TEXT NOT NULL COLLATE NOCASE,
  event TEXT NOT NULL,
  ref TEXT NOT NULL,
  base_ref TEXT NOT NULL,
  sha TEXT NOT NULL,
  run_id INTEGER NOT NULL,
  decided REAL NOT NULL,
  PRIMARY KEY(repo, event, ref, base_ref, sha)) WITHOUT ROWID;
)sql";

const char* const kRunColumns =
    "id, delivery, event, repo, clone_url, sha, ref, base_ref, workflow, inputs, payload, status, "
    "message, attempts, interruptions, pid, cancel_requested, queued, started, finished";

}  // namespace

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

bool is_final_status(const std::string& s) {
  return s == "success" || s == "failure" || s == "error" || s == "skipped" ||
         s == "cancelled" || s == "interrupted";
}

struct Queue::Impl {
  std::string path;
  Db db;

  // submit() hands its work to the writer thread through this list.
  struct Pending {
    Submission in;
    std::optional<Result<Submitted>> out;
    std::condition_variable done;  // its own: a commit wakes only the handlers it answered
  };
  std::mutex wmu;
  std::condition_variable work_cv;
  std::vector<Pending*> pending;
  bool stopping = false;

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

namespace {

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

RunRow read_run(Stmt& s) {
  RunRow r;
  r.id = s.i64(0);
  r.request.delivery = s.text(1);
  r.request.event = s.text(2);
  r.request.repo = s.text(3);
  r.request.clone_url = s.text(4);
  r.request.sha = s.text(5);
  r.request.ref = s.text(6);
  r.request.base_ref = s.text(7);
  r.request.workflow = s.text(8);
  auto inputs = json::parse(s.text(9), nullptr, false);
  if (inputs.is_object())
    for (auto it = inputs.begin(); it != inputs.end(); ++it)
      if (it->is_string()) r.request.inputs[it.key()] = it->get<std::string>();
  r.request.payload = s.text(10);
  r.status = s.text(11);
  r.message = s.text(12);
  r.attempts = static_cast<int>(s.i64(13));
  r.interruptions = static_cast<int>(s.i64(14));
  r.pid = s.i64(15);
  r.cancel_requested = s.i64(16) != 0;
  r.queued = s.real(17);
  r.started = s.real(18);
  r.finished = s.real(19);
  return r;
}

Status insert_report(Queue::Impl& impl, std::int64_t run_id, const Report& r, double now) {
  Stmt s(impl,
         "INSERT INTO outbox(run_id, repo, sha, state, description, target_url, context, next_try) "
         "VALUES (?,?,?,?,?,?,?,?)");
  s.bind(1, run_id).bind(2, r.repo).bind(3, r.sha).bind(4, r.state).bind(5, r.description);
  s.bind(6, r.target_url).bind(7, r.context).bind(8, now);
  return s.run();
}

/// Adds a column that an older queue.db lacks.
Status add_column(Queue::Impl& impl, const char* table, const char* column, const char* decl) {
  Stmt s(impl, (std::string("SELECT 1 FROM pragma_table_info('") + table + "') WHERE name = ?").c_str());
  s.bind(1, std::string(column));
  if (s.step()) return {};
  if (s.failed()) return s.error();
  std::string sql = std::string("ALTER TABLE ") + table + " ADD COLUMN " + column + " " + decl;
  return impl.exec(sql.c_str(), "upgrading the run queue's tables");
}

/// The answer for a delivery whose runs a skip decision covers ("" when one is not covered).
Result<std::string> known_skip(Queue::Impl& impl, const std::vector<RunRequest>& runs) {
  std::string why;
  for (const RunRequest& r : runs) {
    if (r.event != "push" && r.event != "pull_request") return std::string();
    Stmt s(impl,
           "SELECT run_id FROM skip_decisions WHERE repo = ? AND event = ? AND ref = ? AND "
           "base_ref = ? AND sha = ?");
    s.bind(1, r.repo).bind(2, r.event).bind(3, r.ref).bind(4, r.base_ref).bind(5, r.sha);
    if (!s.step()) {
      if (s.failed()) return s.error();
      return std::string();
    }
    const std::string what = r.event == "push" ? r.ref : "a pull request into " + r.base_ref;
    why += (why.empty() ? "" : "; ") + std::string("no workflow's on: matches ") + what + " at " +
           r.sha + " (decided by run " + std::to_string(s.i64(0)) + ")";
  }
  return why;
}

/// One submission, inside the writer's transaction (and its own savepoint).
Result<Submitted> record_one(Queue::Impl& impl, const Submission& in, double now) {
  Submitted out;
  if (!in.delivery.empty()) {
    Stmt s(impl, "SELECT runs, ignored FROM deliveries WHERE guid = ?");
    s.bind(1, in.delivery);
    if (s.step()) {
      out.duplicate = true;
      out.ignored = s.text(1);
      auto j = json::parse(s.text(0), nullptr, false);
      if (j.is_array())
        for (const auto& v : j)
          if (v.is_number_integer()) out.runs.push_back(v.get<std::int64_t>());
      return out;
    }
    if (s.failed()) return s.error();
  }
  if (in.use_decisions && !in.runs.empty()) {
    auto why = known_skip(impl, in.runs);
    if (!why) return why.error();
    out.ignored = *why;
  }
  if (out.ignored.empty()) {
    for (size_t i = 0; i < in.runs.size(); ++i) {
      const RunRequest& r = in.runs[i];
      json inputs = json::object();
      for (const auto& [k, v] : r.inputs) inputs[k] = v;
      Stmt s(impl,
             "INSERT INTO runs(delivery, event, repo, clone_url, sha, ref, base_ref, workflow, "
             "inputs, payload, status, queued) VALUES (?,?,?,?,?,?,?,?,?,?,'queued',?)");
      s.bind(1, r.delivery).bind(2, r.event).bind(3, r.repo).bind(4, r.clone_url).bind(5, r.sha);
      s.bind(6, r.ref).bind(7, r.base_ref).bind(8, r.workflow).bind(9, inputs.dump());
      s.bind(10, r.payload).bind(11, now);
      if (auto st = s.run(); !st) return st.error();
      const std::int64_t id = sqlite3_last_insert_rowid(impl.db.get());
      out.runs.push_back(id);
      if (i < in.reports.size() && !in.reports[i].state.empty()) {
        Report rep = in.reports[i];
        // The target URL names the run, known only now.
        if (!rep.target_url.empty() && rep.target_url.back() == '/') rep.target_url += std::to_string(id);
        if (auto st = insert_report(impl, id, rep, now); !st) return st.error();
      }
    }
  }
  if (!in.delivery.empty()) {
    Stmt s(impl, "INSERT INTO deliveries(guid, event, received, runs, ignored) VALUES (?,?,?,?,?)");
    s.bind(1, in.delivery).bind(2, in.event).bind(3, now).bind(4, json(out.runs).dump());
    s.bind(5, out.ignored);
    if (auto st = s.run(); !st) return st.error();
  }
  return out;
}

}  // namespace

Queue::~Queue() {
  if (impl_) {
    {
      std::lock_guard lock(impl_->wmu);
      impl_->stopping = true;
    }
    impl_->work_cv.notify_all();
  }
  if (writer_.joinable()) writer_.join();
}

Result<std::unique_ptr<Queue>> Queue::open(const std::string& state_dir) {
  if (state_dir.empty()) return Error("no state directory given");
  if (auto s = engine::make_dirs(state_dir + "/serve/runs"); !s) return s.error();
  std::unique_ptr<Queue> q(new Queue);
  q->impl_ = std::make_unique<Impl>();
  q->impl_->path = state_dir + "/serve/queue.db";
  // FULL: a delivery answered 202 must survive a power cut, not only a crash.
  auto db = engine::open_sqlite(q->impl_->path, "FULL");
  if (!db) return db.error().context("opening the run queue");
  q->impl_->db.reset(*db);
  Tx t(*q->impl_);
  if (!t.begun()) return t.begun().error();
  if (auto s = q->impl_->exec(kSchema, "creating the run queue's tables"); !s) return s.error();
  if (auto s = add_column(*q->impl_, "deliveries", "ignored", "TEXT NOT NULL DEFAULT ''"); !s)
    return s.error();
  if (auto s = t.commit(); !s) return s.error();
  q->writer_ = std::thread([p = q.get()] { p->write_loop(); });
  return q;
}

Result<Submitted> Queue::submit(Submission in) {
  Impl::Pending p{std::move(in), std::nullopt, {}};
  std::unique_lock lock(impl_->wmu);
  if (impl_->stopping) return Error("the run queue is closing");
  impl_->pending.push_back(&p);
  impl_->work_cv.notify_one();
  p.done.wait(lock, [&] { return p.out.has_value(); });
  return std::move(*p.out);
}

void Queue::write_loop() {
  Impl& impl = *impl_;
  std::vector<Impl::Pending*> batch;
  while (true) {
    {
      std::unique_lock lock(impl.wmu);
      impl.work_cv.wait(lock, [&] { return impl.stopping || !impl.pending.empty(); });
      if (impl.pending.empty()) return;  // stopping, and nothing left to write
      batch.swap(impl.pending);
    }
    // Everything that arrived while the last commit was syncing goes into this one.
    std::vector<Result<Submitted>> results;
    results.reserve(batch.size());
    {
      std::lock_guard db_lock(mu_);
      Tx t(impl);
      if (!t.begun()) {
        for (size_t i = 0; i < batch.size(); ++i) results.emplace_back(t.begun().error());
      } else {
        const double now = now_seconds();
        for (Impl::Pending* p : batch) {
          // A savepoint each: one bad delivery does not undo the others.
          if (auto st = impl.exec("SAVEPOINT one", "recording a delivery"); !st) {
            results.emplace_back(st.error());
            continue;
          }
          auto r = record_one(impl, p->in, now);
          if (r) {
            (void)impl.exec("RELEASE one", "recording a delivery");
          } else {
            (void)impl.exec("ROLLBACK TO one", "recording a delivery");
            (void)impl.exec("RELEASE one", "recording a delivery");
          }
          results.push_back(std::move(r));
        }
        if (Status committed = t.commit(); !committed) {
          (void)impl.exec("ROLLBACK", "rolling back");  // a failed COMMIT leaves it open
          for (auto& r : results)
            if (r) r = committed.error();
        }
      }
    }
    {
      // Notified under the lock: a handler cannot return (ending its Pending) before that.
      std::lock_guard lock(impl.wmu);
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i]->out.emplace(std::move(results[i]));
        batch[i]->done.notify_one();
      }
    }
    batch.clear();
  }
}

Result<std::vector<std::int64_t>> Queue::enqueue(const std::string& delivery,
                                                 const std::string& event,
                                                 const std::vector<RunRequest>& runs,
                                                 const std::vector<Report>& reports,
                                                 bool* duplicate) {
  auto r = submit(Submission{delivery, event, runs, reports, false});
  if (!r) return r.error();
  *duplicate = r->duplicate;
  return std::move(r->runs);
}

Status Queue::remember_skip(std::int64_t run_id, const RunRequest& r) {
  std::lock_guard lock(mu_);
  Stmt s(*impl_,
         "INSERT OR IGNORE INTO skip_decisions(repo, event, ref, base_ref, sha, run_id, decided) "
         "VALUES (?,?,?,?,?,?,?)");
  s.bind(1, r.repo).bind(2, r.event).bind(3, r.ref).bind(4, r.base_ref).bind(5, r.sha);
  s.bind(6, run_id).bind(7, now_seconds());
  return s.run();
}

Result<std::vector<RunRow>> Queue::start_queued(int n) {
  std::lock_guard lock(mu_);
  Impl& impl = *impl_;
  std::vector<RunRow> out;
  if (n <= 0) return out;
  Tx t(impl);
  if (!t.begun()) return t.begun().error();
  {
    std::string sql = std::string("SELECT ") + kRunColumns +
                      " FROM runs WHERE status = 'queued' ORDER BY id LIMIT ?";
    Stmt s(impl, sql.c_str());
    s.bind(1, n);
    while (s.step()) out.push_back(read_run(s));
    if (s.failed()) return s.error();
  }
  const double now = now_seconds();
  for (auto& r : out) {
    Stmt u(impl,
           "UPDATE runs SET status = 'running', attempts = attempts + 1, started = ?, pid = 0, "
           "message = '' WHERE id = ?");
    u.bind(1, now).bind(2, r.id);
    if (auto st = u.run(); !st) return st.error();
    r.status = "running";
    r.attempts += 1;
    r.started = now;
  }
  if (auto st = t.commit(); !st) return st.error();
  return out;
}

Status Queue::set_pid(std::int64_t id, std::int64_t pid) {
  std::lock_guard lock(mu_);
  Stmt s(*impl_, "UPDATE runs SET pid = ? WHERE id = ?");
  s.bind(1, pid).bind(2, id);
  return s.run();
}

Status Queue::finish(std::int64_t id, const std::string& status, const std::string& message,
                     const std::optional<Report>& report) {
  std::lock_guard lock(mu_);
  Impl& impl = *impl_;
  Tx t(impl);
  if (!t.begun()) return t.begun().error();
  const double now = now_seconds();
  Stmt s(impl, "UPDATE runs SET status = ?, message = ?, finished = ?, pid = 0 WHERE id = ?");
  s.bind(1, status).bind(2, message).bind(3, now).bind(4, id);
  if (auto st = s.run(); !st) return st;
  if (report && !report->state.empty()) {
    Stmt d(impl, "UPDATE outbox SET done = 3 WHERE run_id = ? AND done = 0");
    d.bind(1, id);
    if (auto st = d.run(); !st) return st;
    if (auto st = insert_report(impl, id, *report, now); !st) return st;
  }
  return t.commit();
}

Result<std::vector<RunRow>> Queue::recover_interrupted(bool requeue) {
  std::lock_guard lock(mu_);
  Impl& impl = *impl_;
  std::vector<RunRow> out;
  Tx t(impl);
  if (!t.begun()) return t.begun().error();
  {
    std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE status = 'running'";
    Stmt s(impl, sql.c_str());
    while (s.step()) out.push_back(read_run(s));
    if (s.failed()) return s.error();
  }
  const double now = now_seconds();
  for (auto& r : out) {
    r.interruptions += 1;
    const bool again = requeue && r.interruptions <= 1 && !r.cancel_requested;
    r.status = again ? "queued" : "interrupted";
    r.message = again ? "the server stopped while this run ran; queued again"
                      : "the server stopped while this run ran";
    Stmt u(impl,
           "UPDATE runs SET status = ?, message = ?, interruptions = ?, pid = 0, finished = ? "
           "WHERE id = ?");
    u.bind(1, r.status).bind(2, r.message).bind(3, r.interruptions).bind(4, again ? 0.0 : now);
    u.bind(5, r.id);
    if (auto st = u.run(); !st) return st.error();
  }
  if (auto st = t.commit(); !st) return st.error();
  return out;
}

Result<std::string> Queue::request_cancel(std::int64_t id) {
  std::lock_guard lock(mu_);
  Impl& impl = *impl_;
  Tx t(impl);
  if (!t.begun()) return t.begun().error();
  Stmt s(impl, "SELECT status FROM runs WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) {
    if (s.failed()) return s.error();
    return Error("no run " + std::to_string(id));
  }
  std::string status = s.text(0);
  if (status == "queued") {
    Stmt u(impl,
           "UPDATE runs SET status = 'cancelled', message = 'cancelled before it started', "
           "cancel_requested = 1, finished = ? WHERE id = ?");
    u.bind(1, now_seconds()).bind(2, id);
    if (auto st = u.run(); !st) return st.error();
    Stmt d(impl, "UPDATE outbox SET done = 3 WHERE run_id = ? AND done = 0");
    d.bind(1, id);
    if (auto st = d.run(); !st) return st.error();
    status = "cancelled";
  } else if (status == "running") {
    Stmt u(impl, "UPDATE runs SET cancel_requested = 1 WHERE id = ?");
    u.bind(1, id);
    if (auto st = u.run(); !st) return st.error();
    status = "cancelling";
  } else {
    return Error("run " + std::to_string(id) + " has already finished (" + status + ")");
  }
  if (auto st = t.commit(); !st) return st.error();
  return status;
}

Result<std::vector<std::int64_t>> Queue::cancel_requests() {
  std::lock_guard lock(mu_);
  Stmt s(*impl_, "SELECT id FROM runs WHERE status = 'running' AND cancel_requested = 1");
  std::vector<std::int64_t> out;
  while (s.step()) out.push_back(s.i64(0));
  if (s.failed()) return s.error();
  return out;
}

Result<std::optional<RunRow>> Queue::get(std::int64_t id) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?";
  Stmt s(*impl_, sql.c_str());
  s.bind(1, id);
  if (s.step()) return std::optional<RunRow>(read_run(s));
  if (s.failed()) return s.error();
  return std::optional<RunRow>();
}

Result<std::vector<RunRow>> Queue::list(const RunFilter& f) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kRunColumns +
                    " FROM runs WHERE (?1 = '' OR status = ?1) AND (?2 = '' OR repo = ?2 COLLATE "
                    "NOCASE) AND (?3 = 0 OR id < ?3) ORDER BY id DESC LIMIT ?4";
  Stmt s(*impl_, sql.c_str());
  s.bind(1, f.status).bind(2, f.repo).bind(3, f.before).bind(4, f.limit);
  std::vector<RunRow> out;
  while (s.step()) out.push_back(read_run(s));
  if (s.failed()) return s.error();
  return out;
}

Result<std::map<std::string, std::int64_t>> Queue::count_by_status() {
  std::lock_guard lock(mu_);
  Stmt s(*impl_, "SELECT status, COUNT(*) FROM runs GROUP BY status");
  std::map<std::string, std::int64_t> out;
  while (s.step()) out[s.text(0)] = s.i64(1);
  if (s.failed()) return s.error();
  return out;
}

// The outbox columns every report query selects first, and the Report they make.
#define WFRUN_REPORT_COLUMNS \
  "id, run_id, repo, sha, state, description, target_url, context, attempts, last_error"

static Report report_row(Stmt& s) {
  Report r;
  r.id = s.i64(0);
  r.run_id = s.i64(1);
  r.repo = s.text(2);
  r.sha = s.text(3);
  r.state = s.text(4);
  r.description = s.text(5);
  r.target_url = s.text(6);
  r.context = s.text(7);
  r.attempts = static_cast<int>(s.i64(8));
  r.last_error = s.text(9);
  return r;
}

Result<std::vector<Report>> Queue::due_reports(double now, int n) {
  std::lock_guard lock(mu_);
  Stmt s(*impl_,
         "SELECT " WFRUN_REPORT_COLUMNS
         " FROM outbox WHERE done = 0 AND next_try <= ? ORDER BY id LIMIT ?");
  s.bind(1, now).bind(2, n);
  std::vector<Report> out;
  while (s.step()) {
    Report r = report_row(s);
    out.push_back(std::move(r));
  }
  if (s.failed()) return s.error();
  return out;
}

Status Queue::report_sent(std::int64_t id) {
  std::lock_guard lock(mu_);
  Stmt s(*impl_, "UPDATE outbox SET done = 1, attempts = attempts + 1 WHERE id = ?");
  s.bind(1, id);
  return s.run();
}

Status Queue::report_failed(std::int64_t id, const std::string& error, double next_try,
                            bool give_up) {
  std::lock_guard lock(mu_);
  Stmt s(*impl_,
         "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_try = ?, done = ? "
         "WHERE id = ?");
  s.bind(1, error).bind(2, next_try).bind(3, give_up ? 2 : 0).bind(4, id);
  return s.run();
}

Result<double> Queue::next_report_time() {
  std::lock_guard lock(mu_);
  Stmt s(*impl_, "SELECT COALESCE(MIN(next_try), 0) FROM outbox WHERE done = 0");
  if (s.step()) return s.real(0);
  if (s.failed()) return s.error();
  return 0.0;
}

Result<std::vector<Report>> Queue::reports_of(std::int64_t run_id) {
  std::lock_guard lock(mu_);
  Stmt s(*impl_,
         "SELECT " WFRUN_REPORT_COLUMNS ", done, next_try FROM outbox WHERE run_id = ? ORDER BY id");
  s.bind(1, run_id);
  std::vector<Report> out;
  static const char* const kOutcomes[] = {"pending", "sent", "failed", "superseded"};
  while (s.step()) {
    Report r = report_row(s);
    const std::int64_t done = s.i64(10);
    r.outcome = done >= 0 && done <= 3 ? kOutcomes[done] : "unknown";
    r.next_try = s.real(11);
    out.push_back(std::move(r));
  }
  if (s.failed()) return s.error();
  return out;
}

}  // namespace wfrun::serve
