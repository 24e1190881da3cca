#pragma once
// Finding the machine's NVIDIA GPUs and reading their state: NVML (loaded at run time with
// dlopen, so wfrun builds and runs without NVIDIA drivers), nvidia-smi as the fallback, and a
// simulated inventory for tests and benchmarks. See docs/gpus.md.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"

namespace wfrun::gpu {

/// One GPU as a provider reports it. Numbers a device does not report ("[N/A]") are -1.
struct GpuInfo {
  int index = 0;  // nvidia-smi / NVML index (PCI bus order), as CUDA_VISIBLE_DEVICES takes it
  std::string uuid, name;
  long long memory_total_mib = -1, memory_used_mib = -1;
  int utilization_pct = -1;
  double power_w = -1, power_limit_w = -1;
  int temperature_c = -1;
};

/// Where GPU facts come from. Not thread-safe; one per sampler or command.
class GpuProvider {
 public:
  virtual ~GpuProvider() = default;
  /// "nvml", "nvidia-smi" or "simulated".
  virtual std::string name() const = 0;
  /// Every GPU, with its current state.
  virtual Result<std::vector<GpuInfo>> list() = 0;
  /// The current state of the GPUs with these indices (in that order; unknown indices are
  /// left out). Cheap enough to call once a second.
  virtual Result<std::vector<GpuInfo>> sample(const std::vector<int>& indices) = 0;
};

/// Where to look; by default from the environment (WFRUN_FAKE_GPUS, WFRUN_NVML_LIB,
/// WFRUN_NVIDIA_SMI).
struct DiscoverOptions {
  std::string fake;                            // WFRUN_FAKE_GPUS: "8xH100", JSON file or text
  std::string nvml_lib = "libnvidia-ml.so.1";  // WFRUN_NVML_LIB; "none" skips NVML
  std::string nvidia_smi = "nvidia-smi";       // WFRUN_NVIDIA_SMI; looked up on PATH; "none" skips
  static DiscoverOptions from_environment();
};

/// What discover() found and how.
struct Discovery {
  std::unique_ptr<GpuProvider> provider;  // null when no GPU was found
  std::vector<GpuInfo> gpus;
  std::string source = "none";  // "nvml", "nvidia-smi", "simulated" or "none"
  /// For the user (stderr): a provider that is present but failing, e.g.
  /// "NVML: nvmlInit_v2 failed: Driver Not Loaded (9); trying nvidia-smi".
  std::vector<std::string> warnings;
  /// Why the sources before `source` were not used, e.g. "NVML: libnvidia-ml.so.1 not found"
  /// (debug log; absent NVML is normal on machines without NVIDIA drivers).
  std::vector<std::string> notes;
  std::string nvidia_smi_path;  // the nvidia-smi used, when source is "nvidia-smi"
};

/// WFRUN_FAKE_GPUS (when set), else NVML, else nvidia-smi, else none. Never fails: a broken
/// source becomes a warning and the next one is tried.
Discovery discover(const DiscoverOptions& opts = DiscoverOptions::from_environment());

/// The NVML provider, or why it cannot be used. `absent` is set when the library could not be
/// loaded at all (as opposed to loaded but failing).
struct NvmlOpen {
  std::unique_ptr<GpuProvider> provider;
  Error error;
  bool absent = false;
};
NvmlOpen open_nvml(const std::string& library);

/// The nvidia-smi provider for the executable `path` (a path, or a name looked up on PATH).
/// Fails when it is not found (`absent`) or when its first query fails.
struct SmiOpen {
  std::unique_ptr<GpuProvider> provider;
  std::string path;  // the executable found
  std::vector<GpuInfo> gpus;
  Error error;
  bool absent = false;
};
SmiOpen open_nvidia_smi(const std::string& path);

/// For the metrics sampler: the discovery's provider (moved out of `d`), except that
/// nvidia-smi becomes nvidia_smi_stream(): starting nvidia-smi every second would cost tens of
/// milliseconds of CPU per sample and block the engine's loop while it runs.
std::unique_ptr<GpuProvider> sampling_provider(Discovery& d, double interval_seconds);

/// One long-running `nvidia-smi --query-gpu=... --format=csv,noheader,nounits -lms MS` whose
/// output is read without blocking: sample() returns the latest line seen for each GPU (a GPU
/// with no line yet is left out). If nvidia-smi exits, sample() reports it and the next call
/// starts it again. The destructor kills and reaps it.
std::unique_ptr<GpuProvider> nvidia_smi_stream(const std::string& path, int interval_ms);

/// A simulated inventory: "8xH100", "2xA100-80G,1xT4", a JSON array of GpuInfo-like objects
/// ({"name": ..., "memory_total_mib": ...}), or the path of a file holding that JSON.
Result<std::unique_ptr<GpuProvider>> simulated_provider(const std::string& spec);

/// A simulated provider over explicit GPUs; set_state() changes what sample() returns next.
class SimulatedProvider : public GpuProvider {
 public:
  explicit SimulatedProvider(std::vector<GpuInfo> gpus) : gpus_(std::move(gpus)) {}
  std::string name() const override { return "simulated"; }
  Result<std::vector<GpuInfo>> list() override { return gpus_; }
  Result<std::vector<GpuInfo>> sample(const std::vector<int>& indices) override;
  /// Replaces the dynamic fields of GPU `g.index` with those of `g`.
  void set_state(const GpuInfo& g);

 private:
  std::vector<GpuInfo> gpus_;
};

/// `wfrun gpus`: a header and one line per GPU ("-" for numbers not reported).
std::string gpu_table(const std::vector<GpuInfo>& gpus);
/// `wfrun gpus --json`: {"source": ..., "warnings": [...], "gpus": [{...GpuInfo fields...}]},
/// numbers not reported as null.
nlohmann::ordered_json discovery_json(const Discovery& d);
nlohmann::ordered_json gpu_json(const GpuInfo& g);

/// The GpuInfo a simulated "H100", "A100-80G", ... has (realistic name, memory, power limit).
GpuInfo simulated_gpu(const std::string& model, int index);

}  // namespace wfrun::gpu
