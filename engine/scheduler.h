#pragma once
// The workflow's jobs as a graph, and every decision that depends only on job states: when a
// job is ready, whether it runs or is skipped, and the order jobs start in.
//
// Semantics (GitHub Actions' where Gradient has none):
// - A job is decided when every job it needs has finished.
// - `if: success()` (the default) runs it when each needed job succeeded; otherwise it is
//   skipped, and so (transitively) are the jobs that need it.
// - `if: failure()` runs it when a job it needs, directly or through skipped jobs, failed or
//   timed out; otherwise it is skipped.
// - `if: always()` runs it whatever happened to the jobs it needs.
// - `continue-on-error: true`: the job's own state stays failed/timed out, but the jobs that
//   need it treat it as succeeded (GitHub's semantics: its result counts as success).

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "engine/run_types.h"
#include "workflows/workflow.h"

namespace wfrun::engine {

class Scheduler {
 public:
  /// The decision about one job once all it needs has finished.
  struct Decision {
    size_t job = 0;
    bool run = false;
    std::string message;  // why it is skipped
  };

  explicit Scheduler(const workflows::Workflow& wf);

  size_t size() const { return nodes_.size(); }
  size_t index(const std::string& job) const;  // size() when unknown
  /// All jobs in a topological order that keeps file order where the graph allows.
  std::vector<size_t> start_order() const;

  /// Decisions for the jobs that need nothing (call once, first).
  std::vector<Decision> start();
  /// Records that job `i` ended in `state` and returns the jobs decided because of it;
  /// skipped jobs count as finished at once, so their dependents are decided in the same call.
  std::vector<Decision> finish(size_t i, JobState state);
  /// Jobs not decided yet, in file order.
  std::vector<size_t> undecided() const;

 private:
  struct Node {
    const workflows::Job* job = nullptr;
    std::vector<size_t> needs, dependents;
    size_t waiting = 0;  // needs not finished yet
    bool decided = false;
    JobState state = JobState::kPending;
    bool failed_upstream = false;  // this job or one it needs (transitively) failed
  };
  Decision decide(size_t i);
  void settle(size_t i, JobState state, std::vector<Decision>& out);

  std::vector<Node> nodes_;
  std::map<std::string, size_t> index_;
};

}  // namespace wfrun::engine
