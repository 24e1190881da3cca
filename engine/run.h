#pragma once
// Running a workflow on this machine: the options, the progress observer and the entry points.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "engine/run_types.h"
#include "workflows/executor_settings.h"
#include "workflows/workflow.h"

namespace wfrun::engine {

class ActionRegistry;

/// Receives progress as it happens. Called on the engine's thread; lines are already redacted.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void run_started(const RunResult& run) {}
  virtual void job_started(const std::string& job, int attempt) {}
  /// One line the job printed (without the trailing newline).
  virtual void job_output(const std::string& job, std::string_view line) {}
  virtual void job_finished(const JobResult& job) {}
  virtual void run_finished(const RunResult& run) {}
  /// Called about once a second while jobs run (for a status line that shows elapsed time).
  virtual void heartbeat() {}
  /// Something the user should know that is no job's output (e.g. a GPU source that failed).
  virtual void warning(std::string_view message) {}
};

struct RunOptions {
  std::string state_dir;  // $WFRUN_HOME resolved by the caller
  int max_parallel = 0;   // 0: number of cores
  /// --input NAME=VALUE / --inputs-file: string values, or refs for dataset/volume inputs.
  std::map<std::string, std::string> inputs;
  /// Secret values by name (the caller merges --secret, --secrets-file and WFRUN_SECRET_*).
  std::map<std::string, std::string> secrets;
  /// The triggering event (a GitHub webhook payload) for context.event.github.* and github.*.
  std::optional<nlohmann::json> event;
  /// Variables every job gets under its own `env` (a job's own value wins), e.g. the
  /// triggering commit of a webhook run (WFRUN_GIT_SHA, ...). Not secret: they are not masked.
  std::map<std::string, std::string> env;
  /// The git checkout the workflow lives in, for context.event.github.* without an event.
  std::string workflow_dir;
  /// "" = podman, else docker, from PATH; otherwise a command line such as "podman --runtime runc".
  std::string container_runtime;
  PathMode path_mode = PathMode::kAuto;
  double kill_grace_seconds = 5;
  /// When this fd becomes readable the run is cancelled (the CLI's signal self-pipe). -1: none.
  int cancel_fd = -1;
  /// The actions `uses:` can name; null: default_actions() (actions.h).
  const ActionRegistry* actions = nullptr;
  /// A job whose GPU request this machine can never satisfy runs on the CPU (saying so)
  /// instead of failing the run before it starts.
  bool allow_missing_gpus = false;
  /// Jobs that ask for no GPU see every GPU (no CUDA_VISIBLE_DEVICES), instead of none.
  bool all_gpus_visible = false;
  /// Seconds between metrics samples (GPU, CPU, RSS of running jobs); 0: no metrics.
  double metrics_interval = 1.0;
  /// Where jobs run (server.yaml's or --executor-config's `executor:`), and how Slurm is used.
  workflows::ExecutorSettings executor;
  /// --executor: wins over the workflow's defaults.executor ("" = not given); a job's own
  /// `executor:` wins over both.
  std::string executor_kind;
  /// --executor-config's file ("" = not given): recorded with the run (RUN/invocation.json), so
  /// that `--resume` uses the same settings.
  std::string executor_config_file;
  /// Recorded with the run (the run list shows it); not used to run anything.
  RunTrigger trigger;
  /// `--resume`: jobs of an earlier run taken as they finished there, by name (resume.h
  /// chooses them); the others run.
  std::map<std::string, JobResult> reuse;
  /// `--resume` (and serve's requeue): the resumed run's id and folder, and the jobs in `adopt`
  /// first ask their executor whether the attempt that run's wfrun started is still there (a
  /// Slurm job outlives wfrun); if so it is followed to its end instead of started again.
  std::int64_t resumed_run = 0;
  std::string resumed_dir;
  std::set<std::string> adopt;
};

/// Checks everything that can be checked before a job runs (secrets known, required inputs
/// given, datasets exist, container runtime present, GPU requests satisfiable) and returns the
/// plan as text lines, one per job in start order.
Result<std::vector<std::string>> plan_run(const workflows::Workflow& wf, const RunOptions& opts);

/// Runs the workflow to the end. Errors are for runs that could not start (exit 2);
/// failed jobs are reported in the RunResult (state kFailed).
Result<RunResult> run_workflow(const workflows::Workflow& wf, const RunOptions& opts,
                               RunObserver& observer);

}  // namespace wfrun::engine
