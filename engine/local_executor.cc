#include "engine/local_executor.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "base/fd.h"
#include "engine/gpu_jobs.h"
#include "engine/lifetime.h"
#include "engine/output.h"
#include "engine/process.h"

namespace wfrun::engine {

namespace {

using Clock = Executor::Clock;
constexpr Clock::time_point kNever = Executor::kNever;

// After a job's main process exits, how long to wait for the rest of its output (from
// processes that left its process group) before closing the pipe.
constexpr std::chrono::milliseconds kDrainTime{1000};
// Reads of one pipe per wake-up, so that one chatty job cannot starve the others.
constexpr int kReadsPerWake = 16;

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(std::max(0.0, seconds)));
}

/// One attempt with a process.
struct Running {
  size_t job = 0;
  std::string name;
  Subprocess proc;
  OutputSink* sink = nullptr;
  std::vector<int> gpus;
  Clock::time_point deadline = kNever;     // the job's timeout
  Clock::time_point kill_at = kNever;      // SIGKILL after the grace period
  Clock::time_point drain_until = kNever;  // output still open after the exit
  enum class Stop { kNone, kTimeout, kCancel } stop = Stop::kNone;
  bool exited = false;
  bool eof = false;
  std::string container;  // the container's name when it runs in one
};

class LocalExecutor : public Executor {
 public:
  LocalExecutor(const RunSetup& setup, RunMetrics* metrics)
      : setup_(setup),
        opts_(*setup.opts),
        gpu_queue_(*setup.wf, *setup.gpus),
        metrics_(metrics),
        buffer_(new char[kMaxLine]) {
    max_parallel_ = opts_.max_parallel > 0
                        ? opts_.max_parallel
                        : static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  }

  void ready(size_t job) override {
    if (gpu_queue_.needs_gpus(job)) gpu_queue_.ready(job);
  }
  std::optional<std::vector<int>> admit(size_t job) override {
    if (static_cast<int>(running_.size()) >= max_parallel_) return std::nullopt;
    if (!gpu_queue_.needs_gpus(job)) return std::vector<int>{};
    return gpu_queue_.take(job);
  }
  void release(size_t job) override { gpu_queue_.release(job); }
  void clear_ready() override { gpu_queue_.clear(); }

  Status start(AttemptSpec spec) override;
  void cancel() override;
  void kill_now() override;
  size_t active() const override { return running_.size(); }
  void poll_fds(std::vector<pollfd>& fds) const override;
  Clock::time_point next_wakeup() const override;
  void step(const pollfd* fds, size_t n, std::vector<AttemptEnd>& ended) override;
  void finish() override {
    for (auto& c : cleanups_) c.wait();
    lifetime_.forget_containers();
    lifetime_.finish();
  }

 private:
  void read_output(Running& a);
  void on_exit(Running& a);
  void on_timers(Clock::time_point now);
  void sample_metrics();
  AttemptEnd end_of(Running& a);

  const RunSetup& setup_;
  const RunOptions& opts_;
  GpuQueue gpu_queue_;
  RunMetrics* metrics_;
  std::unique_ptr<char[]> buffer_;  // one read buffer for every pipe
  int max_parallel_ = 1;
  std::vector<std::unique_ptr<Running>> running_;
  // poll_fds() order: for each attempt, its output fd (if open) then its exit fd (if any).
  mutable std::vector<std::pair<Running*, bool>> owners_;  // attempt, is-exit-fd
  std::vector<Subprocess> cleanups_;  // `RUNTIME kill NAME` for killed containers
  JobLifetime lifetime_;               // what it starts dies with wfrun
  bool lifetime_started_ = false;      // at the first start(): a run without jobs forks nothing
  bool killing_ = false;               // kill_now(): no more waiting for output
};

Status LocalExecutor::start(AttemptSpec spec) {
  auto a = std::make_unique<Running>();
  a->job = spec.job;
  a->name = spec.name;
  a->sink = spec.output;
  a->gpus = spec.gpus;
  a->container = spec.container;
  if (!lifetime_started_) {
    lifetime_started_ = true;
    lifetime_.start(setup_.store, spec.run_id, static_cast<size_t>(max_parallel_), setup_.runtime,
                    setup_.env.runtime);
  }
  lifetime_.prepare(spec.process, spec.job, spec.attempt, !spec.container.empty());
  auto proc = Subprocess::start(spec.process);
  spec.ns.reset();
  lifetime_.started(proc ? proc->pid() : -1, spec.container);
  if (!proc) return proc.error();
  a->proc = std::move(*proc);
  if (spec.timeout_seconds) a->deadline = after(*spec.timeout_seconds);
  running_.push_back(std::move(a));
  return {};
}

void LocalExecutor::poll_fds(std::vector<pollfd>& fds) const {
  owners_.clear();
  for (const auto& a : running_) {
    if (!a->eof && a->proc.output_fd() >= 0) {
      fds.push_back({a->proc.output_fd(), POLLIN, 0});
      owners_.push_back({a.get(), false});
    }
    if (!a->exited && a->proc.exit_fd() >= 0) {
      fds.push_back({a->proc.exit_fd(), POLLIN, 0});
      owners_.push_back({a.get(), true});
    }
  }
}

void LocalExecutor::step(const pollfd* fds, size_t n, std::vector<AttemptEnd>& ended) {
  for (size_t k = 0; k < n && k < owners_.size(); ++k) {
    if (!fds[k].revents) continue;
    Running* a = owners_[k].first;
    if (owners_[k].second)
      on_exit(*a);
    else
      read_output(*a);
  }
  owners_.clear();
  on_timers(Clock::now());
  // Attempts whose process exited and whose output is closed are done.
  for (size_t k = 0; k < running_.size();) {
    Running& a = *running_[k];
    if (!a.eof || !a.exited) {
      ++k;
      continue;
    }
    std::unique_ptr<Running> done = std::move(running_[k]);
    running_.erase(running_.begin() + static_cast<long>(k));
    ended.push_back(end_of(*done));
  }
}

void LocalExecutor::read_output(Running& a) {
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

void LocalExecutor::on_exit(Running& a) {
  // Processes the job left behind in its group die with it (as GitHub Actions' orphan
  // process cleanup does); the leader is a zombie until try_wait(), so the group id is safe.
  a.proc.signal_group(SIGKILL);
  if (!a.proc.try_wait()) return;
  a.exited = true;
  if (!a.eof) {
    read_output(a);
    if (!a.eof) a.drain_until = Clock::now() + (killing_ ? Clock::duration::zero() : kDrainTime);
  }
}

void LocalExecutor::on_timers(Clock::time_point now) {
  if (metrics_ && !running_.empty() && metrics_->next_due() <= now) sample_metrics();
  for (auto& a : running_) {
    if (a->deadline <= now) {
      a->deadline = kNever;
      if (a->stop == Running::Stop::kNone) {
        a->stop = Running::Stop::kTimeout;
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

void LocalExecutor::sample_metrics() {
  std::vector<gpu::JobProcesses> jobs;
  jobs.reserve(running_.size());
  for (const auto& a : running_) {
    if (a->exited) continue;
    pid_t pid = a->proc.pid();
    jobs.push_back({a->name, pid, {pid}, a->gpus});
  }
  metrics_->sample(jobs);
}

Clock::time_point LocalExecutor::next_wakeup() const {
  Clock::time_point next = kNever;
  // Nothing is sampled while nothing runs.
  if (metrics_ && !running_.empty()) next = metrics_->next_due();
  for (const auto& a : running_) next = std::min({next, a->deadline, a->kill_at, a->drain_until});
  return next;
}

void LocalExecutor::cancel() {
  for (auto& a : running_) {
    if (a->stop == Running::Stop::kNone) a->proc.signal_group(SIGTERM);
    a->stop = Running::Stop::kCancel;
    a->kill_at = std::min(a->kill_at, after(opts_.kill_grace_seconds));
  }
}

void LocalExecutor::kill_now() {
  killing_ = true;
  for (auto& a : running_) {
    a->stop = Running::Stop::kCancel;
    a->proc.signal_group(SIGKILL);
    a->kill_at = kNever;
    a->drain_until = std::min(a->drain_until, Clock::now());
  }
}

AttemptEnd LocalExecutor::end_of(Running& a) {
  AttemptEnd e;
  e.job = a.job;
  e.status = *a.proc.status();
  lifetime_.ended(a.proc.pid(), a.container, a.stop == Running::Stop::kNone);
  if (a.stop == Running::Stop::kCancel)
    e.reason = AttemptEnd::Reason::kCancelled;
  else if (a.stop == Running::Stop::kTimeout)
    e.reason = AttemptEnd::Reason::kTimedOut;
  if (!a.container.empty() && a.stop != Running::Stop::kNone && setup_.runtime) {
    // The runtime client was killed; make sure the container goes too.
    ProcessSpec kill;
    kill.argv = setup_.runtime->command;
    kill.argv.insert(kill.argv.end(), {"kill", a.container});
    for (const auto& [k, v] : setup_.env.base) kill.env.push_back(k + "=" + v);
    for (const auto& [k, v] : setup_.env.runtime) kill.env.push_back(k + "=" + v);
    if (auto p = Subprocess::start(kill)) cleanups_.push_back(std::move(*p));
  }
  return e;
}

}  // namespace

std::unique_ptr<Executor> make_local_executor(const RunSetup& setup, RunMetrics* metrics) {
  return std::make_unique<LocalExecutor>(setup, metrics);
}

}  // namespace wfrun::engine
