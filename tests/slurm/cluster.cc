#include "tests/slurm/cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include "tests/support/files.h"

namespace wfrun::slurmtest {


std::string sh(const std::string& cmd) {
  std::string full = "SLURM_CONF='" + Cluster::get().conf() + "' " + cmd + " 2>/dev/null";
  std::string out;
  if (FILE* f = ::popen(full.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    ::pclose(f);
  }
  return out;
}

namespace {

bool on_path(const std::string& name) {
  std::string cmd = "command -v " + name + " >/dev/null 2>&1 || test -x /usr/sbin/" + name;
  return std::system(cmd.c_str()) == 0;
}

}  // namespace

Cluster& Cluster::get() {
  static Cluster c;
  return c;
}

Cluster::Cluster() {
  for (const char* p : {"munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol"})
    if (!on_path(p)) {
      why_ = std::string(p) + " is not installed (Debian: slurm-wlm munge)";
      return;
    }
  char tmpl[] = "/tmp/wfrun-slurm-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    why_ = "mkdtemp failed";
    return;
  }
  ::chmod(tmpl, 0755);  // munged wants every folder above its socket searchable by all
  dir_ = std::string(tmpl) + "/cluster";
  // The watchdog stops the cluster when this process is gone, even if it crashed.
  std::string cmd = std::string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ") +
                    WFRUN_SLURM_SH + " start '" + dir_ + "' " + std::to_string(::getpid()) +
                    " 2>'" + tmpl + "/start.err'";
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    int st = ::pclose(f);
    if (st != 0) why_ = "the test cluster did not start: " + slurp(std::string(tmpl) + "/start.err");
  }
  // Read: gone, so that the watchdog's stop leaves an empty folder it can remove.
  std::remove((std::string(tmpl) + "/start.err").c_str());
  auto at = out.find("SLURM_CONF=");
  if (why_.empty() && at != std::string::npos) {
    conf_ = out.substr(at + 11);
    while (!conf_.empty() && conf_.back() == '\n') conf_.pop_back();
    ::setenv("SLURM_CONF", conf_.c_str(), 1);
  } else if (why_.empty()) {
    why_ = "the test cluster did not start: " + out;
  }
}

void Cluster::stop() {
  if (dir_.empty()) return;
  std::string root = fs::path(dir_).parent_path();
  std::string cmd = std::string(WFRUN_SLURM_SH) + " stop '" + dir_ + "' >/dev/null 2>&1";
  (void)std::system(cmd.c_str());
  std::error_code ec;
  fs::remove_all(root, ec);
  dir_.clear();
  conf_.clear();
}

void SlurmTest::SetUp() {
  Cluster& c = Cluster::get();
  if (c.conf().empty()) {
    const char* req = std::getenv("WFRUN_REQUIRE_SLURM");
    if (req && std::string(req) == "1") FAIL() << c.why();
    GTEST_SKIP() << c.why() << " (WFRUN_REQUIRE_SLURM=1 makes this a failure)";
  }
  char tmpl[] = "/tmp/wfrun-slurmtest-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  state_ = dir_ / "state";
}

void SlurmTest::TearDown() {
  if (dir_.empty()) return;
  if (HasFailure()) {
    std::fprintf(stderr, "--- slurmctld.log (tail)\n%s--- slurmd.log (tail)\n%s",
                 sh("tail -15 '" + Cluster::get().dir() + "/log/slurmctld.log'").c_str(),
                 sh("tail -15 '" + Cluster::get().dir() + "/log/slurmd.log'").c_str());
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

fs::path SlurmTest::file(const std::string& name, const std::string& text) {
  fs::path p = dir_ / name;
  write_file(p, text);
  return p;
}

namespace {

std::string command_line(const fs::path& dir, const fs::path& state, const std::string& args,
                         const std::string& env) {
  return "cd '" + dir.string() + "' && exec env WFRUN_HOME='" + state.string() + "' SLURM_CONF='" +
         Cluster::get().conf() + "' " + env + " " + WFRUN_BIN + " " + args;
}

}  // namespace

Output SlurmTest::wfrun(const std::string& args, const std::string& env) {
  fs::path out = dir_ / "stdout", err = dir_ / "stderr";
  std::string cmd = command_line(dir_, state_, args, env) + " >'" + out.string() + "' 2>'" +
                    err.string() + "' </dev/null";
  int status = std::system(cmd.c_str());
  Output o;
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.out = slurp(out);
  o.err = slurp(err);
  return o;
}

pid_t SlurmTest::spawn(const std::string& args, const std::string& env) {
  std::string cmd = command_line(dir_, state_, args, env) + " >'" + out_path().string() +
                    "' 2>'" + err_path().string() + "' </dev/null";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int SlurmTest::wait(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool SlurmTest::wait_for(const std::function<bool()>& ok, double seconds) {
  auto until = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(seconds));
  while (std::chrono::steady_clock::now() < until) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ok();
}

fs::path SlurmTest::attempt_dir(const std::string& job, int attempt, int run) const {
  return state_ / "runs" / std::to_string(run) / "jobs" / job / ("slurm-" + std::to_string(attempt));
}

long long SlurmTest::slurm_id(const std::string& job, int attempt, int run) const {
  std::string t = slurp(attempt_dir(job, attempt, run) / "slurm_id");
  try {
    return t.empty() ? 0 : std::stoll(t);
  } catch (...) {
    return 0;
  }
}

std::string SlurmTest::scontrol(long long id) const {
  // Slurm shows COMPLETING until the node has cleaned up after a job; the state it ends in
  // (CANCELLED, FAILED, ...) shows after that.
  std::string rec;
  wait_for(
      [&] {
        rec = sh("scontrol show job -o " + std::to_string(id));
        return rec.find("JobState=COMPLETING") == std::string::npos &&
               rec.find("JobState=RUNNING") == std::string::npos &&
               rec.find("JobState=PENDING") == std::string::npos;
      },
      20);
  return rec;
}

}  // namespace wfrun::slurmtest
