#include "engine/attempt.h"

#include <functional>

#include "base/strings.h"
#include "engine/actions.h"
#include "engine/fs.h"
#include "engine/job_io.h"
#include "engine/launch.h"
#include "engine/output.h"
#include "engine/paths.h"

extern char** environ;

namespace wfrun::engine {

namespace {

// The part of wfrun's environment every job gets (HostEnv::base).
bool pass_through(const std::string& name) {
  return name == "PATH" || name == "HOME" || name == "USER" || name == "LANG" ||
         name.compare(0, 3, "LC_") == 0 || name == "TERM" || name == "TZ" || name == "TMPDIR" ||
         name == "ASAN_OPTIONS" || name == "LSAN_OPTIONS" || name == "UBSAN_OPTIONS";
}

}  // namespace

HostEnv HostEnv::current() {
  HostEnv h;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string name = kv.substr(0, eq);
    if (pass_through(name))
      h.base[name] = kv.substr(eq + 1);
    else if (runtime_env_name(name))
      h.runtime[name] = kv.substr(eq + 1);
  }
  return h;
}

AttemptBuilder::AttemptBuilder(const RunSetup& setup, const RunResult& run, JobLookup jobs)
    : setup_(setup),
      wf_(*setup.wf),
      opts_(*setup.opts),
      run_(run),
      jobs_(jobs),
      github_(opts_.event, opts_.workflow_dir.empty() ? dir_name(wf_.file) : opts_.workflow_dir),
      resolver_(wf_, opts_, github_, std::move(jobs)) {
  resolver_.set_run(run.id, run.number);
}

Result<AttemptBuilder::Built> AttemptBuilder::build(size_t i, int attempt,
                                                    const std::vector<int>& gpus,
                                                    OutputSink* sink) {
  const workflows::Job& job = wf_.jobs[i];
  JobDirs dirs = job_dirs(run_.dir, job.name);
  const Action* action = setup_.actions->find(job.uses);
  if (!action) return Error("unknown action '" + job.uses + "'");
  const bool in_container = !action->image(job).empty();
  // Jobs that run elsewhere (a cluster's node) see their folders where the run folder is.
  const PathMode mode = setup_.on_host[i] ? setup_.path_mode : PathMode::kRewrite;
  const bool rewrite = !in_container && mode == PathMode::kRewrite;

  auto env = resolver_.env(job);
  if (!env) return env.error();
  for (const auto& [k, v] : opts_.env) env->emplace(k, v);  // the job's own value wins
  auto with = resolver_.with(job, *env);
  if (!with) return with.error();
  auto inputs = resolve_inputs(wf_, job, opts_, setup_.store, jobs_);
  if (!inputs) return inputs.error();
  // The inputs/ and outputs/ folders exist for jobs that declare inputs or outputs: creating
  // inodes is most of what a trivial job costs wfrun, so jobs without them skip it.
  const bool uses_paths =
      !job.inputs.empty() || !job.outputs.empty() || action->in_process() || in_container;
  if (uses_paths) {
    if (auto s =
            prepare_inputs(dirs, *inputs, in_container ? PathMode::kRewrite : mode);
        !s)
      return s.error();
    if (auto s = prepare_outputs(dirs, job); !s) return s.error();
  }

  if (rewrite) {
    for (auto& [k, v] : *env) v = rewrite_paths(v, dirs.inputs, dirs.outputs);
    std::function<void(workflows::Json&)> walk = [&](workflows::Json& j) {
      if (j.is_string())
        j = rewrite_paths(j.get<std::string>(), dirs.inputs, dirs.outputs);
      else if (j.is_structured())
        for (auto& v : j) walk(v);
    };
    walk(*with);
  }

  ActionContext ctx{job, *with, *env, dirs, *inputs, setup_.store, run_.id, sink};
  ctx.secrets = &opts_.secrets;
  Built built;
  if (action->in_process()) {
    auto outs = action->run(ctx);
    if (!outs) return outs.error();
    auto declared = collect_outputs(job, dirs, setup_.store, run_.id);
    if (!declared) return declared.error();
    built.outputs = std::move(*outs);
    for (auto& [k, v] : *declared) built.outputs[k] = std::move(v);
    return built;
  }

  auto cmd = action->command(ctx);
  if (!cmd) return cmd.error();
  // What the action hands its process by environment (tokens: never on the command line).
  for (const auto& [k, v] : cmd->env) (*env)[k] = v;
  LaunchInput in;
  in.setup = &setup_;
  in.run_id = run_.id;
  in.run_number = run_.number;
  in.job = i;
  in.attempt = attempt;
  in.cmd = &*cmd;
  in.env = &*env;
  in.dirs = &dirs;
  in.inputs = &*inputs;
  in.uses_paths = uses_paths;
  in.gpus = gpus;
  auto launch = launch_spec(in);
  if (!launch) return launch.error();
  if (sink)
    for (const auto& note : launch->notes) sink->line("wfrun: " + note);

  AttemptSpec& spec = built.spec.emplace();
  spec.run_id = run_.id;
  spec.job = i;
  spec.attempt = attempt;
  spec.name = job.name;
  spec.process = std::move(launch->spec);
  spec.ns = std::move(launch->ns);
  spec.container = std::move(launch->container);
  spec.dirs = std::move(dirs);
  spec.output = sink;
  spec.timeout_seconds = job.timeout_seconds;
  spec.gpus = gpus;
  // Variables whose values hold a secret (a `secret:NAME` env value, a token an action hands
  // its process): an executor must keep them out of what others can read.
  for (const auto& [k, v] : *env)
    if (!setup_.redactor.empty() && setup_.redactor.redact(v) != v) spec.secret_env.insert(k);
  return built;
}

}  // namespace wfrun::engine
