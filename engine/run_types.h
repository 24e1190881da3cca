#pragma once
// The run's data types: the states of jobs and runs and their results. Plain data, shared by
// the run loop, the run store and run.json.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/gpu/metrics.h"

namespace wfrun::engine {

/// What happened to a job (Gradient's phases, lower case). kInterrupted: it was running when
/// the wfrun that ran it died (found so by a later wfrun).
enum class JobState {
  kPending,
  kRunning,
  kSucceeded,
  kFailed,
  kSkipped,
  kCancelled,
  kTimedOut,
  kInterrupted
};
const char* job_state_name(JobState s);  // "succeeded", "failed", ...

/// The run's phase.
enum class RunState { kQueued, kRunning, kSucceeded, kFailed, kCancelled, kInterrupted };
const char* run_state_name(RunState s);

/// How Gradient's /inputs and /outputs paths reach a host job.
enum class PathMode {
  kAuto,       // namespace where the kernel allows it, else rewrite
  kNamespace,  // private mount namespace with /inputs and /outputs bind-mounted
  kRewrite,    // /inputs/ and /outputs/ in the script and `with` values rewritten to host paths
};

/// The result of one job. A job exiting non-zero is data, not an Error.
struct JobResult {
  std::string name;
  JobState state = JobState::kPending;
  std::optional<int> exit_code;  // set when the process exited
  std::optional<int> signal;     // set when it was killed by a signal
  int attempts = 0;
  double started = 0, finished = 0;  // unix seconds; 0 = never
  std::string message;               // why it failed / was skipped (redacted)
  std::map<std::string, std::string> outputs;  // string outputs: value; others: host path or NAME:VERSION
  std::string log_path;
  std::vector<int> gpus;  // the GPUs it was given (nvidia-smi indices)
  /// What the metrics sampler saw (GPU, CPU, RSS); unset when the job was never sampled.
  std::optional<gpu::JobSummary> usage;
};

/// What started a run, for the run list and its filters: `wfrun run` ("cli"), or a child of
/// `wfrun serve` ("push", "pull_request", "manual") with the repository, ref and commit, and the
/// server's own run id (`parent`).
struct RunTrigger {
  std::string event = "cli";
  std::string repo;  // OWNER/NAME
  std::string ref;   // refs/heads/main, refs/pull/7/head, ...
  std::string sha;
  std::int64_t parent = 0;
};

/// Created in a running run's folder by another process (the dashboard's Cancel button): the
/// engine that runs it notices within about a second and cancels the run as Ctrl-C would.
inline constexpr const char* kCancelFile = "cancel";

/// The result of a whole run.
struct RunResult {
  std::int64_t id = 0;
  std::int64_t number = 0;  // per workflow name: 1, 2, ...
  std::string dir;          // the run's folder
  RunState state = RunState::kQueued;
  double started = 0, finished = 0;
  std::vector<JobResult> jobs;  // in workflow order
};

}  // namespace wfrun::engine
