#pragma once
// Recording what jobs did: a sampler driven by the engine's event loop (no thread) that reads
// each running job's GPUs and process tree, the `metrics` table of the run store, the per-job
// summary, CSV/JSON export and the SVG chart.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/gpu/inventory.h"

namespace wfrun::gpu {

/// One sample: of one GPU of a job (`gpu` set; util/mem/power/temp) or of the job's process
/// tree (`gpu` unset; cpu_pct/rss_kb). Values a device did not report are unset (NULL).
struct MetricRow {
  std::string job;
  double t = 0;  // unix seconds
  std::optional<int> gpu;
  std::optional<int> util;
  std::optional<long long> mem_mib;
  std::optional<double> power_w;
  std::optional<int> temp_c;
  std::optional<double> cpu_pct;  // 100 = one core busy
  std::optional<long long> rss_kb;
};

/// A running job, as the sampler needs it.
struct JobProcesses {
  std::string job;
  pid_t pgid = 0;           // the job's process group (0: none)
  std::vector<pid_t> pids;  // roots whose descendants count too (e.g. the job's main pid)
  std::vector<int> gpus;    // nvidia-smi indices assigned to the job
};

/// CPU time and RSS of process trees, from /proc. Keeps the last totals per job to turn CPU
/// time into a percentage.
class ProcessSampler {
 public:
  /// Every `full_scan_every`-th sample (and whenever a job is new) reads every /proc/PID/stat
  /// to find the jobs' processes; the samples in between re-read only the processes found
  /// then (and the jobs' pids), so a process started in between is counted from the next full
  /// scan on. 1 = always scan everything.
  explicit ProcessSampler(std::string proc_root = "/proc", int full_scan_every = 5);
  struct Usage {
    std::optional<double> cpu_pct;  // unset on a job's first sample
    long long rss_kb = 0;
    int processes = 0;
  };
  /// A process belongs to a job when it is in the job's process group or descends from one of
  /// its pids or group members (so children that called setsid() still count). `now` is a
  /// steady-clock time in seconds. Exited children's CPU time is counted through their
  /// parent's cutime/cstime once reaped.
  std::map<std::string, Usage> sample(const std::vector<JobProcesses>& jobs, double now);
  /// Forget a finished job's totals.
  void forget(const std::string& job) {
    last_.erase(job);
    members_.erase(job);
  }

 private:
  std::string root_;
  int full_every_;
  long ticks_per_second_;
  long page_kb_;
  long samples_ = 0;
  struct Last {
    double cpu_seconds = 0;
    double at = 0;
  };
  std::map<std::string, Last> last_;
  std::map<std::string, std::vector<pid_t>> members_;  // found by the last full scan
};

class MetricsStore;

struct SamplerOptions {
  double interval_seconds = 1.0;  // the engine's option
  std::string proc_root = "/proc";
  int full_scan_every = 5;  // see ProcessSampler
};

/// Samples running jobs when due. The engine calls next_due() to bound its poll timeout and
/// sample_now() when that time has come; nothing runs in between.
class Sampler {
 public:
  /// `provider` (may be null: no GPU) and `store` (may be null: rows are only returned) must
  /// outlive the sampler.
  Sampler(GpuProvider* provider, MetricsStore* store, std::int64_t run_id,
          SamplerOptions opts = {});

  using Clock = std::chrono::steady_clock;
  /// When the next sample is due (now, before the first).
  Clock::time_point next_due() const { return next_due_; }
  /// Milliseconds until next_due() (>= 0), for poll().
  int poll_timeout_ms(Clock::time_point now = Clock::now()) const;

  /// Samples `jobs` now, stores the rows (one transaction) and returns them. A failing GPU
  /// read leaves the GPU rows out of this sample (and is reported once); store errors return
  /// an Error, but the next sample is still scheduled.
  Result<std::vector<MetricRow>> sample_now(const std::vector<JobProcesses>& jobs);
  /// Call when a job ends.
  void job_finished(const std::string& job) { procs_.forget(job); }
  /// The last GPU read error, if any ("" if none).
  const std::string& last_gpu_error() const { return gpu_error_; }

 private:
  GpuProvider* provider_;
  MetricsStore* store_;
  std::int64_t run_id_;
  SamplerOptions opts_;
  ProcessSampler procs_;
  Clock::time_point next_due_;
  std::string gpu_error_;
};

/// The `metrics` table of STATE/wfrun.db, on a connection of its own.
class MetricsStore {
 public:
  static Result<MetricsStore> open(const std::string& state_dir);
  MetricsStore(MetricsStore&&) noexcept;
  MetricsStore& operator=(MetricsStore&&) noexcept;
  ~MetricsStore();

  Result<void> insert(std::int64_t run_id, const std::vector<MetricRow>& rows);
  /// All rows of a run (of one job when `job` is not empty), ordered by job, time, gpu.
  Result<std::vector<MetricRow>> rows(std::int64_t run_id, const std::string& job = "");
  /// The jobs of a run that have metrics, in order of their first sample.
  Result<std::vector<std::string>> jobs(std::int64_t run_id);

 private:
  struct Impl;
  explicit MetricsStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// What the run summary shows for a job.
struct JobSummary {
  std::string job;
  std::vector<int> gpus;                  // the GPUs it was sampled on
  std::optional<double> util_mean;        // over its GPUs and samples, %
  std::optional<int> util_peak;           // %
  std::optional<long long> mem_peak_mib;  // peak of the sum over its GPUs at one sample time
  std::optional<double> energy_wh;        // trapezoidal integral of power, summed over GPUs
  std::optional<double> cpu_mean;         // %, 100 = one core
  std::optional<long long> rss_peak_kb;
  double first = 0, last = 0;  // sample times
  int samples = 0;             // sample times
};

/// Per job, in order of first appearance in `rows`.
std::vector<JobSummary> summarize(const std::vector<MetricRow>& rows);

/// "job,t,gpu,util,mem_mib,power_w,temp_c,cpu_pct,rss_kb" with a header; unset values empty.
std::string metrics_csv(const std::vector<MetricRow>& rows);
/// {"summary": [...], "samples": [...]} with unset values as null.
nlohmann::ordered_json metrics_json(const std::vector<MetricRow>& rows);
nlohmann::ordered_json summary_json(const JobSummary& s);
/// The human table of `wfrun metrics` / the run summary: one line per job.
std::string summary_table(const std::vector<JobSummary>& summaries);

/// A self-contained SVG of one job's rows: GPU utilisation and CPU % / memory (GPU memory and
/// RSS, MiB) / power (W) over time, each panel with axes, one line per GPU and a legend.
std::string render_svg(const std::string& job, const std::vector<MetricRow>& rows);
/// Writes RUN_DIR/jobs/JOB/metrics.svg for each job in `rows`.
Result<void> write_job_charts(const std::string& run_dir, const std::vector<MetricRow>& rows);

}  // namespace wfrun::gpu
