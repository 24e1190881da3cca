#pragma once
// GPUs in a run: each job's request and the checks before the run (plan_gpus), the queue that
// hands GPUs to ready jobs (GpuQueue), what a job's environment says about them
// (job_gpu_env), and the metrics recorded while jobs run (RunMetrics). See docs/gpus.md.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/container.h"
#include "engine/gpu/allocator.h"
#include "engine/gpu/cdi.h"
#include "engine/gpu/inventory.h"
#include "engine/gpu/metrics.h"
#include "engine/gpu/request.h"
#include "engine/run.h"
#include "workflows/workflow.h"

namespace wfrun::engine {

/// What the checks before a run decided about GPUs.
struct GpuPlan {
  std::vector<gpu::GpuRequest> requests;  // per job, in workflow order; count 0: no GPU
  std::vector<gpu::GpuRequest> asked;     // as written (differs from requests for on_cpu jobs)
  /// Per job: "" or the line saying that it runs on the CPU (--allow-missing-gpus).
  std::vector<std::string> on_cpu;
  /// Done only when some job asks for a GPU (source "none" otherwise).
  gpu::Discovery discovery;
  /// How GPUs reach containers; found only when some job in an image asks for a GPU.
  gpu::GpuPassthrough passthrough;

  /// For the plan's line: ", 1 GPU", ", 2 GPUs of model A100-80G (instance-type A100-80Gx2)",
  /// ", asks for 1 GPU: none here, runs on the CPU" or "".
  std::string plan_note(size_t job) const;
};

/// Each job's request (an unknown instance type is an Error at its location); discovers the
/// GPUs when a job asks for one; a request this machine can never satisfy fails, naming the
/// job and what it asked for, unless opts.allow_missing_gpus (then it asks for none and its
/// on_cpu line says so).
/// Jobs whose `on_host` is false (they run elsewhere: a cluster gives them GPUs) keep their
/// request in `asked` only and are not checked against this machine.
Result<GpuPlan> plan_gpus(const workflows::Workflow& wf, const RunOptions& opts,
                          const std::vector<bool>& on_host);

/// Finds how `rt` passes GPUs to containers when some job in an image asks for GPUs
/// (`gpu_boxed`, their indices): CDI specs in cdi_spec_dirs_from_environment(); for docker,
/// whether its daemon has CDI on (`docker info`). A runtime that cannot pass GPUs is an Error.
Status plan_container_gpus(GpuPlan& plan, const std::vector<size_t>& gpu_boxed,
                           const ContainerRuntime& rt);

/// Hands GPUs to ready jobs: exclusive, first come first served. A job that needs GPUs joins
/// the queue when it becomes ready; only the job at the head may take GPUs, so a job that
/// waits for several GPUs is not starved by later jobs that need fewer (no backfilling).
/// Jobs that need no GPU never wait here.
class GpuQueue {
 public:
  GpuQueue(const workflows::Workflow& wf, const GpuPlan& plan);

  bool needs_gpus(size_t job) const { return plan_.requests[job].count > 0; }
  /// `job` (which needs GPUs) became ready.
  void ready(size_t job) { queue_.push_back(job); }
  /// The GPUs `job` now holds, when it is at the head of the queue and its GPUs are free (it
  /// leaves the queue); nullopt: it waits for a release().
  std::optional<std::vector<int>> take(size_t job);
  /// The job ended: its GPUs are free (nothing happens for a job that holds none).
  void release(size_t job);
  /// Empties the queue (the run was cancelled).
  void clear() { queue_.clear(); }

 private:
  const workflows::Workflow& wf_;
  const GpuPlan& plan_;
  std::optional<gpu::GpuAllocator> alloc_;  // only when some job needs GPUs
  std::deque<size_t> queue_;
};

/// The GPU variables of a job's environment: gpu_env() for the GPUs it holds; a job that asked
/// for none gets the same with no GPU (CUDA_VISIBLE_DEVICES=""), unless `all_visible` (then
/// nothing is set and it sees what wfrun sees).
std::map<std::string, std::string> job_gpu_env(const std::vector<int>& gpus, bool asked,
                                               bool container, bool all_visible);

/// The metrics of a run: the sampler (driven by the executor's poll loop), its rows in the run
/// store, and each sampled job's chart and summary when it ends.
class RunMetrics {
 public:
  using Clock = std::chrono::steady_clock;
  /// Null when opts.metrics_interval is 0. `provider` may be null (no GPU). The metrics table
  /// is opened at the first sample (a run of short jobs never opens it); when it cannot be,
  /// that is a debug note and there are no metrics: not worth failing a run for.
  static std::unique_ptr<RunMetrics> create(const RunOptions& opts, std::int64_t run_id,
                                            std::unique_ptr<gpu::GpuProvider> provider);

  /// When the next sample is due. The first is one interval after create(): a job shorter
  /// than that is not sampled (its numbers would be those of a process just started).
  Clock::time_point next_due() const { return next_due_; }
  /// Samples the running jobs now and stores the rows.
  void sample(const std::vector<gpu::JobProcesses>& jobs);
  /// Stores rows sampled elsewhere (a job's sampler on a cluster node).
  void record(const std::vector<gpu::MetricRow>& rows);
  /// A job ended: writes RUN_DIR/jobs/JOB/metrics.svg and sets r.usage, when it was sampled.
  void job_finished(JobResult& r, const std::string& run_dir);

 private:
  RunMetrics(std::string state_dir, std::unique_ptr<gpu::GpuProvider> provider, std::int64_t run_id,
             double interval);

  std::string state_dir_;
  std::unique_ptr<gpu::GpuProvider> provider_;
  std::optional<gpu::MetricsStore> store_;
  bool store_failed_ = false;
  gpu::Sampler sampler_;  // without a store: sample() stores the rows
  std::int64_t run_id_;
  Clock::time_point next_due_;
  std::set<std::string> sampled_;  // jobs with rows
};

}  // namespace wfrun::engine
