// The run store's owners: which wfrun runs a run, and what becomes of a run whose wfrun died
// (killed with SIGKILL, crashed, the machine rebooted) before it could record the end.
#include <string>

#include "base/log.h"
#include "engine/cgroup.h"
#include "engine/run_json.h"
#include "engine/run_result.h"
#include "engine/store.h"
#include "engine/store_sql.h"

namespace wfrun::engine {

namespace {

// How long a later wfrun waits for the processes left in a dead run's cgroup to go.
constexpr double kCgroupWait = 2.0;

std::string owner_text(const ProcessOwner& o) { return "wfrun (pid " + std::to_string(o.pid) + ")"; }

}  // namespace

RunResult to_result(const RunRecord& r) {
  RunResult out;
  out.id = r.id;
  out.number = r.number;
  out.dir = r.dir;
  out.state = r.state;
  out.started = r.started;
  out.finished = r.finished;
  out.jobs = r.jobs;
  return out;
}

Result<void> RunStore::set_cgroup(std::int64_t id, const std::string& dir) {
  Query q(*impl_, "UPDATE runs SET cgroup = ? WHERE id = ?");
  q.bind(1, dir).bind(2, id);
  return q.run();
}

Result<std::vector<std::int64_t>> RunStore::mark_interrupted() {
  std::vector<RunRecord> gone;
  {
    Query q(*impl_,
            "SELECT id, owner_pid, owner_start, owner_boot, owner_host FROM runs "
            "WHERE state IN ('queued', 'running')");
    if (!q.ok()) return q.error();
    while (q.step()) {
      RunRecord r;
      r.id = q.i64(0);
      r.owner.pid = static_cast<pid_t>(q.i64(1));
      r.owner.start_ticks = static_cast<std::uint64_t>(q.i64(2));
      r.owner.boot_id = q.text(3);
      r.owner.host = q.text(4);
      // Runs recorded before owners were (pid 0) and runs of other hosts stay as they are.
      if (owner_state(r.owner) == OwnerState::kGone) gone.push_back(std::move(r));
    }
    if (q.failed()) return q.error();
  }
  std::vector<std::int64_t> marked;
  for (const auto& g : gone) {
    const double now = store_now();
    Transaction t(*impl_);
    if (!t.begun()) return t.begun().error();
    // Only if nobody else did first, and nobody took the run over meanwhile (--resume).
    Query run(*impl_,
              "UPDATE runs SET state = 'interrupted', finished = ? WHERE id = ? AND "
              "state IN ('queued', 'running') AND owner_pid = ? AND owner_start = ?");
    run.bind(1, now)
        .bind(2, g.id)
        .bind(3, static_cast<std::int64_t>(g.owner.pid))
        .bind(4, static_cast<std::int64_t>(g.owner.start_ticks));
    if (auto s = run.run(); !s) return s.error();
    if (sqlite3_changes(impl_->db.get()) == 0) continue;
    Query running(*impl_,
                  "UPDATE jobs SET state = 'interrupted', message = ?, finished = ? "
                  "WHERE run_id = ? AND state = 'running'");
    running.bind(1, owner_text(g.owner) + " stopped while it ran").bind(2, now).bind(3, g.id);
    if (auto s = running.run(); !s) return s.error();
    Query pending(*impl_,
                  "UPDATE jobs SET state = 'cancelled', message = ? "
                  "WHERE run_id = ? AND state = 'pending'");
    pending.bind(1, "never started: " + owner_text(g.owner) + " stopped").bind(2, g.id);
    if (auto s = pending.run(); !s) return s.error();
    if (auto s = t.commit(); !s) return s.error();
    marked.push_back(g.id);
  }
  for (std::int64_t id : marked) {
    auto r = get_run(id);
    if (!r) continue;
    debug_log("store", "run " + std::to_string(id) + ": its wfrun (pid " +
                           std::to_string(r->owner.pid) + ") is gone; marked interrupted");
    // run.json says what the store says (its values are redacted already).
    if (auto s = write_run_json(to_result(*r), r->workflow, Redactor()); !s)
      debug_log("store", s.error().message());
    if (!r->cgroup.empty() && !destroy_cgroup(r->cgroup, kCgroupWait))
      debug_log("store", "could not remove the cgroup " + r->cgroup);
  }
  return marked;
}

}  // namespace wfrun::engine
