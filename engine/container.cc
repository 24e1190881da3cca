#include "engine/container.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

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
  if (!run.workdir.empty()) argv.insert(argv.end(), {"-w", run.workdir});
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

std::string container_spec_json(const ContainerSpec& spec) {
  const ContainerRun& r = spec.run;
  nlohmann::json mounts = nlohmann::json::array();
  for (const auto& [host, inside] : r.mounts) mounts.push_back({host, inside});
  nlohmann::json j = {{"runtime", spec.runtime.command}, {"image", r.image},
                      {"args", r.args},                  {"network", r.network},
                      {"name", r.name},                  {"mounts", mounts},
                      {"env_names", r.env_names},        {"env_values", r.env_values},
                      {"flags", r.flags},                {"workdir", r.workdir}};
  if (r.entrypoint) j["entrypoint"] = *r.entrypoint;
  return j.dump(2) + "\n";
}

Result<ContainerSpec> read_container_spec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_error("cannot read " + path, errno);
  std::ostringstream text;
  text << in.rdbuf();
  ContainerSpec spec;
  try {
    auto j = nlohmann::json::parse(text.str());
    ContainerRun& r = spec.run;
    spec.runtime.command = j.at("runtime").get<std::vector<std::string>>();
    r.image = j.at("image").get<std::string>();
    r.args = j.value("args", std::vector<std::string>{});
    r.network = j.value("network", std::string("none"));
    r.name = j.value("name", std::string());
    for (const auto& m : j.value("mounts", nlohmann::json::array()))
      r.mounts.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
    r.env_names = j.value("env_names", std::vector<std::string>{});
    r.env_values = j.value("env_values", std::map<std::string, std::string>{});
    r.flags = j.value("flags", std::vector<std::string>{});
    r.workdir = j.value("workdir", std::string());
    if (j.contains("entrypoint")) r.entrypoint = j["entrypoint"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return Error(path + ": not a container description: " + e.what());
  }
  if (spec.runtime.command.empty() || spec.run.image.empty())
    return Error(path + ": not a container description: no runtime or image");
  return spec;
}

std::vector<std::string> container_kill_argv(const ContainerRuntime& rt, const std::string& name) {
  std::vector<std::string> argv = rt.command;
  argv.insert(argv.end(), {"kill", "--signal", "KILL", name});
  return argv;
}

bool runtime_env_name(const std::string& n) {
  return starts_with(n, "CONTAINERS_") || starts_with(n, "DOCKER_") || n == "CONTAINER_HOST" ||
         n == "CONTAINER_CONNECTION" || n == "XDG_RUNTIME_DIR" || n == "XDG_CONFIG_HOME" ||
         n == "XDG_DATA_HOME" || n == "REGISTRY_AUTH_FILE" || n == "STORAGE_DRIVER" ||
         n == "BUILDAH_ISOLATION";
}

}  // namespace wfrun::engine
