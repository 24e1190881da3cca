#include "engine/launch.h"

#include <unistd.h>

#include "base/strings.h"
#include "engine/container.h"
#include "engine/fs.h"
#include "engine/gpu_jobs.h"

namespace wfrun::engine {

Result<Launch> launch_spec(const LaunchInput& in) {
  const RunSetup& setup = *in.setup;
  const workflows::Job& job = setup.wf->jobs[in.job];
  const ActionCommand& cmd = *in.cmd;
  const auto& env = *in.env;
  Launch l;
  ProcessSpec& spec = l.spec;
  auto add_env = [&spec](const std::string& k, const std::string& v) {
    spec.env.push_back(k + "=" + v);
  };
  std::map<std::string, std::string> wfrun_env = {
      {"WFRUN_RUN_ID", std::to_string(in.run_id)},
      {"WFRUN_RUN_NUMBER", std::to_string(in.run_number)},
      {"WFRUN_JOB", job.name},
  };
  const bool asked = setup.gpus->asked[in.job].count > 0;
  // Elsewhere (a Slurm node) the scheduler sets the GPU variables of a job that asked for
  // GPUs; a job that asked for none still sees none.
  if (setup.on_host[in.job] || !asked)
    for (auto& [k, v] :
         job_gpu_env(in.gpus, asked, !cmd.image.empty(), setup.opts->all_gpus_visible))
      wfrun_env[k] = std::move(v);
  if (cmd.image.empty()) {
    spec.argv = cmd.argv;
    wfrun_env["WFRUN_INPUTS"] = in.dirs->inputs;
    wfrun_env["WFRUN_OUTPUTS"] = in.dirs->outputs;
    for (const auto& [k, v] : setup.env.base)
      if (!env.count(k) && !wfrun_env.count(k)) add_env(k, v);
    for (const auto& [k, v] : env)
      if (!wfrun_env.count(k)) add_env(k, v);
    for (const auto& [k, v] : wfrun_env) add_env(k, v);
    spec.cwd = setup.opts->workflow_dir;
    if (setup.on_host[in.job] && setup.path_mode == PathMode::kNamespace && in.uses_paths) {
      l.ns = std::make_unique<NamespaceSetup>(*in.dirs, *in.inputs);
      spec.setup = l.ns.get();
    }
    return l;
  }
  if (!setup.runtime)
    return Error(
        "no container runtime found (install podman or docker, or pass --container-runtime)");
  ContainerRun c;
  c.image = cmd.image;
  c.entrypoint = cmd.entrypoint;
  if (!cmd.starts_container) c.args = cmd.argv;
  if (!cmd.network.empty()) c.network = cmd.network;
  c.name = container_name("wfrun-" + std::to_string(in.run_id) + "-" + job.name + "-" +
                          std::to_string(in.attempt) + "-" + std::to_string(::getpid()));
  for (const auto& i : *in.inputs) c.mounts.emplace_back(i.source, "/inputs/" + i.name + ":ro");
  c.mounts.emplace_back(in.dirs->outputs, "/outputs");
  c.mounts.insert(c.mounts.end(), cmd.mounts.begin(), cmd.mounts.end());
  c.workdir = cmd.workdir;
  wfrun_env["WFRUN_INPUTS"] = "/inputs";
  wfrun_env["WFRUN_OUTPUTS"] = "/outputs";
  c.env_values = wfrun_env;
  auto gpus = gpu::container_gpu_flags(in.gpus, setup.gpus->passthrough);
  if (!gpus) return gpus.error();
  c.flags = std::move(gpus->flags);
  if (!gpus->note.empty()) l.notes.push_back(std::move(gpus->note));
  for (const auto& [k, v] : env)
    if (!wfrun_env.count(k)) c.env_names.push_back(k);
  if (cmd.starts_container) {
    // The host process starts the container: hand it the description.
    std::string file = in.dirs->dir + "/container.json";
    if (auto s = write_file(file, container_spec_json({*setup.runtime, c})); !s) return s.error();
    spec.argv = cmd.argv;
    spec.argv.insert(spec.argv.end(), {"--container", file});
  } else {
    spec.argv = container_argv(*setup.runtime, c);
  }
  // The runtime's own environment: what it needs to work, plus the job's env for `-e NAME`.
  std::map<std::string, std::string> rt_env = setup.env.base;
  for (const auto& [k, v] : setup.env.runtime) rt_env[k] = v;
  for (const auto& [k, v] : env) rt_env[k] = v;
  for (const auto& [k, v] : rt_env) add_env(k, v);
  spec.cwd = setup.opts->workflow_dir;
  l.container = c.name;
  return l;
}

}  // namespace wfrun::engine
