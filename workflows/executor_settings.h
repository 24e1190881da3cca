#pragma once
// Where jobs run and how they reach a cluster: the `executor:` block of server.yaml, the file
// that `wfrun run --executor-config` names, and the `resources.slurm:` map of a job. See
// docs/scaling.md for the reference.
//
//   executor:
//     kind: slurm            # local (the default) or slurm
//     partition: gpu         # sbatch --partition (also account, qos, constraint)
//     sbatch-args: [--exclusive]
//     wfrun-path: /shared/bin/wfrun   # the wfrun binary as the nodes see it
//     gpu-model: gres        # gres: --gres=gpu:MODEL:N; constraint: --gres=gpu:N --constraint=MODEL
//     squeue-interval: 5s    # first squeue after a change; doubles up to squeue-max-interval
//     squeue-max-interval: 60s
//     exit-grace: 60s        # how long a job that left squeue may take to show its exit file
//     max-submitted: 500     # jobs in Slurm's queue at once
//     probe: true            # a probe job checks that the nodes see WFRUN_HOME and wfrun

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace wfrun::workflows {

/// The sbatch settings that a config and a job's `resources.slurm:` both may give.
struct SlurmPlacement {
  std::optional<std::string> partition, account, qos, constraint;
  std::vector<std::string> sbatch_args;  // more sbatch arguments, as written
  /// Later values win; sbatch_args are appended.
  void merge(const SlurmPlacement& over);
};

/// How wfrun uses a Slurm cluster.
struct SlurmSettings {
  SlurmPlacement placement;
  std::string wfrun_path;  // "" = this wfrun's own path (a shared filesystem)
  enum class GpuModel { kGres, kConstraint } gpu_model = GpuModel::kGres;
  double squeue_interval = 5;
  double squeue_max_interval = 60;
  double exit_grace = 60;
  int max_submitted = 500;
  bool probe = true;
};

/// The executor a run's jobs use unless a job names its own (`executor:`).
struct ExecutorSettings {
  std::string kind = "local";  // "local" or "slurm"
  SlurmSettings slurm;
};

/// The executor kinds wfrun knows.
const std::vector<std::string>& executor_kinds();

/// Reads an `executor:` map (`node`), reporting errors at `file`:LINE:COL; `defaults` are the
/// settings keys not given keep.
Result<ExecutorSettings> read_executor_settings(const YAML::Node& node, const std::string& file,
                                                ExecutorSettings defaults = {});
/// A file holding an `executor:` map (among other settings, e.g. server.yaml) or the map itself.
Result<ExecutorSettings> load_executor_settings(const std::string& file);

}  // namespace wfrun::workflows
