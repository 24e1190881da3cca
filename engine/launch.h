#pragma once
// How one attempt of a job that runs a process is started: its command line, environment and
// working folder, as a host process or in a container, with the GPUs it was given.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/actions.h"
#include "engine/run_setup.h"
#include "engine/paths.h"
#include "engine/process.h"

namespace wfrun::engine {

/// What launch_spec() needs to know about the attempt.
struct LaunchInput {
  const RunSetup* setup = nullptr;
  std::int64_t run_id = 0, run_number = 0;
  size_t job = 0;  // index in the workflow
  int attempt = 1;
  const ActionCommand* cmd = nullptr;
  const std::map<std::string, std::string>* env = nullptr;  // the job's (and the action's)
  const JobDirs* dirs = nullptr;
  const std::vector<ResolvedInput>* inputs = nullptr;
  bool uses_paths = false;  // the job has inputs/ and outputs/ folders
  std::vector<int> gpus;    // the GPUs it holds
};

/// The process to start. `ns` (host jobs in namespace mode) is what spec.setup points to.
struct Launch {
  ProcessSpec spec;
  std::unique_ptr<NamespaceSetup> ns;
  std::string container;  // the container's name when it runs in one
  std::vector<std::string> notes;  // for the job's log (how its GPUs reach the container)
};

/// The environment is explicit: wfrun's base variables, the job's env, then wfrun's own
/// (WFRUN_*, and the GPU variables that show the job exactly its GPUs), which win.
Result<Launch> launch_spec(const LaunchInput& in);

}  // namespace wfrun::engine
