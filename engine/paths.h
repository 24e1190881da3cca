#pragma once
// Gradient's /inputs and /outputs for one job: the host folders behind them, and the two ways
// a job on the host sees them (a private mount namespace, or rewritten paths).
//
// Per job, under the run's folder:
//   jobs/JOB/inputs/NAME   a string input's value as a file; for volumes and datasets a
//                          symlink to the source (rewrite mode) or an empty placeholder that
//                          the source is bind-mounted onto (namespace mode)
//   jobs/JOB/outputs/NAME  string outputs are files the job writes; volume and dataset
//                          outputs are folders created before the job starts
//
// Containers get `-v SOURCE:/inputs/NAME:ro` per input and `-v OUTPUTS:/outputs`.
// Namespace mode (root + unshare(CLONE_NEWNS)): /inputs and /outputs are created on the host
// if missing and left in place as empty mount points; the child makes / recursively private,
// bind-mounts each source read-only onto its placeholder, then jobs/JOB/inputs (read-only)
// over /inputs and jobs/JOB/outputs over /outputs. Nothing is visible outside the job.
// Rewrite mode: `/inputs/` and `/outputs/` (and bare `/inputs`, `/outputs` as whole path
// words) in the script, the `with` strings and the env values become the host folders.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "engine/process.h"
#include "engine/run_types.h"
#include "workflows/workflow.h"

namespace wfrun::engine {

/// The host folders of one job.
struct JobDirs {
  std::string dir;      // RUN/jobs/JOB
  std::string inputs;   // RUN/jobs/JOB/inputs
  std::string outputs;  // RUN/jobs/JOB/outputs
  std::string log;      // RUN/jobs/JOB/log
};
JobDirs job_dirs(const std::string& run_dir, const std::string& job);

/// One input of a job, resolved to what it holds on the host.
struct ResolvedInput {
  std::string name;
  workflows::IoType type = workflows::IoType::kString;
  std::string value;    // string inputs
  std::string source;   // volume/dataset: the host folder (or file); string: the file in inputs/
  std::string dataset;  // dataset inputs: its name and version
  int version = 0;
};

/// True when this process can give a job a private mount namespace (root, and unshare works).
/// Probed once in a child process.
bool namespace_supported();

/// kAuto resolved to kNamespace or kRewrite; an Error when kNamespace is asked for but
/// cannot work here.
Result<PathMode> resolve_path_mode(PathMode requested);

/// Fills jobs/JOB/inputs for `mode` (kRewrite, kNamespace; for containers pass kRewrite and
/// mount the sources directly) and sets `source` of string inputs.
Status prepare_inputs(const JobDirs& dirs, std::vector<ResolvedInput>& inputs, PathMode mode);

/// Empties jobs/JOB/outputs and creates a folder per volume or dataset output.
Status prepare_outputs(const JobDirs& dirs, const workflows::Job& job);

/// The in-child half of namespace mode; build it before the fork.
class NamespaceSetup : public ChildSetup {
 public:
  NamespaceSetup(const JobDirs& dirs, const std::vector<ResolvedInput>& inputs);
  bool run_in_child(const char** what) const override;

 private:
  std::vector<std::pair<std::string, std::string>> binds_;  // source -> placeholder
  std::string inputs_, outputs_;
};

/// Creates the empty /inputs and /outputs mount points on the host if they are missing.
Status ensure_mount_points();

/// `text` with `/inputs` and `/outputs` paths pointed at the host folders (rewrite mode).
std::string rewrite_paths(std::string_view text, const std::string& inputs_dir,
                          const std::string& outputs_dir);

}  // namespace wfrun::engine
