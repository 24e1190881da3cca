// A stand-in for libnvidia-ml.so.1, built as two shared libraries for the tests:
// fake_nvml_ok simulates two A100-80GB GPUs (GPU 1 does not report power);
// fake_nvml_fail (FAKE_NVML_FAIL) fails nvmlInit_v2 as a machine without a loaded driver does.

#include <cstdio>
#include <cstring>

namespace {
struct Device {
  int index;
};
Device devices[2] = {{0}, {1}};
struct Memory {
  unsigned long long total, free, used;
};
struct Utilization {
  unsigned int gpu, memory;
};
}  // namespace

extern "C" {

int nvmlInit_v2() {
#ifdef FAKE_NVML_FAIL
  return 9;  // NVML_ERROR_DRIVER_NOT_LOADED
#else
  return 0;
#endif
}
int nvmlShutdown() { return 0; }
const char* nvmlErrorString(int rc) {
  switch (rc) {
    case 0:
      return "Success";
    case 3:
      return "Not Supported";
    case 9:
      return "Driver Not Loaded";
    default:
      return "Unknown Error";
  }
}
int nvmlDeviceGetCount_v2(unsigned int* n) {
  *n = 2;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, Device** d) {
  if (i >= 2) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *d = &devices[i];
  return 0;
}
int nvmlDeviceGetName(Device* d, char* buf, unsigned int n) {
  std::snprintf(buf, n, "NVIDIA A100-SXM4-80GB");
  return 0;
}
int nvmlDeviceGetUUID(Device* d, char* buf, unsigned int n) {
  std::snprintf(buf, n, "GPU-fake-%d", d->index);
  return 0;
}
int nvmlDeviceGetMemoryInfo(Device* d, Memory* m) {
  m->total = 81920ULL << 20;
  m->used = (1024ULL * (d->index + 1)) << 20;
  m->free = m->total - m->used;
  return 0;
}
int nvmlDeviceGetUtilizationRates(Device* d, Utilization* u) {
  u->gpu = 50 + d->index;
  u->memory = 10;
  return 0;
}
int nvmlDeviceGetPowerUsage(Device* d, unsigned int* mw) {
  if (d->index == 1) return 3;  // NVML_ERROR_NOT_SUPPORTED
  *mw = 250500;
  return 0;
}
int nvmlDeviceGetTemperature(Device* d, int sensor, unsigned int* c) {
  *c = 40 + d->index;
  return 0;
}
int nvmlDeviceGetEnforcedPowerLimit(Device* d, unsigned int* mw) {
  *mw = 400000;
  return 0;
}
}
