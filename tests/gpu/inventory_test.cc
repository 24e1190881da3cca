// discover() and the providers: NVML absent / failing / present (fake libraries), nvidia-smi
// absent / failing / present (a script that prints the H100 captures), the simulated inventory.

#include "engine/gpu/inventory.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace wfrun::gpu {
namespace {

DiscoverOptions options(std::string nvml, std::string smi) {
  DiscoverOptions o;
  o.nvml_lib = std::move(nvml);
  o.nvidia_smi = std::move(smi);
  return o;
}

class Env {
 public:
  Env(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~Env() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Discover, NothingFound) {
  Discovery d = discover(options("/nonexistent/libnvidia-ml.so.1", "/nonexistent/nvidia-smi"));
  EXPECT_EQ(d.source, "none");
  EXPECT_FALSE(d.provider);
  EXPECT_TRUE(d.gpus.empty());
  EXPECT_TRUE(d.warnings.empty());  // absent drivers are normal: no warning
  ASSERT_EQ(d.notes.size(), 2u);
  EXPECT_EQ(d.notes[0].rfind("NVML: /nonexistent/libnvidia-ml.so.1 not loaded: ", 0), 0u)
      << d.notes[0];
  EXPECT_EQ(d.notes[1], "nvidia-smi: /nonexistent/nvidia-smi not found");
}

TEST(Discover, NvmlAbsentFallsBackSilentlyToNvidiaSmi) {
  Discovery d = discover(options("/nonexistent/libnvidia-ml.so.1", FAKE_NVIDIA_SMI));
  EXPECT_EQ(d.source, "nvidia-smi");
  EXPECT_TRUE(d.warnings.empty());
  ASSERT_EQ(d.gpus.size(), 1u);
  EXPECT_EQ(d.gpus[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(d.gpus[0].uuid, "GPU-0d1e76f1-0e4f-1f45-cb8a-2af6db44694a");
  EXPECT_EQ(d.gpus[0].memory_total_mib, 81559);
  ASSERT_TRUE(d.provider);
  EXPECT_EQ(d.provider->name(), "nvidia-smi");
}

TEST(Discover, NvmlFailingWarnsAndFallsBack) {
  Discovery d = discover(options(FAKE_NVML_FAIL, FAKE_NVIDIA_SMI));
  EXPECT_EQ(d.source, "nvidia-smi");
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.warnings[0], "NVML: nvmlInit_v2 failed: Driver Not Loaded (9); trying nvidia-smi");
  EXPECT_EQ(d.gpus.size(), 1u);
}

TEST(Discover, NvmlFailingAndNoNvidiaSmi) {
  Discovery d = discover(options(FAKE_NVML_FAIL, "none"));
  EXPECT_EQ(d.source, "none");
  EXPECT_FALSE(d.provider);
  ASSERT_EQ(d.warnings.size(), 1u);
}

TEST(Discover, NvmlPresent) {
  Discovery d = discover(options(FAKE_NVML_OK, "/nonexistent/nvidia-smi"));
  EXPECT_EQ(d.source, "nvml");
  EXPECT_TRUE(d.warnings.empty());
  ASSERT_EQ(d.gpus.size(), 2u);
  EXPECT_EQ(d.gpus[0].index, 0);
  EXPECT_EQ(d.gpus[0].name, "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(d.gpus[1].uuid, "GPU-fake-1");
  EXPECT_EQ(d.gpus[0].memory_total_mib, 81920);
  EXPECT_EQ(d.gpus[1].memory_used_mib, 2048);
  EXPECT_EQ(d.gpus[1].utilization_pct, 51);
  EXPECT_DOUBLE_EQ(d.gpus[0].power_w, 250.5);
  EXPECT_EQ(d.gpus[1].power_w, -1);  // NVML_ERROR_NOT_SUPPORTED
  EXPECT_DOUBLE_EQ(d.gpus[0].power_limit_w, 400);
  EXPECT_EQ(d.gpus[1].temperature_c, 41);
  ASSERT_TRUE(d.provider);
  auto s = d.provider->sample({1});
  ASSERT_TRUE(s) << s.error().str();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].index, 1);
  EXPECT_EQ((*s)[0].utilization_pct, 51);
  auto bad = d.provider->sample({7});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "NVML: nvmlDeviceGetHandleByIndex_v2 failed: Unknown Error (2)");
}

TEST(Discover, NvmlDisabled) {
  Discovery d = discover(options("none", "none"));
  EXPECT_EQ(d.source, "none");
  EXPECT_TRUE(d.warnings.empty());
}

TEST(Discover, NvidiaSmiFailingIsAWarningAndNoGpu) {
  Env mode("FAKE_SMI_MODE", "fail");
  Discovery d = discover(options("none", FAKE_NVIDIA_SMI));
  EXPECT_EQ(d.source, "none");
  EXPECT_FALSE(d.provider);
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.warnings[0],
            "nvidia-smi failed (exit code 9): NVIDIA-SMI has failed because it couldn't "
            "communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is "
            "installed and running.");
}

TEST(Discover, NvidiaSmiQueryAndSample) {
  char log[] = "/tmp/wfrun-smi-log.XXXXXX";
  int fd = mkstemp(log);
  ASSERT_GE(fd, 0);
  close(fd);
  Env env("FAKE_SMI_LOG", log);
  SmiOpen smi = open_nvidia_smi(FAKE_NVIDIA_SMI);
  ASSERT_TRUE(smi.provider) << smi.error.str();
  auto s = smi.provider->sample({0});
  ASSERT_TRUE(s) << s.error().str();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_DOUBLE_EQ((*s)[0].power_w, 128.75);
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  unlink(log);
  EXPECT_EQ(ss.str(),
            "--query-gpu=index,uuid,name,pci.bus_id,driver_version,memory.total,memory.used,"
            "memory.free,utilization.gpu,utilization.memory,power.draw,power.limit,"
            "temperature.gpu,clocks.sm,clocks.mem --format=csv,noheader,nounits\n"
            "--query-gpu=index,uuid,name,pci.bus_id,driver_version,memory.total,memory.used,"
            "memory.free,utilization.gpu,utilization.memory,power.draw,power.limit,"
            "temperature.gpu,clocks.sm,clocks.mem --format=csv,noheader,nounits -i 0\n");
}

TEST(SmiStream, LatestLinePerGpu) {
  Discovery d = discover(options("none", FAKE_NVIDIA_SMI));
  EXPECT_EQ(d.nvidia_smi_path, FAKE_NVIDIA_SMI);
  auto p = sampling_provider(d, 0.5);
  ASSERT_TRUE(p);
  // The fake prints the 10 lines of the load capture 50 ms apart; wait for the last one.
  std::optional<GpuInfo> last;
  for (int i = 0; i < 100 && !(last && last->power_w == 694.81); ++i) {
    usleep(50 * 1000);
    auto s = p->sample({0, 3});
    ASSERT_TRUE(s) << s.error().str();
    ASSERT_LE(s->size(), 1u);  // GPU 3 does not exist
    if (!s->empty()) last = (*s)[0];
  }
  ASSERT_TRUE(last);
  EXPECT_DOUBLE_EQ(last->power_w, 694.81);
  EXPECT_EQ(last->utilization_pct, 100);
  EXPECT_EQ(last->memory_used_mib, 1011);
}

TEST(SmiStream, NonSmiSourcesAreUsedAsTheyAre) {
  Discovery d = discover(options(FAKE_NVML_OK, "none"));
  GpuProvider* nvml = d.provider.get();
  auto p = sampling_provider(d, 1);
  EXPECT_EQ(p.get(), nvml);
}

TEST(Discover, FromEnvironment) {
  Env a("WFRUN_NVML_LIB", FAKE_NVML_FAIL), b("WFRUN_NVIDIA_SMI", FAKE_NVIDIA_SMI),
      c("WFRUN_FAKE_GPUS", nullptr);
  DiscoverOptions o = DiscoverOptions::from_environment();
  EXPECT_EQ(o.nvml_lib, FAKE_NVML_FAIL);
  EXPECT_EQ(o.nvidia_smi, FAKE_NVIDIA_SMI);
  Discovery d = discover();
  EXPECT_EQ(d.source, "nvidia-smi");
  EXPECT_EQ(d.warnings.size(), 1u);
}

TEST(Discover, SimulatedWinsOverEverything) {
  Env a("WFRUN_FAKE_GPUS", "8xH100"), b("WFRUN_NVML_LIB", FAKE_NVML_OK);
  Discovery d = discover();
  EXPECT_EQ(d.source, "simulated");
  ASSERT_EQ(d.gpus.size(), 8u);
  EXPECT_EQ(d.gpus[7].index, 7);
  EXPECT_EQ(d.gpus[7].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(d.gpus[7].memory_total_mib, 81559);
  EXPECT_EQ(d.gpus[7].uuid, "GPU-00000000-0000-4000-8000-000000000007");
}

TEST(Simulated, Specs) {
  auto p = simulated_provider("2xA100-80G, 1xT4");
  ASSERT_TRUE(p) << p.error().str();
  auto gpus = (*p)->list();
  ASSERT_EQ(gpus->size(), 3u);
  EXPECT_EQ((*gpus)[0].name, "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ((*gpus)[2].name, "Tesla T4");
  EXPECT_EQ((*gpus)[2].index, 2);

  auto one = simulated_provider("H100");
  ASSERT_TRUE(one);
  EXPECT_EQ((*one)->list()->size(), 1u);

  auto j = simulated_provider(
      R"([{"model": "V100"}, {"name": "Custom GPU", "memory_total_mib": 1000}])");
  ASSERT_TRUE(j) << j.error().str();
  auto jg = (*j)->list();
  ASSERT_EQ(jg->size(), 2u);
  EXPECT_EQ((*jg)[0].name, "Tesla V100-SXM2-16GB");
  EXPECT_EQ((*jg)[1].name, "Custom GPU");
  EXPECT_EQ((*jg)[1].index, 1);
  EXPECT_EQ((*jg)[1].memory_total_mib, 1000);

  auto bad = simulated_provider("[{\"memory_total_mib\": 1}]");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "WFRUN_FAKE_GPUS='[{\"memory_total_mib\": 1}]': GPU 0 has no name or model");
  auto missing = simulated_provider("/nonexistent/gpus.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "WFRUN_FAKE_GPUS='/nonexistent/gpus.json': cannot read the file");
}

TEST(Simulated, SetState) {
  SimulatedProvider p({simulated_gpu("H100", 0), simulated_gpu("H100", 1)});
  GpuInfo busy = simulated_gpu("H100", 1);
  busy.utilization_pct = 99;
  busy.power_w = 690;
  p.set_state(busy);
  auto s = p.sample({1, 0});
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].index, 1);
  EXPECT_EQ((*s)[0].utilization_pct, 99);
  EXPECT_EQ((*s)[1].utilization_pct, 0);
}

TEST(Report, TableAndJson) {
  Discovery d = discover(options("none", FAKE_NVIDIA_SMI));
  EXPECT_EQ(gpu_table(d.gpus),
            "INDEX  NAME                   MEMORY USED / TOTAL  UTIL  POWER / LIMIT  TEMP  UUID\n"
            "0      NVIDIA H100 80GB HBM3  0 / 81559 MiB        0%    129 / 700 W    40C   "
            "GPU-0d1e76f1-0e4f-1f45-cb8a-2af6db44694a\n");
  auto j = discovery_json(d);
  EXPECT_EQ(j["source"], "nvidia-smi");
  EXPECT_EQ(j["gpus"][0]["memory_total_mib"], 81559);
  EXPECT_EQ(j["gpus"][0]["power_w"], 128.75);
  GpuInfo unknown;
  unknown.name = "X";
  EXPECT_EQ(gpu_json(unknown)["power_w"], nullptr);
  EXPECT_EQ(gpu_table({unknown}).substr(gpu_table({unknown}).find('\n') + 1),
            "0      X     - / -                -     - / -          -     \n");
}

}  // namespace
}  // namespace wfrun::gpu
