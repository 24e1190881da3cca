#include "http/serve/queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "engine/fs.h"
#include "engine/sqlite.h"
#include "http/serve/json_text.h"
#include "http/serve/queue_db.h"

namespace wfrun::serve {

using namespace queue_db;
using nlohmann::json;

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

bool is_final_status(const std::string& s) {
  return s == "success" || s == "failure" || s == "error" || s == "skipped" ||
         s == "cancelled" || s == "interrupted";
}

namespace {

/// Waits until the WAL's contents are on the disk (what synchronous=FULL does at each commit).
Status sync_wal(Queue::Impl& impl) {
  const std::string wal = impl.path + "-wal";
  UniqueFd fd(::open(wal.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd || ::fdatasync(fd.get()) != 0) return errno_error("syncing " + wal, errno);
  return {};
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
  if (auto st = write_seen_refs(impl, in); !st) return st.error();
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
  auto other = queued_by_other_source(impl, in);
  if (!other) return other.error();
  if (!other->empty()) {
    out.duplicate = true;
    out.runs = std::move(*other);
    return out;
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
      s.bind(6, r.ref).bind(7, r.base_ref).bind(8, r.workflow).bind(9, json_text(inputs));
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
  if (auto st = remember_sources(impl, in, out.runs, now); !st) return st.error();
  if (!in.delivery.empty()) {
    Stmt s(impl, "INSERT INTO deliveries(guid, event, received, runs, ignored) VALUES (?,?,?,?,?)");
    s.bind(1, in.delivery).bind(2, in.event).bind(3, now).bind(4, json_text(json(out.runs)));
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
  if (impl_) stop_checkpointer(*impl_);
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
  if (auto s = create_schema(*q->impl_); !s) return s.error();
  if (auto s = t.commit(); !s) return s.error();
  if (auto s = start_checkpointer(*q->impl_); !s) return s.error();
  q->writer_ = std::thread([p = q.get()] { p->write_loop(); });
  return q;
}

Result<Submitted> Queue::submit(Submission in) {
  Impl::Pending p{std::move(in), std::nullopt, {}, {}};
  {
    std::lock_guard lock(impl_->wmu);
    if (impl_->stopping) return Error("the run queue is closing");
    impl_->pending.push_back(&p);
  }
  impl_->work_cv.notify_one();
  std::unique_lock lock(p.mu);
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
    const auto t0 = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point t_locked, t_recorded;
    try {
      std::lock_guard db_lock(mu_);
      t_recorded = t_locked = std::chrono::steady_clock::now();
      // The commit itself does not wait for the disk; sync_wal() below does when it must.
      // (synchronous can only change outside a transaction; the connection's other users
      // keep FULL.)
      struct Relaxed {
        Impl& impl;
        explicit Relaxed(Impl& i) : impl(i) { (void)impl.exec("PRAGMA synchronous=NORMAL", "recording deliveries"); }
        ~Relaxed() { (void)impl.exec("PRAGMA synchronous=FULL", "recording deliveries"); }
      } relaxed(impl);
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
          Result<Submitted> r = Error("");
          try {
            r = record_one(impl, p->in, now);
          } catch (const std::exception& e) {
            // One bad delivery fails that delivery; its handler answers 503.
            r = Error(std::string("internal error: ") + e.what());
          }
          if (r) {
            (void)impl.exec("RELEASE one", "recording a delivery");
          } else {
            (void)impl.exec("ROLLBACK TO one", "recording a delivery");
            (void)impl.exec("RELEASE one", "recording a delivery");
          }
          results.push_back(std::move(r));
        }
        t_recorded = std::chrono::steady_clock::now();
        Status committed = t.commit();
        // Only a delivery that queued a run is a promise that must survive a power cut: those
        // wait for the WAL to reach the disk. Deliveries that queued none (answered from a
        // skip decision, duplicates) are answered at once; a crash of the process loses none
        // of them, and the next sync (a promise's, a checkpoint's) covers them too, since the
        // WAL is written in commit order.
        bool promises = false;
        for (const auto& r : results) promises |= r && !r->duplicate && !r->runs.empty();
        if (committed && promises) committed = sync_wal(impl);
        if (!committed) {
          (void)impl.exec("ROLLBACK", "rolling back");  // a failed COMMIT leaves it open
          for (auto& r : results)
            if (r) r = committed.error();
        }
      }
    } catch (const std::exception& e) {
      // The last line for this thread: the batch fails (503: redeliver), the thread goes on.
      // (A failure before COMMIT left the transaction to Tx, which rolled it back.)
      results.clear();
      for (size_t i = 0; i < batch.size(); ++i)
        results.emplace_back(Error(std::string("internal error: ") + e.what()));
    }
    if (debug_enabled()) {
      using ms = std::chrono::duration<double, std::milli>;
      const auto t_end = std::chrono::steady_clock::now();
      if (ms(t_end - t0).count() > 20)
        debug_log("queue", "slow group commit of " + std::to_string(batch.size()) + " deliveries: " +
                               std::to_string(ms(t_locked - t0).count()) + " ms waiting for the lock, " +
                               std::to_string(ms(t_recorded - t_locked).count()) + " ms recording, " +
                               std::to_string(ms(t_end - t_recorded).count()) + " ms committing");
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      // Notified under its lock: the handler cannot return (ending its Pending) before that.
      std::lock_guard lock(batch[i]->mu);
      batch[i]->out.emplace(std::move(results[i]));
      batch[i]->done.notify_one();
    }
    batch.clear();
  }
}

Result<std::vector<std::int64_t>> Queue::enqueue(const std::string& delivery,
                                                 const std::string& event,
                                                 const std::vector<RunRequest>& runs,
                                                 const std::vector<Report>& reports,
                                                 bool* duplicate) {
  auto r = submit(Submission{delivery, event, runs, reports, false, "", {}});
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

}  // namespace wfrun::serve
