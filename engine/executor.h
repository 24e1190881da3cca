#pragma once
// The local executor: one poll() loop over the running jobs' output pipes and exit pidfds,
// the cancel fd and the timers (timeouts, kill grace periods). No threads.

#include <memory>
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

/// What run_workflow() checked and resolved before the run, for the executor.
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
};

/// Runs every job of `run` (whose id, number and dir are set) to the end.
void execute(const RunSetup& setup, RunResult& run);

}  // namespace wfrun::engine
