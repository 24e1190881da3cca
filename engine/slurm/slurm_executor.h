#pragma once
// The Slurm executor: each attempt of a job is one `sbatch` whose batch script execs
// `wfrun job-shim DIR` on the node (shim.h). wfrun follows it from the shared run folder:
// the shim's `started` and `exit` files (inotify where the filesystem tells, a periodic stat
// where it may not), the job's log as it grows, and one `squeue` for all its jobs with
// backoff (for the queue state and for jobs that end without an exit file). Every Slurm
// command runs as a child process in the run loop's poll(): nothing blocks.
//
// What an attempt leaves in RUN/jobs/JOB/slurm-ATTEMPT/: job.json, batch.sh, slurm.out (what
// Slurm itself printed), slurm_id, started, exit, metrics.jsonl. secrets.json lives there
// only until the shim has read it (or the attempt ended).

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/executor.h"
#include "engine/run_setup.h"
#include "workflows/executor_settings.h"

namespace wfrun::engine {
class RunMetrics;
}

namespace wfrun::slurm {

/// The executor for one run. `metrics` (may be null) gets the rows the shims sampled.
std::unique_ptr<engine::Executor> make_slurm_executor(const engine::RunSetup& setup,
                                                      const engine::RunResult& run,
                                                      engine::RunMetrics* metrics,
                                                      const workflows::SlurmSettings& settings);

/// Checks before a run that uses Slurm: sbatch is there and the controller answers, and (with
/// settings.probe) a probe job on the cluster can write into the state folder and run the
/// wfrun binary the jobs will run. The error names the folder or the binary and what to do.
Status check_slurm(const std::string& state_dir, const workflows::SlurmSettings& settings);

/// Registers the "slurm" executor kind with the engine (engine/executors.h); call at start-up.
void register_slurm_executor();

/// The wfrun binary the nodes run: settings.wfrun_path, else this process's own path.
std::string node_wfrun(const workflows::SlurmSettings& settings);

}  // namespace wfrun::slurm
