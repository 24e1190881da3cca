#pragma once
// A run of the local run store as the dashboard shows it: its jobs with their DAG edges (from
// the copy of the workflow in the run's folder), states, GPUs, outputs and what a git-commit
// job pushed. Shared by `wfrun ui` (one store run per dashboard run) and `wfrun serve` (the
// store runs of a server run's workflows).

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/run_index.h"
#include "http/dashboard/source.h"

namespace wfrun::dashboard {

/// What the recorded workflow says about one job.
struct JobShape {
  std::string uses;
  std::vector<std::string> needs;
  std::map<std::string, std::string> output_types;  // output name -> string, volume, dataset
  nlohmann::json with;                              // as written (expressions unresolved)
};

/// RUN/workflow.yaml, parsed once.
struct WorkflowShape {
  std::map<std::string, JobShape> jobs;
  std::string error;  // why it could not be read ("" when it was)
};

/// Parsed workflows by run id; bounded, thread-safe. Runs never change their workflow.
class ShapeCache {
 public:
  std::shared_ptr<const WorkflowShape> get(const engine::RunRecord& run);

 private:
  std::mutex mu_;
  std::map<std::int64_t, std::shared_ptr<const WorkflowShape>> cache_;
};

/// {"run_id", "name", "path", "status", "number", "started_at", "finished_at", "jobs": [...]}:
/// a store run for the run page. `ref_of` links the log/file endpoints to the dashboard run.
nlohmann::json workflow_json(const engine::RunRecord& run, const WorkflowShape& shape,
                             const std::string& state_dir);

/// The job endpoints' view of `job` of `run`; nullopt when the run has no such job.
std::optional<JobRef> job_ref(const engine::RunRecord& run, const WorkflowShape& shape,
                              const std::string& job, const std::string& state_dir);

/// Web links for a run: {"commit": URL|null, "pull_request": URL|null} from a GitHub
/// repository (OWNER/NAME), ref and sha; `web` is the GitHub web origin.
nlohmann::json github_links(const std::string& web, const std::string& repo, const std::string& ref,
                            const std::string& sha);

/// "main" for refs/heads/main, "v1" for refs/tags/v1, "" otherwise.
std::string branch_of(const std::string& ref);
/// N for refs/pull/N/head (or /merge), else 0.
long pull_number(const std::string& ref);

/// Unix seconds, or null for 0.
nlohmann::json time_or_null(double t);

}  // namespace wfrun::dashboard
