#pragma once
// `wfrun run --resume RUN`: which jobs of an earlier run that did not succeed can be taken as
// they finished, and which run again.
//
// A job is reused when it succeeded in that run, its definition is the same in the workflow
// as it is now, and every job it needs is reused too; every other job runs again (so a job
// that changed reruns, and so do the jobs that need it). Parts of the workflow outside `jobs`
// that changed (env, inputs, defaults, ...) may affect any job, so they are refused.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/run.h"
#include "engine/run_types.h"
#include "workflows/workflow.h"

namespace wfrun::engine {

class RunStore;

struct ResumePlan {
  std::int64_t from = 0;                    // the run resumed
  std::string dir;                          // its folder
  std::map<std::string, JobResult> reuse;   // by job name, as they finished in that run
  std::vector<std::string> notes;           // what changed since, for the user
  /// Jobs that were running when that run's wfrun stopped, unchanged since, whose needs are
  /// all reused: the attempt it started may still run where its executor put it (a Slurm job
  /// outlives wfrun) and is followed instead of started again (RunOptions::adopt).
  std::set<std::string> adopt;
  /// What that run was given (RUN/invocation.json; empty for a run an older wfrun made):
  /// --executor, --executor-config, and where each job ran, by name.
  std::string executor_kind, executor_config_file;
  std::map<std::string, std::string> executor_of;
  /// Jobs that were running when that run's wfrun stopped (adopted or not).
  std::set<std::string> unfinished;

  /// The unfinished jobs the resumed run does not follow: changed, needing a job that runs
  /// again, gone from the workflow, or moved to another executor. An attempt of theirs may
  /// still run where that run put it (slurm::cancel_left_behind), by name.
  std::vector<std::string> left_behind(const std::string& executor_kind) const;
};

/// Checks that run `id` exists, has ended without succeeding (failed, cancelled or
/// interrupted) and was a run of a workflow `wf` can resume, and plans what reruns.
Result<ResumePlan> plan_resume(RunStore& store, std::int64_t id, const workflows::Workflow& wf);

/// Hands the plan to the run that resumes it (RunOptions::reuse, resumed_run, resumed_dir,
/// adopt).
void resume_with(ResumePlan plan, RunOptions& opts);

/// What differs between two texts of a workflow, per job and per top-level key:
/// e.g. "job 'train' changed", "job 'eval' was added", "'env' changed". `changed_jobs` gets
/// the names of the jobs that differ or are new; `outside_jobs` the top-level keys that differ.
struct WorkflowChanges {
  std::vector<std::string> changed_jobs, added_jobs, removed_jobs, outside_jobs;
  bool empty() const {
    return changed_jobs.empty() && added_jobs.empty() && removed_jobs.empty() &&
           outside_jobs.empty();
  }
};
Result<WorkflowChanges> workflow_changes(const std::string& before, const std::string& after);

}  // namespace wfrun::engine
