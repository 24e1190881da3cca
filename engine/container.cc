#include "engine/container.h"

#include "base/strings.h"
#include "engine/process.h"

namespace wfrun::engine {

std::optional<ContainerRuntime> find_container_runtime(const std::string& configured,
                                                       const std::string& path) {
  ContainerRuntime rt;
  if (!configured.empty()) {
    for (auto& w : split(configured, ' '))
      if (!w.empty()) rt.command.push_back(w);
    if (rt.command.empty() || find_program(rt.command[0], path).empty()) return std::nullopt;
    return rt;
  }
  for (const char* name : {"podman", "docker"}) {
    if (!find_program(name, path).empty()) {
      rt.command = {name};
      return rt;
    }
  }
  return std::nullopt;
}

std::vector<std::string> container_argv(const ContainerRuntime& rt, const ContainerRun& run) {
  std::vector<std::string> argv = rt.command;
  argv.insert(argv.end(), {"run", "--rm", "--network", run.network.empty() ? "none" : run.network});
  if (!run.name.empty()) argv.insert(argv.end(), {"--name", run.name});
  for (const auto& [host, inside] : run.mounts)
    argv.insert(argv.end(), {"-v", host + ":" + inside});
  for (const auto& [k, v] : run.env_values) argv.insert(argv.end(), {"-e", k + "=" + v});
  // Values of the job's own env (secrets among them) stay out of the command line, where any
  // user could read them in ps: `-e NAME` takes the value from the runtime's environment.
  for (const auto& k : run.env_names) argv.insert(argv.end(), {"-e", k});
  argv.insert(argv.end(), run.flags.begin(), run.flags.end());
  if (run.entrypoint) argv.insert(argv.end(), {"--entrypoint", *run.entrypoint});
  argv.push_back(run.image);
  argv.insert(argv.end(), run.args.begin(), run.args.end());
  return argv;
}

std::string container_name(const std::string& raw) {
  std::string out;
  for (char c : raw) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (!out.empty() && (c == '_' || c == '.' || c == '-'));
    out += ok ? c : '-';
  }
  if (out.empty()) out = "wfrun";
  return out;
}

bool runtime_env_name(const std::string& n) {
  return starts_with(n, "CONTAINERS_") || starts_with(n, "DOCKER_") || n == "CONTAINER_HOST" ||
         n == "CONTAINER_CONNECTION" || n == "XDG_RUNTIME_DIR" || n == "XDG_CONFIG_HOME" ||
         n == "XDG_DATA_HOME" || n == "REGISTRY_AUTH_FILE" || n == "STORAGE_DRIVER" ||
         n == "BUILDAH_ISOLATION";
}

}  // namespace wfrun::engine
