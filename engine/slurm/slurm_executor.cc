#include "engine/slurm/slurm_executor.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "base/fd.h"
#include "base/log.h"
#include "engine/executors.h"
#include "engine/fs.h"
#include "engine/gpu_jobs.h"
#include "engine/output.h"
#include "engine/slurm/attempts.h"
#include "engine/slurm/command.h"
#include "engine/slurm/commands.h"
#include "engine/slurm/executor_state.h"
#include "engine/slurm/files.h"

namespace wfrun::slurm {

using engine::Executor;

namespace internal {

namespace {

constexpr size_t kMaxFollow = 4 << 20;  // log bytes read per attempt per step

// Filesystems on which a change made on another machine may show late and inotify does not
// see it: the executor stats the attempts' files every second there.
bool network_fs(const std::string& path) {
  struct statfs s {};
  if (::statfs(path.c_str(), &s) != 0) return true;
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0x6969:      // NFS
    case 0x517B:      // SMB
    case 0xFE534D42:  // SMB2
    case 0xFF534D42:  // CIFS
    case 0x0BD00BD0:  // Lustre
    case 0x47504653:  // GPFS
    case 0x19830326:  // BeeGFS
    case 0x00C36400:  // CephFS
    case 0x65735546:  // FUSE
    case 0x013111A8:  // IBRIX
    case 0x7461636f:  // OCFS2
    case 0x01161970:  // GFS2
      return true;
    default:
      return false;
  }
}

off_t file_size(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

}  // namespace

SlurmExecutor::SlurmExecutor(const engine::RunSetup& setup, const engine::RunResult& run,
                             engine::RunMetrics* metrics,
                             const workflows::SlurmSettings& settings)
    : setup_(setup), run_(run), metrics_(metrics), settings_(settings) {
  user_ = user_name();
  wfrun_ = node_wfrun(settings_);
  std::error_code ec;
  self_ = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  for (const auto& [k, v] : setup_.env.base) env_.push_back(k + "=" + v);
  if (const char* c = std::getenv("SLURM_CONF")) env_.push_back(std::string("SLURM_CONF=") + c);
  network_ = network_fs(run_.dir);
  sweep_every_ = network_ ? 1.0 : 10.0;
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) sweep_every_ = 1.0;
  squeue_every_ = settings_.squeue_interval;
}

Attempt& SlurmExecutor::add(AttemptSpec& spec) {
  std::uint64_t key = next_key_++;
  Attempt& a = attempts_[key];
  a.key = key;
  a.job = spec.job;
  a.attempt = spec.attempt;
  a.job_name = spec.name;
  a.name = job_name(run_.id, spec.name, spec.attempt);
  a.dir = spec.dirs.dir + "/slurm-" + std::to_string(spec.attempt);
  a.log = spec.dirs.log;
  a.sink = spec.output;
  engine::RunObserver* observer = setup_.observer;
  std::string name = spec.name;
  a.follow = std::make_unique<engine::OutputSink>(
      -1, nullptr,
      [observer, name](std::string_view line) { observer->job_output(name, line); });
  a.log_offset = std::max<off_t>(0, file_size(a.log));
  a.timeout = spec.timeout_seconds;
  if (sweep_due_ == kNever) sweep_due_ = after(sweep_every_);
  return a;
}

void SlurmExecutor::watch(Attempt& a) {
  if (!inotify_) return;
  // The shim publishes `started` and `exit` by rename. No IN_MODIFY: the shim's samples to
  // metrics.jsonl (every second, an open file) would wake wfrun once a second per job.
  a.wd_dir = ::inotify_add_watch(inotify_.get(), a.dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE);
  if (a.wd_dir >= 0) watches_[a.wd_dir] = a.key;
  a.wd_job = ::inotify_add_watch(inotify_.get(), engine::dir_name(a.log).c_str(), IN_MODIFY);
  if (a.wd_job >= 0) watches_[a.wd_job] = a.key;
  if (a.wd_dir < 0 || a.wd_job < 0) sweep_every_ = 1.0;  // out of watches: poll instead
}

Status SlurmExecutor::start(AttemptSpec spec) {
  const workflows::Job& job = setup_.wf->jobs[spec.job];
  std::string dir = spec.dirs.dir + "/slurm-" + std::to_string(spec.attempt);
  if (auto s = engine::remove_tree(dir); !s) return s;
  if (::mkdir(dir.c_str(), 0700) != 0) return errno_error("cannot create '" + dir + "'", errno);

  ShimJob sj;
  sj.job = spec.name;
  sj.argv = spec.process.argv;
  sj.cwd = spec.process.cwd;
  sj.log = spec.dirs.log;
  sj.self = self_;
  sj.kill_grace = setup_.opts->kill_grace_seconds;
  sj.metrics_interval = setup_.opts->metrics_interval;
  sj.gpus = setup_.gpus->asked[spec.job].count;
  sj.container = spec.container;
  if (!spec.container.empty() && setup_.runtime) {
    for (const auto& w : setup_.runtime->command) sj.container_runtime += (sj.container_runtime.empty() ? "" : " ") + w;
  }
  for (const char* k : {"WFRUN_FAKE_GPUS", "WFRUN_NVIDIA_SMI", "WFRUN_NVML_LIB"}) {
    const char* v = std::getenv(k);
    if (!v) continue;
    std::string& out = k[6] == 'F' ? sj.discover.fake : k[8] == 'V' ? sj.discover.nvidia_smi
                                                                     : sj.discover.nvml_lib;
    out = v;
  }
  ShimSecrets secrets;
  for (const auto& kv : spec.process.env) {
    size_t eq = kv.find('=');
    std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (spec.secret_env.count(k))
      secrets.env[k] = v;
    else
      sj.env[k] = v;
  }
  for (const auto& [_, v] : setup_.opts->secrets)
    if (!v.empty()) secrets.redact.push_back(v);
  if (!setup_.redactor.empty()) {
    for (const auto& arg : sj.argv)
      if (setup_.redactor.redact(arg) != arg) {
        secrets.argv = sj.argv;
        sj.argv = {"(in secrets.json)"};
        break;
      }
  }
  if (!secrets.env.empty() || !secrets.argv.empty() || !secrets.redact.empty()) {
    // Created readable by this user only before a byte is written (O_EXCL: not a file someone
    // else put there first).
    std::string path = dir + "/" + kSecretsFile;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) return errno_error("cannot create '" + path + "'", errno);
    std::string text = shim_secrets_json(secrets);
    if (!engine::write_all(fd.get(), text.data(), text.size()))
      return errno_error("cannot write '" + path + "'", errno);
  }
  if (auto s = engine::write_file(dir + "/" + kJobFile, shim_job_json(sj)); !s) return s;
  if (auto s = engine::write_file(dir + "/batch.sh", batch_script(wfrun_, dir)); !s) return s;

  Request r;
  r.name = job_name(run_.id, spec.name, spec.attempt);
  r.dir = dir;
  const gpu::GpuRequest& g = setup_.gpus->asked[spec.job];
  r.gpus = g.count;
  r.gpu_model = g.model;
  r.cpus = job.resources.cpus;
  r.memory_bytes = job.resources.memory_bytes;
  r.timeout_seconds = job.timeout_seconds;
  r.kill_grace_seconds = setup_.opts->kill_grace_seconds;
  r.placement = settings_.placement;
  r.placement.merge(job.resources.slurm);
  r.gpu_model_as = settings_.gpu_model;

  Attempt& a = add(spec);
  a.sbatch = sbatch_args(r);
  a.sbatch.push_back(dir + "/batch.sh");
  watch(a);
  waiting_.push_back(a.key);
  submit_waiting();
  return {};
}

bool SlurmExecutor::adopt(AttemptSpec& spec) {
  std::string dir = spec.dirs.dir + "/slurm-" + std::to_string(spec.attempt);
  if (!engine::is_dir(dir)) return false;
  const bool has_exit = engine::exists(dir + "/" + kExitFile);
  std::optional<long long> id;
  if (!has_exit) {
    id = attempt_job_id(dir, user_, env_);
    if (!id) return false;
  } else if (auto t = engine::read_file(dir + "/" + kSlurmIdFile, 64)) {
    id = parse_job_id(*t);
  }
  Attempt& a = add(spec);
  if (spec.output && spec.dirs.dir.rfind(run_.dir + "/", 0) != 0) {
    a.copy_log = true;
    a.log_offset = 0;
  }
  a.id = id;
  a.phase = Attempt::Phase::kQueued;
  a.submitted_at = Clock::now();
  a.started = engine::exists(dir + "/" + kStartedFile);
  if (a.started) {
    a.phase = Attempt::Phase::kRunning;
    if (a.timeout) a.deadline = after(*a.timeout);
  }
  watch(a);
  a.check = true;
  squeue_soon(0);
  return true;
}

int SlurmExecutor::last_attempt(const engine::JobDirs& dirs) const { return last_attempt_in(dirs); }

void SlurmExecutor::decide_from_exit(Attempt& a) {
  const ShimExit& x = *a.exit;
  AttemptEnd e{a.job, AttemptEnd::Reason::kExited, x.status, "", {}};
  if (a.stop == Attempt::Stop::kCancel) {
    e.reason = AttemptEnd::Reason::kCancelled;
  } else if (a.stop == Attempt::Stop::kTimeout || x.reason == "walltime") {
    e.reason = AttemptEnd::Reason::kTimedOut;
  } else if (x.reason == "error") {
    e.reason = AttemptEnd::Reason::kNotStarted;
    e.message = x.message;
  } else if (x.reason == "terminated" || x.status.signal ||
             (x.status.code && *x.status.code > 128)) {
    // Someone else stopped it, or a signal killed it: Slurm (a node failure, preemption,
    // scancel, its time limit) or the node. Slurm's state says which. (Slurm signals the job's
    // processes and the shim at once: the job may die before the shim sees its own signal.)
    if (!a.id) return decide(a, std::move(e));
    if (!a.asking) {
      a.asked = 0;
      a.grace_until = Clock::now();
    }
    return;
  }
  decide(a, std::move(e));
}

void SlurmExecutor::decide(Attempt& a, AttemptEnd e) {
  if (a.end) return;
  e.job = a.job;
  a.end = std::move(e);
}

std::string SlurmExecutor::slurm_words(const Attempt& a) const {
  std::string words;
  auto text = engine::read_file(a.dir + "/" + kSlurmOutFile, 1 << 20);
  if (!text) return words;
  return *text;
}

void SlurmExecutor::follow(Attempt& a) {
  off_t size = file_size(a.log);
  if (size <= a.log_offset) return;
  UniqueFd fd(::open(a.log.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return;
  char buf[65536];
  size_t total = 0;
  while (total < kMaxFollow) {
    ssize_t n = ::pread(fd.get(), buf, sizeof buf, a.log_offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    (a.copy_log ? a.sink : a.follow.get())->write(buf, static_cast<size_t>(n));
    a.log_offset += n;
    total += static_cast<size_t>(n);
  }
  if (total >= kMaxFollow) a.check = true;  // more next step
}

void SlurmExecutor::ingest_metrics(Attempt& a) {
  if (!metrics_) return;
  std::string path = a.dir + "/" + kMetricsFile;
  off_t size = file_size(path);
  if (size <= a.metrics_offset) return;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return;
  std::string text(static_cast<size_t>(std::min<off_t>(size - a.metrics_offset, 8 << 20)), '\0');
  ssize_t n = ::pread(fd.get(), text.data(), text.size(), a.metrics_offset);
  if (n <= 0) return;
  text.resize(static_cast<size_t>(n));
  size_t last_nl = text.rfind('\n');
  if (last_nl == std::string::npos) return;
  text.resize(last_nl + 1);
  a.metrics_offset += static_cast<off_t>(text.size());
  std::vector<gpu::MetricRow> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (auto r = parse_metric_row(line)) {
      r->job = a.job_name;
      rows.push_back(std::move(*r));
    }
  metrics_->record(rows);
}

void SlurmExecutor::look(Attempt& a) {
  a.check = false;
  if (a.end) return;
  follow(a);
  if (!a.started) {
    if (auto t = engine::read_file(a.dir + "/" + kStartedFile, 1 << 16)) {
      a.started = true;
      if (auto s = parse_shim_started(*t)) {
        a.gpus = s->gpus;
        a.host = s->host;
      }
      if (a.phase != Attempt::Phase::kRunning) a.phase = Attempt::Phase::kRunning;
      if (a.timeout && a.deadline == kNever && a.stop == Attempt::Stop::kNone)
        a.deadline = after(*a.timeout);
    }
  }
  if (!a.exit) {
    if (auto t = engine::read_file(a.dir + "/" + kExitFile, 1 << 16)) {
      auto x = parse_shim_exit(*t);
      if (x) {
        a.exit = std::move(*x);
        follow(a);  // the shim closed the log before it wrote the exit file
        decide_from_exit(a);
      }
    }
  }
}

void SlurmExecutor::read_inotify() {
  alignas(inotify_event) char buf[16384];
  while (true) {
    ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        for (auto& [_, a] : attempts_) a.check = true;
        continue;
      }
      auto w = watches_.find(ev->wd);
      if (w == watches_.end()) continue;
      Attempt* a = find(w->second);
      if (!a) continue;
      std::string_view name = ev->len ? std::string_view(ev->name) : std::string_view();
      if (ev->wd == a->wd_job && name != "log") continue;  // another job's attempt folder
      if (name == kMetricsFile) continue;                   // read at the sweep and the end
      a->check = true;
    }
  }
}

void SlurmExecutor::poll_fds(std::vector<pollfd>& fds) const {
  size_t base = fds.size();
  inotify_slot_ = SIZE_MAX;
  if (inotify_ && !attempts_.empty()) {
    inotify_slot_ = 0;
    fds.push_back({inotify_.get(), POLLIN, 0});
  }
  fd_spans_.clear();
  for (const auto& p : pending_) {
    size_t first = fds.size() - base;
    p.cmd.poll_fds(fds);
    fd_spans_.push_back({first, fds.size() - base});
  }
}

Clock::time_point SlurmExecutor::next_wakeup() const {
  Clock::time_point next = kNever;
  if (!attempts_.empty()) {
    next = std::min(next, sweep_due_);
    bool any_id = std::any_of(attempts_.begin(), attempts_.end(),
                              [](const auto& kv) { return kv.second.id.has_value(); });
    if (any_id && !squeue_running_) next = std::min(next, squeue_due_);
  }
  for (const auto& p : pending_) next = std::min(next, p.cmd.deadline());
  for (const auto& [_, a] : attempts_) {
    if (a.end || a.check) return Clock::now();
    next = std::min({next, a.deadline, a.asking ? kNever : a.grace_until});
    // A waiting attempt is submitted when an sbatch slot frees (a command's end wakes the
    // loop) or when its backoff ends.
    if (a.phase == Attempt::Phase::kWaiting && a.retry_at > Clock::now() &&
        sbatch_running_ < kMaxSbatchAtOnce)
      next = std::min(next, a.retry_at);
  }
  return next;
}

void SlurmExecutor::timers(Clock::time_point now) {
  if (sweep_due_ <= now) {
    sweep_due_ = attempts_.empty() ? kNever : now + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(sweep_every_));
    for (auto& [_, a] : attempts_) {
      if (a.phase == Attempt::Phase::kWaiting || a.phase == Attempt::Phase::kSubmitting) continue;
      a.check = true;
      ingest_metrics(a);
    }
  }
  std::vector<long long> stop;
  for (auto& [_, a] : attempts_) {
    if (a.deadline <= now) {
      a.deadline = kNever;
      if (a.stop == Attempt::Stop::kNone && !a.end) {
        a.stop = Attempt::Stop::kTimeout;
        if (a.id) stop.push_back(*a.id);
      }
    }
    if (a.grace_until <= now && !a.asking && !a.end) {
      a.grace_until = kNever;
      look(a);  // one last look (NFS: listing the folder refreshes its attributes)
      if (a.end || a.asking) continue;
      if (!a.exit || a.grace_until == kNever) {
        if (a.stop != Attempt::Stop::kNone && !a.started && !a.exit)
          decide(a, AttemptEnd{a.job, a.stop == Attempt::Stop::kCancel
                                          ? AttemptEnd::Reason::kCancelled
                                          : AttemptEnd::Reason::kTimedOut,
                               {}, "", {}});
        else
          ask(a);
      }
    }
  }
  if (!stop.empty()) scancel(std::move(stop));
  bool any_id = std::any_of(attempts_.begin(), attempts_.end(),
                            [](const auto& kv) { return kv.second.id && !kv.second.end; });
  if (any_id && !squeue_running_ && squeue_due_ <= now) {
    squeue_running_ = true;
    squeue_due_ = kNever;
    std::vector<std::string> argv = {"squeue"};
    for (auto& w : squeue_args(user_)) argv.push_back(w);
    run(Pending::Kind::kSqueue, std::move(argv));
  }
  submit_waiting();
}

void SlurmExecutor::cancel() {
  cancelled_ = true;
  std::vector<long long> ids;
  for (auto& [_, a] : attempts_) {
    if (a.end) continue;
    a.stop = Attempt::Stop::kCancel;
    a.deadline = kNever;
    if (a.phase == Attempt::Phase::kWaiting) {
      decide(a, AttemptEnd{a.job, AttemptEnd::Reason::kCancelled, {}, "", {}});
      continue;
    }
    if (a.id) ids.push_back(*a.id);
  }
  waiting_.clear();
  if (!ids.empty()) scancel(std::move(ids));
}

AttemptEnd SlurmExecutor::finalize(Attempt& a) {
  follow(a);
  (a.copy_log ? a.sink : a.follow.get())->finish();
  // What Slurm itself printed for the job (slurmstepd: "CANCELLED AT ... DUE TO TIME LIMIT",
  // the batch script's own errors): in the job's log, after the job's output.
  std::string words = slurm_words(a);
  size_t lines = 0;
  std::istringstream in(words);
  for (std::string line; std::getline(in, line) && lines < 50;) {
    if (line.empty()) continue;
    a.sink->line(line);
    ++lines;
  }
  ingest_metrics(a);
  ::unlink((a.dir + "/" + kSecretsFile).c_str());
  for (int wd : {a.wd_dir, a.wd_job}) {
    if (wd < 0) continue;
    // Two attempts may share the job folder's watch (inotify returns the same wd).
    bool shared = false;
    for (const auto& [k, o] : attempts_)
      if (k != a.key && (o.wd_dir == wd || o.wd_job == wd)) shared = true;
    if (!shared) {
      ::inotify_rm_watch(inotify_.get(), wd);
      watches_.erase(wd);
    } else {
      for (const auto& [k, o] : attempts_)
        if (k != a.key && (o.wd_dir == wd || o.wd_job == wd)) watches_[wd] = k;
    }
  }
  AttemptEnd e = std::move(*a.end);
  e.gpus = a.gpus;
  if (a.id && (e.reason == AttemptEnd::Reason::kLost || e.reason == AttemptEnd::Reason::kOutOfMemory))
    e.message = "Slurm job " + std::to_string(*a.id) + ": " + e.message;
  return e;
}

void SlurmExecutor::step(const pollfd* fds, size_t n, std::vector<AttemptEnd>& ended) {
  if (inotify_slot_ != SIZE_MAX && inotify_slot_ < n && fds[inotify_slot_].revents)
    read_inotify();
  // Commands: read, reap, dispatch the finished ones.
  for (size_t k = 0; k < pending_.size(); ++k) {
    bool ready = k >= fd_spans_.size();
    if (!ready)
      for (size_t f = fd_spans_[k].first; f < fd_spans_[k].second && f < n; ++f)
        ready = ready || fds[f].revents;
    if (ready || pending_[k].cmd.deadline() <= Clock::now()) pending_[k].cmd.step();
  }
  fd_spans_.clear();
  inotify_slot_ = SIZE_MAX;
  std::vector<Pending> done;
  for (size_t k = 0; k < pending_.size();) {
    if (pending_[k].cmd.done()) {
      done.push_back(std::move(pending_[k]));
      pending_.erase(pending_.begin() + static_cast<long>(k));
    } else {
      ++k;
    }
  }
  for (auto& p : done) {
    switch (p.kind) {
      case Pending::Kind::kSbatch:
        --sbatch_running_;
        if (Attempt* a = find(p.key)) on_sbatch(*a, p.cmd);
        break;
      case Pending::Kind::kSqueue:
        on_squeue(p.cmd);
        break;
      case Pending::Kind::kLookup:
        --sbatch_running_;
        if (Attempt* a = find(p.key)) on_lookup(*a, p.cmd);
        break;
      case Pending::Kind::kScancel:
        if (!p.cmd.ok()) debug_log("slurm", "scancel: " + p.cmd.last_line());
        squeue_soon(0.2);
        break;
      case Pending::Kind::kQuery:
        if (Attempt* a = find(p.key)) on_query(*a, p.query, p.cmd);
        break;
    }
  }
  timers(Clock::now());
  for (auto& [_, a] : attempts_)
    if (a.check) look(a);
  for (auto it = attempts_.begin(); it != attempts_.end();) {
    Attempt& a = it->second;
    if (!a.end) {
      ++it;
      continue;
    }
    ended.push_back(finalize(a));
    it = attempts_.erase(it);
  }
  if (attempts_.empty()) {
    sweep_due_ = kNever;
    squeue_due_ = kNever;
  }
}

void SlurmExecutor::finish() {
  // scancel calls still running (after a cancel): let them end, within their timeout.
  while (!pending_.empty()) {
    std::vector<pollfd> fds;
    for (const auto& p : pending_) p.cmd.poll_fds(fds);
    ::poll(fds.data(), fds.size(), 100);
    for (auto& p : pending_) p.cmd.step();
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [](const Pending& p) { return p.cmd.done(); }),
                   pending_.end());
  }
}

}  // namespace internal


std::string node_wfrun(const workflows::SlurmSettings& settings) {
  if (!settings.wfrun_path.empty()) return settings.wfrun_path;
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

namespace {

class SlurmKind : public engine::ExecutorKind {
 public:
  Status check(const engine::RunOptions& opts, bool dry_run) const override {
    workflows::SlurmSettings s = opts.executor.slurm;
    if (dry_run) s.probe = false;  // no job for a dry run
    return check_slurm(opts.state_dir, s);
  }
  std::unique_ptr<Executor> make(const engine::RunSetup& setup, const engine::RunResult& run,
                                 engine::RunMetrics* metrics) const override {
    return make_slurm_executor(setup, run, metrics, setup.opts->executor.slurm);
  }
};

}  // namespace

void register_slurm_executor() {
  engine::register_executor_kind("slurm", std::make_shared<SlurmKind>());
}

std::unique_ptr<Executor> make_slurm_executor(const engine::RunSetup& setup,
                                              const engine::RunResult& run,
                                              engine::RunMetrics* metrics,
                                              const workflows::SlurmSettings& settings) {
  return std::make_unique<internal::SlurmExecutor>(setup, run, metrics, settings);
}

}  // namespace wfrun::slurm
