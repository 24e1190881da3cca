#pragma once
// The attempts a Slurm run left in its job folders (RUN/jobs/JOB/slurm-K/), read back by a
// later wfrun: the resumed run follows them (SlurmExecutor::adopt) or, when it does not,
// cancels those still in Slurm (cancel_left_behind).

#include <optional>
#include <string>
#include <vector>

#include "engine/paths.h"

namespace wfrun::slurm {

/// The highest K of the job's slurm-K folders; 0: none.
int last_attempt_in(const engine::JobDirs& dirs);

/// The Slurm job id of the attempt in folder `dir`: its slurm_id file, else (a wfrun killed
/// between sbatch's answer and writing slurm_id) the job squeue lists with that folder as its
/// working directory, written to slurm_id then. `env`: squeue's environment. None: never
/// submitted, or gone from Slurm.
std::optional<long long> attempt_job_id(const std::string& dir, const std::string& user,
                                        const std::vector<std::string>& env);

/// Resuming run folder `run_dir`, whose jobs `jobs` ran on Slurm and are not followed by the
/// resumed run (they changed, a job they need runs again, they left the workflow or run
/// elsewhere now): the last attempt of each that has not ended is cancelled with scancel, so
/// that two copies of a job never run at once. `env`: scancel's environment. One line per job
/// it did something for, for the user.
std::vector<std::string> cancel_left_behind(const std::string& run_dir,
                                            const std::vector<std::string>& jobs,
                                            const std::vector<std::string>& env);

/// This process's user name (squeue -u), or its uid.
std::string user_name();

}  // namespace wfrun::slurm
