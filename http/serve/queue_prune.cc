#include <string>

#include "http/serve/queue_db.h"

namespace wfrun::serve {

using namespace queue_db;

namespace {

constexpr const char* kFinished =
    "status IN ('success', 'failure', 'error', 'skipped', 'cancelled', 'interrupted')";

/// Up to `batch` ids chosen by `sql` (binds: 1 = before, 2 = count, 3 = batch).
Result<std::vector<std::int64_t>> pick(Queue::Impl& impl, const std::string& sql, double before,
                                       std::int64_t count, int batch) {
  Stmt s(impl, sql.c_str());
  s.bind(1, before).bind(2, count).bind(3, batch);
  std::vector<std::int64_t> out;
  while (s.step()) out.push_back(s.i64(0));
  if (s.failed()) return s.error();
  return out;
}

std::string id_list(const std::vector<std::int64_t>& ids) {
  std::string out;
  for (auto id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

}  // namespace

Result<Pruned> Queue::prune(const PrunePolicy& policy, int batch) {
  Pruned out;
  // Finished runs older than the age, or older than the newest `count` finished ones.
  const std::string runs_sql =
      std::string("SELECT id FROM runs WHERE ") + kFinished +
      " AND ((?1 > 0 AND finished < ?1) OR (?2 > 0 AND id < COALESCE((SELECT id FROM runs WHERE " +
      kFinished + " ORDER BY id DESC LIMIT 1 OFFSET ?2 - 1), 0))) ORDER BY id LIMIT ?3";
  // Deliveries recorded without a run (answered from a skip decision), by age or count.
  const std::string deliveries_sql =
      "SELECT rowid FROM deliveries WHERE runs = '[]' AND ((?1 > 0 AND received < ?1) OR "
      "(?2 > 0 AND rowid < COALESCE((SELECT rowid FROM deliveries WHERE runs = '[]' ORDER BY "
      "rowid DESC LIMIT 1 OFFSET ?2 - 1), 0))) ORDER BY rowid LIMIT ?3";
  // In batches, each its own short transaction: the writer thread never waits long for them.
  while (true) {
    std::lock_guard lock(mu_);
    Impl& impl = *impl_;
    Tx t(impl);
    if (!t.begun()) return t.begun().error();
    auto ids = pick(impl, runs_sql, policy.runs_before, policy.runs_count, batch);
    if (!ids) return ids.error();
    if (ids->empty()) break;
    const std::string in = id_list(*ids);
    // A delivery goes with its last run (it is what remembered that delivery's id).
    for (const std::string& sql : std::vector<std::string>{
             "DELETE FROM outbox WHERE run_id IN (" + in + ")",
          "CREATE TEMP TABLE IF NOT EXISTS pruned_deliveries(guid TEXT)",
          "DELETE FROM temp.pruned_deliveries",
          "INSERT INTO temp.pruned_deliveries SELECT DISTINCT delivery FROM runs WHERE id IN (" +
              in + ") AND delivery != ''",
          "DELETE FROM runs WHERE id IN (" + in + ")",
          "DELETE FROM deliveries WHERE guid IN (SELECT guid FROM temp.pruned_deliveries) AND "
          "NOT EXISTS (SELECT 1 FROM runs WHERE runs.delivery = deliveries.guid)"}) {
      if (auto st = impl.exec(sql.c_str(), "pruning finished runs"); !st) return st.error();
      if (sql.rfind("DELETE FROM deliveries", 0) == 0) out.deliveries += sqlite3_changes(impl.db.get());
    }
    if (auto st = t.commit(); !st) return st.error();
    out.runs.insert(out.runs.end(), ids->begin(), ids->end());
  }
  while (true) {
    std::lock_guard lock(mu_);
    Impl& impl = *impl_;
    auto ids = pick(impl, deliveries_sql, policy.deliveries_before, policy.deliveries_count, batch);
    if (!ids) return ids.error();
    if (ids->empty()) break;
    const std::string sql = "DELETE FROM deliveries WHERE rowid IN (" + id_list(*ids) + ")";
    if (auto st = impl.exec(sql.c_str(), "pruning deliveries"); !st) return st.error();
    out.deliveries += static_cast<std::int64_t>(ids->size());
  }
  {
    // Skip decisions as old as the runs kept: the commits they are about are long gone.
    std::lock_guard lock(mu_);
    Stmt s(*impl_, "DELETE FROM skip_decisions WHERE ?1 > 0 AND decided < ?1");
    s.bind(1, policy.runs_before);
    if (auto st = s.run(); !st) return st.error();
    out.decisions = sqlite3_changes(impl_->db.get());
  }
  return out;
}

Status Queue::vacuum() {
  std::lock_guard lock(mu_);
  if (auto st = impl_->exec("PRAGMA wal_checkpoint(TRUNCATE)", "checkpointing the run queue"); !st)
    return st;
  return impl_->exec("VACUUM", "compacting the run queue");
}

}  // namespace wfrun::serve
