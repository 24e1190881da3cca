#pragma once
// How GPUs reach a container: CDI (the Container Device Interface: `--device nvidia.com/gpu=N`,
// resolved by the runtime through a spec that the NVIDIA Container Toolkit generates), or
// docker's own `--gpus "device=N"`. Only the job's GPUs, never all.

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace wfrun::gpu {

/// The NVIDIA GPUs a CDI spec declares (`nvidia-ctk cdi generate`).
struct CdiGpus {
  std::string spec;               // the file that declares kind nvidia.com/gpu ("" = none)
  std::set<std::string> devices;  // "0", "1", "all", "GPU-<uuid>", "0:1" (MIG), ...
  std::vector<std::string> dirs;  // where we looked, for messages
  /// Spec files that could not be read or parsed (for the user: the runtime will trip on them).
  std::vector<std::string> warnings;
};

/// The folders CDI specs live in: WFRUN_CDI_SPEC_DIRS (colon-separated) when set, else
/// /etc/cdi and /var/run/cdi, as podman and docker read them.
std::vector<std::string> cdi_spec_dirs_from_environment();

/// Reads every *.yaml, *.yml and *.json in `dirs` and collects the devices of kind
/// nvidia.com/gpu (a later file does not hide an earlier one's devices).
CdiGpus find_cdi_gpus(const std::vector<std::string>& dirs);

/// How the container runtime of a run gets its GPUs.
struct GpuPassthrough {
  enum class Kind { kCdi, kDockerGpus, kNone };
  Kind kind = Kind::kNone;
  CdiGpus cdi;
  /// kNone: why no GPU can reach a container (a podman without a CDI spec).
  std::string problem;
};

/// The way `runtime` (its command line) takes GPUs: CDI where a spec for nvidia.com/gpu exists
/// (for docker only when its daemon has CDI enabled: `docker_cdi`), else docker's --gpus. Podman
/// has nothing but CDI for NVIDIA GPUs: without a spec that is kNone, with the reason.
GpuPassthrough choose_passthrough(std::string_view runtime, CdiGpus cdi, bool docker_cdi);

/// True when the runtime's program is docker (its file name contains "docker").
bool is_docker(std::string_view runtime);

/// The flags that give a container exactly `gpus` (nvidia-smi indices), and the line for the
/// job's log saying how. No GPUs: no flags, no line. An index the CDI spec does not declare is
/// an Error that says how to regenerate the spec.
struct ContainerGpus {
  std::vector<std::string> flags;
  std::string note;
};
Result<ContainerGpus> container_gpu_flags(const std::vector<int>& gpus, const GpuPassthrough& how);

}  // namespace wfrun::gpu
