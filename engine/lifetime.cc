#include "engine/lifetime.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/log.h"
#include "engine/cgroup.h"
#include "engine/store.h"

namespace wfrun::engine {

void JobLifetime::start(RunStore* store, std::int64_t run_id, size_t slots,
                        const std::optional<ContainerRuntime>& runtime,
                        const std::map<std::string, std::string>& runtime_env) {
  RunGuard::Options o;
  o.slots = slots + 16;
  if (std::string own = own_cgroup_dir(); !own.empty()) {
    auto dir = make_cgroup(own, "wfrun-" + std::to_string(::getpid()) + "-run" +
                                    std::to_string(run_id));
    if (dir) {
      cgroup_ = *dir;
      o.cgroup = cgroup_;
      if (store) (void)store->set_cgroup(run_id, cgroup_);
    } else {
      debug_log("engine", "no cgroups for the jobs: " + dir.error().message());
    }
  }
  if (runtime && !runtime->command.empty()) {
    const char* path = std::getenv("PATH");
    std::string program =
        find_program(runtime->command[0], path ? path : "/usr/local/bin:/usr/bin:/bin");
    if (!program.empty()) {
      o.runtime_argv = runtime->command;
      o.runtime_argv[0] = program;
      for (const char* name : {"PATH", "HOME", "USER", "TMPDIR", "XDG_RUNTIME_DIR"})
        if (const char* v = std::getenv(name)) o.runtime_env.push_back(std::string(name) + "=" + v);
      for (const auto& [k, v] : runtime_env) o.runtime_env.push_back(k + "=" + v);
    }
  }
  auto g = RunGuard::start(o);
  if (g)
    guard_ = std::move(*g);
  else
    debug_log("engine", "no guard for the run's jobs: " + g.error().message());
}

void JobLifetime::prepare(ProcessSpec& spec, size_t job, int attempt, bool container) {
  spec.die_with_parent = true;
  next_cgroup_.clear();
  next_procs_.reset();
  if (cgroup_.empty() || container) return;
  auto dir = make_cgroup(cgroup_, "job" + std::to_string(job) + "-" + std::to_string(attempt));
  if (!dir) {
    debug_log("engine", dir.error().message());
    return;
  }
  next_procs_.reset(::open((*dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!next_procs_) {
    ::rmdir(dir->c_str());
    return;
  }
  next_cgroup_ = *dir;
  spec.cgroup_procs_fd = next_procs_.get();
}

void JobLifetime::started(pid_t pgid, const std::string& container) {
  next_procs_.reset();
  if (!next_cgroup_.empty()) {
    if (pgid > 0)
      job_cgroups_[pgid] = next_cgroup_;
    else
      ::rmdir(next_cgroup_.c_str());  // it did not start
    next_cgroup_.clear();
  }
  if (pgid <= 0) return;
  guard_.watch_group(pgid);
  if (!container.empty()) {
    containers_[container] = false;
    guard_.watch_container(container);
  }
}

void JobLifetime::ended(pid_t pgid, const std::string& container, bool container_gone) {
  if (auto it = job_cgroups_.find(pgid); it != job_cgroups_.end()) {
    // Whatever the job left running outside its process group goes too; the folder goes
    // now if it is empty already, else with the run's.
    (void)destroy_cgroup(it->second, 0);
    job_cgroups_.erase(it);
  }
  guard_.forget_group(pgid);
  if (container.empty()) return;
  if (container_gone) {
    containers_.erase(container);
    guard_.forget_container(container);
  } else {
    containers_[container] = true;
  }
}

void JobLifetime::forget_containers() {
  for (const auto& [name, _] : containers_) guard_.forget_container(name);
  containers_.clear();
}

void JobLifetime::finish() {
  guard_.finish();
  cgroup_.clear();
  job_cgroups_.clear();
}

}  // namespace wfrun::engine
