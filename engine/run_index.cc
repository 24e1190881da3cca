#include "engine/run_index.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "engine/sqlite.h"
#include "engine/store_sql.h"

namespace wfrun::engine {

namespace {

constexpr size_t kPoolSize = 4;
constexpr int kMaxFacetValues = 200;

}  // namespace

/// One connection, as the store's own code sees one (so the store's row readers serve here
/// too); statements are prepared per call (cheap next to what they read).
struct RunIndex::Conn : StoreImpl {};

/// A connection taken from the pool, given back when the lease ends.
class RunIndex::Lease {
 public:
  Lease(RunIndex* owner, std::unique_ptr<Conn> c) : owner_(owner), c_(std::move(c)) {}
  Lease(Lease&&) = default;
  ~Lease() {
    if (!c_) return;
    std::lock_guard lock(owner_->mu_);
    if (owner_->idle_.size() < kPoolSize) owner_->idle_.push_back(std::move(c_));
  }
  StoreImpl& impl() const { return *c_; }
  sqlite3* db() const { return c_->db.get(); }
  Error error(const std::string& what) const { return c_->db_error(what); }

 private:
  RunIndex* owner_;
  std::unique_ptr<Conn> c_;
};

namespace {

/// The WHERE clause of a filter (without the id bounds) and its values, in order.
struct Where {
  std::string sql;
  std::vector<std::string> text;
  std::int64_t parent = -1;
};

Where where_of(const RunFilter& f) {
  Where w;
  auto add = [&](const char* clause, const std::string& v) {
    w.sql += w.sql.empty() ? " WHERE " : " AND ";
    w.sql += clause;
    w.text.push_back(v);
  };
  if (!f.status.empty()) add("state = ?", f.status);
  if (!f.workflow.empty()) add("workflow = ?", f.workflow);
  if (!f.repo.empty()) add("repo = ?", f.repo);
  if (!f.trigger.empty()) add("trigger = ?", f.trigger);
  if (!f.branch.empty()) {
    add("(ref = ? OR ref = ?)", f.branch);
    w.text.push_back("refs/heads/" + f.branch);
  }
  if (f.parent >= 0) {
    w.sql += w.sql.empty() ? " WHERE " : " AND ";
    w.sql += "parent = ?";
    w.parent = f.parent;
  }
  return w;
}

/// Binds a Where's values (and the branch twice) from index 1; returns the next index.
int bind_where(Query& q, const Where& w) {
  int i = 1;
  for (const auto& v : w.text) q.bind(i++, v);
  if (w.parent >= 0) q.bind(i++, w.parent);
  return i;
}

}  // namespace

Result<std::unique_ptr<RunIndex>> RunIndex::open(const std::string& state_dir) {
  {
    auto store = RunStore::open(state_dir);  // the tables, for a state dir seen the first time
    if (!store) return store.error();
  }
  std::unique_ptr<RunIndex> idx(new RunIndex);
  idx->state_dir_ = state_dir;
  return idx;
}

RunIndex::~RunIndex() = default;

Result<RunIndex::Lease> RunIndex::lease() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
  }
  auto c = std::make_unique<Conn>();
  c->state_dir = state_dir_;
  auto db = open_sqlite(state_dir_ + "/wfrun.db");
  if (!db) return db.error().context("opening the run store");
  c->db.reset(*db);
  return Lease(this, std::move(c));
}

Result<std::vector<RunRow>> RunIndex::list(const RunFilter& f) {
  auto c = lease();
  if (!c) return c.error();
  Where w = where_of(f);
  std::string sql = std::string("SELECT ") + kRunColumns +
                    ", (SELECT COALESCE(SUM((LENGTH(j.gpus) - LENGTH(REPLACE(j.gpus, ',', '')) + 1) * "
                    "(j.finished - j.started)), 0) FROM jobs j "
                    "WHERE j.run_id = runs.id AND j.gpus != '' AND j.started > 0 AND j.finished > 0), "
                    "(SELECT COUNT(*) FROM jobs j WHERE j.run_id = runs.id), "
                    "(SELECT COUNT(*) FROM jobs j WHERE j.run_id = runs.id AND j.state NOT IN "
                    "('pending', 'running')) FROM runs";
  std::string cond = w.sql;
  if (f.before > 0) cond += std::string(cond.empty() ? " WHERE " : " AND ") + "id < ?";
  if (f.after > 0) cond += std::string(cond.empty() ? " WHERE " : " AND ") + "id > ?";
  sql += cond + (f.after > 0 ? " ORDER BY id ASC" : " ORDER BY id DESC") +
        " LIMIT " + std::to_string(std::clamp(f.limit, 1, 500));
  Query q(c->impl(), sql.c_str());
  if (!q.ok()) return c->error("listing runs");
  int i = 1;
  for (const auto& v : w.text) q.bind(i++, v);
  if (w.parent >= 0) q.bind(i++, w.parent);
  if (f.before > 0) q.bind(i++, f.before);
  if (f.after > 0) q.bind(i++, f.after);
  std::vector<RunRow> out;
  while (q.step()) {
    RunRow r;
    r.run = read_run_row(q);
    // The columns after kRunColumns'.
    r.gpu_seconds = q.real(kRunColumnCount);
    r.jobs = static_cast<int>(q.i64(kRunColumnCount + 1));
    r.jobs_done = static_cast<int>(q.i64(kRunColumnCount + 2));
    out.push_back(std::move(r));
  }
  if (q.failed()) return c->error("listing runs");
  if (f.after > 0) std::reverse(out.begin(), out.end());
  return out;
}

Result<bool> RunIndex::any_beyond(const RunFilter& f, std::int64_t id, bool newer) {
  auto c = lease();
  if (!c) return c.error();
  Where w = where_of(f);
  std::string cond = w.sql + (w.sql.empty() ? " WHERE " : " AND ") + (newer ? "id > ?" : "id < ?");
  const std::string sql = "SELECT 1 FROM runs" + cond + " LIMIT 1";
  Query q(c->impl(), sql.c_str());
  if (!q.ok()) return c->error("listing runs");
  int i = bind_where(q, w);
  q.bind(i, id);
  bool found = q.step();
  if (q.failed()) return c->error("listing runs");
  return found;
}

Result<RunFacets> RunIndex::facets() {
  auto c = lease();
  if (!c) return c.error();
  RunFacets out;
  auto distinct = [&](const std::string& expr, const std::string& cond,
                      std::vector<std::string>& into) -> Status {
    const std::string sql = "SELECT " + expr + " AS v FROM runs" + cond +
                            " GROUP BY v ORDER BY MAX(id) DESC LIMIT " + std::to_string(kMaxFacetValues);
    Query q(c->impl(), sql.c_str());
    if (!q.ok()) return c->error("reading the run store");
    while (q.step()) into.push_back(q.text(0));
    if (q.failed()) return c->error("reading the run store");
    return {};
  };
  if (auto s = distinct("workflow", "", out.workflows); !s) return s.error();
  if (auto s = distinct("repo", " WHERE repo != ''", out.repos); !s) return s.error();
  if (auto s = distinct("SUBSTR(ref, 12)", " WHERE ref LIKE 'refs/heads/%'", out.branches); !s)
    return s.error();
  if (auto s = distinct("trigger", "", out.triggers); !s) return s.error();
  if (auto s = distinct("state", "", out.statuses); !s) return s.error();
  return out;
}

Result<std::vector<RunRecord>> RunIndex::with_jobs(Lease& c, std::vector<RunRecord> runs) {
  for (auto& r : runs) {
    auto jobs = read_jobs(c.impl(), r.id);
    if (!jobs) return jobs.error();
    r.jobs = std::move(*jobs);
  }
  return runs;
}

Result<std::optional<RunRecord>> RunIndex::get(std::int64_t id) {
  auto c = lease();
  if (!c) return c.error();
  const std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?";
  Query q(c->impl(), sql.c_str());
  if (!q.ok()) return c->error("reading a run");
  q.bind(1, id);
  if (!q.step()) {
    if (q.failed()) return c->error("reading a run");
    return std::optional<RunRecord>();
  }
  std::vector<RunRecord> one{read_run_row(q)};
  auto full = with_jobs(*c, std::move(one));
  if (!full) return full.error();
  return std::optional<RunRecord>(std::move(full->front()));
}

Result<std::vector<RunRecord>> RunIndex::children(std::int64_t parent) {
  auto c = lease();
  if (!c) return c.error();
  const std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE parent = ? ORDER BY id";
  Query q(c->impl(), sql.c_str());
  if (!q.ok()) return c->error("reading runs");
  q.bind(1, parent);
  std::vector<RunRecord> runs;
  while (q.step()) runs.push_back(read_run_row(q));
  if (q.failed()) return c->error("reading runs");
  return with_jobs(*c, std::move(runs));
}

Result<std::vector<GpuHolder>> RunIndex::gpu_holders() {
  auto c = lease();
  if (!c) return c.error();
  Query q(c->impl(),
          "SELECT j.run_id, r.parent, r.workflow, j.name, j.gpus, j.started FROM jobs j JOIN runs r "
          "ON r.id = j.run_id WHERE j.state = 'running' AND j.gpus != '' ORDER BY j.run_id");
  if (!q.ok()) return c->error("reading running jobs");
  std::vector<GpuHolder> out;
  while (q.step())
    out.push_back({q.i64(0), q.i64(1), q.text(2), q.text(3), split_ints(q.text(4)), q.real(5)});
  if (q.failed()) return c->error("reading running jobs");
  return out;
}

Result<std::vector<gpu::MetricRow>> RunIndex::metrics(std::int64_t run_id, const std::string& job) {
  auto c = lease();
  if (!c) return c.error();
  Query q(c->impl(),
          "SELECT t, gpu, util, mem_mib, power_w, temp_c, cpu_pct, rss_kb FROM metrics WHERE run_id "
          "= ? AND job = ? ORDER BY t, gpu");
  std::vector<gpu::MetricRow> out;
  if (!q.ok()) {
    // No metrics table yet: no run ever recorded metrics in this store.
    if (std::string(sqlite3_errmsg(c->db())).find("no such table") != std::string::npos) return out;
    return c->error("reading metrics");
  }
  q.bind(1, run_id).bind(2, job);
  while (q.step()) {
    gpu::MetricRow r;
    r.job = job;
    r.t = q.real(0);
    if (!q.null(1)) r.gpu = static_cast<int>(q.i64(1));
    if (!q.null(2)) r.util = static_cast<int>(q.i64(2));
    if (!q.null(3)) r.mem_mib = q.i64(3);
    if (!q.null(4)) r.power_w = q.real(4);
    if (!q.null(5)) r.temp_c = static_cast<int>(q.i64(5));
    if (!q.null(6)) r.cpu_pct = q.real(6);
    if (!q.null(7)) r.rss_kb = q.i64(7);
    out.push_back(std::move(r));
  }
  if (q.failed()) return c->error("reading metrics");
  return out;
}

}  // namespace wfrun::engine
