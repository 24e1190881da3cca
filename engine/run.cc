#include "engine/run.h"

#include <cstdlib>
#include <filesystem>

#include "base/strings.h"
#include "engine/actions.h"
#include "engine/container.h"
#include "engine/context.h"
#include "engine/executors.h"
#include "engine/run_loop.h"
#include "engine/run_setup.h"
#include "engine/fs.h"
#include "engine/gpu_jobs.h"
#include "engine/job_io.h"
#include "engine/paths.h"
#include "engine/run_json.h"
#include "engine/scheduler.h"
#include "engine/store.h"
#include "workflows/actions.h"
#include "workflows/secrets.h"

namespace wfrun::engine {

namespace {

// A relative volume path is relative to the workflow file's folder (as job_io resolves it).
std::string volume_path(const std::string& v, const RunOptions& opts) {
  std::filesystem::path p(v);
  if (p.is_relative() && !opts.workflow_dir.empty()) p = opts.workflow_dir / p;
  return p.string();
}

using workflows::IoType;
using workflows::JobInput;

/// What the checks before a run found out.
struct Checked {
  const ActionRegistry* actions = nullptr;
  PathMode path_mode = PathMode::kRewrite;
  std::optional<ContainerRuntime> runtime;
  GpuPlan gpus;
  std::vector<std::string> executor_of;  // per job
  std::vector<bool> on_host;             // per job
  std::vector<std::string> lines;        // the plan
};

std::string quoted_list(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  for (const auto& n : names) q.push_back("'" + n + "'");
  return join(q, ", ");
}

// A dataset some job of this run writes: refs to it may not exist before the run.
bool made_by_run(const workflows::Workflow& wf, const std::string& name) {
  for (const auto& job : wf.jobs)
    for (const auto& out : job.outputs)
      if (out.type == IoType::kDataset &&
          (out.ref ? parse_dataset_ref(*out.ref).name : out.name) == name)
        return true;
  return false;
}

// Opens the store on first use (plan_run needs it only for dataset refs).
class LazyStore {
 public:
  LazyStore(const std::string& dir, RunStore* given) : dir_(dir), store_(given) {}
  Result<RunStore*> get() {
    if (store_) return store_;
    if (dir_.empty()) return Error("no state directory to look datasets up in");
    auto s = RunStore::open(dir_);
    if (!s) return s.error();
    owned_.emplace(std::move(*s));
    store_ = &*owned_;
    return store_;
  }

 private:
  std::string dir_;
  RunStore* store_;
  std::optional<RunStore> owned_;
};

Status check_dataset(const workflows::Workflow& wf, LazyStore& store, const std::string& ref,
                     const std::string& field) {
  DatasetRef r = parse_dataset_ref(ref);
  if (!r.version && made_by_run(wf, r.name)) return {};
  auto s = store.get();
  if (!s) return Error(wf.where(field), s.error().message());
  auto d = (*s)->find_dataset(r.name, r.version);
  if (!d) {
    if (r.version && made_by_run(wf, r.name)) return {};
    std::string hint;
    if (looks_like_gradient_dataset_id(r.name))
      hint = "; '" + r.name + "' looks like a Gradient dataset id: add the data with `wfrun " +
             "datasets add NAME FOLDER` and map the id to it with `wfrun datasets alias " +
             r.name + " NAME` (or a datasets.yaml beside the workflow)";
    return Error(wf.where(field), d.error().message() + hint);
  }
  return {};
}

// A dataset output that names a version writes exactly that one: it must not exist yet.
Status check_output_versions(const workflows::Workflow& wf, LazyStore& store) {
  for (const auto& job : wf.jobs)
    for (const auto& out : job.outputs) {
      if (out.type != IoType::kDataset || !out.ref) continue;
      DatasetRef r = parse_dataset_ref(*out.ref);
      if (!r.version) continue;
      auto s = store.get();
      if (!s) return s.error();
      if ((*s)->find_dataset(r.name, r.version))
        return Error(wf.where("jobs." + job.name + ".outputs." + out.name),
                     "output '" + out.name + "' of job '" + job.name + "' would write " +
                         r.str() + ", which exists: dataset versions are immutable; write " +
                         "'ref: " + r.name + "' to make the next version");
    }
  return {};
}

std::string plan_line(size_t n, const workflows::Job& job, const Action* action,
                      const std::string& gpus, const std::string& executor) {
  std::string line = std::to_string(n) + ". " + job.name + " (" + job.uses;
  if (executor != "local") line += ", on " + executor;
  if (!job.needs.empty()) line += ", needs " + join(job.needs, ", ");
  if (action) {
    std::string image = action->image(job);
    if (!image.empty()) line += ", image " + image;
  }
  return line + gpus + ")";
}

Result<Checked> check_run(const workflows::Workflow& wf, const RunOptions& opts, RunStore* given,
                          bool dry_run) {
  Checked c;
  c.actions = opts.actions ? opts.actions : &default_actions();
  if (auto s = workflows::check_available(wf); !s) return s.error();
  auto kinds = job_executors(wf, opts);
  if (!kinds) return kinds.error();
  c.executor_of = std::move(*kinds);
  for (const auto& k : c.executor_of) c.on_host.push_back(find_executor_kind(k)->on_host());
  std::vector<std::string> need_runtime;
  for (const auto& job : wf.jobs) {
    const Action* a = c.actions->find(job.uses);
    if (!a)
      return Error(wf.where("jobs." + job.name + ".uses"),
                   "action '" + job.uses + "' is not available in this wfrun" +
                       did_you_mean(job.uses, c.actions->names()));
    if (auto s = a->check(job); !s) {
      Error e = s.error();
      return e.where().empty() ? Error(wf.where("jobs." + job.name), e.message()) : e;
    }
    if (!a->image(job).empty()) need_runtime.push_back(job.name);
  }
  if (auto s = workflows::check_secrets(
          wf, [&](const std::string& n) { return opts.secrets.count(n) > 0; });
      !s)
    return s.error();

  std::vector<std::string> input_names;
  for (const auto& in : wf.inputs) input_names.push_back(in.name);
  for (const auto& [name, _] : opts.inputs)
    if (!wf.input(name))
      return Error("unknown input '" + name + "'" + did_you_mean(name, input_names) +
                   (input_names.empty()
                        ? "; the workflow has no inputs"
                        : "; the workflow's inputs are " + quoted_list(input_names)));
  LazyStore store(opts.state_dir, given);
  for (const auto& in : wf.inputs) {
    std::string field = "inputs." + in.name;
    auto v = workflow_input_value(wf, opts, in.name);
    if (!v)
      return Error(wf.where(field), "input '" + in.name + "' has no value; pass --input " +
                                        in.name + "=" +
                                        (in.type == IoType::kString ? "VALUE" : "REF"));
    if (in.type == IoType::kDataset) {
      if (auto s = check_dataset(wf, store, *v, field); !s) return s.error();
    } else if (in.type == IoType::kVolume && !exists(volume_path(*v, opts))) {
      return Error(wf.where(field), "volume input '" + in.name + "': '" + *v + "' does not exist");
    }
  }
  for (const auto& job : wf.jobs)
    for (const auto& in : job.inputs) {
      if (in.source != JobInput::Source::kInline) continue;
      std::string field = "jobs." + job.name + ".inputs." + in.name;
      if (in.type == IoType::kDataset && in.ref) {
        if (auto s = check_dataset(wf, store, *in.ref, field); !s) return s.error();
      } else if (in.type == IoType::kVolume && in.ref && !exists(volume_path(*in.ref, opts))) {
        return Error(wf.where(field), "volume '" + *in.ref + "' does not exist");
      }
    }

  if (auto s = check_output_versions(wf, store); !s) return s.error();

  if (!need_runtime.empty()) {
    const char* path = std::getenv("PATH");
    c.runtime = find_container_runtime(opts.container_runtime, path ? path : "/usr/bin:/bin");
    if (!c.runtime)
      return Error(std::string("no container runtime found (install podman or docker, or pass "
                               "--container-runtime): ") +
                   (need_runtime.size() == 1 ? "job " : "jobs ") + quoted_list(need_runtime) +
                   (need_runtime.size() == 1 ? " needs one" : " need one"));
  }
  auto mode = resolve_path_mode(opts.path_mode);
  if (!mode) return mode.error();
  c.path_mode = *mode;
  auto gpus = plan_gpus(wf, opts, c.on_host);
  if (!gpus) return gpus.error();
  c.gpus = std::move(*gpus);
  if (c.runtime) {
    std::vector<size_t> gpu_boxed;
    std::vector<std::string> names;
    for (size_t i = 0; i < wf.jobs.size(); ++i)
      if (c.gpus.requests[i].count > 0 && !c.actions->find(wf.jobs[i].uses)->image(wf.jobs[i]).empty()) {
        gpu_boxed.push_back(i);
        names.push_back(wf.jobs[i].name);
      }
    if (auto s = plan_container_gpus(c.gpus, gpu_boxed, *c.runtime); !s)
      return Error(wf.where("jobs." + names[0]),
                   std::string(names.size() == 1 ? "job " : "jobs ") + quoted_list(names) +
                       " run" + (names.size() == 1 ? "s" : "") +
                       " in a container and ask" + (names.size() == 1 ? "s" : "") +
                       " for GPUs, but " + s.error().message());
  }

  Scheduler sched(wf);
  size_t n = 0;
  for (size_t i : sched.start_order())
    c.lines.push_back(plan_line(++n, wf.jobs[i], c.actions->find(wf.jobs[i].uses),
                                c.gpus.plan_note(i), c.executor_of[i]));
  // Last: an executor's check may be slow (a probe job on a cluster).
  std::vector<std::string> checked;
  for (const auto& k : c.executor_of) {
    if (std::find(checked.begin(), checked.end(), k) != checked.end()) continue;
    checked.push_back(k);
    if (auto s = find_executor_kind(k)->check(opts, dry_run); !s) return s.error();
  }
  return c;
}

std::string workflow_name(const workflows::Workflow& wf) {
  std::string n = file_stem(wf.file);
  return n.empty() ? "workflow" : n;
}

// RUN/invocation.json: what a re-run needs (the workflow file and the inputs given; secrets
// never). Inputs are not secret: run.json and the job folders show them too.
// `executor`, `executor_config`: the --executor and --executor-config given (`--resume` uses them
// again); `executors`: where each job ran.
std::string invocation_json(const workflows::Workflow& wf, const RunOptions& opts,
                            const std::vector<std::string>& executor_of) {
  std::error_code ec;
  nlohmann::json j = {{"workflow_file", std::filesystem::absolute(wf.file, ec).lexically_normal().string()},
                      {"workflow_dir", opts.workflow_dir},
                      {"inputs", opts.inputs},
                      {"executor", opts.executor_kind},
                      {"executor_config", opts.executor_config_file},
                      {"executors", nlohmann::json::object()}};
  for (size_t i = 0; i < wf.jobs.size() && i < executor_of.size(); ++i)
    j["executors"][wf.jobs[i].name] = executor_of[i];
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

double wall_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// The workflow and options with Gradient dataset ids replaced by the local names that
// datasets.yaml gives them ($WFRUN_HOME's, then the workflow folder's).
struct Localized {
  workflows::Workflow wf;
  RunOptions opts;
};
Result<Localized> localize(const workflows::Workflow& wf, const RunOptions& opts) {
  Localized l{wf, opts};
  std::string dir = opts.workflow_dir.empty() ? dir_name(wf.file) : opts.workflow_dir;
  auto aliases = DatasetAliases::load(dataset_alias_files(opts.state_dir, dir));
  if (!aliases) return aliases.error();
  if (auto s = localize_datasets(l.wf, l.opts.inputs, *aliases); !s) return s.error();
  return l;
}

}  // namespace

Result<std::vector<std::string>> plan_run(const workflows::Workflow& wf_in,
                                          const RunOptions& opts_in) {
  auto local = localize(wf_in, opts_in);
  if (!local) return local.error();
  const workflows::Workflow& wf = local->wf;
  const RunOptions& opts = local->opts;
  auto c = check_run(wf, opts, nullptr, true);
  if (!c) return c.error();
  for (const auto& w : c->gpus.discovery.warnings) c->lines.push_back("warning: " + w);
  return std::move(c->lines);
}

Result<RunResult> run_workflow(const workflows::Workflow& wf_in, const RunOptions& opts_in,
                               RunObserver& observer) {
  if (opts_in.state_dir.empty()) return Error("no state directory given");
  auto local = localize(wf_in, opts_in);
  if (!local) return local.error();
  const workflows::Workflow& wf = local->wf;
  const RunOptions& opts = local->opts;
  auto store = RunStore::open(opts.state_dir);
  if (!store) return store.error();
  auto checked = check_run(wf, opts, &*store, false);
  if (!checked) return checked.error();
  if (checked->path_mode == PathMode::kNamespace &&
      std::find(checked->on_host.begin(), checked->on_host.end(), true) != checked->on_host.end()) {
    if (auto s = ensure_mount_points(); !s) return s.error();
  }
  for (const auto& w : checked->gpus.discovery.warnings) observer.warning(w);

  RunSetup setup;
  setup.wf = &wf;
  setup.opts = &opts;
  setup.actions = checked->actions;
  setup.store = &*store;
  setup.observer = &observer;
  setup.path_mode = checked->path_mode;
  setup.runtime = checked->runtime;
  setup.gpus = &checked->gpus;
  for (const auto& [_, v] : opts.secrets) setup.redactor.add(v);
  setup.workflow_name = workflow_name(wf);
  setup.env = HostEnv::current();
  setup.executor_of = checked->executor_of;
  setup.on_host = checked->on_host;

  auto rec = store->create_run(setup.workflow_name, wf.file, opts.trigger);
  if (!rec) return rec.error();
  RunResult run;
  run.id = rec->id;
  run.number = rec->number;
  run.dir = rec->dir;
  run.started = wall_now();
  run.state = RunState::kRunning;
  for (const auto& job : wf.jobs) {
    auto reused = opts.reuse.find(job.name);
    JobResult r = reused != opts.reuse.end() ? reused->second : JobResult{};
    r.name = job.name;
    run.jobs.push_back(std::move(r));
  }
  if (auto s = write_file(run.dir + "/workflow.yaml", wf.text); !s) return s.error();
  if (auto s = write_file(run.dir + "/invocation.json", invocation_json(wf, opts, setup.executor_of)); !s)
    return s.error();
  RunRecord record = *rec;
  record.state = run.state;
  record.started = run.started;
  if (auto s = store->update_run(record); !s) return s.error();
  {
    std::vector<const JobResult*> all;
    for (const auto& j : run.jobs) all.push_back(&j);
    if (auto s = store->update_jobs(run.id, all); !s) return s.error();
  }
  if (auto s = write_run_json(run, setup.workflow_name, setup.redactor); !s) return s.error();
  observer.run_started(run);

  execute(setup, run);

  bool cancelled = false, failed = false;
  for (size_t i = 0; i < run.jobs.size(); ++i) {
    const auto& j = run.jobs[i];
    if (j.state == JobState::kCancelled) cancelled = true;
    if ((j.state == JobState::kFailed || j.state == JobState::kTimedOut) &&
        !wf.jobs[i].continue_on_error)
      failed = true;
  }
  run.state = cancelled ? RunState::kCancelled : failed ? RunState::kFailed : RunState::kSucceeded;
  run.finished = wall_now();
  record.state = run.state;
  record.finished = run.finished;
  (void)store->update_run(record);
  (void)write_run_json(run, setup.workflow_name, setup.redactor);
  observer.run_finished(run);
  return run;
}

}  // namespace wfrun::engine
