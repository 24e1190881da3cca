#pragma once
// Read-only questions to the run store for lists and dashboards: filtered pages of runs with
// keyset paging, the values the filters can take, one run with its jobs, the jobs that hold
// GPUs now, and a job's metrics. Its connections are its own (a small pool), so one RunIndex
// serves many threads; it never writes.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/gpu/metrics.h"
#include "engine/store.h"

namespace wfrun::engine {

/// Which runs a page shows. Empty strings match everything.
struct RunFilter {
  std::string status;    // a run state: queued, running, succeeded, ...
  std::string workflow;  // the workflow's name
  std::string repo;      // OWNER/NAME
  std::string branch;    // main: refs/heads/main (or a ref recorded as just "main")
  std::string trigger;   // cli, push, pull_request, manual
  std::int64_t parent = -1;  // wfrun serve's run id; -1: any
  int limit = 50;
  std::int64_t before = 0;  // ids below this, newest first (0: from the newest)
  std::int64_t after = 0;   // ids above this, the oldest of them first, returned newest first
};

/// One row of a page: the run (without its jobs) and what the list shows about its jobs.
struct RunRow {
  RunRecord run;
  double gpu_seconds = 0;  // sum over finished jobs of GPUs held x time
  int jobs = 0, jobs_done = 0;
};

/// The distinct values the filters can take (at most 200 of each, most recent first).
struct RunFacets {
  std::vector<std::string> workflows, repos, branches, triggers, statuses;
};

/// A job that is running now and holds GPUs.
struct GpuHolder {
  std::int64_t run_id = 0, parent = 0;
  std::string workflow, job;
  std::vector<int> gpus;
  double started = 0;
};

class RunIndex {
 public:
  /// Creates the store's tables when the state dir is new (RunStore::open), then answers
  /// from connections of its own.
  static Result<std::unique_ptr<RunIndex>> open(const std::string& state_dir);
  ~RunIndex();

  Result<std::vector<RunRow>> list(const RunFilter& filter);
  /// Whether a run older than `id` (newer: `newer`) matches `filter`: for "older/newer" links.
  Result<bool> any_beyond(const RunFilter& filter, std::int64_t id, bool newer);
  Result<RunFacets> facets();
  /// The run with its jobs; nullopt when there is no such run.
  Result<std::optional<RunRecord>> get(std::int64_t id);
  /// The runs wfrun serve's run `parent` started, oldest first, with their jobs.
  Result<std::vector<RunRecord>> children(std::int64_t parent);
  Result<std::vector<GpuHolder>> gpu_holders();
  /// A job's samples, ordered by time (then gpu).
  Result<std::vector<gpu::MetricRow>> metrics(std::int64_t run_id, const std::string& job);
  const std::string& state_dir() const { return state_dir_; }

  struct Conn;

 private:
  RunIndex() = default;
  class Lease;
  Result<Lease> lease();
  Result<std::vector<RunRecord>> with_jobs(Lease& c, std::vector<RunRecord> runs);

  std::string state_dir_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;
};

}  // namespace wfrun::engine
