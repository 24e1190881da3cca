// The queue's polling tables: the heads polling last saw (written in the transaction that
// queues their run, so a restart neither misses nor repeats a push) and which source, a
// webhook or polling, queued each push or pull request event (so the same event from both
// queues one run).

#include <string>

#include "http/serve/queue_db.h"

namespace wfrun::serve {

using namespace queue_db;

namespace queue_db {

namespace {

constexpr const char* kPollSchema = R"sql(
CREATE TABLE IF NOT EXISTS poll_refs(
  repo TEXT NOT NULL COLLATE NOCASE,
  ref TEXT NOT NULL,  -- '' marks a repository polled at least once
  sha TEXT NOT NULL,
  updated REAL NOT NULL,
  PRIMARY KEY(repo, ref)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_sources(
  repo TEXT NOT NULL COLLATE NOCASE,
  event TEXT NOT NULL,
  ref TEXT NOT NULL,
  sha TEXT NOT NULL,
  source TEXT NOT NULL,  -- webhook or poll
  run_id INTEGER NOT NULL,
  queued REAL NOT NULL,
  PRIMARY KEY(repo, event, ref, sha, source)) WITHOUT ROWID;
)sql";

std::string source_of(const Submission& in) { return in.source.empty() ? "webhook" : in.source; }

bool keyed(const RunRequest& r) {
  return (r.event == "push" || r.event == "pull_request") && !r.sha.empty();
}

}  // namespace

Status create_poll_schema(Queue::Impl& impl) {
  return impl.exec(kPollSchema, "creating the run queue's polling tables");
}

Status write_seen_refs(Queue::Impl& impl, const Submission& in) {
  const double now = now_seconds();
  for (const SeenRef& r : in.seen) {
    if (r.sha.empty()) {
      Stmt s(impl, "DELETE FROM poll_refs WHERE repo = ? AND ref = ?");
      s.bind(1, r.repo).bind(2, r.ref);
      if (auto st = s.run(); !st) return st;
      continue;
    }
    Stmt s(impl,
           "INSERT INTO poll_refs(repo, ref, sha, updated) VALUES (?,?,?,?) "
           "ON CONFLICT(repo, ref) DO UPDATE SET sha = excluded.sha, updated = excluded.updated");
    s.bind(1, r.repo).bind(2, r.ref).bind(3, r.sha).bind(4, now);
    if (auto st = s.run(); !st) return st;
  }
  return {};
}

Result<std::vector<std::int64_t>> queued_by_other_source(Queue::Impl& impl, const Submission& in) {
  std::vector<std::int64_t> ids;
  for (const RunRequest& r : in.runs) {
    if (!keyed(r)) return std::vector<std::int64_t>();
    Stmt s(impl,
           "SELECT run_id FROM event_sources WHERE repo = ? AND event = ? AND ref = ? AND sha = ? "
           "AND source != ? ORDER BY queued LIMIT 1");
    s.bind(1, r.repo).bind(2, r.event).bind(3, r.ref).bind(4, r.sha).bind(5, source_of(in));
    if (!s.step()) {
      if (s.failed()) return s.error();
      return std::vector<std::int64_t>();
    }
    ids.push_back(s.i64(0));
  }
  return ids;
}

Status remember_sources(Queue::Impl& impl, const Submission& in,
                        const std::vector<std::int64_t>& ids, double now) {
  for (size_t i = 0; i < in.runs.size() && i < ids.size(); ++i) {
    const RunRequest& r = in.runs[i];
    if (!keyed(r)) continue;
    Stmt s(impl,
           "INSERT OR IGNORE INTO event_sources(repo, event, ref, sha, source, run_id, queued) "
           "VALUES (?,?,?,?,?,?,?)");
    s.bind(1, r.repo).bind(2, r.event).bind(3, r.ref).bind(4, r.sha).bind(5, source_of(in));
    s.bind(6, ids[i]).bind(7, now);
    if (auto st = s.run(); !st) return st;
  }
  return {};
}

}  // namespace queue_db

Result<std::optional<std::map<std::string, std::string>>> Queue::polled_refs(
    const std::string& repo) {
  std::lock_guard lock(mu_);
  Stmt s(*impl_, "SELECT ref, sha FROM poll_refs WHERE repo = ?");
  s.bind(1, repo);
  std::map<std::string, std::string> refs;
  bool polled = false;
  while (s.step()) {
    std::string ref = s.text(0);
    if (ref.empty()) polled = true;
    else refs.emplace(std::move(ref), s.text(1));
  }
  if (s.failed()) return s.error();
  if (!polled) return std::optional<std::map<std::string, std::string>>();
  return std::optional<std::map<std::string, std::string>>(std::move(refs));
}

}  // namespace wfrun::serve
