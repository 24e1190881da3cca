#include "engine/gpu_jobs.h"

#include <cstdlib>

#include "base/log.h"
#include "base/strings.h"
#include "engine/process.h"

namespace wfrun::engine {

std::string GpuPlan::plan_note(size_t job) const {
  if (job >= requests.size()) return "";
  if (!on_cpu[job].empty())
    return ", asks for " + asked[job].str() + ": none here, runs on the CPU";
  if (requests[job].count == 0) return "";
  return ", " + requests[job].str();
}

Result<GpuPlan> plan_gpus(const workflows::Workflow& wf, const RunOptions& opts,
                          const std::vector<bool>& on_host) {
  GpuPlan plan;
  plan.on_cpu.assign(wf.jobs.size(), "");
  bool any = false;
  for (size_t i = 0; i < wf.jobs.size(); ++i) {
    auto r = gpu::gpu_request(wf.jobs[i].resources);
    if (!r) return r.error();
    plan.asked.push_back(*r);
    if (i < on_host.size() && !on_host[i]) *r = gpu::GpuRequest{};
    any = any || r->count > 0;
    plan.requests.push_back(std::move(*r));
  }
  // Discovery can start nvidia-smi: only when some job needs it.
  if (!any) return plan;
  plan.discovery = gpu::discover();
  for (const auto& n : plan.discovery.notes) debug_log("gpu", n);
  gpu::GpuAllocator alloc(plan.discovery.gpus);
  for (size_t i = 0; i < wf.jobs.size(); ++i) {
    gpu::GpuRequest& req = plan.requests[i];
    if (req.count == 0 || alloc.can_ever_satisfy(req)) continue;
    const workflows::Job& job = wf.jobs[i];
    std::string message = alloc.unsatisfiable_message(req, job.name);
    if (!opts.allow_missing_gpus) {
      const auto& where = job.resources.where;
      auto at = where.count("gpus")            ? where.at("gpus")
                : where.count("instance-type") ? where.at("instance-type")
                                               : wf.where("jobs." + job.name);
      return Error(at, message + " (--allow-missing-gpus runs it on the CPU instead)");
    }
    plan.on_cpu[i] = message + "; running it on the CPU (--allow-missing-gpus)";
    req = gpu::GpuRequest{};
  }
  return plan;
}

namespace {

// docker 25 and later report the CDI spec folders of a daemon with CDI on (an empty list when
// it is off); older ones have no such field and fail the template: CDI off as well.
bool docker_has_cdi(const ContainerRuntime& rt) {
  ProcessSpec spec;
  spec.argv = rt.command;
  spec.argv.insert(spec.argv.end(), {"info", "--format", "{{json .CDISpecDirs}}"});
  for (char** e = environ; *e; ++e) spec.env.push_back(*e);
  auto r = run_command(spec, 64 * 1024);
  if (!r || !r->status.success()) return false;
  std::string out(trim(r->output));
  debug_log("gpu", "docker info CDISpecDirs: " + out);
  return starts_with(out, "[\"");
}

}  // namespace

Status plan_container_gpus(GpuPlan& plan, const std::vector<size_t>& gpu_boxed,
                           const ContainerRuntime& rt) {
  if (gpu_boxed.empty()) return {};
  const std::string runtime = join(rt.command, " ");
  gpu::CdiGpus cdi = gpu::find_cdi_gpus(gpu::cdi_spec_dirs_from_environment());
  for (const auto& w : cdi.warnings) plan.discovery.warnings.push_back(w);
  bool docker_cdi = gpu::is_docker(runtime) && !cdi.spec.empty() && docker_has_cdi(rt);
  plan.passthrough = gpu::choose_passthrough(runtime, std::move(cdi), docker_cdi);
  if (plan.passthrough.kind == gpu::GpuPassthrough::Kind::kNone)
    return Error(plan.passthrough.problem);
  return {};
}

GpuQueue::GpuQueue(const workflows::Workflow& wf, const GpuPlan& plan) : wf_(wf), plan_(plan) {
  for (const auto& r : plan.requests) {
    if (r.count > 0) {
      alloc_.emplace(plan.discovery.gpus);
      break;
    }
  }
}

std::optional<std::vector<int>> GpuQueue::take(size_t job) {
  if (queue_.empty() || queue_.front() != job || !alloc_) return std::nullopt;
  auto got = alloc_->try_acquire(plan_.requests[job], wf_.jobs[job].name);
  if (got) queue_.pop_front();
  return got;
}

void GpuQueue::release(size_t job) {
  if (alloc_ && needs_gpus(job)) alloc_->release(wf_.jobs[job].name);
}

std::map<std::string, std::string> job_gpu_env(const std::vector<int>& gpus, bool asked,
                                               bool container, bool all_visible) {
  if (!asked && all_visible) return {};
  return gpu::gpu_env(gpus, container);
}

std::unique_ptr<RunMetrics> RunMetrics::create(const RunOptions& opts, std::int64_t run_id,
                                               std::unique_ptr<gpu::GpuProvider> provider) {
  if (!(opts.metrics_interval > 0) || opts.state_dir.empty()) return nullptr;
  return std::unique_ptr<RunMetrics>(
      new RunMetrics(opts.state_dir, std::move(provider), run_id, opts.metrics_interval));
}

RunMetrics::RunMetrics(std::string state_dir, std::unique_ptr<gpu::GpuProvider> provider,
                       std::int64_t run_id, double interval)
    : state_dir_(std::move(state_dir)),
      provider_(std::move(provider)),
      sampler_(provider_.get(), nullptr, run_id, gpu::SamplerOptions{interval}),
      run_id_(run_id),
      next_due_(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(interval))) {}

void RunMetrics::sample(const std::vector<gpu::JobProcesses>& jobs) {
  auto rows = sampler_.sample_now(jobs);
  next_due_ = sampler_.next_due();
  if (rows) record(*rows);
}

void RunMetrics::record(const std::vector<gpu::MetricRow>& rows) {
  if (rows.empty() || store_failed_) return;
  if (!store_) {
    auto s = gpu::MetricsStore::open(state_dir_);
    if (!s) {
      store_failed_ = true;
      debug_log("engine", "no metrics: " + s.error().message());
      return;
    }
    store_.emplace(std::move(*s));
  }
  if (auto s = store_->insert(run_id_, rows); !s) {
    debug_log("engine", "storing metrics: " + s.error().message());
    return;
  }
  for (const auto& row : rows) sampled_.insert(row.job);
}

void RunMetrics::job_finished(JobResult& r, const std::string& run_dir) {
  sampler_.job_finished(r.name);
  auto it = sampled_.find(r.name);
  if (it == sampled_.end()) return;
  sampled_.erase(it);
  auto rows = store_->rows(run_id_, r.name);
  if (!rows) {
    debug_log("engine", "reading metrics: " + rows.error().message());
    return;
  }
  if (auto s = gpu::write_job_charts(run_dir, *rows); !s)
    debug_log("engine", "writing the metrics chart: " + s.error().message());
  auto summaries = gpu::summarize(*rows);
  if (!summaries.empty()) r.usage = std::move(summaries.front());
}

}  // namespace wfrun::engine
