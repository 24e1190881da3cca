// The run store: opening it, its schema, and the runs and jobs tables. Datasets and models are
// in store_data.cc; the SQL helpers in store_sql.h.
#include "engine/store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "engine/fs.h"
#include "engine/sqlite.h"
#include "engine/store_sql.h"

namespace wfrun::engine {

namespace {

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
  owner_pid INTEGER NOT NULL DEFAULT 0,
  owner_start INTEGER NOT NULL DEFAULT 0,
  owner_boot TEXT NOT NULL DEFAULT '',
  owner_host TEXT NOT NULL DEFAULT '',
  cgroup TEXT NOT NULL DEFAULT '',
  trigger TEXT NOT NULL DEFAULT 'cli',
  repo TEXT NOT NULL DEFAULT '',
  ref TEXT NOT NULL DEFAULT '',
  sha TEXT NOT NULL DEFAULT '',
  parent INTEGER NOT NULL DEFAULT 0,
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
  gpus TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(run_id, name));
CREATE TABLE IF NOT EXISTS datasets(
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  path TEXT NOT NULL,
  run_id INTEGER NOT NULL DEFAULT 0,
  created REAL NOT NULL,
  message TEXT NOT NULL DEFAULT '',
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

// Columns added since the first release: a store made by an older wfrun gets them on open.
constexpr struct {
  const char* table;
  const char* name;
  const char* definition;
} kAddedColumns[] = {
    {"runs", "owner_pid", "INTEGER NOT NULL DEFAULT 0"},
    {"runs", "owner_start", "INTEGER NOT NULL DEFAULT 0"},
    {"runs", "owner_boot", "TEXT NOT NULL DEFAULT ''"},
    {"runs", "owner_host", "TEXT NOT NULL DEFAULT ''"},
    {"runs", "cgroup", "TEXT NOT NULL DEFAULT ''"},
    {"datasets", "message", "TEXT NOT NULL DEFAULT ''"},  // `wfrun datasets add --message`
    // What started a run and the GPUs each job held: the dashboard's lists and GPU page.
    {"runs", "trigger", "TEXT NOT NULL DEFAULT 'cli'"},
    {"runs", "repo", "TEXT NOT NULL DEFAULT ''"},
    {"runs", "ref", "TEXT NOT NULL DEFAULT ''"},
    {"runs", "sha", "TEXT NOT NULL DEFAULT ''"},
    {"runs", "parent", "INTEGER NOT NULL DEFAULT 0"},
    {"jobs", "gpus", "TEXT NOT NULL DEFAULT ''"},
};

// Runs that may still be going: the ones mark_interrupted() looks at on every open.
constexpr const char* kLiveIndex =
    "CREATE INDEX IF NOT EXISTS runs_live ON runs(id) WHERE state IN ('queued', 'running')";
// For run_index.h: wfrun serve's runs -> their workflows' runs, and the jobs running now (the
// GPUs they hold).
constexpr const char* kDashboardIndexes =
    "CREATE INDEX IF NOT EXISTS runs_parent ON runs(parent);"
    "CREATE INDEX IF NOT EXISTS jobs_running ON jobs(run_id) WHERE state = 'running';";

std::string join_ints(const std::vector<int>& v) {
  std::string out;
  for (int x : v) out += (out.empty() ? "" : ",") + std::to_string(x);
  return out;
}



RunState parse_run_state(const std::string& s) {
  for (auto st : {RunState::kQueued, RunState::kRunning, RunState::kSucceeded, RunState::kFailed,
                  RunState::kCancelled, RunState::kInterrupted})
    if (s == run_state_name(st)) return st;
  return RunState::kInterrupted;
}

JobState parse_job_state(const std::string& s) {
  for (auto st : {JobState::kPending, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                  JobState::kSkipped, JobState::kCancelled, JobState::kTimedOut,
                  JobState::kInterrupted})
    if (s == job_state_name(st)) return st;
  return JobState::kFailed;
}

Status add_missing_columns(StoreImpl& impl) {
  std::vector<std::string> have;  // "table.column"
  for (const char* table : {"runs", "jobs", "datasets"}) {
    Query q(impl, (std::string("PRAGMA table_info(") + table + ")").c_str());
    if (!q.ok()) return q.error();
    while (q.step()) have.push_back(std::string(table) + "." + q.text(1));
    if (q.failed()) return q.error();
  }
  for (const auto& c : kAddedColumns) {
    if (std::find(have.begin(), have.end(), std::string(c.table) + "." + c.name) != have.end()) continue;
    std::string sql = std::string("ALTER TABLE ") + c.table + " ADD COLUMN " + c.name + " " + c.definition;
    if (auto s = impl.exec(sql.c_str(), "adding a column to the run store"); !s) return s;
  }
  return {};
}

}  // namespace

std::vector<int> split_ints(const std::string& s) {
  std::vector<int> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    out.push_back(std::atoi(s.substr(i, j - i).c_str()));
    i = j + 1;
  }
  return out;
}

const char* const kRunColumns =
    "id, number, workflow, workflow_file, dir, state, started, finished, owner_pid, owner_start, "
    "owner_boot, owner_host, cgroup, trigger, repo, ref, sha, parent";

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
  r.owner.pid = static_cast<pid_t>(q.i64(8));
  r.owner.start_ticks = static_cast<std::uint64_t>(q.i64(9));
  r.owner.boot_id = q.text(10);
  r.owner.host = q.text(11);
  r.cgroup = q.text(12);
  r.trigger.event = q.text(13);
  r.trigger.repo = q.text(14);
  r.trigger.ref = q.text(15);
  r.trigger.sha = q.text(16);
  r.trigger.parent = q.i64(17);
  return r;
}

Result<std::vector<JobResult>> read_jobs(StoreImpl& impl, std::int64_t run_id) {
  Query j(impl,
          "SELECT name, state, exit_code, signal, attempts, started, finished, message, outputs, "
          "log_path, gpus FROM jobs WHERE run_id = ? ORDER BY seq");
  if (!j.ok()) return j.error();
  j.bind(1, run_id);
  std::vector<JobResult> out;
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
    jr.gpus = split_ints(j.text(10));
    out.push_back(std::move(jr));
  }
  if (j.failed()) return j.error();
  return out;
}

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
    if (auto s = add_missing_columns(*impl); !s) return s.error();
    if (auto s = impl->exec(kLiveIndex, "indexing the run store"); !s) return s.error();
    if (auto s = impl->exec(kDashboardIndexes, "indexing the run store"); !s) return s.error();
    if (auto s = t.commit(); !s) return s.error();
  }
  RunStore store(std::move(impl));
  // Whoever opens the store next finds out about runs whose wfrun was killed.
  if (auto m = store.mark_interrupted(); !m)
    debug_log("store", "looking for interrupted runs: " + m.error().message());
  return store;
}

RunStore::RunStore(std::unique_ptr<StoreImpl> impl) : impl_(std::move(impl)) {}
RunStore::RunStore(RunStore&&) noexcept = default;
RunStore& RunStore::operator=(RunStore&&) noexcept = default;
RunStore::~RunStore() = default;

const std::string& RunStore::state_dir() const { return impl_->state_dir; }

Result<RunRecord> RunStore::create_run(const std::string& workflow,
                                       const std::string& workflow_file,
                                       const RunTrigger& trigger) {
  RunRecord r;
  r.workflow = workflow;
  r.workflow_file = workflow_file;
  r.trigger = trigger;
  r.state = RunState::kQueued;
  r.started = store_now();
  {
    Transaction t(*impl_);
    if (!t.begun()) return t.begun().error();
    Query q(*impl_, "SELECT COALESCE(MAX(number), 0) + 1 FROM runs WHERE workflow = ?");
    if (!q.ok()) return q.error();
    q.bind(1, workflow);
    if (!q.step()) return q.error();
    r.number = q.i64(0);
    r.owner = current_owner();
    Query ins(*impl_,
              "INSERT INTO runs(number, workflow, workflow_file, state, started, owner_pid, "
              "owner_start, owner_boot, owner_host, trigger, repo, ref, sha, parent) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!ins.ok()) return ins.error();
    ins.bind(1, r.number)
        .bind(2, workflow)
        .bind(3, workflow_file)
        .bind(4, std::string(run_state_name(r.state)))
        .bind(5, r.started)
        .bind(6, static_cast<std::int64_t>(r.owner.pid))
        .bind(7, static_cast<std::int64_t>(r.owner.start_ticks))
        .bind(8, r.owner.boot_id)
        .bind(9, r.owner.host)
        .bind(10, trigger.event)
        .bind(11, trigger.repo)
        .bind(12, trigger.ref)
        .bind(13, trigger.sha)
        .bind(14, trigger.parent);
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
        "message, outputs, log_path, gpus, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?, "
        "(SELECT COUNT(*) FROM jobs WHERE run_id = ?1)) "
        "ON CONFLICT(run_id, name) DO UPDATE SET state = excluded.state, "
        "exit_code = excluded.exit_code, signal = excluded.signal, attempts = excluded.attempts, "
        "started = excluded.started, finished = excluded.finished, message = excluded.message, "
        "outputs = excluded.outputs, log_path = excluded.log_path, gpus = excluded.gpus");
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
        .bind(11, job->log_path)
        .bind(12, join_ints(job->gpus));
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
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?";
  Query q(*impl_, sql.c_str());
  if (!q.ok()) return q.error();
  q.bind(1, id);
  if (!q.step()) {
    if (q.failed()) return q.error();
    return Error("no run " + std::to_string(id));
  }
  RunRecord r = read_run_row(q);
  auto jobs = read_jobs(*impl_, id);
  if (!jobs) return jobs.error();
  r.jobs = std::move(*jobs);
  return r;
}

Result<std::int64_t> RunStore::last_run_of(std::int64_t parent, const std::string& workflow_file) {
  Query q(*impl_, "SELECT id FROM runs WHERE parent = ? AND workflow_file = ? ORDER BY id DESC LIMIT 1");
  if (!q.ok()) return q.error();
  q.bind(1, parent).bind(2, workflow_file);
  if (q.step()) return q.i64(0);
  if (q.failed()) return q.error();
  return std::int64_t{0};
}

Result<std::vector<RunRecord>> RunStore::list_runs(int limit) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY id DESC LIMIT ?";
  Query q(*impl_, sql.c_str());
  if (!q.ok()) return q.error();
  q.bind(1, limit);
  std::vector<RunRecord> out;
  while (q.step()) out.push_back(read_run_row(q));
  if (q.failed()) return q.error();
  return out;
}

}  // namespace wfrun::engine
