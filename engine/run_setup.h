#pragma once
// What run_workflow() checked and resolved before a run, for the run loop and its executors.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/strings.h"
#include "engine/container.h"
#include "engine/gpu_jobs.h"
#include "engine/run.h"
#include "workflows/workflow.h"

namespace wfrun::engine {

class ActionRegistry;
class RunStore;

/// The part of wfrun's environment that reaches jobs and the container runtime.
struct HostEnv {
  /// What every job gets: PATH, HOME, USER, LANG, LC_*, TERM, TZ, TMPDIR, and the sanitizers'
  /// options (so the wfrun children of a sanitizer build run under the same settings).
  std::map<std::string, std::string> base;
  /// What the container runtime needs on top (runtime_env_name() in container.h).
  std::map<std::string, std::string> runtime;
  /// Read from this process's environment.
  static HostEnv current();
};

/// What run_workflow() checked and resolved before the run.
struct RunSetup {
  const workflows::Workflow* wf = nullptr;
  const RunOptions* opts = nullptr;
  const ActionRegistry* actions = nullptr;
  RunStore* store = nullptr;
  RunObserver* observer = nullptr;
  PathMode path_mode = PathMode::kRewrite;  // resolved: kNamespace or kRewrite
  std::optional<ContainerRuntime> runtime;
  GpuPlan* gpus = nullptr;  // requests, discovery (its provider moves to the sampler)
  Redactor redactor;  // every secret value
  std::string workflow_name;
  HostEnv env;
  /// Per job: the executor kind it runs on ("local", "slurm"), and whether that runs it on
  /// this machine (this machine's GPUs and mount namespaces are then the job's).
  std::vector<std::string> executor_of;
  std::vector<bool> on_host;
};

}  // namespace wfrun::engine
