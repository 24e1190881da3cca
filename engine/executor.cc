#include "engine/executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "base/fd.h"
#include "base/log.h"
#include "engine/actions.h"
#include "engine/context.h"
#include "engine/fs.h"
#include "engine/job_io.h"
#include "engine/launch.h"
#include "engine/output.h"
#include "engine/paths.h"
#include "engine/process.h"
#include "engine/run_json.h"
#include "engine/scheduler.h"
#include "engine/store.h"

extern char** environ;

namespace wfrun::engine {

namespace {

using Clock = std::chrono::steady_clock;
constexpr Clock::time_point kNever = Clock::time_point::max();

// After a job's main process exits, how long to wait for the rest of its output (from
// processes that left its process group) before closing the pipe.
constexpr std::chrono::milliseconds kDrainTime{1000};
// Reads of one pipe per wake-up, so that one chatty job cannot starve the others.
constexpr int kReadsPerWake = 16;
// run.json is rewritten at most this often (and once more at the end of the run); the run
// store gets every change at once.
constexpr std::chrono::milliseconds kRunJsonInterval{100};

double wall_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(std::max(0.0, seconds)));
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

// The part of wfrun's environment every job gets. The sanitizers' options pass too, so the
// wfrun children of a sanitizer build (notebook@v1, git actions) run under the same settings.
bool pass_through(const std::string& name) {
  return name == "PATH" || name == "HOME" || name == "USER" || name == "LANG" ||
         name.compare(0, 3, "LC_") == 0 || name == "TERM" || name == "TZ" || name == "TMPDIR" ||
         name == "ASAN_OPTIONS" || name == "LSAN_OPTIONS" || name == "UBSAN_OPTIONS";
}

bool terminal(JobState s) { return s != JobState::kPending && s != JobState::kRunning; }

/// One attempt of one job that has a process.
struct Attempt {
  size_t job = 0;
  Subprocess proc;
  UniqueFd log;
  std::unique_ptr<OutputSink> sink;
  std::unique_ptr<NamespaceSetup> ns;
  JobDirs dirs;
  Clock::time_point deadline = kNever;     // the job's timeout
  Clock::time_point kill_at = kNever;      // SIGKILL after the grace period
  Clock::time_point drain_until = kNever;  // output still open after the exit
  enum class Stop { kNone, kTimeout, kCancel } stop = Stop::kNone;
  bool exited = false;
  bool eof = false;
  std::string container;  // the container's name when it runs in one
};

class Executor {
 public:
  Executor(const RunSetup& setup, RunResult& run)
      : setup_(setup),
        wf_(*setup.wf),
        opts_(*setup.opts),
        run_(run),
        scheduler_(wf_),
        github_(opts_.event, opts_.workflow_dir.empty() ? dir_name(wf_.file) : opts_.workflow_dir),
        resolver_(wf_, opts_, github_, [this](const std::string& j) { return result(j); }),
        gpu_queue_(wf_, *setup.gpus),
        buffer_(new char[kMaxLine]) {
    resolver_.set_run(run.id, run.number);
    max_parallel_ = opts_.max_parallel > 0
                        ? opts_.max_parallel
                        : static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
    for (char** e = environ; e && *e; ++e) {
      std::string kv = *e;
      size_t eq = kv.find('=');
      if (eq == std::string::npos) continue;
      std::string name = kv.substr(0, eq);
      if (pass_through(name))
        base_env_[name] = kv.substr(eq + 1);
      else if (runtime_env_name(name))
        runtime_env_[name] = kv.substr(eq + 1);
    }
    dirty_.assign(wf_.jobs.size(), false);
    gpu::Discovery& d = setup.gpus->discovery;
    metrics_ = RunMetrics::create(
        opts_, run.id, d.provider ? gpu::sampling_provider(d, opts_.metrics_interval) : nullptr);
  }

  void run();

 private:
  const JobResult* result(const std::string& job) const {
    size_t i = scheduler_.index(job);
    return i < run_.jobs.size() ? &run_.jobs[i] : nullptr;
  }
  void apply(const std::vector<Scheduler::Decision>& decisions);
  void start_ready();
  void start_attempt(size_t i);
  Result<UniqueFd> open_log(size_t i);
  void open_ahead();
  void fail_before_start(size_t i, const Error& e, OutputSink* sink);
  void read_output(Attempt& a);
  void on_exit(Attempt& a);
  void finish_attempt(Attempt& a);
  void complete(size_t i, JobState state, std::string message);
  void on_timers();
  void sample_metrics();
  void cancel();
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
  GithubInfo github_;
  Resolver resolver_;
  GpuQueue gpu_queue_;
  std::unique_ptr<RunMetrics> metrics_;  // null: no metrics
  std::unique_ptr<char[]> buffer_;  // one read buffer for every pipe
  int max_parallel_ = 1;
  std::map<std::string, std::string> base_env_, runtime_env_;
  std::set<size_t> ready_;                // decided to run, not started; file order
  std::map<size_t, UniqueFd> preopened_;  // logs of ready jobs, opened ahead
  std::vector<std::unique_ptr<Attempt>> running_;
  std::vector<Subprocess> cleanups_;  // `RUNTIME kill NAME` for killed containers
  std::vector<bool> dirty_;
  bool any_dirty_ = false;
  Clock::time_point json_written_{};     // last run.json write
  Clock::time_point json_due_ = kNever;  // a change waits for the next write
  Clock::time_point heartbeat_due_ = kNever;  // the observer's status line
  bool cancelled_ = false;
};

void Executor::run() {
  apply(scheduler_.start());
  std::vector<pollfd> fds;
  std::vector<std::pair<Attempt*, bool>> owners;  // attempt, is-exit-fd
  while (true) {
    start_ready();
    flush();
    if (running_.empty() && ready_.empty()) break;
    if (running_.empty()) {
      // Waiting for GPUs that nothing holds: only when they can never be had (the checks
      // before the run rule that out). Fail rather than wait forever.
      std::set<size_t> stuck;
      stuck.swap(ready_);
      for (size_t i : stuck) complete(i, JobState::kFailed, "its GPUs never became free");
      continue;
    }
    open_ahead();
    fds.clear();
    owners.clear();
    if (opts_.cancel_fd >= 0 && !cancelled_) {
      fds.push_back({opts_.cancel_fd, POLLIN, 0});
      owners.push_back({nullptr, false});
    }
    for (auto& a : running_) {
      if (!a->eof && a->proc.output_fd() >= 0) {
        fds.push_back({a->proc.output_fd(), POLLIN, 0});
        owners.push_back({a.get(), false});
      }
      if (!a->exited && a->proc.exit_fd() >= 0) {
        fds.push_back({a->proc.exit_fd(), POLLIN, 0});
        owners.push_back({a.get(), true});
      }
    }
    int n = ::poll(fds.data(), fds.size(), poll_timeout_ms());
    if (n < 0 && errno != EINTR) {
      debug_log("engine", std::string("poll: ") + std::strerror(errno));
      break;
    }
    for (size_t k = 0; n > 0 && k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      Attempt* a = owners[k].first;
      if (!a) {
        cancel();
      } else if (owners[k].second) {
        on_exit(*a);
      } else {
        read_output(*a);
      }
    }
    on_timers();
    // Jobs whose process exited and whose output is closed are done.
    for (size_t k = 0; k < running_.size();) {
      Attempt& a = *running_[k];
      if (!a.eof || !a.exited) {
        ++k;
        continue;
      }
      std::unique_ptr<Attempt> done = std::move(running_[k]);
      running_.erase(running_.begin() + static_cast<long>(k));
      finish_attempt(*done);
    }
  }
  // Jobs that never got a decision (only after a cancel).
  for (size_t i = 0; i < run_.jobs.size(); ++i)
    if (!terminal(run_.jobs[i].state)) complete(i, JobState::kCancelled, "cancelled");
  for (auto& c : cleanups_) c.wait();
  flush();
}

void Executor::apply(const std::vector<Scheduler::Decision>& decisions) {
  for (const auto& d : decisions) {
    if (terminal(run_.jobs[d.job].state)) continue;  // cancelled meanwhile
    if (d.run) {
      if (cancelled_) continue;
      ready_.insert(d.job);
      if (gpu_queue_.needs_gpus(d.job)) gpu_queue_.ready(d.job);
      continue;
    }
    JobResult& r = run_.jobs[d.job];
    r.state = JobState::kSkipped;
    r.message = d.message;
    mark(d.job);
    setup_.observer->job_finished(r);
  }
}

void Executor::start_ready() {
  // In file order; a job that needs GPUs starts when the queue gives it them (first ready,
  // first served) and otherwise stays ready without blocking the jobs after it. Starting a
  // job can change ready_ (a job that fails at once decides its dependents): start again from
  // the front after each.
  auto it = ready_.begin();
  while (!cancelled_ && it != ready_.end() && static_cast<int>(running_.size()) < max_parallel_) {
    size_t i = *it;
    if (gpu_queue_.needs_gpus(i)) {
      auto gpus = gpu_queue_.take(i);
      if (!gpus) {
        ++it;
        continue;
      }
      run_.jobs[i].gpus = std::move(*gpus);
    }
    ready_.erase(it);
    start_attempt(i);
    it = ready_.begin();
  }
}

void Executor::fail_before_start(size_t i, const Error& e, OutputSink* sink) {
  std::string msg = setup_.redactor.redact(e.message());
  if (sink) sink->line("wfrun: " + msg);
  complete(i, JobState::kFailed, msg);
}

void Executor::start_attempt(size_t i) {
  const workflows::Job& job = wf_.jobs[i];
  JobResult& r = run_.jobs[i];
  auto a = std::make_unique<Attempt>();
  a->job = i;
  a->dirs = job_dirs(run_.dir, job.name);
  r.attempts++;
  if (r.attempts == 1) {
    r.started = wall_now();
    r.log_path = a->dirs.log;
  }
  r.state = JobState::kRunning;
  mark(i);
  setup_.observer->job_started(job.name, r.attempts);

  if (auto pre = preopened_.find(i); pre != preopened_.end()) {
    a->log = std::move(pre->second);
    preopened_.erase(pre);
  } else if (auto log = open_log(i); log) {
    a->log = std::move(*log);
  } else {
    return fail_before_start(i, log.error(), nullptr);
  }
  RunObserver* observer = setup_.observer;
  const std::string* name = &job.name;
  a->sink = std::make_unique<OutputSink>(
      a->log.get(), &setup_.redactor,
      [observer, name](std::string_view line) { observer->job_output(*name, line); });
  OutputSink* sink = a->sink.get();
  if (r.attempts == 1 && !setup_.gpus->on_cpu[i].empty())
    sink->line("wfrun: " + setup_.gpus->on_cpu[i]);
  if (r.attempts > 1) {
    std::string note = "wfrun: attempt " + std::to_string(r.attempts) + " of " +
                       std::to_string(job.retries + 1) + "\n";
    write_all(a->log.get(), note.data(), note.size());
  }

  const Action* action = setup_.actions->find(job.uses);
  if (!action) return fail_before_start(i, Error("unknown action '" + job.uses + "'"), sink);
  const bool in_container = !action->image(job).empty();
  const bool rewrite = !in_container && setup_.path_mode == PathMode::kRewrite;

  auto env = resolver_.env(job);
  if (!env) return fail_before_start(i, env.error(), sink);
  for (const auto& [k, v] : opts_.env) env->emplace(k, v);  // the job's own value wins
  auto with = resolver_.with(job, *env);
  if (!with) return fail_before_start(i, with.error(), sink);
  auto inputs = resolve_inputs(wf_, job, opts_, setup_.store,
                               [this](const std::string& j) { return result(j); });
  if (!inputs) return fail_before_start(i, inputs.error(), sink);
  // The inputs/ and outputs/ folders exist for jobs that declare inputs or outputs: creating
  // inodes is most of what a trivial job costs wfrun, so jobs without them skip it.
  const bool uses_paths =
      !job.inputs.empty() || !job.outputs.empty() || action->in_process() || in_container;
  if (uses_paths) {
    if (auto s =
            prepare_inputs(a->dirs, *inputs, in_container ? PathMode::kRewrite : setup_.path_mode);
        !s)
      return fail_before_start(i, s.error(), sink);
    if (auto s = prepare_outputs(a->dirs, job); !s) return fail_before_start(i, s.error(), sink);
  }

  if (rewrite) {
    for (auto& [k, v] : *env) v = rewrite_paths(v, a->dirs.inputs, a->dirs.outputs);
    std::function<void(workflows::Json&)> walk = [&](workflows::Json& j) {
      if (j.is_string())
        j = rewrite_paths(j.get<std::string>(), a->dirs.inputs, a->dirs.outputs);
      else if (j.is_structured())
        for (auto& v : j) walk(v);
    };
    walk(*with);
  }

  ActionContext ctx{job, *with, *env, a->dirs, *inputs, setup_.store, run_.id, sink};
  ctx.secrets = &opts_.secrets;
  if (action->in_process()) {
    auto outs = action->run(ctx);
    if (!outs) return fail_before_start(i, outs.error(), sink);
    auto declared = collect_outputs(job, a->dirs, setup_.store, run_.id);
    if (!declared) return fail_before_start(i, declared.error(), sink);
    sink->finish();
    r.outputs = std::move(*outs);
    for (auto& [k, v] : *declared) r.outputs[k] = std::move(v);
    r.exit_code = 0;
    return complete(i, JobState::kSucceeded, "");
  }

  auto cmd = action->command(ctx);
  if (!cmd) return fail_before_start(i, cmd.error(), sink);
  // What the action hands its process by environment (tokens: never on the command line).
  for (const auto& [k, v] : cmd->env) (*env)[k] = v;
  LaunchInput in;
  in.setup = &setup_;
  in.run_id = run_.id;
  in.run_number = run_.number;
  in.job = i;
  in.attempt = r.attempts;
  in.cmd = &*cmd;
  in.env = &*env;
  in.dirs = &a->dirs;
  in.inputs = &*inputs;
  in.uses_paths = uses_paths;
  in.gpus = r.gpus;
  in.base_env = &base_env_;
  in.runtime_env = &runtime_env_;
  auto launch = launch_spec(in);
  if (!launch) return fail_before_start(i, launch.error(), sink);
  a->ns = std::move(launch->ns);
  a->container = launch->container;
  auto proc = Subprocess::start(launch->spec);
  a->ns.reset();
  if (!proc) return fail_before_start(i, proc.error(), sink);
  a->proc = std::move(*proc);
  if (job.timeout_seconds) a->deadline = after(*job.timeout_seconds);
  running_.push_back(std::move(a));
}

Result<UniqueFd> Executor::open_log(size_t i) {
  JobDirs dirs = job_dirs(run_.dir, wf_.jobs[i].name);
  if (::mkdir(dirs.dir.c_str(), 0755) != 0 && errno != EEXIST)
    return errno_error("cannot create '" + dirs.dir + "'", errno);
  UniqueFd log(::open(dirs.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log) return errno_error("cannot open '" + dirs.log + "'", errno);
  return log;
}

void Executor::open_ahead() {
  // While every slot is busy the loop would only wait: create the folder and log of the next
  // job in line now (one per pass, so that exits are still noticed at once), so that starting
  // it later is a spawn and nothing else.
  if (static_cast<int>(running_.size()) < max_parallel_) return;
  for (size_t i : ready_) {
    if (preopened_.count(i)) continue;
    if (run_.jobs[i].attempts == 0)
      if (auto log = open_log(i)) preopened_.emplace(i, std::move(*log));
    return;
  }
}

void Executor::read_output(Attempt& a) {
  for (int k = 0; k < kReadsPerWake; ++k) {
    ssize_t n = ::read(a.proc.output_fd(), buffer_.get(), kMaxLine);
    if (n > 0) {
      a.sink->write(buffer_.get(), static_cast<size_t>(n));
      if (static_cast<size_t>(n) < kMaxLine) break;  // the pipe is (probably) empty
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    // EOF (or a read error, treated alike).
    a.eof = true;
    a.proc.close_output();
    // Usually the process has exited by now: reap it without another trip through poll().
    if (!a.exited && a.proc.has_exited()) on_exit(a);
    if (a.proc.exit_fd() < 0 && !a.exited) {
      // No pidfd on this kernel: the exit follows the end of the output (ninja's model).
      a.proc.signal_group(SIGKILL);
      a.proc.wait();
      a.exited = true;
    }
    return;
  }
}

void Executor::on_exit(Attempt& a) {
  // Processes the job left behind in its group die with it (as GitHub Actions' orphan
  // process cleanup does); the leader is a zombie until try_wait(), so the group id is safe.
  a.proc.signal_group(SIGKILL);
  if (!a.proc.try_wait()) return;
  a.exited = true;
  if (!a.eof) {
    read_output(a);
    if (!a.eof) a.drain_until = Clock::now() + kDrainTime;
  }
}

void Executor::on_timers() {
  write_json_if_due();
  auto now = Clock::now();
  if (metrics_ && !running_.empty() && metrics_->next_due() <= now) sample_metrics();
  // About once a second while jobs run, so a status line can show how long they have run.
  if (running_.empty()) {
    heartbeat_due_ = kNever;
  } else if (heartbeat_due_ == kNever || heartbeat_due_ <= now) {
    if (heartbeat_due_ != kNever) setup_.observer->heartbeat();
    heartbeat_due_ = now + std::chrono::seconds(1);
  }
  for (auto& a : running_) {
    if (a->deadline <= now) {
      a->deadline = kNever;
      if (a->stop == Attempt::Stop::kNone) {
        a->stop = Attempt::Stop::kTimeout;
        a->proc.signal_group(SIGTERM);
        a->kill_at = after(opts_.kill_grace_seconds);
      }
    }
    if (a->kill_at <= now) {
      a->kill_at = kNever;
      a->proc.signal_group(SIGKILL);
    }
    if (a->drain_until <= now) {
      a->drain_until = kNever;
      a->eof = true;
      a->proc.close_output();
    }
  }
}

void Executor::sample_metrics() {
  std::vector<gpu::JobProcesses> jobs;
  jobs.reserve(running_.size());
  for (const auto& a : running_) {
    if (a->exited) continue;
    pid_t pid = a->proc.pid();
    jobs.push_back({wf_.jobs[a->job].name, pid, {pid}, run_.jobs[a->job].gpus});
  }
  metrics_->sample(jobs);
}

int Executor::poll_timeout_ms() const {
  Clock::time_point next = json_due_;
  // Nothing is sampled while nothing runs.
  if (metrics_ && !running_.empty()) next = std::min(next, metrics_->next_due());
  if (!running_.empty()) {
    next = std::min(next, heartbeat_due_ == kNever ? Clock::now() + std::chrono::seconds(1)
                                                   : heartbeat_due_);
  }
  for (const auto& a : running_) next = std::min({next, a->deadline, a->kill_at, a->drain_until});
  if (next == kNever) return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 24 * 3600 * 1000));
}

void Executor::cancel() {
  cancelled_ = true;
  gpu_queue_.clear();
  std::set<size_t> ready = std::move(ready_);
  ready_.clear();
  for (size_t i : ready) complete(i, JobState::kCancelled, "cancelled");
  for (size_t i : scheduler_.undecided())
    if (!terminal(run_.jobs[i].state)) complete(i, JobState::kCancelled, "cancelled");
  for (auto& a : running_) {
    if (a->stop == Attempt::Stop::kNone) a->proc.signal_group(SIGTERM);
    a->stop = Attempt::Stop::kCancel;
    a->kill_at = std::min(a->kill_at, after(opts_.kill_grace_seconds));
  }
}

void Executor::finish_attempt(Attempt& a) {
  size_t i = a.job;
  const workflows::Job& job = wf_.jobs[i];
  JobResult& r = run_.jobs[i];
  a.sink->finish();
  const ExitStatus& st = *a.proc.status();
  r.exit_code = st.code;
  r.signal = st.signal;
  JobState state = JobState::kFailed;
  std::string message;
  if (a.stop == Attempt::Stop::kCancel) {
    state = JobState::kCancelled;
    message = "cancelled";
  } else if (a.stop == Attempt::Stop::kTimeout) {
    state = JobState::kTimedOut;
    message = "timed out after " + timeout_text(*job.timeout_seconds);
  } else if (st.success()) {
    auto outs = collect_outputs(job, a.dirs, setup_.store, run_.id);
    if (outs) {
      r.outputs = std::move(*outs);
      state = JobState::kSucceeded;
    } else {
      message = setup_.redactor.redact(outs.error().message());
      a.sink->line("wfrun: " + message);
    }
  } else {
    message = st.str();
  }
  if (!a.container.empty() && a.stop != Attempt::Stop::kNone && setup_.runtime) {
    // The runtime client was killed; make sure the container goes too.
    ProcessSpec kill;
    kill.argv = setup_.runtime->command;
    kill.argv.insert(kill.argv.end(), {"kill", a.container});
    for (const auto& [k, v] : base_env_) kill.env.push_back(k + "=" + v);
    for (const auto& [k, v] : runtime_env_) kill.env.push_back(k + "=" + v);
    if (auto p = Subprocess::start(kill)) cleanups_.push_back(std::move(*p));
  }
  bool retry = (state == JobState::kFailed || state == JobState::kTimedOut) && !cancelled_ &&
               r.attempts <= job.retries;
  if (retry) {
    a.sink->line("wfrun: " + (message.empty() ? std::string("failed") : message) + "; retrying");
    a.log.reset();
    start_attempt(i);
    return;
  }
  complete(i, state, std::move(message));
}

void Executor::complete(size_t i, JobState state, std::string message) {
  JobResult& r = run_.jobs[i];
  r.state = state;
  r.message = std::move(message);
  r.finished = wall_now();
  gpu_queue_.release(i);
  if (metrics_) metrics_->job_finished(r, run_.dir);
  mark(i);
  setup_.observer->job_finished(r);
  apply(scheduler_.finish(i, state));
}

void Executor::flush() {
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

void Executor::write_json_if_due() {
  auto now = Clock::now();
  if (json_due_ > now) return;
  json_due_ = kNever;
  json_written_ = now;
  if (auto s = write_run_json(run_, setup_.workflow_name, setup_.redactor); !s)
    debug_log("engine", s.error().message());
}

}  // namespace

void execute(const RunSetup& setup, RunResult& run) {
  Executor e(setup, run);
  e.run();
}

}  // namespace wfrun::engine
