#include "http/serve/queue_db.h"

namespace wfrun::serve {

using namespace queue_db;

Status queue_db::insert_report(Queue::Impl& impl, std::int64_t run_id, const Report& r, double now) {
  Stmt s(impl,
         "INSERT INTO outbox(run_id, repo, sha, state, description, target_url, context, next_try) "
         "VALUES (?,?,?,?,?,?,?,?)");
  s.bind(1, run_id).bind(2, r.repo).bind(3, r.sha).bind(4, r.state).bind(5, r.description);
  s.bind(6, r.target_url).bind(7, r.context).bind(8, now);
  return s.run();
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
