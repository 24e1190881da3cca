#pragma once
// What keeps a run's job processes from outliving the run, for the executor: each job's
// leader dies with wfrun (PR_SET_PDEATHSIG), each job runs in a cgroup of its own where wfrun
// may make one (engine/cgroup.h), and the run's guard (engine/guard.h) kills what is left of
// the jobs, their containers included, when wfrun ends however it ends.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "base/fd.h"
#include "engine/container.h"
#include "engine/guard.h"
#include "engine/process.h"

namespace wfrun::engine {

class RunStore;

class JobLifetime {
 public:
  /// Makes the run's cgroup (and records it in the store) where it may, and starts the guard.
  /// Failures are not fatal: the run goes on with what could be had, saying so in the debug
  /// log. `slots`: how many jobs may run at once.
  /// `runtime`: the container runtime, when a job needs one; `runtime_env`: its environment.
  void start(RunStore* store, std::int64_t run_id, size_t slots,
             const std::optional<ContainerRuntime>& runtime,
             const std::map<std::string, std::string>& runtime_env);

  /// Before a job's process starts: asks for it to die with wfrun and to start in a cgroup of
  /// its own. `spec` must not outlive the next started() call. A container runtime client
  /// gets no cgroup: what it starts (conmon) must outlive it to remove the container, and the
  /// runtime is asked to kill the container instead.
  void prepare(ProcessSpec& spec, size_t job, int attempt, bool container);
  /// After Subprocess::start(): the guard watches its process group (and its container).
  void started(pid_t pgid, const std::string& container);
  /// Once its leader is reaped and its group killed: kills what is left in its cgroup (what
  /// left the group, e.g. daemons) and forgets the group. A container killed by wfrun stays
  /// watched until forget_containers().
  void ended(pid_t pgid, const std::string& container, bool container_gone);
  /// The containers wfrun killed are gone.
  void forget_containers();
  /// Ends the guard (which removes the run's cgroup).
  void finish();

 private:
  RunGuard guard_;
  std::string cgroup_;                        // the run's; "" when there is none
  std::map<pid_t, std::string> job_cgroups_;  // by process group, while the job runs
  std::map<std::string, bool> containers_;    // watched; true: wfrun killed it
  std::string next_cgroup_;                   // prepare() -> started()
  UniqueFd next_procs_;
};

}  // namespace wfrun::engine
