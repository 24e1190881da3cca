#pragma once
// The kinds of executor a run can use ("local", "slurm"), which one each job uses, and the
// executors of one run. Kinds other than "local" are registered by the program at start-up
// (cli/ registers the Slurm executor), as actions are.

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/executor.h"
#include "engine/run_setup.h"

namespace wfrun::engine {

class RunMetrics;

/// One kind of executor: its checks before a run and the executor of a run.
class ExecutorKind {
 public:
  virtual ~ExecutorKind() = default;
  /// True when its jobs run on this machine (this machine's GPUs, mount namespaces).
  virtual bool on_host() const { return false; }
  /// Checks before a run that has jobs on it. `dry_run`: only what costs nothing (e.g. no
  /// probe job on a cluster). An Error stops the run before it starts.
  virtual Status check(const RunOptions& opts, bool dry_run) const { return {}; }
  virtual std::unique_ptr<Executor> make(const RunSetup& setup, const RunResult& run,
                                         RunMetrics* metrics) const = 0;
};

/// Registers (or replaces) the kind `name`; call before any run.
void register_executor_kind(const std::string& name, std::shared_ptr<const ExecutorKind> kind);
/// The kind registered as `name` ("local" always is), or null.
const ExecutorKind* find_executor_kind(const std::string& name);

/// The kind each job uses: its own `executor:`, else --executor (opts.executor_kind), else the
/// workflow's defaults.executor, else opts.executor.kind. An Error names a kind this wfrun
/// does not have, at the place that asked for it.
Result<std::vector<std::string>> job_executors(const workflows::Workflow& wf,
                                               const RunOptions& opts);

/// The executors of one run and the one each job uses.
struct Executors {
  std::vector<std::unique_ptr<Executor>> all;
  std::vector<Executor*> of_job;  // per job, in workflow order
};

/// One executor per kind that setup.executor_of names.
Executors make_executors(const RunSetup& setup, const RunResult& run, RunMetrics* metrics);

}  // namespace wfrun::engine
