#include "engine/slurm/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "base/strings.h"
#include "engine/fs.h"
#include "engine/gpu/allocator.h"
#include "engine/gpu/cdi.h"
#include "engine/gpu/inventory.h"
#include "engine/gpu/metrics.h"
#include "engine/output.h"
#include "engine/process.h"
#include "engine/slurm/files.h"

extern char** environ;

namespace wfrun::slurm {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
constexpr Clock::time_point kNever = Clock::time_point::max();
constexpr std::chrono::milliseconds kDrainTime{1000};

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(std::max(0.0, seconds)));
}

double wall_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Variables of the node's environment a job gets when its own env does not set them: what
// Slurm tells the job (SLURM_*: its id, node, CPUs; the GPUs it was given).
bool from_node(const std::string& name) {
  return name.compare(0, 6, "SLURM_") == 0 || name == "CUDA_VISIBLE_DEVICES" ||
         name == "GPU_DEVICE_ORDINAL" || name == "ROCR_VISIBLE_DEVICES";
}

std::string node_env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The GPUs Slurm gave the job, as the node numbers them.
std::vector<int> node_gpus() {
  std::string list = node_env("SLURM_JOB_GPUS");
  if (list.empty()) list = node_env("SLURM_STEP_GPUS");
  if (list.empty()) list = node_env("CUDA_VISIBLE_DEVICES");
  std::vector<int> out;
  for (const auto& w : split(list, ',')) {
    if (w.empty() || w.size() > 6 || w.find_first_not_of("0123456789") != std::string::npos)
      continue;
    out.push_back(std::stoi(w));
  }
  return out;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

// Writes `data` to DIR/name whole: a temporary file, fsync, rename (readers on other
// machines never see half of it).
bool publish(const std::string& dir, const std::string& name, const std::string& data) {
  std::string tmp = dir + "/." + name + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return false;
  bool ok = engine::write_all(fd.get(), data.data(), data.size()) && ::fsync(fd.get()) == 0;
  fd.reset();
  if (!ok || ::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

class Shim {
 public:
  explicit Shim(std::string dir) : dir_(std::move(dir)) {}
  int run();

 private:
  Status load();
  Status start();
  void loop();
  void on_signal();
  void read_output();
  void sample();
  int finish();
  int fail(const std::string& message);

  std::string dir_;
  ShimJob job_;
  Redactor redactor_;
  std::map<std::string, std::string> secret_env_;
  std::vector<std::string> secret_argv_;
  UniqueFd log_;
  std::unique_ptr<engine::OutputSink> sink_;
  engine::Subprocess proc_;
  UniqueFd sigfd_;
  std::unique_ptr<char[]> buffer_{new char[engine::kMaxLine]};
  bool eof_ = false, exited_ = false;
  std::string reason_ = "exited";
  Clock::time_point kill_at_ = kNever, drain_until_ = kNever;
  std::vector<engine::Subprocess> cleanups_;
  // Metrics
  std::unique_ptr<gpu::GpuProvider> provider_;
  std::unique_ptr<gpu::Sampler> sampler_;
  std::vector<int> gpus_;
  Clock::time_point sample_due_ = kNever;
  UniqueFd metrics_;
};

Status Shim::load() {
  auto text = engine::read_file(dir_ + "/" + kJobFile, 16 << 20);
  if (!text) return text.error();
  auto job = parse_shim_job(*text);
  if (!job) return job.error();
  job_ = std::move(*job);
  const std::string secrets = dir_ + "/" + kSecretsFile;
  if (auto s = engine::read_file(secrets, 16 << 20)) {
    ::unlink(secrets.c_str());  // read once: nothing else on the node needs it
    auto parsed = parse_shim_secrets(*s);
    if (!parsed) return parsed.error();
    secret_env_ = std::move(parsed->env);
    secret_argv_ = std::move(parsed->argv);
    for (const auto& v : parsed->redact) redactor_.add(v);
  } else if (errno != ENOENT && engine::exists(secrets)) {
    return Error("cannot read " + secrets);
  }
  return {};
}

Status Shim::start() {
  engine::ProcessSpec spec;
  spec.argv = secret_argv_.empty() ? job_.argv : secret_argv_;
  spec.cwd = job_.cwd;
  // This wfrun stands in for the submitting one: actions that run wfrun itself (notebooks, git)
  // name the submitting host's path, which need not be this node's.
  if (!spec.argv.empty() && spec.argv[0] == job_.self) {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) spec.argv[0] = self.string();
  }
  std::map<std::string, std::string> env = job_.env;
  for (const auto& [k, v] : secret_env_) env[k] = v;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string name = kv.substr(0, eq);
    if (from_node(name) && !env.count(name)) env[name] = kv.substr(eq + 1);
  }
  gpus_ = node_gpus();
  if (!job_.container_runtime.empty() && job_.gpus > 0 && !gpus_.empty()) {
    // The container sees the node's GPUs Slurm gave the job, numbered from 0 inside.
    // CDI where the node has a spec; docker otherwise gets --gpus (its daemon's CDI support is
    // not probed on the node: --gpus works with the NVIDIA toolkit either way).
    auto how = gpu::choose_passthrough(job_.container_runtime,
                                       gpu::find_cdi_gpus(gpu::cdi_spec_dirs_from_environment()),
                                       false);
    if (how.kind == gpu::GpuPassthrough::Kind::kNone) return Error(how.problem);
    auto flags = gpu::container_gpu_flags(gpus_, how);
    if (!flags) return flags.error();
    auto run = std::find(spec.argv.begin(), spec.argv.end(), "run");
    if (run != spec.argv.end()) spec.argv.insert(run + 1, flags->flags.begin(), flags->flags.end());
  }
  for (const auto& [k, v] : env) spec.env.push_back(k + "=" + v);

  log_.reset(::open(job_.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log_) return errno_error("cannot open the job's log '" + job_.log + "'", errno);
  sink_ = std::make_unique<engine::OutputSink>(log_.get(), &redactor_, nullptr);

  auto p = engine::Subprocess::start(spec);
  if (!p) return p.error();
  proc_ = std::move(*p);

  json started = {{"host", host_name()},
                  {"slurm_job_id", node_env("SLURM_JOB_ID")},
                  {"gpus", gpus_},
                  {"pid", proc_.pid()},
                  {"time", wall_now()}};
  publish(dir_, kStartedFile, started.dump() + "\n");

  if (job_.metrics_interval > 0) {
    if (!gpus_.empty() && job_.gpus > 0) {
      gpu::DiscoverOptions opts = gpu::DiscoverOptions::from_environment();
      if (!job_.discover.fake.empty()) opts.fake = job_.discover.fake;
      if (!job_.discover.nvidia_smi.empty()) opts.nvidia_smi = job_.discover.nvidia_smi;
      if (!job_.discover.nvml_lib.empty()) opts.nvml_lib = job_.discover.nvml_lib;
      gpu::Discovery d = gpu::discover(opts);
      if (d.provider) provider_ = gpu::sampling_provider(d, job_.metrics_interval);
    }
    sampler_ = std::make_unique<gpu::Sampler>(provider_.get(), nullptr, 0,
                                              gpu::SamplerOptions{job_.metrics_interval});
    metrics_.reset(::open((dir_ + "/" + kMetricsFile).c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    sample_due_ = after(job_.metrics_interval);
  }
  return {};
}

void Shim::read_output() {
  for (int k = 0; k < 16; ++k) {
    ssize_t n = ::read(proc_.output_fd(), buffer_.get(), engine::kMaxLine);
    if (n > 0) {
      sink_->write(buffer_.get(), static_cast<size_t>(n));
      if (static_cast<size_t>(n) < engine::kMaxLine) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    eof_ = true;
    proc_.close_output();
    return;
  }
}

void Shim::on_signal() {
  signalfd_siginfo si;
  while (::read(sigfd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (exited_) {
      if (reason_ == "exited") reason_ = si.ssi_signo == SIGUSR1 ? "walltime" : "terminated";
      continue;
    }
    if (reason_ == "exited") reason_ = si.ssi_signo == SIGUSR1 ? "walltime" : "terminated";
    proc_.signal_group(SIGTERM);
    kill_at_ = std::min(kill_at_, after(job_.kill_grace));
    if (!job_.container_runtime.empty() && !job_.container.empty() && cleanups_.empty()) {
      engine::ProcessSpec kill;
      for (auto& w : split(job_.container_runtime, ' '))
        if (!w.empty()) kill.argv.push_back(w);
      kill.argv.insert(kill.argv.end(), {"kill", job_.container});
      for (const auto& [k, v] : job_.env) kill.env.push_back(k + "=" + v);
      if (auto p = engine::Subprocess::start(kill)) cleanups_.push_back(std::move(*p));
    }
  }
}

void Shim::sample() {
  pid_t pid = proc_.pid();
  auto rows = sampler_->sample_now({{job_.job, pid, {pid}, job_.gpus > 0 ? gpus_ : std::vector<int>{}}});
  sample_due_ = after(job_.metrics_interval);
  if (!rows || !metrics_) return;
  std::string lines;
  for (const auto& r : *rows) lines += metric_row_json(r).dump() + "\n";
  (void)engine::write_all(metrics_.get(), lines.data(), lines.size());
}

void Shim::loop() {
  std::vector<pollfd> fds;
  while (!(eof_ && exited_)) {
    fds.clear();
    fds.push_back({sigfd_.get(), POLLIN, 0});
    if (!eof_) fds.push_back({proc_.output_fd(), POLLIN, 0});
    if (!exited_ && proc_.exit_fd() >= 0) fds.push_back({proc_.exit_fd(), POLLIN, 0});
    auto next = std::min({kill_at_, drain_until_, exited_ ? kNever : sample_due_});
    int timeout = -1;
    if (next != kNever) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
      timeout = static_cast<int>(std::clamp<long long>(ms, 0, 3600 * 1000));
    }
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) break;
    if (n > 0) {
      if (fds[0].revents) on_signal();
      for (size_t k = 1; k < fds.size(); ++k) {
        if (!fds[k].revents) continue;
        if (fds[k].fd == proc_.output_fd()) read_output();
        else if (fds[k].fd == proc_.exit_fd()) exited_ = true;
      }
    }
    if (exited_ && proc_.running()) {
      proc_.signal_group(SIGKILL);  // what the job left in its group goes with it
      if (!proc_.try_wait()) continue;
      if (!eof_) {
        read_output();
        if (!eof_ && drain_until_ == kNever) drain_until_ = Clock::now() + kDrainTime;
      }
    }
    if (!exited_ && proc_.exit_fd() < 0 && eof_) {
      proc_.wait();
      exited_ = true;
    }
    auto now = Clock::now();
    if (kill_at_ <= now) {
      kill_at_ = kNever;
      proc_.signal_group(SIGKILL);
    }
    if (drain_until_ <= now) {
      drain_until_ = kNever;
      eof_ = true;
      proc_.close_output();
    }
    if (!exited_ && sampler_ && sample_due_ <= now) sample();
  }
  if (proc_.running()) proc_.wait();
}

int Shim::finish() {
  on_signal();  // a signal that came with the job's end still says who ended it
  sink_->finish();
  ::fsync(log_.get());
  log_.reset();
  for (auto& c : cleanups_) c.wait();
  const engine::ExitStatus& st = *proc_.status();
  json exit = {{"code", st.code ? json(*st.code) : json(nullptr)},
               {"signal", st.signal ? json(*st.signal) : json(nullptr)},
               {"reason", reason_},
               {"message", ""},
               {"time", wall_now()}};
  if (!publish(dir_, kExitFile, exit.dump() + "\n"))
    std::fprintf(stderr, "wfrun job-shim: cannot write %s/%s: %s\n", dir_.c_str(), kExitFile,
                 std::strerror(errno));
  if (st.code) return *st.code;
  return 128 + st.signal.value_or(0);
}

int Shim::fail(const std::string& message) {
  std::string m = redactor_.redact(message);
  std::fprintf(stderr, "wfrun job-shim: %s\n", m.c_str());
  if (sink_) sink_->line("wfrun: " + m);
  json exit = {{"code", nullptr},       {"signal", nullptr}, {"reason", "error"},
               {"message", m},          {"time", wall_now()}};
  publish(dir_, kExitFile, exit.dump() + "\n");
  return 127;
}

int Shim::run() {
  // Signals arrive through a signalfd in the poll loop; the job gets them at their defaults.
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  sigfd_.reset(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sigfd_) return fail(std::string("signalfd: ") + std::strerror(errno));
  if (auto s = load(); !s) return fail(s.error().message());
  if (auto s = start(); !s) return fail(s.error().message());
  loop();
  return finish();
}

}  // namespace

int run_job_shim(const std::string& dir) {
  try {
    Shim shim(dir);
    return shim.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wfrun job-shim: internal error: %s\n", e.what());
    return 70;
  }
}

}  // namespace wfrun::slurm
