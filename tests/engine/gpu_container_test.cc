// How a job's GPUs reach its container, with a simulated inventory (WFRUN_FAKE_GPUS) and CDI
// specs in a test folder (WFRUN_CDI_SPEC_DIRS). No GPU and no docker engine run here, so the
// runtime is a stand-in script that records its command line (and, as `docker info`, answers
// what a daemon with or without CDI answers); the real path needs a GPU machine.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "engine/fs.h"
#include "engine/run.h"
#include "tests/engine/helpers.h"

namespace wfrun::engine {
namespace {

using testing::job;
using testing::options;
using testing::parse;
using testing::read_text;
using testing::Recorder;
using testing::run_yaml;
using testing::TempDir;

constexpr const char* kSpec = R"(cdiVersion: 0.5.0
devices:
- containerEdits: {deviceNodes: [{path: /dev/nvidia0}]}
  name: "0"
- containerEdits: {deviceNodes: [{path: /dev/nvidia1}]}
  name: "1"
- containerEdits: {deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia1}]}
  name: all
kind: nvidia.com/gpu
)";

// Two jobs that each want one GPU, one after the other, and one that wants none.
constexpr const char* kWorkflow = R"YAML(
jobs:
  first:
    uses: container@v1
    resources: {gpus: 1}
    with: {image: "img:1", command: "true"}
  second:
    uses: script@v1
    resources: {gpus: 2}
    with: {image: "img:1", script: "true"}
  cpu:
    uses: container@v1
    with: {image: "img:1", command: "true"}
)YAML";

class GpuContainers : public ::testing::Test {
 protected:
  void SetUp() override {
    cdi_ = dir_ / "cdi";
    ASSERT_TRUE(make_dirs(cdi_));
    ::setenv("WFRUN_CDI_SPEC_DIRS", cdi_.c_str(), 1);
  }
  void TearDown() override { ::unsetenv("WFRUN_CDI_SPEC_DIRS"); }
  // A runtime stand-in named `name` that prints its arguments one a line; `docker info`
  // prints `info_answer` instead (exit 1 when it is empty: an old docker without the field).
  std::string runtime(const std::string& name, const std::string& info_answer = "") {
    std::string rt = dir_ / name;
    EXPECT_TRUE(write_file(rt, "#!/bin/sh\nif [ \"$1\" = info ]; then\n" +
                                   (info_answer.empty() ? std::string("  exit 1\n")
                                                        : "  echo '" + info_answer + "'; exit 0\n") +
                                   "fi\nfor a in \"$@\"; do echo \"$a\"; done\n"));
    ::chmod(rt.c_str(), 0755);
    return rt;
  }
  RunOptions opts(const std::string& rt) {
    RunOptions o = options(dir_);
    o.container_runtime = rt;
    o.max_parallel = 1;
    return o;
  }
  static bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }
  static std::vector<std::string> devices(const std::vector<std::string>& argv) {
    std::vector<std::string> out;
    for (size_t i = 0; i + 1 < argv.size(); ++i)
      if (argv[i] == "--device" || argv[i] == "--gpus") out.push_back(argv[i] + " " + argv[i + 1]);
    return out;
  }

  testing::FakeGpus gpus_{"2xH100"};
  TempDir dir_;
  std::string cdi_;
};

TEST_F(GpuContainers, PodmanGetsEachJobsGpusByCdiAndSaysSo) {
  ASSERT_TRUE(write_file(cdi_ + "/nvidia.yaml", kSpec));
  Recorder rec;
  RunResult run = run_yaml(kWorkflow, opts(runtime("podman")), &rec);
  ASSERT_EQ(run.state, RunState::kSucceeded) << job(run, "first").message;
  EXPECT_EQ(devices(rec.lines["first"]), (std::vector<std::string>{"--device nvidia.com/gpu=0"}));
  EXPECT_EQ(devices(rec.lines["second"]),
            (std::vector<std::string>{"--device nvidia.com/gpu=0", "--device nvidia.com/gpu=1"}));
  EXPECT_TRUE(devices(rec.lines["cpu"]).empty());
  EXPECT_TRUE(has(rec.lines["cpu"], "NVIDIA_VISIBLE_DEVICES=void"));
  // The job's log says how its GPUs got in.
  EXPECT_NE(read_text(job(run, "first").log_path)
                .find("wfrun: GPU 0 passed to the container by CDI (--device nvidia.com/gpu=0; "
                      "spec " +
                      cdi_ + "/nvidia.yaml)\n"),
            std::string::npos)
      << read_text(job(run, "first").log_path);
  EXPECT_NE(read_text(job(run, "second").log_path)
                .find("wfrun: GPU 0,1 passed to the container by CDI (--device nvidia.com/gpu=0 "
                      "--device nvidia.com/gpu=1; spec "),
            std::string::npos);
  EXPECT_EQ(read_text(job(run, "cpu").log_path).find("passed to the container"), std::string::npos);
}

TEST_F(GpuContainers, PodmanWithoutACdiSpecFailsBeforeTheRun) {
  auto wf = parse(kWorkflow);
  Recorder rec;
  auto r = run_workflow(wf, opts(runtime("podman")), rec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().str(),
            "test.yaml:3:3: jobs 'first', 'second' run in a container and ask for GPUs, but "
            "podman passes NVIDIA GPUs to containers through CDI, and no CDI spec of kind "
            "nvidia.com/gpu was found in " +
                cdi_ +
                "; generate one with the NVIDIA Container Toolkit: nvidia-ctk cdi generate "
                "--output=/etc/cdi/nvidia.yaml");
  EXPECT_TRUE(rec.events.empty());
}

TEST_F(GpuContainers, DockerWithCdiOnUsesCdi) {
  ASSERT_TRUE(write_file(cdi_ + "/nvidia.yaml", kSpec));
  Recorder rec;
  RunResult run =
      run_yaml(kWorkflow, opts(runtime("docker", "[\"/etc/cdi\",\"/var/run/cdi\"]")), &rec);
  ASSERT_EQ(run.state, RunState::kSucceeded);
  EXPECT_EQ(devices(rec.lines["first"]), (std::vector<std::string>{"--device nvidia.com/gpu=0"}));
}

TEST_F(GpuContainers, DockerWithCdiOffOrTooOldUsesGpus) {
  ASSERT_TRUE(write_file(cdi_ + "/nvidia.yaml", kSpec));
  for (std::string answer : {"[]", ""}) {
    Recorder rec;
    RunResult run = run_yaml(kWorkflow, opts(runtime("docker", answer)), &rec);
    ASSERT_EQ(run.state, RunState::kSucceeded);
    EXPECT_EQ(devices(rec.lines["first"]), (std::vector<std::string>{"--gpus \"device=0\""}))
        << answer;
    EXPECT_EQ(devices(rec.lines["second"]), (std::vector<std::string>{"--gpus \"device=0,1\""}));
    EXPECT_NE(read_text(job(run, "first").log_path)
                  .find("wfrun: GPU 0 passed to the container by docker --gpus \"device=0\" (the "
                        "docker daemon has CDI turned off)\n"),
              std::string::npos);
  }
}

TEST_F(GpuContainers, AGpuMissingFromTheSpecFailsTheJob) {
  // A spec generated before the second GPU went in.
  ASSERT_TRUE(write_file(cdi_ + "/nvidia.yaml", R"(cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices: [{name: "0", containerEdits: {deviceNodes: [{path: /dev/nvidia0}]}}]
)"));
  Recorder rec;
  RunResult run = run_yaml(kWorkflow, opts(runtime("podman")), &rec);
  EXPECT_EQ(job(run, "first").state, JobState::kSucceeded);
  EXPECT_EQ(job(run, "second").state, JobState::kFailed);
  EXPECT_NE(read_text(job(run, "second").log_path)
                .find("GPU 1 is not in the CDI spec " + cdi_ +
                      "/nvidia.yaml (it declares 0); regenerate it: nvidia-ctk cdi generate"),
            std::string::npos)
      << read_text(job(run, "second").log_path);
}

}  // namespace
}  // namespace wfrun::engine
