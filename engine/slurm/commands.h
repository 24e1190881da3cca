#pragma once
// Slurm's command line as wfrun uses it: the sbatch arguments of one attempt, and what
// squeue, scontrol and sacct print, parsed. Pure functions (slurm_executor.cc runs the
// commands).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/executor.h"
#include "workflows/executor_settings.h"

namespace wfrun::slurm {

/// `wfrun-RUNID-JOB-ATTEMPT` with every character outside [A-Za-z0-9._-] replaced by `_`,
/// at most 200 characters: unique per run and attempt, and greppable per run.
std::string job_name(std::int64_t run_id, const std::string& job, int attempt);

/// What one attempt asks of Slurm.
struct Request {
  std::string name;
  std::string dir;   // the attempt's folder (--chdir, --output)
  int gpus = 0;
  std::string gpu_model;  // "" = any
  std::optional<double> cpus;
  std::optional<long long> memory_bytes;
  std::optional<double> timeout_seconds;
  double kill_grace_seconds = 5;
  workflows::SlurmPlacement placement;  // the config's, with the job's resources.slurm over it
  workflows::SlurmSettings::GpuModel gpu_model_as = workflows::SlurmSettings::GpuModel::kGres;
};

/// The seconds before the time limit at which Slurm signals the shim (`--signal=B:USR1@N`).
inline constexpr int kWalltimeWarning = 30;

/// sbatch's arguments (without "sbatch"; the batch script comes on stdin):
/// --parsable --job-name --chdir --output --open-mode=append --no-requeue --export=ALL, then
/// --cpus-per-task, --mem (MiB, rounded up), --time (whole minutes: the timeout plus the kill
/// grace and a margin for the shim, rounded up) with --signal=B:USR1@30, --gres=gpu[:MODEL]:N
/// (or --gres=gpu:N --constraint=MODEL), --partition, --account, --qos, --constraint, and the
/// extra arguments last.
std::vector<std::string> sbatch_args(const Request& r);

/// The batch script: `exec WFRUN job-shim DIR`, nothing else (no values of the job's).
std::string batch_script(const std::string& wfrun, const std::string& dir);

/// "Submitted batch job 12", "12", "12;cluster" -> 12.
std::optional<long long> parse_job_id(std::string_view sbatch_output);

/// In the output of `squeue -h [--name=NAME] -o %i|%Z`, the job whose working folder is `dir`
/// (each attempt has a folder of its own: it tells runs and state folders apart).
std::optional<long long> job_in_dir(std::string_view squeue_output, const std::string& dir);

/// One line of `squeue -h -t all -u USER -o %i|%j|%T|%r`.
struct QueueEntry {
  long long id = 0;
  std::string name, state, reason;
};
std::vector<QueueEntry> parse_squeue(std::string_view text);
/// The arguments of that squeue call.
std::vector<std::string> squeue_args(const std::string& user);

/// What Slurm says about a job that ended: JobState, ExitCode (`exit:signal`) and Reason.
struct JobRecord {
  std::string state;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string reason;
};
/// `scontrol show job -o ID`: key=value words on one line. nullopt when there is no JobState.
std::optional<JobRecord> parse_scontrol(std::string_view text);
/// `sacct -X -n -P -j ID -o JobIDRaw,State,ExitCode` (also `sacct -c` in that format).
std::optional<JobRecord> parse_sacct(std::string_view text, long long id);

/// Whether a job in this state will change no more.
bool terminal_state(std::string_view state);
/// The state as wfrun reports it: TIMEOUT/DEADLINE -> kTimedOut, CANCELLED -> kCancelled,
/// NODE_FAIL/BOOT_FAIL/PREEMPTED -> kLost (retryable), OUT_OF_MEMORY -> kOutOfMemory,
/// COMPLETED/FAILED -> kExited; anything else -> kLost. `message` gets Slurm's words.
engine::AttemptEnd end_from_state(const JobRecord& rec);

/// sbatch errors that a later try may not meet (the controller did not answer in time).
bool transient_error(std::string_view sbatch_output);

}  // namespace wfrun::slurm
