// The sampler's cost: 8 simulated GPUs, 8 jobs (each a process group of a shell and two
// sleeps, one GPU each), samples stored in a real run store. Prints CPU time per sample
// (tight loop) and the CPU share of one core while sampling at 1 Hz in real time.
// Usage: gpu_sampler_bench [--ticks N] [--seconds S] [--extra-procs P]

#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "engine/gpu/inventory.h"
#include "engine/gpu/metrics.h"

extern char** environ;

namespace {

double cpu_seconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

pid_t spawn_group(const char* script) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  const char* argv[] = {"/bin/sh", "-c", script, nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/bin/sh", nullptr, &attr, const_cast<char**>(argv), environ) != 0) {
    std::perror("posix_spawn");
    std::exit(1);
  }
  posix_spawnattr_destroy(&attr);
  return pid;
}

int count_processes() {
  int n = 0;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] >= '0' && e->d_name[0] <= '9';
    closedir(d);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  int ticks = 300, seconds = 20, extra = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--ticks"))
      ticks = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds"))
      seconds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--extra-procs"))
      extra = std::atoi(argv[i + 1]);
  }
  using namespace wfrun::gpu;
  char tmpl[] = "/tmp/wfrun-sampler-bench.XXXXXX";
  std::string state = mkdtemp(tmpl);
  auto store = MetricsStore::open(state);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().str().c_str());
    return 1;
  }
  auto provider = simulated_provider("8xH100");
  std::vector<pid_t> groups;
  std::vector<JobProcesses> jobs;
  for (int j = 0; j < 8; ++j) {
    pid_t pid = spawn_group("sleep 600 & sleep 600 & wait");
    groups.push_back(pid);
    jobs.push_back(JobProcesses{"job" + std::to_string(j), pid, {pid}, {j}});
  }
  // Other processes on the machine: the sampler reads every /proc/PID/stat.
  int per_group = 50;
  for (int k = 0; k < extra; k += per_group) {
    std::string s;
    for (int i = 0; i < per_group && k + i < extra; ++i) s += "sleep 600 & ";
    s += "wait";
    groups.push_back(spawn_group(s.c_str()));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300 + extra));
  int procs = count_processes();

  Sampler sampler(provider->get(), &*store, 1);
  // Tight loop: CPU per sample.
  double c0 = cpu_seconds();
  auto w0 = std::chrono::steady_clock::now();
  size_t rows = 0;
  for (int i = 0; i < ticks; ++i) {
    auto r = sampler.sample_now(jobs);
    if (!r) {
      std::fprintf(stderr, "%s\n", r.error().str().c_str());
      return 1;
    }
    rows += r->size();
  }
  double per_tick_ms = (cpu_seconds() - c0) / ticks * 1000;
  double wall_ms =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count() / ticks * 1000;

  // Real time at 1 Hz, as the engine's loop would drive it.
  Sampler live(provider->get(), &*store, 2);
  double c1 = cpu_seconds();
  auto start = std::chrono::steady_clock::now();
  int live_ticks = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(live.poll_timeout_ms()));
    if (std::chrono::steady_clock::now() >= live.next_due()) {
      (void)live.sample_now(jobs);
      ++live_ticks;
    }
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double live_pct = (cpu_seconds() - c1) / elapsed * 100;

  for (pid_t g : groups) kill(-g, SIGKILL);
  for (pid_t g : groups) waitpid(g, nullptr, 0);
  std::filesystem::remove_all(state);

  std::printf("processes_on_machine %d\n", procs);
  std::printf("rows_per_sample %.0f\n", static_cast<double>(rows) / ticks);
  std::printf("cpu_ms_per_sample %.3f\n", per_tick_ms);
  std::printf("wall_ms_per_sample %.3f\n", wall_ms);
  std::printf("cpu_pct_at_1hz_from_tight_loop %.3f\n", per_tick_ms / 10);
  std::printf("live_seconds %.1f\n", elapsed);
  std::printf("live_samples %d\n", live_ticks);
  std::printf("cpu_pct_at_1hz_live %.3f\n", live_pct);
  return 0;
}
