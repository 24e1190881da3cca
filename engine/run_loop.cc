#include "engine/run_loop.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "base/fd.h"
#include "base/log.h"
#include "engine/attempt.h"
#include "engine/executors.h"
#include "engine/fs.h"
#include "engine/job_io.h"
#include "engine/output.h"
#include "engine/paths.h"
#include "engine/run_json.h"
#include "engine/scheduler.h"
#include "engine/store.h"

namespace wfrun::engine {

namespace {

using Clock = Executor::Clock;
constexpr Clock::time_point kNever = Executor::kNever;

// run.json is rewritten at most this often (and once more at the end of the run); the run
// store gets every change at once.
constexpr std::chrono::milliseconds kRunJsonInterval{100};

double wall_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// "90m", "1h", "45s", "0.5s": how a timeout reads in messages.
std::string timeout_text(double s) {
  double whole = std::round(s);
  if (std::fabs(s - whole) > 1e-9) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%gs", s);
    return buf;
  }
  long long n = static_cast<long long>(whole);
  if (n > 0 && n % 3600 == 0) return std::to_string(n / 3600) + "h";
  if (n > 0 && n % 60 == 0) return std::to_string(n / 60) + "m";
  return std::to_string(n) + "s";
}

bool terminal(JobState s) { return s != JobState::kPending && s != JobState::kRunning; }

/// The log and output sink of a job's current attempt.
struct JobOutput {
  UniqueFd log;
  std::unique_ptr<OutputSink> sink;
  JobDirs dirs;
};

class RunLoop {
 public:
  RunLoop(const RunSetup& setup, RunResult& run)
      : setup_(setup),
        wf_(*setup.wf),
        opts_(*setup.opts),
        run_(run),
        scheduler_(wf_),
        builder_(setup, run, [this](const std::string& j) { return result(j); }) {
    dirty_.assign(wf_.jobs.size(), false);
    gpu::Discovery& d = setup.gpus->discovery;
    metrics_ = RunMetrics::create(
        opts_, run.id, d.provider ? gpu::sampling_provider(d, opts_.metrics_interval) : nullptr);
    executors_ = make_executors(setup, run, metrics_.get());
  }

  void run();

 private:
  const JobResult* result(const std::string& job) const {
    size_t i = scheduler_.index(job);
    return i < run_.jobs.size() ? &run_.jobs[i] : nullptr;
  }
  Executor& executor(size_t i) { return *executors_.of_job[i]; }
  size_t active() const {
    size_t n = 0;
    for (const auto& e : executors_.all) n += e->active();
    return n;
  }
  void apply(const std::vector<Scheduler::Decision>& decisions);
  void start_ready();
  void start_attempt(size_t i);
  Result<UniqueFd> open_log(size_t i);
  void open_ahead();
  void fail_before_start(size_t i, const Error& e, OutputSink* sink);
  bool adopt(size_t i, OutputSink* sink);
  void on_end(const AttemptEnd& end);
  void complete(size_t i, JobState state, std::string message);
  void on_timers();
  void on_cancel_fd();
  void cancel();
  void kill_now();
  void flush();
  void write_json_if_due();
  int poll_timeout_ms() const;
  void mark(size_t i) {
    dirty_[i] = true;
    any_dirty_ = true;
  }

  const RunSetup& setup_;
  const workflows::Workflow& wf_;
  const RunOptions& opts_;
  RunResult& run_;
  Scheduler scheduler_;
  AttemptBuilder builder_;
  std::unique_ptr<RunMetrics> metrics_;  // null: no metrics
  Executors executors_;
  std::set<size_t> ready_;                // decided to run, not started; file order
  std::map<size_t, UniqueFd> preopened_;  // logs of ready jobs, opened ahead
  std::map<size_t, JobOutput> outputs_;   // jobs with an attempt under way
  std::vector<bool> dirty_;
  bool any_dirty_ = false;
  Clock::time_point json_written_{};     // last run.json write
  Clock::time_point json_due_ = kNever;  // a change waits for the next write
  Clock::time_point heartbeat_due_ = kNever;  // the observer's status line
  bool cancelled_ = false;
  bool killed_ = false;         // a second cancel: everything was killed at once
  bool cancel_fd_open_ = true;  // false once the cancel fd reached its end
};

void RunLoop::run() {
  apply(scheduler_.start());
  // Jobs reused from an earlier run (--resume) are done before the run starts; their needs
  // are reused too, so in start order each is decided before it is settled.
  for (size_t i : scheduler_.start_order()) {
    if (run_.jobs[i].state != JobState::kSucceeded) continue;
    setup_.observer->job_finished(run_.jobs[i]);
    apply(scheduler_.finish(i, JobState::kSucceeded));
  }
  std::vector<pollfd> fds;
  std::vector<size_t> first;  // per executor: its first descriptor in fds
  std::vector<AttemptEnd> ended;
  while (true) {
    start_ready();
    flush();
    if (active() == 0 && ready_.empty()) break;
    if (active() == 0) {
      // Waiting for GPUs that nothing holds: only when they can never be had (the checks
      // before the run rule that out). Fail rather than wait forever.
      std::set<size_t> stuck;
      stuck.swap(ready_);
      for (size_t i : stuck) complete(i, JobState::kFailed, "its GPUs never became free");
      continue;
    }
    open_ahead();
    fds.clear();
    first.clear();
    bool watch_cancel = opts_.cancel_fd >= 0 && cancel_fd_open_ && !killed_;
    if (watch_cancel) fds.push_back({opts_.cancel_fd, POLLIN, 0});
    for (const auto& e : executors_.all) {
      first.push_back(fds.size());
      e->poll_fds(fds);
    }
    first.push_back(fds.size());
    int n = ::poll(fds.data(), fds.size(), poll_timeout_ms());
    if (n < 0 && errno != EINTR) {
      debug_log("engine", std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (n < 0) {
      for (auto& f : fds) f.revents = 0;
    }
    if (watch_cancel && fds[0].revents) on_cancel_fd();
    ended.clear();
    for (size_t k = 0; k < executors_.all.size(); ++k)
      executors_.all[k]->step(fds.data() + first[k], first[k + 1] - first[k], ended);
    on_timers();
    for (const auto& e : ended) on_end(e);
  }
  // Jobs that never got a decision (only after a cancel).
  for (size_t i = 0; i < run_.jobs.size(); ++i)
    if (!terminal(run_.jobs[i].state)) complete(i, JobState::kCancelled, "cancelled");
  for (auto& e : executors_.all) e->finish();
  flush();
}

void RunLoop::apply(const std::vector<Scheduler::Decision>& decisions) {
  for (const auto& d : decisions) {
    if (terminal(run_.jobs[d.job].state)) continue;  // cancelled meanwhile
    if (d.run) {
      if (cancelled_) continue;
      ready_.insert(d.job);
      executor(d.job).ready(d.job);
      continue;
    }
    JobResult& r = run_.jobs[d.job];
    r.state = JobState::kSkipped;
    r.message = d.message;
    mark(d.job);
    setup_.observer->job_finished(r);
  }
}

void RunLoop::start_ready() {
  // In file order; a job starts when its executor admits it (e.g. when the GPUs it needs are
  // free: first ready, first served) and otherwise stays ready without blocking the jobs
  // after it. Starting a job can change ready_ (a job that fails at once decides its
  // dependents): start again from the front after each.
  auto it = ready_.begin();
  while (!cancelled_ && it != ready_.end()) {
    size_t i = *it;
    auto admitted = executor(i).admit(i);
    if (!admitted) {
      ++it;
      continue;
    }
    run_.jobs[i].gpus = std::move(*admitted);
    ready_.erase(it);
    start_attempt(i);
    it = ready_.begin();
  }
}

void RunLoop::fail_before_start(size_t i, const Error& e, OutputSink* sink) {
  std::string msg = setup_.redactor.redact(e.message());
  if (sink) sink->line("wfrun: " + msg);
  outputs_.erase(i);
  complete(i, JobState::kFailed, msg);
}

void RunLoop::start_attempt(size_t i) {
  const workflows::Job& job = wf_.jobs[i];
  JobResult& r = run_.jobs[i];
  JobOutput& out = outputs_[i];
  out.dirs = job_dirs(run_.dir, job.name);
  out.sink.reset();
  out.log.reset();
  r.attempts++;
  if (r.attempts == 1) {
    r.started = wall_now();
    r.log_path = out.dirs.log;
  }
  r.state = JobState::kRunning;
  mark(i);
  setup_.observer->job_started(job.name, r.attempts);

  if (auto pre = preopened_.find(i); pre != preopened_.end()) {
    out.log = std::move(pre->second);
    preopened_.erase(pre);
  } else if (auto log = open_log(i); log) {
    out.log = std::move(*log);
  } else {
    return fail_before_start(i, log.error(), nullptr);
  }
  RunObserver* observer = setup_.observer;
  const std::string* name = &job.name;
  out.sink = std::make_unique<OutputSink>(
      out.log.get(), &setup_.redactor,
      [observer, name](std::string_view line) { observer->job_output(*name, line); });
  OutputSink* sink = out.sink.get();
  if (r.attempts == 1 && !setup_.gpus->on_cpu[i].empty())
    sink->line("wfrun: " + setup_.gpus->on_cpu[i]);
  if (r.attempts > 1) {
    std::string note = "wfrun: attempt " + std::to_string(r.attempts) + " of " +
                       std::to_string(job.retries + 1) + "\n";
    write_all(out.log.get(), note.data(), note.size());
  }

  if (r.attempts == 1 && adopt(i, sink)) return;

  auto built = builder_.build(i, r.attempts, r.gpus, sink);
  if (!built) return fail_before_start(i, built.error(), sink);
  if (!built->spec) {  // an in-process action: done
    sink->finish();
    outputs_.erase(i);
    r.outputs = std::move(built->outputs);
    r.exit_code = 0;
    return complete(i, JobState::kSucceeded, "");
  }
  if (auto s = executor(i).start(std::move(*built->spec)); !s)
    return fail_before_start(i, s.error(), sink);
}

bool RunLoop::adopt(size_t i, OutputSink* sink) {
  // A resumed run: the attempt the resumed run's wfrun started may still run where its
  // executor put it (a Slurm job). Follow that one instead of starting the job again. It
  // works in the resumed run's folders, so its outputs are collected from there.
  const workflows::Job& job = wf_.jobs[i];
  if (opts_.resumed_dir.empty() || !opts_.adopt.count(job.name)) return false;
  JobDirs old = job_dirs(opts_.resumed_dir, job.name);
  const int last = executor(i).last_attempt(old);
  if (last <= 0) return false;
  AttemptSpec spec;
  spec.run_id = run_.id;
  spec.job = i;
  spec.attempt = last;
  spec.name = job.name;
  spec.dirs = old;
  spec.output = sink;
  spec.timeout_seconds = job.timeout_seconds;
  spec.gpus = run_.jobs[i].gpus;
  if (!executor(i).adopt(spec)) return false;
  JobResult& r = run_.jobs[i];
  r.attempts = last;
  outputs_[i].dirs = std::move(old);
  sink->line("wfrun: following attempt " + std::to_string(last) + ", which run " +
             std::to_string(opts_.resumed_run) + " started and is still there");
  return true;
}

Result<UniqueFd> RunLoop::open_log(size_t i) {
  JobDirs dirs = job_dirs(run_.dir, wf_.jobs[i].name);
  if (::mkdir(dirs.dir.c_str(), 0755) != 0 && errno != EEXIST)
    return errno_error("cannot create '" + dirs.dir + "'", errno);
  UniqueFd log(::open(dirs.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log) return errno_error("cannot open '" + dirs.log + "'", errno);
  return log;
}

void RunLoop::open_ahead() {
  // While the executors admit nothing more the loop would only wait: create the folder and
  // log of the next job in line now (one per pass, so that exits are still noticed at once),
  // so that starting it later is a spawn and nothing else.
  for (size_t i : ready_) {
    if (preopened_.count(i)) continue;
    if (run_.jobs[i].attempts == 0)
      if (auto log = open_log(i)) preopened_.emplace(i, std::move(*log));
    return;
  }
}

void RunLoop::on_timers() {
  write_json_if_due();
  auto now = Clock::now();
  // About once a second while jobs run, so a status line can show how long they have run.
  if (active() == 0) {
    heartbeat_due_ = kNever;
  } else if (heartbeat_due_ == kNever || heartbeat_due_ <= now) {
    if (heartbeat_due_ != kNever) setup_.observer->heartbeat();
    heartbeat_due_ = now + std::chrono::seconds(1);
    // Another process (the dashboard) asks for a cancel by creating RUN/cancel: one stat a
    // second while jobs run.
    if (!cancelled_ && ::access((run_.dir + "/" + kCancelFile).c_str(), F_OK) == 0) cancel();
  }
}

int RunLoop::poll_timeout_ms() const {
  Clock::time_point next = json_due_;
  if (active() > 0) {
    next = std::min(next, heartbeat_due_ == kNever ? Clock::now() + std::chrono::seconds(1)
                                                   : heartbeat_due_);
  }
  for (const auto& e : executors_.all) next = std::min(next, e->next_wakeup());
  if (next == kNever) return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 24 * 3600 * 1000));
}

void RunLoop::on_cancel_fd() {
  // One byte per SIGINT/SIGTERM: the first cancels the run, the next kills at once. An fd that
  // reached its end (or fails) cancels once and is not watched any more.
  char buf[64];
  ssize_t n = ::read(opts_.cancel_fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    cancel_fd_open_ = false;
    if (!cancelled_) cancel();
    return;
  }
  for (ssize_t k = 0; k < n && !killed_; ++k) {
    if (!cancelled_)
      cancel();
    else
      kill_now();
  }
}

void RunLoop::cancel() {
  cancelled_ = true;
  for (auto& e : executors_.all) e->clear_ready();
  ready_.clear();
  // Every job that has not started ends the same way, ready or still waiting for its needs.
  // Deciding them through the scheduler one at a time would let the first ones' dependents be
  // decided "skipped" before their own turn came.
  const double now = wall_now();
  for (size_t i = 0; i < run_.jobs.size(); ++i) {
    JobResult& r = run_.jobs[i];
    if (r.state != JobState::kPending) continue;
    r.state = JobState::kCancelled;
    r.message = "cancelled before it started";
    r.finished = now;
    executor(i).release(i);
    if (metrics_) metrics_->job_finished(r, run_.dir);
    mark(i);
    setup_.observer->job_finished(r);
  }
  for (auto& e : executors_.all) e->cancel();
}

void RunLoop::kill_now() {
  killed_ = true;
  for (auto& e : executors_.all) e->kill_now();
}

void RunLoop::on_end(const AttemptEnd& end) {
  size_t i = end.job;
  const workflows::Job& job = wf_.jobs[i];
  JobResult& r = run_.jobs[i];
  JobOutput& out = outputs_[i];
  out.sink->finish();
  r.exit_code = end.status.code;
  r.signal = end.status.signal;
  if (!end.gpus.empty()) r.gpus = end.gpus;
  JobState state = JobState::kFailed;
  std::string message;
  switch (end.reason) {
    case AttemptEnd::Reason::kCancelled:
      state = JobState::kCancelled;
      message = "cancelled";
      break;
    case AttemptEnd::Reason::kTimedOut:
      state = JobState::kTimedOut;
      message = job.timeout_seconds ? "timed out after " + timeout_text(*job.timeout_seconds)
                                    : "timed out: " + end.message;
      break;
    case AttemptEnd::Reason::kNotStarted:
      message = setup_.redactor.redact(end.message);
      out.sink->line("wfrun: " + message);
      break;
    case AttemptEnd::Reason::kOutOfMemory:
    case AttemptEnd::Reason::kLost:
      message = end.message;
      if (end.status.code || end.status.signal) message += " (" + end.status.str() + ")";
      break;
    case AttemptEnd::Reason::kExited:
      if (end.status.success()) {
        auto outs = collect_outputs(job, out.dirs, setup_.store, run_.id);
        if (outs) {
          r.outputs = std::move(*outs);
          state = JobState::kSucceeded;
        } else {
          message = setup_.redactor.redact(outs.error().message());
          out.sink->line("wfrun: " + message);
        }
      } else {
        message = end.status.str();
      }
      break;
  }
  bool retry = (state == JobState::kFailed || state == JobState::kTimedOut) && !cancelled_ &&
               end.reason != AttemptEnd::Reason::kNotStarted && r.attempts <= job.retries;
  if (retry) {
    out.sink->line("wfrun: " + (message.empty() ? std::string("failed") : message) +
                   "; retrying");
    start_attempt(i);
    return;
  }
  outputs_.erase(i);
  complete(i, state, std::move(message));
}

void RunLoop::complete(size_t i, JobState state, std::string message) {
  JobResult& r = run_.jobs[i];
  r.state = state;
  r.message = std::move(message);
  r.finished = wall_now();
  executor(i).release(i);
  if (metrics_) metrics_->job_finished(r, run_.dir);
  mark(i);
  setup_.observer->job_finished(r);
  apply(scheduler_.finish(i, state));
}

void RunLoop::flush() {
  if (!any_dirty_) return;
  any_dirty_ = false;
  std::vector<const JobResult*> changed;
  std::vector<JobResult> redacted;
  redacted.reserve(dirty_.size());
  for (size_t i = 0; i < dirty_.size(); ++i) {
    if (!dirty_[i]) continue;
    dirty_[i] = false;
    if (setup_.redactor.empty() || run_.jobs[i].outputs.empty()) {
      changed.push_back(&run_.jobs[i]);
    } else {
      redacted.push_back(run_.jobs[i]);
      for (auto& [k, v] : redacted.back().outputs) v = setup_.redactor.redact(v);
      changed.push_back(&redacted.back());
    }
  }
  if (auto s = setup_.store->update_jobs(run_.id, changed); !s)
    debug_log("engine", "updating the run store: " + s.error().message());
  json_due_ = std::min(json_due_, json_written_ + kRunJsonInterval);
  write_json_if_due();
}

void RunLoop::write_json_if_due() {
  auto now = Clock::now();
  if (json_due_ > now) return;
  json_due_ = kNever;
  json_written_ = now;
  if (auto s = write_run_json(run_, setup_.workflow_name, setup_.redactor); !s)
    debug_log("engine", s.error().message());
}

}  // namespace

void execute(const RunSetup& setup, RunResult& run) {
  RunLoop loop(setup, run);
  loop.run();
}

}  // namespace wfrun::engine
