// The NVML provider: libnvidia-ml.so.1 loaded with dlopen. We declare the few types we use
// ourselves (per NVML's public ABI, nvml.h) so that nothing of NVIDIA's is needed to build.

#include <dlfcn.h>

#include <string>

#include "base/log.h"
#include "engine/gpu/inventory.h"

namespace wfrun::gpu {
namespace {

// --- NVML's ABI (nvml.h), the subset we call -----------------------------------------------
using nvmlReturn_t = int;  // an enum; NVML_SUCCESS = 0
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
struct nvmlMemory_t {  // bytes
  unsigned long long total, free, used;
};
struct nvmlUtilization_t {  // percent over the last sample period
  unsigned int gpu, memory;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr int kNvmlTemperatureGpu = 0;    // NVML_TEMPERATURE_GPU
constexpr unsigned kNvmlBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE, ..._UUID_V2_...

using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using CountFn = nvmlReturn_t (*)(unsigned int*);
using HandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using StringFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using MemoryFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using UtilFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);
using UintFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
using TempFn = nvmlReturn_t (*)(nvmlDevice_t, int, unsigned int*);
using ErrorStringFn = const char* (*)(nvmlReturn_t);

struct NvmlApi {
  InitFn init = nullptr;
  ShutdownFn shutdown = nullptr;
  CountFn count = nullptr;
  HandleFn handle = nullptr;
  StringFn name = nullptr;
  StringFn uuid = nullptr;
  MemoryFn memory = nullptr;
  UtilFn utilization = nullptr;
  UintFn power = nullptr;
  TempFn temperature = nullptr;
  UintFn power_limit = nullptr;
  ErrorStringFn error_string = nullptr;  // optional
};

struct DlClose {
  void operator()(void* h) const {
    if (h) dlclose(h);
  }
};
using Library = std::unique_ptr<void, DlClose>;

class NvmlProvider : public GpuProvider {
 public:
  NvmlProvider(Library lib, NvmlApi api) : lib_(std::move(lib)), api_(api) {}
  ~NvmlProvider() override { api_.shutdown(); }

  std::string name() const override { return "nvml"; }

  Result<std::vector<GpuInfo>> list() override {
    unsigned int n = 0;
    if (auto rc = api_.count(&n); rc != kNvmlSuccess) return fail("nvmlDeviceGetCount_v2", rc);
    std::vector<GpuInfo> out;
    for (unsigned int i = 0; i < n; ++i) {
      auto g = read(static_cast<int>(i), true);
      if (!g) return g.error();
      out.push_back(std::move(*g));
    }
    return out;
  }

  Result<std::vector<GpuInfo>> sample(const std::vector<int>& indices) override {
    std::vector<GpuInfo> out;
    for (int i : indices) {
      auto g = read(i, false);
      if (!g) return g.error();
      out.push_back(std::move(*g));
    }
    return out;
  }

  Error fail(const char* what, nvmlReturn_t rc) const {
    return Error(std::string("NVML: ") + what + " failed: " + describe(rc));
  }

  std::string describe(nvmlReturn_t rc) const {
    const char* s = api_.error_string ? api_.error_string(rc) : nullptr;
    return std::string(s ? s : "error") + " (" + std::to_string(rc) + ")";
  }

 private:
  // One device; the name, UUID and power limit only when `full` (they do not change).
  Result<GpuInfo> read(int index, bool full) {
    nvmlDevice_t dev = nullptr;
    if (auto rc = api_.handle(static_cast<unsigned int>(index), &dev); rc != kNvmlSuccess) {
      return fail("nvmlDeviceGetHandleByIndex_v2", rc);
    }
    GpuInfo g;
    g.index = index;
    // A query a device does not support (NVML_ERROR_NOT_SUPPORTED, ...) leaves the field -1.
    if (full) {
      char buf[kNvmlBufferSize] = {};
      if (api_.name(dev, buf, sizeof buf) == kNvmlSuccess) g.name = buf;
      char ubuf[kNvmlBufferSize] = {};
      if (api_.uuid(dev, ubuf, sizeof ubuf) == kNvmlSuccess) g.uuid = ubuf;
      unsigned int mw = 0;
      if (api_.power_limit(dev, &mw) == kNvmlSuccess) g.power_limit_w = mw / 1000.0;
    }
    nvmlMemory_t mem{};
    if (api_.memory(dev, &mem) == kNvmlSuccess) {
      g.memory_total_mib = static_cast<long long>(mem.total >> 20);
      g.memory_used_mib = static_cast<long long>(mem.used >> 20);
    }
    nvmlUtilization_t util{};
    if (api_.utilization(dev, &util) == kNvmlSuccess)
      g.utilization_pct = static_cast<int>(util.gpu);
    unsigned int mw = 0;
    if (api_.power(dev, &mw) == kNvmlSuccess) g.power_w = mw / 1000.0;
    unsigned int temp = 0;
    if (api_.temperature(dev, kNvmlTemperatureGpu, &temp) == kNvmlSuccess) {
      g.temperature_c = static_cast<int>(temp);
    }
    return g;
  }

  Library lib_;
  NvmlApi api_;
};

}  // namespace

NvmlOpen open_nvml(const std::string& library) {
  NvmlOpen out;
  if (library.empty() || library == "none") {
    out.absent = true;
    out.error = Error("NVML: disabled (WFRUN_NVML_LIB=none)");
    return out;
  }
  Library lib(dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (!lib) {
    const char* why = dlerror();
    out.absent = true;
    out.error = Error("NVML: " + library + " not loaded: " + (why ? why : "unknown error"));
    return out;
  }
  NvmlApi api;
  std::string missing;
  auto sym = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib.get(), name));
    if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  sym(api.init, "nvmlInit_v2");
  sym(api.shutdown, "nvmlShutdown");
  sym(api.count, "nvmlDeviceGetCount_v2");
  sym(api.handle, "nvmlDeviceGetHandleByIndex_v2");
  sym(api.name, "nvmlDeviceGetName");
  sym(api.uuid, "nvmlDeviceGetUUID");
  sym(api.memory, "nvmlDeviceGetMemoryInfo");
  sym(api.utilization, "nvmlDeviceGetUtilizationRates");
  sym(api.power, "nvmlDeviceGetPowerUsage");
  sym(api.temperature, "nvmlDeviceGetTemperature");
  sym(api.power_limit, "nvmlDeviceGetEnforcedPowerLimit");
  if (!missing.empty()) {
    out.error = Error("NVML: " + library + " lacks " + missing);
    return out;
  }
  api.error_string = reinterpret_cast<ErrorStringFn>(dlsym(lib.get(), "nvmlErrorString"));
  if (nvmlReturn_t rc = api.init(); rc != kNvmlSuccess) {
    const char* s = api.error_string ? api.error_string(rc) : nullptr;
    out.error = Error("NVML: nvmlInit_v2 failed: " + std::string(s ? s : "error") + " (" +
                      std::to_string(rc) + ")");
    return out;
  }
  out.provider = std::make_unique<NvmlProvider>(std::move(lib), api);
  return out;
}

}  // namespace wfrun::gpu
