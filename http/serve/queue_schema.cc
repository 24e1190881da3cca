#include <string>

#include "http/serve/queue_db.h"

namespace wfrun::serve::queue_db {

namespace {

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

/// Adds a column that an older queue.db lacks.
Status add_column(Queue::Impl& impl, const char* table, const char* column, const char* decl) {
  Stmt s(impl, (std::string("SELECT 1 FROM pragma_table_info('") + table + "') WHERE name = ?").c_str());
  s.bind(1, std::string(column));
  if (s.step()) return {};
  if (s.failed()) return s.error();
  std::string sql = std::string("ALTER TABLE ") + table + " ADD COLUMN " + column + " " + decl;
  return impl.exec(sql.c_str(), "upgrading the run queue's tables");
}

}  // namespace

Status create_schema(Queue::Impl& impl) {
  if (auto s = impl.exec(kSchema, "creating the run queue's tables"); !s) return s;
  if (auto s = create_poll_schema(impl); !s) return s;
  return add_column(impl, "deliveries", "ignored", "TEXT NOT NULL DEFAULT ''");
}

}  // namespace wfrun::serve::queue_db
