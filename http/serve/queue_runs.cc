#include <algorithm>
#include <nlohmann/json.hpp>

#include "http/serve/queue_db.h"

namespace wfrun::serve {

using namespace queue_db;
using nlohmann::json;

namespace queue_db {

const char* const kRunColumns =
    "id, delivery, event, repo, clone_url, sha, ref, base_ref, workflow, inputs, payload, status, "
    "message, attempts, interruptions, pid, cancel_requested, queued, started, finished";

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

}  // namespace queue_db

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
                    "NOCASE) AND (?3 = 0 OR id < ?3) AND (?5 = '' OR event = ?5) AND (?6 = 0 OR id > ?6)";
  // Bound after the fixed ones: ?7... for the refs, then the ids (at most 500 of them).
  int next = 7;
  if (!f.refs.empty()) {
    sql += " AND ref IN (";
    for (size_t i = 0; i < f.refs.size(); ++i) sql += (i ? ", ?" : "?") + std::to_string(next++);
    sql += ")";
  }
  const size_t nids = f.ids ? std::min<size_t>(f.ids->size(), 500) : 0;
  if (f.ids) {
    sql += " AND id IN (-1";
    for (size_t i = 0; i < nids; ++i) sql += ", ?" + std::to_string(next++);
    sql += ")";
  }
  sql += f.after > 0 ? " ORDER BY id ASC LIMIT ?4" : " ORDER BY id DESC LIMIT ?4";
  Stmt s(*impl_, sql.c_str());
  s.bind(1, f.status).bind(2, f.repo).bind(3, f.before).bind(4, f.limit).bind(5, f.event).bind(6, f.after);
  int at = 7;
  for (const auto& r : f.refs) s.bind(at++, r);
  for (size_t i = 0; i < nids; ++i) s.bind(at++, (*f.ids)[i]);
  std::vector<RunRow> out;
  while (s.step()) out.push_back(read_run(s));
  if (s.failed()) return s.error();
  if (f.after > 0) std::reverse(out.begin(), out.end());
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

}  // namespace wfrun::serve
