#pragma once
// Giving jobs exclusive GPUs, and the environment and container flags that show a job exactly
// its GPUs.

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gpu/inventory.h"
#include "engine/gpu/request.h"

namespace wfrun::gpu {

/// Which job holds which GPU. Each GPU is held by at most one job; a job holds at most one
/// set. Deterministic: a request gets the lowest free indices whose device matches its model.
/// Not thread-safe (the engine's poll loop owns it); see BlockingGpuAllocator.
class GpuAllocator {
 public:
  explicit GpuAllocator(std::vector<GpuInfo> gpus);

  /// Whether this machine has enough matching GPUs, all free. False means the job can never
  /// run here: fail it before the run starts (see unsatisfiable_message()).
  bool can_ever_satisfy(const GpuRequest& request) const;
  /// "job 'train' asks for 2 GPUs of model A100 but this machine has 1 matching GPU (of 8:
  /// 8 × NVIDIA H100 80GB HBM3)" — or "... but this machine has no NVIDIA GPU".
  std::string unsatisfiable_message(const GpuRequest& request, const std::string& job) const;

  /// The GPU indices now held by `job` (ascending; empty for a request of 0 GPUs), or nullopt
  /// while not enough matching GPUs are free (wait and retry after a release()). A job that
  /// already holds GPUs gets its current set back.
  std::optional<std::vector<int>> try_acquire(const GpuRequest& request, const std::string& job);
  /// Frees the job's GPUs (none held: nothing happens).
  void release(const std::string& job);

  std::vector<int> held_by(const std::string& job) const;
  int free_count() const;
  const std::vector<GpuInfo>& gpus() const { return gpus_; }

 private:
  std::vector<int> matching(const GpuRequest& request) const;

  std::vector<GpuInfo> gpus_;
  std::vector<std::string> owner_;  // by position in gpus_; "" = free
};

/// GpuAllocator behind a mutex, with a blocking acquire, for callers that run jobs on threads.
class BlockingGpuAllocator {
 public:
  explicit BlockingGpuAllocator(std::vector<GpuInfo> gpus) : alloc_(std::move(gpus)) {}
  bool can_ever_satisfy(const GpuRequest& r) const;
  /// Waits until the GPUs are free; nullopt at once when they never can be.
  std::optional<std::vector<int>> acquire(const GpuRequest& r, const std::string& job);
  std::optional<std::vector<int>> try_acquire(const GpuRequest& r, const std::string& job);
  void release(const std::string& job);

 private:
  mutable std::mutex mu_;
  std::condition_variable freed_;
  GpuAllocator alloc_;
};

/// The environment that shows a job exactly `gpus` (nvidia-smi indices). Always sets
/// CUDA_VISIBLE_DEVICES ("" when none: CUDA then sees no device) and CUDA_DEVICE_ORDER=PCI_BUS_ID
/// (CUDA's default order, fastest first, can differ from nvidia-smi's). For a container
/// (`container`), NVIDIA_VISIBLE_DEVICES lists the host indices ("void" when none) and
/// CUDA_VISIBLE_DEVICES counts 0..n-1, because the runtime renumbers the devices it passes in.
std::map<std::string, std::string> gpu_env(const std::vector<int>& gpus, bool container);


}  // namespace wfrun::gpu
