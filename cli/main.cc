// wfrun: the command line. Parses arguments, wires the libraries together, and is the only
// place that turns errors into exit codes: 0 success, 1 a job failed, 2 invalid workflow or
// command line, 130 interrupted.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "base/fd.h"
#include "base/strings.h"
#include "cli/docs_commands.h"
#include "cli/git_commands.h"
#include "cli/github_observer.h"
#include "cli/gpu_commands.h"
#include "cli/notebook_commands.h"
#include "cli/options.h"
#include "cli/run_common.h"
#include "cli/seed_command.h"
#include "cli/serve_command.h"
#include "cli/serve_run.h"
#include "cli/data_commands.h"
#include "cli/serve_workflows.h"
#include "cli/store_commands.h"
#include "cli/terminal.h"
#include "cli/ui_command.h"
#include "engine/actions.h"
#include "engine/executors.h"
#include "engine/notebook/notebook_action.h"
#include "engine/slurm/shim.h"
#include "engine/slurm/slurm_executor.h"
#include "engine/resume.h"
#include "engine/run.h"
#include "engine/store.h"
#include "git/actions.h"
#include "workflows/graph.h"
#include "workflows/parser.h"
#include "workflows/secrets.h"

namespace wfrun::cli {
namespace {

constexpr int kExitOk = 0, kExitJobFailed = 1, kExitInvalid = 2, kExitInterrupted = 130;

int fail(const Error& e, int code = kExitInvalid) {
  std::fprintf(stderr, "wfrun: %s\n", e.str().c_str());
  return code;
}

struct RunArgs {
  std::string file;
  std::vector<std::string> inputs, secrets;
  std::string inputs_file, secrets_file, event_file, container_runtime, paths = "auto";
  std::string executor, executor_config;
  std::string resume;  // --resume RUN
  int jobs = 0;
  double metrics_interval = 1;
  bool dry_run = false, quiet = false, allow_missing_gpus = false, all_gpus_visible = false;
};

Result<workflows::Workflow> load(const std::string& file) { return workflows::load_workflow(file); }

// --resume RUN: the run's id and, when no file is given, the workflow file it ran.
Result<std::int64_t> resumed_run(const RunArgs& a, const std::string& state_dir,
                                 std::string& file) {
  auto id = parse_run_id(a.resume);
  if (!id) return Error("--resume: " + id.error().message());
  if (!file.empty()) return *id;
  auto store = engine::RunStore::open(state_dir);
  if (!store) return store.error();
  auto rec = store->get_run(*id);
  if (!rec)
    return Error("cannot resume run " + a.resume + ": " + rec.error().message() +
                 " (see `wfrun runs`)");
  file = rec->workflow_file;
  return *id;
}

// --resume without --executor or --executor-config: the jobs run where the resumed run ran them,
// so that an attempt still on a cluster is followed there. A job that now runs elsewhere
// starts again, and its earlier attempt, if still on the cluster, is cancelled (resume_into).
Status resume_executor(const RunArgs& a, const workflows::Workflow& wf, engine::ResumePlan& plan,
                       engine::RunOptions& opts) {
  const std::string run = "run " + std::to_string(plan.from);
  if (a.executor.empty() && a.executor_config.empty()) {
    if (!plan.executor_config_file.empty()) {
      auto ex = workflows::load_executor_settings(plan.executor_config_file);
      if (!ex)
        return Error(ex.error().message() + " (" + run + " used --executor-config " +
                     plan.executor_config_file + "; give --executor-config FILE to resume it)");
      opts.executor = std::move(*ex);
      opts.executor_config_file = plan.executor_config_file;
    }
    opts.executor_kind = plan.executor_kind;
    if (!plan.executor_kind.empty())
      std::fprintf(stderr, "wfrun: --executor %s, as %s had\n", plan.executor_kind.c_str(), run.c_str());
  }
  auto kinds = engine::job_executors(wf, opts);
  if (!kinds) return kinds.error();
  for (size_t i = 0; i < wf.jobs.size(); ++i) {
    const std::string& name = wf.jobs[i].name;
    auto before = plan.executor_of.find(name);
    if (!plan.adopt.count(name) || before == plan.executor_of.end() || before->second == (*kinds)[i])
      continue;
    plan.adopt.erase(name);
    std::fprintf(stderr, "wfrun: job '%s' ran on %s in %s and runs on %s now: it starts again\n",
                 name.c_str(), before->second.c_str(), run.c_str(), (*kinds)[i].c_str());
  }
  return {};
}

int cmd_run(const RunArgs& a, const std::string& state_flag) {
  const std::string state_dir = resolve_state_dir(state_flag);
  std::string file = a.file;
  std::int64_t resume = 0;
  if (!a.resume.empty()) {
    auto id = resumed_run(a, state_dir, file);
    if (!id) return fail(id.error());
    resume = *id;
  }
  if (file.empty()) return fail(Error("no workflow file given: `wfrun run FILE`"));
  auto wf = load(file);
  if (!wf) return fail(wf.error());

  // Secrets: environment first, then the file, then --secret (the most specific wins).
  engine::RunOptions opts = base_run_options(state_dir);
  opts.max_parallel = a.jobs;
  opts.allow_missing_gpus = a.allow_missing_gpus;
  opts.all_gpus_visible = a.all_gpus_visible;
  opts.metrics_interval = a.metrics_interval;
  if (!a.container_runtime.empty()) opts.container_runtime = a.container_runtime;
  if (!a.executor_config.empty()) {
    auto ex = workflows::load_executor_settings(a.executor_config);
    if (!ex) return fail(ex.error());
    opts.executor = std::move(*ex);
    std::error_code ec;
    opts.executor_config_file = std::filesystem::absolute(a.executor_config, ec).lexically_normal().string();
  }
  opts.executor_kind = a.executor;
  if (a.paths == "namespace") opts.path_mode = engine::PathMode::kNamespace;
  else if (a.paths == "rewrite") opts.path_mode = engine::PathMode::kRewrite;
  std::error_code ec;
  opts.workflow_dir = std::filesystem::absolute(file, ec).parent_path().string();

  if (!a.secrets_file.empty()) {
    auto s = load_secrets_file(a.secrets_file);
    if (!s) return fail(s.error());
    for (auto& [k, v] : *s) opts.secrets[k] = v;
  }
  for (const auto& s : a.secrets) {
    auto kv = parse_assignment(s, "--secret");
    if (!kv) return fail(kv.error());
    opts.secrets[kv->first] = kv->second;
  }
  if (!a.inputs_file.empty()) {
    auto in = load_inputs_file(a.inputs_file);
    if (!in) return fail(in.error());
    opts.inputs = *in;
  }
  for (const auto& s : a.inputs) {
    auto kv = parse_assignment(s, "--input");
    if (!kv) return fail(kv.error());
    if (!wf->input(kv->first)) {
      std::vector<std::string> names;
      for (const auto& i : wf->inputs) names.push_back(i.name);
      return fail(Error("--input " + kv->first + ": the workflow " + file +
                        " declares no input '" + kv->first + "'" +
                        did_you_mean(kv->first, names)));
    }
    // A volume given on the command line is relative to where the user is, not to the file.
    if (wf->input(kv->first)->type == workflows::IoType::kVolume && !kv->second.empty() &&
        kv->second[0] != '/') {
      kv->second = std::filesystem::absolute(kv->second, ec).string();
    }
    opts.inputs[kv->first] = kv->second;
  }
  if (!a.event_file.empty()) {
    auto text = read_text_file(a.event_file);
    if (!text) return fail(text.error());
    try {
      opts.event = nlohmann::json::parse(*text);
    } catch (const nlohmann::json::exception& e) {
      return fail(Error(a.event_file + ": not a JSON webhook payload: " + e.what()));
    }
  }

  if (resume) {
    auto store = engine::RunStore::open(state_dir);
    if (!store) return fail(store.error());
    auto plan = engine::plan_resume(*store, resume, *wf);
    if (!plan) return fail(plan.error());
    for (const auto& note : plan->notes) std::fprintf(stderr, "wfrun: %s\n", note.c_str());
    std::vector<std::string> reused;
    for (const auto& job : wf->jobs)
      if (plan->reuse.count(job.name)) reused.push_back(job.name);
    std::fprintf(stderr, "wfrun: resuming run %lld: %s\n", static_cast<long long>(resume),
                 reused.empty() ? "no job can be reused, all run again"
                                : ("reusing " + join(reused, ", ") + "; the rest run again").c_str());
    if (auto s = resume_executor(a, *wf, *plan, opts); !s) return fail(s.error());
    resume_into(std::move(*plan), opts,
                [](const std::string& line) { std::fprintf(stderr, "wfrun: %s\n", line.c_str()); });
  }

  if (a.dry_run) {
    auto secrets_ok = workflows::check_secrets(
        *wf, [&](const std::string& n) { return opts.secrets.count(n) > 0; });
    if (!secrets_ok) return fail(secrets_ok.error());
    auto plan = engine::plan_run(*wf, opts);
    if (!plan) return fail(plan.error());
    std::printf("plan for %s:\n", file.c_str());
    for (const auto& line : *plan) std::printf("  %s\n", line.c_str());
    return kExitOk;
  }

  opts.cancel_fd = install_signal_pipe();
  TerminalPrinter printer(stdout, a.quiet);
  auto result = run_checked(*wf, opts, printer);
  if (!result) return fail(result.error());
  switch (result->state) {
    case engine::RunState::kSucceeded: return kExitOk;
    case engine::RunState::kCancelled: return kExitInterrupted;
    default: return interrupted() ? kExitInterrupted : kExitJobFailed;
  }
}

int cmd_validate(const std::vector<std::string>& files) {
  int rc = kExitOk;
  for (const auto& f : files) {
    auto wf = load(f);
    if (!wf) {
      fail(wf.error());
      rc = kExitInvalid;
      continue;
    }
    std::printf("%s: ok (%zu job%s)\n", f.c_str(), wf->jobs.size(), wf->jobs.size() == 1 ? "" : "s");
  }
  return rc;
}

int cmd_graph(const std::string& file, const std::string& format) {
  auto wf = load(file);
  if (!wf) return fail(wf.error());
  std::string out = format == "mermaid" ? workflows::to_mermaid(*wf) : workflows::to_dot(*wf);
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

// `wfrun FILE ...` is shorthand for `wfrun run FILE ...`.
std::vector<std::string> expand_shorthand(int argc, char** argv,
                                          const std::vector<std::string>& subcommands) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0].size() > 0 && args[0][0] != '-' &&
      std::find(subcommands.begin(), subcommands.end(), args[0]) == subcommands.end()) {
    args.insert(args.begin(), "run");
  }
  return args;
}

int real_main(int argc, char** argv) {
  notebook::register_notebook_action(engine::default_actions());
  git::register_git_actions(engine::default_actions());
  slurm::register_slurm_executor();
  CLI::App app{"wfrun — run Gradient-style YAML workflows and notebooks on this machine"};
  app.name("wfrun");
  app.set_version_flag("--version", std::string("wfrun ") + WFRUN_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  std::string state_dir;
  app.add_option("--state-dir", state_dir, "where runs are recorded (default $WFRUN_HOME or ~/.wfrun)");
  int exit_code = kExitOk;

  RunArgs ra;
  auto* run = app.add_subcommand("run", "run a workflow (`wfrun FILE` is the same)");
  run->add_option("file", ra.file, "the workflow file (with --resume: the run's, by default)");
  run->add_option("--resume", ra.resume,
                  "RUN: run again the jobs of run RUN that did not succeed (and the jobs that "
                  "need them), reusing what the others made");
  run->add_option("--input", ra.inputs, "NAME=VALUE: set a workflow input (repeatable)");
  run->add_option("--inputs-file", ra.inputs_file,
                  "Gradient inputs file: {\"inputs\": {NAME: {\"value\": ...}}} (JSON or YAML)");
  run->add_option("--secret", ra.secrets, "NAME=VALUE: a secret for secret:NAME (repeatable)");
  run->add_option("--secrets-file", ra.secrets_file, "NAME=VALUE lines or a YAML map of secrets");
  run->add_option("-j,--jobs", ra.jobs, "how many jobs run at once (default: the number of cores)")
      ->check(CLI::NonNegativeNumber);
  run->add_option("--event", ra.event_file, "a GitHub webhook payload (JSON) that triggered this run");
  run->add_option("--container-runtime", ra.container_runtime,
                  "command for image jobs, e.g. 'podman --runtime runc' (default: podman, then docker)");
  run->add_option("--paths", ra.paths,
                  "how host jobs see /inputs and /outputs: auto, namespace or rewrite")
      ->check(CLI::IsMember({"auto", "namespace", "rewrite"}));
  run->add_flag("--allow-missing-gpus", ra.allow_missing_gpus,
                "run jobs whose GPU request this machine cannot satisfy on the CPU, instead of "
                "failing the run");
  run->add_flag("--all-gpus-visible", ra.all_gpus_visible,
                "jobs that ask for no GPU see every GPU (default: none)");
  run->add_option("--metrics-interval", ra.metrics_interval,
                  "seconds between samples of GPU, CPU and memory use (default 1; 0: no metrics)")
      ->check(CLI::NonNegativeNumber);
  run->add_option("--executor", ra.executor,
                  "where jobs run: local (this machine) or slurm (one sbatch per job); a job's "
                  "own executor: wins")
      ->check(CLI::IsMember(workflows::executor_kinds()));
  run->add_option("--executor-config", ra.executor_config,
                  "a YAML file with an executor: block (kind, partition, account, qos, ...; see "
                  "docs/scaling.md), e.g. server.yaml");
  run->add_flag("--dry-run", ra.dry_run, "check everything and print the plan; run nothing");
  run->add_flag("-q,--quiet", ra.quiet, "print only the summary");
  run->callback([&] { exit_code = cmd_run(ra, state_dir); });

  std::vector<std::string> vfiles;
  auto* validate = app.add_subcommand("validate", "check workflow files; run nothing");
  validate->add_option("files", vfiles, "workflow files")->required();
  validate->callback([&] { exit_code = cmd_validate(vfiles); });

  std::string gfile, gformat = "dot";
  auto* graph = app.add_subcommand("graph", "print the job graph");
  graph->add_option("file", gfile, "the workflow file")->required();
  graph->add_option("--format", gformat, "dot or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));
  graph->callback([&] { exit_code = cmd_graph(gfile, gformat); });

  add_store_commands(app, state_dir, exit_code);
  add_data_commands(app, state_dir, exit_code);
  add_notebook_commands(app, exit_code);
  add_gpu_commands(app, state_dir, exit_code);
  add_git_commands(app, exit_code);
  add_seed_command(app, exit_code);
  add_serve_command(app, state_dir, exit_code);
  add_serve_run_command(app, state_dir, exit_code);
  add_serve_workflows_command(app, state_dir, exit_code);
  add_ui_command(app, state_dir, exit_code);
  add_docs_commands(app, exit_code);  // last: it documents the commands above

  std::string shim_dir;
  auto* shim = app.add_subcommand("job-shim", "run one attempt of a Slurm job (the batch script's)");
  shim->group("");  // internal: not in --help
  shim->add_option("dir", shim_dir, "the attempt's folder")->required();
  shim->callback([&] { exit_code = slurm::run_job_shim(shim_dir); });

  std::vector<std::string> names;
  for (auto* sc : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sc->get_name());
  std::vector<std::string> args = expand_shorthand(argc, argv, names);
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments reversed
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitInvalid;
  }
  return exit_code;
}

}  // namespace
}  // namespace wfrun::cli

int main(int argc, char** argv) {
  try {
    return wfrun::cli::real_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wfrun: internal error: %s\n", e.what());
    return 70;
  }
}
