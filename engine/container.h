#pragma once
// The container runtime (podman or docker) and the command lines that run a job in it.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace wfrun::engine {

/// A container runtime command line: {"podman"} or {"podman", "--runtime", "runc"}.
struct ContainerRuntime {
  std::vector<std::string> command;
};

/// opts.container_runtime split on spaces if set (its program must be on `path`), else podman
/// then docker found on `path`; nullopt when there is none.
std::optional<ContainerRuntime> find_container_runtime(const std::string& configured,
                                                       const std::string& path);

/// What a containerised job runs.
struct ContainerRun {
  std::string image;
  std::optional<std::string> entrypoint;  // --entrypoint
  std::vector<std::string> args;          // after the image
  std::string network = "none";
  std::string name;  // --name, so a killed job's container can be killed too
  std::vector<std::pair<std::string, std::string>> mounts;  // host -> "/inputs/x:ro"
  std::vector<std::string> env_names;             // -e NAME: the value comes from the runtime's env
  std::map<std::string, std::string> env_values;  // -e NAME=VALUE (no secrets here)
  std::vector<std::string> flags;                 // more flags before the image (GPUs)
  std::string workdir;                            // -w: "" = the image's own
};

/// A container that a job's host process starts itself (notebook@v1 with `image:` runs
/// `wfrun nbrun` on the host, which runs the runner in the container): written by the engine
/// as JSON, read back by that process, which adds its own mounts, env and arguments.
struct ContainerSpec {
  ContainerRuntime runtime;
  ContainerRun run;
};
std::string container_spec_json(const ContainerSpec& spec);
/// Reads what container_spec_json() wrote; errors name the file.
Result<ContainerSpec> read_container_spec(const std::string& path);
/// RUNTIME kill --signal KILL NAME.
std::vector<std::string> container_kill_argv(const ContainerRuntime& rt, const std::string& name);

/// RUNTIME run --rm --network N --name NAME -v ... -e ... FLAGS [--entrypoint E] IMAGE ARGS...
std::vector<std::string> container_argv(const ContainerRuntime& rt, const ContainerRun& run);

/// A name the runtime accepts: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
std::string container_name(const std::string& raw);

/// Environment variables the runtime itself needs (not passed into the container).
bool runtime_env_name(const std::string& name);

}  // namespace wfrun::engine
