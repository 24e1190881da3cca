#pragma once
// A run's jobs die with wfrun, however wfrun ends, SIGKILL included. Each job's leader gets
// PR_SET_PDEATHSIG (process.h), but that reaches the leader only: what it started (a `cmd &`,
// a daemon, a container run by podman's conmon) would live on under init. So at the start of a
// run wfrun forks a small guard process that holds the read end of a pipe; wfrun tells it each
// job's process group and container as they start and end. When the pipe closes (wfrun
// exited, or died) the guard kills the groups still registered, has the container runtime kill
// the containers, empties the run's cgroup (where wfrun could make one) and removes it, and
// exits. It runs in its own session and ignores terminal signals, so Ctrl-C or a kill of
// wfrun's process group does not take it along.

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace wfrun::engine {

/// The guard process of one run. Moving it keeps it; destroying it ends it (the guard then
/// kills whatever is still registered) and reaps it.
class RunGuard {
 public:
  struct Options {
    /// The run's cgroup folder (engine/cgroup.h), emptied and removed at the end; "": none.
    std::string cgroup;
    /// How to kill a container: the runtime's command line with its program resolved to a
    /// path ({"/usr/bin/podman"}) and the environment it needs. Empty: no container jobs.
    std::vector<std::string> runtime_argv;
    std::vector<std::string> runtime_env;
    /// How many process groups and containers may be registered at once.
    size_t slots = 64;
  };

  static Result<RunGuard> start(const Options& options);

  RunGuard() = default;
  RunGuard(RunGuard&& o) noexcept;
  RunGuard& operator=(RunGuard&& o) noexcept;
  RunGuard(const RunGuard&) = delete;
  RunGuard& operator=(const RunGuard&) = delete;
  ~RunGuard();

  bool active() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  void watch_group(pid_t pgid);
  /// Call once the group's leader is reaped (and the group killed): its id may be reused.
  void forget_group(pid_t pgid);
  void watch_container(const std::string& name);
  void forget_container(const std::string& name);

  /// Closes the pipe and waits for the guard to finish its clean-up. Called by the destructor.
  void finish();

 private:
  void send(char op, pid_t pgid, const std::string& name);

  pid_t pid_ = -1;
  UniqueFd pipe_;
};

}  // namespace wfrun::engine
