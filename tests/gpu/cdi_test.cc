// How GPUs reach containers: CDI specs read from folders, the choice between CDI and docker's
// --gpus, and the flags and log line for a job's GPUs. No GPU is needed: the specs are files.

#include "engine/gpu/cdi.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace wfrun::gpu {
namespace {

namespace fs = std::filesystem;

const std::string kFixture = std::string(GPU_FIXTURES) + "/cdi";

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/wfrun-cdi-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return (path_ / name).string();
  }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

TEST(Cdi, ReadsTheGpuDevicesOfAToolkitSpec) {
  CdiGpus c = find_cdi_gpus({"/nonexistent/cdi", kFixture});
  EXPECT_EQ(c.spec, kFixture + "/nvidia.yaml");
  EXPECT_EQ(c.devices, (std::set<std::string>{"0", "1", "all",
                                              "GPU-5ad1b7c4-0c56-4a4e-9a29-1c1f1b6bd4c0",
                                              "GPU-8c0f2e7a-44a5-4e43-b7a6-0a3de9f1c2d1"}));
  EXPECT_TRUE(c.warnings.empty());
}

TEST(Cdi, IgnoresOtherKindsAndReportsBrokenFiles) {
  TempDir d;
  d.file("other.json", R"({"cdiVersion": "0.5.0", "kind": "vendor.com/fpga",
                           "devices": [{"name": "0"}]})");
  d.file("broken.yaml", "kind: [nvidia.com/gpu\n");
  d.file("notes.txt", "kind: nvidia.com/gpu\n");
  CdiGpus c = find_cdi_gpus({d.str()});
  EXPECT_EQ(c.spec, "");
  EXPECT_TRUE(c.devices.empty());
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find(d.str() + "/broken.yaml cannot be read"), std::string::npos)
      << c.warnings[0];
  // JSON specs count as well (CDI allows both).
  d.file("nvidia.json", R"({"cdiVersion": "0.6.0", "kind": "nvidia.com/gpu",
                            "devices": [{"name": "0"}, {"name": "all"}]})");
  c = find_cdi_gpus({d.str()});
  EXPECT_EQ(c.spec, d.str() + "/nvidia.json");
  EXPECT_EQ(c.devices, (std::set<std::string>{"0", "all"}));
}

TEST(Cdi, SpecDirsFromTheEnvironment) {
  ::unsetenv("WFRUN_CDI_SPEC_DIRS");
  EXPECT_EQ(cdi_spec_dirs_from_environment(),
            (std::vector<std::string>{"/etc/cdi", "/var/run/cdi"}));
  ::setenv("WFRUN_CDI_SPEC_DIRS", "/a::/b", 1);
  EXPECT_EQ(cdi_spec_dirs_from_environment(), (std::vector<std::string>{"/a", "/b"}));
  ::unsetenv("WFRUN_CDI_SPEC_DIRS");
}

TEST(Cdi, PodmanUsesCdiOnlyTheJobsGpus) {
  GpuPassthrough p = choose_passthrough("podman --runtime runc", find_cdi_gpus({kFixture}), false);
  ASSERT_EQ(p.kind, GpuPassthrough::Kind::kCdi);
  auto f = container_gpu_flags({1}, p);
  ASSERT_TRUE(f.ok()) << f.error().str();
  EXPECT_EQ(f->flags, (std::vector<std::string>{"--device", "nvidia.com/gpu=1"}));
  EXPECT_EQ(f->note, "GPU 1 passed to the container by CDI (--device nvidia.com/gpu=1; spec " +
                         kFixture + "/nvidia.yaml)");
  f = container_gpu_flags({0, 1}, p);
  EXPECT_EQ(f->flags, (std::vector<std::string>{"--device", "nvidia.com/gpu=0", "--device",
                                                "nvidia.com/gpu=1"}));
  // No GPU: no flags (and never "all").
  f = container_gpu_flags({}, p);
  EXPECT_TRUE(f->flags.empty());
  EXPECT_TRUE(f->note.empty());
}

TEST(Cdi, AGpuTheSpecDoesNotDeclareIsAnError) {
  GpuPassthrough p = choose_passthrough("podman", find_cdi_gpus({kFixture}), false);
  auto f = container_gpu_flags({3}, p);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().str(),
            "GPU 3 is not in the CDI spec " + kFixture +
                "/nvidia.yaml (it declares 0, 1, GPU-5ad1b7c4-0c56-4a4e-9a29-1c1f1b6bd4c0, "
                "GPU-8c0f2e7a-44a5-4e43-b7a6-0a3de9f1c2d1, all); regenerate it: nvidia-ctk cdi "
                "generate --output=/etc/cdi/nvidia.yaml");
}

TEST(Cdi, PodmanWithoutASpecCannotPassGpus) {
  GpuPassthrough p = choose_passthrough("/usr/bin/podman", find_cdi_gpus({"/nonexistent"}), false);
  EXPECT_EQ(p.kind, GpuPassthrough::Kind::kNone);
  EXPECT_EQ(p.problem,
            "podman passes NVIDIA GPUs to containers through CDI, and no CDI spec of kind "
            "nvidia.com/gpu was found in /nonexistent; generate one with the NVIDIA Container "
            "Toolkit: nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml");
  auto f = container_gpu_flags({0}, p);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().str(), p.problem);
}

TEST(Cdi, DockerUsesCdiOnlyWhenItsDaemonHasItOn) {
  CdiGpus spec = find_cdi_gpus({kFixture});
  GpuPassthrough on = choose_passthrough("docker", spec, true);
  EXPECT_EQ(on.kind, GpuPassthrough::Kind::kCdi);
  EXPECT_EQ(container_gpu_flags({0}, on)->flags,
            (std::vector<std::string>{"--device", "nvidia.com/gpu=0"}));

  GpuPassthrough off = choose_passthrough("/usr/bin/docker", spec, false);
  EXPECT_EQ(off.kind, GpuPassthrough::Kind::kDockerGpus);
  auto f = container_gpu_flags({2, 5}, off);
  // docker reads --gpus as CSV: the quotes keep "device=2,5" one field.
  EXPECT_EQ(f->flags, (std::vector<std::string>{"--gpus", "\"device=2,5\""}));
  EXPECT_EQ(f->note,
            "GPU 2,5 passed to the container by docker --gpus \"device=2,5\" (the docker daemon "
            "has CDI turned off)");

  GpuPassthrough none = choose_passthrough("docker", find_cdi_gpus({"/nonexistent"}), false);
  EXPECT_EQ(none.kind, GpuPassthrough::Kind::kDockerGpus);
  EXPECT_EQ(container_gpu_flags({0}, none)->note,
            "GPU 0 passed to the container by docker --gpus \"device=0\" (no CDI spec for "
            "nvidia.com/gpu in /nonexistent)");
}

}  // namespace
}  // namespace wfrun::gpu
