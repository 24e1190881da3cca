// GPUs in runs, with a simulated inventory (WFRUN_FAKE_GPUS): each job sees exactly its GPUs,
// GPUs are exclusive and handed out first come first served, impossible requests fail before
// the run, --allow-missing-gpus, instance types, container flags, and the metrics sampler.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "engine/fs.h"
#include "engine/gpu/metrics.h"
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

class GpuRun : public ::testing::Test {
 protected:
  void fake(const char* spec) { gpus_.set(spec); }
  testing::FakeGpus gpus_;
};

TEST_F(GpuRun, EachJobSeesExactlyItsGpus) {
  fake("8xH100");
  TempDir dir;
  Recorder rec;
  RunOptions opts = options(dir);
  opts.max_parallel = 4;
  RunResult run = run_yaml(R"YAML(
jobs:
  two:
    uses: script@v1
    resources: {gpus: 2}
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES][$CUDA_DEVICE_ORDER]"; sleep 0.2'}
  one:
    uses: script@v1
    resources: {gpus: 1}
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"; sleep 0.2'}
  none:
    uses: script@v1
    with: {script: 'echo "[${CUDA_VISIBLE_DEVICES-unset}]"'}
)YAML",
                           opts, &rec);
  ASSERT_EQ(run.state, RunState::kSucceeded);
  EXPECT_EQ(rec.lines["two"], (std::vector<std::string>{"[0,1][PCI_BUS_ID]"}));
  EXPECT_EQ(rec.lines["one"], (std::vector<std::string>{"[2]"}));
  EXPECT_EQ(rec.lines["none"], (std::vector<std::string>{"[]"}));
  EXPECT_EQ(job(run, "two").gpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(job(run, "one").gpus, (std::vector<int>{2}));
  EXPECT_TRUE(job(run, "none").gpus.empty());
}

TEST_F(GpuRun, AllGpusVisibleLeavesCpuJobsAlone) {
  fake("2xH100");
  TempDir dir;
  Recorder rec;
  RunOptions opts = options(dir);
  opts.all_gpus_visible = true;
  run_yaml(R"YAML(
jobs:
  none:
    uses: script@v1
    with: {script: 'echo "[${CUDA_VISIBLE_DEVICES-unset}]"'}
  one:
    uses: script@v1
    resources: {gpus: 1}
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"'}
)YAML",
           opts, &rec);
  EXPECT_EQ(rec.lines["none"], (std::vector<std::string>{"[unset]"}));
  EXPECT_EQ(rec.lines["one"], (std::vector<std::string>{"[0]"}));
}

TEST_F(GpuRun, GpusAreExclusiveAndCpuJobsDoNotWait) {
  fake("1xH100");
  TempDir dir;
  RunOptions opts = options(dir);
  opts.max_parallel = 4;
  RunResult run = run_yaml(R"YAML(
jobs:
  a:
    uses: script@v1
    resources: {gpus: 1}
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"; sleep 0.4'}
  b:
    uses: script@v1
    resources: {gpus: 1}
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"; sleep 0.4'}
  cpu:
    uses: script@v1
    with: {script: 'sleep 0.1'}
)YAML",
                           opts);
  ASSERT_EQ(run.state, RunState::kSucceeded);
  const auto &a = job(run, "a"), &b = job(run, "b"), &cpu = job(run, "cpu");
  // One after the other, in the order they became ready (file order here).
  EXPECT_GE(b.started, a.finished);
  EXPECT_EQ(a.gpus, std::vector<int>{0});
  EXPECT_EQ(b.gpus, std::vector<int>{0});
  // The CPU job ran while `b` waited for the GPU.
  EXPECT_LT(cpu.started, a.finished);
  EXPECT_LT(cpu.finished, b.started);
  EXPECT_EQ(read_text(b.log_path), "[0]\n");
}

TEST_F(GpuRun, FirstReadyFirstServedNoStarvation) {
  fake("2xH100");
  TempDir dir;
  RunOptions opts = options(dir);
  opts.max_parallel = 4;
  // `big` (2 GPUs) became ready before `small` (1 GPU): `small` does not take the free GPU
  // while `big` waits for both.
  RunResult run = run_yaml(R"YAML(
jobs:
  hold:
    uses: script@v1
    resources: {gpus: 1}
    with: {script: 'sleep 0.4'}
  big:
    uses: script@v1
    resources: {gpus: 2}
    with: {script: 'sleep 0.2'}
  small:
    uses: script@v1
    resources: {gpus: 1}
    with: {script: 'sleep 0.1'}
)YAML",
                           opts);
  ASSERT_EQ(run.state, RunState::kSucceeded);
  EXPECT_GE(job(run, "big").started, job(run, "hold").finished);
  EXPECT_GE(job(run, "small").started, job(run, "big").finished);
  EXPECT_EQ(job(run, "big").gpus, (std::vector<int>{0, 1}));
}

TEST_F(GpuRun, RetriesKeepTheirGpus) {
  fake("2xH100");
  TempDir dir;
  Recorder rec;
  RunResult run = run_yaml(R"YAML(
jobs:
  flaky:
    uses: script@v1
    resources: {gpus: 1}
    retries: 1
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"; test -e ok || { touch ok; exit 1; }'}
)YAML",
                           options(dir), &rec);
  EXPECT_EQ(job(run, "flaky").state, JobState::kSucceeded);
  EXPECT_EQ(job(run, "flaky").attempts, 2);
  EXPECT_EQ(rec.lines["flaky"],
            (std::vector<std::string>{"[0]", "wfrun: exit code 1; retrying", "[0]"}));
}

const char* kTwoGpuJob = R"YAML(
jobs:
  prep:
    uses: script@v1
    with: {script: 'echo prep'}
  train:
    uses: script@v1
    needs: prep
    resources:
      gpus: 2
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"'}
)YAML";

TEST_F(GpuRun, ImpossibleRequestFailsBeforeTheRun) {
  fake("1xH100");
  TempDir dir;
  Recorder rec;
  auto wf = parse(kTwoGpuJob);
  auto r = run_workflow(wf, options(dir), rec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().str(),
            "test.yaml:10:7: job 'train' asks for 2 GPUs but this machine has 1 GPU (1 × NVIDIA "
            "H100 80GB HBM3) (--allow-missing-gpus runs it on the CPU instead)");
  EXPECT_TRUE(rec.events.empty());
  EXPECT_FALSE(exists(dir / "state/runs/1"));
  auto plan = plan_run(wf, options(dir));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().str(), r.error().str());
}

TEST_F(GpuRun, UnknownInstanceTypeIsAnErrorAtItsLocation) {
  TempDir dir;
  auto wf = parse(
      "jobs:\n  a:\n    uses: script@v1\n    resources: {instance-type: A10O}\n"
      "    with: {script: 'true'}\n");
  auto plan = plan_run(wf, options(dir));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().str().rfind("test.yaml:4:17: unknown instance-type 'A10O' (did you mean "
                                     "'A100'?)",
                                     0),
            0u)
      << plan.error().str();
}

TEST_F(GpuRun, AllowMissingGpusRunsOnTheCpuSayingSo) {
  TempDir dir;  // no GPU at all
  Recorder rec;
  RunOptions opts = options(dir);
  opts.allow_missing_gpus = true;
  const char* yaml = R"YAML(
jobs:
  train:
    uses: script@v1
    resources: {instance-type: H100}
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"'}
)YAML";
  auto plan = plan_run(parse(yaml), opts);
  ASSERT_TRUE(plan) << plan.error().str();
  EXPECT_EQ(*plan, (std::vector<std::string>{
                       "1. train (script@v1, asks for 1 GPU of model H100 (instance-type H100): "
                       "none here, runs on the CPU)"}));
  RunResult run = run_yaml(yaml, opts, &rec);
  ASSERT_EQ(run.state, RunState::kSucceeded);
  const std::string said =
      "wfrun: job 'train' asks for 1 GPU of model H100 (instance-type H100) but this machine has "
      "no NVIDIA GPU; running it on the CPU (--allow-missing-gpus)";
  EXPECT_EQ(rec.lines["train"], (std::vector<std::string>{said, "[]"}));
  EXPECT_EQ(read_text(job(run, "train").log_path), said + "\n[]\n");
  EXPECT_TRUE(job(run, "train").gpus.empty());
}

TEST_F(GpuRun, InstanceTypesPickTheirModel) {
  fake("1xH100,2xA100-80G");
  TempDir dir;
  Recorder rec;
  RunOptions opts = options(dir);
  opts.max_parallel = 4;
  const char* yaml = R"YAML(
jobs:
  h:
    uses: script@v1
    resources: {instance-type: H100}
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"'}
  a:
    uses: script@v1
    resources: {instance-type: A100-80Gx2}
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"'}
  c:
    uses: script@v1
    resources: {instance-type: C5}
    with: {script: 'echo "[$CUDA_VISIBLE_DEVICES]"'}
)YAML";
  auto plan = plan_run(parse(yaml), opts);
  ASSERT_TRUE(plan) << plan.error().str();
  EXPECT_EQ(*plan, (std::vector<std::string>{
                       "1. h (script@v1, 1 GPU of model H100 (instance-type H100))",
                       "2. a (script@v1, 2 GPUs of model A100-80G (instance-type A100-80Gx2))",
                       "3. c (script@v1)"}));
  RunResult run = run_yaml(yaml, opts, &rec);
  ASSERT_EQ(run.state, RunState::kSucceeded);
  EXPECT_EQ(rec.lines["h"], (std::vector<std::string>{"[0]"}));
  EXPECT_EQ(rec.lines["a"], (std::vector<std::string>{"[1,2]"}));
  EXPECT_EQ(rec.lines["c"], (std::vector<std::string>{"[]"}));
}

TEST_F(GpuRun, ContainerJobsGetTheRuntimeFlags) {
  fake("2xH100");
  TempDir dir;
  // A stand-in for docker that prints its arguments, one a line.
  std::string rt = dir / "fake-docker";
  ASSERT_TRUE(write_file(rt, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n"));
  ::chmod(rt.c_str(), 0755);
  Recorder rec;
  RunOptions opts = options(dir);
  opts.container_runtime = rt;
  opts.max_parallel = 1;
  RunResult run = run_yaml(R"YAML(
jobs:
  gpu:
    uses: container@v1
    resources: {gpus: 1}
    with: {image: "img:1", command: "true"}
  cpu:
    uses: container@v1
    needs: gpu
    with: {image: "img:1", command: "true"}
)YAML",
                           opts, &rec);
  ASSERT_EQ(run.state, RunState::kSucceeded);
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  const auto& g = rec.lines["gpu"];
  auto gpus_at = std::find(g.begin(), g.end(), "--gpus");
  ASSERT_NE(gpus_at, g.end());
  EXPECT_EQ(*(gpus_at + 1), "\"device=0\"");
  EXPECT_LT(gpus_at - g.begin(), std::find(g.begin(), g.end(), "img:1") - g.begin());
  EXPECT_TRUE(has(g, "NVIDIA_VISIBLE_DEVICES=0"));
  EXPECT_TRUE(has(g, "CUDA_VISIBLE_DEVICES=0"));
  const auto& c = rec.lines["cpu"];
  EXPECT_FALSE(has(c, "--gpus"));
  EXPECT_TRUE(has(c, "NVIDIA_VISIBLE_DEVICES=void"));
  EXPECT_TRUE(has(c, "CUDA_VISIBLE_DEVICES="));
}

TEST_F(GpuRun, MetricsAreSampledStoredAndCharted) {
  fake("1xH100");
  TempDir dir;
  RunOptions opts = options(dir);
  opts.metrics_interval = 0.05;
  RunResult run = run_yaml(R"YAML(
jobs:
  train:
    uses: script@v1
    resources: {gpus: 1}
    with: {script: 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 0.3'}
)YAML",
                           opts);
  ASSERT_EQ(run.state, RunState::kSucceeded);
  auto store = gpu::MetricsStore::open(dir / "state");
  ASSERT_TRUE(store) << store.error().str();
  auto rows = store->rows(run.id, "train");
  ASSERT_TRUE(rows) << rows.error().str();
  int gpu_rows = 0, proc_rows = 0;
  for (const auto& r : *rows) {
    if (r.gpu) {
      ++gpu_rows;
      EXPECT_EQ(*r.gpu, 0);
      EXPECT_EQ(r.util, 0);        // the simulated H100 is idle
      EXPECT_EQ(r.power_w, 70.0);  // a tenth of its 700 W limit
    } else {
      ++proc_rows;
      ASSERT_TRUE(r.rss_kb);
      EXPECT_GT(*r.rss_kb, 0);
    }
  }
  EXPECT_GE(gpu_rows, 3);
  EXPECT_EQ(gpu_rows, proc_rows);
  const auto& u = job(run, "train").usage;
  ASSERT_TRUE(u);
  EXPECT_EQ(u->gpus, std::vector<int>{0});
  EXPECT_EQ(u->util_peak, 0);
  EXPECT_TRUE(u->energy_wh);
  EXPECT_GT(u->rss_peak_kb.value_or(0), 0);
  std::string svg = read_text(run.dir + "/jobs/train/metrics.svg");
  EXPECT_NE(svg.find("<svg xmlns"), std::string::npos) << svg.substr(0, 200);
  EXPECT_NE(svg.find("<title>wfrun metrics: train</title>"), std::string::npos);
}

TEST_F(GpuRun, AJobShorterThanOneIntervalIsNotSampled) {
  // The first sample is due one interval after the run starts. The interval is long enough that
  // `true` ends before it even on a loaded CI machine (at 0.05 s, ASan runs on 2 busy cores
  // sampled it once).
  fake("1xH100");
  TempDir dir;
  RunOptions opts = options(dir);
  opts.metrics_interval = 3;
  RunResult run =
      run_yaml("jobs:\n  quick:\n    uses: script@v1\n    with: {script: 'true'}\n", opts);
  ASSERT_EQ(run.state, RunState::kSucceeded);
  EXPECT_FALSE(job(run, "quick").usage);
  EXPECT_FALSE(exists(run.dir + "/jobs/quick/metrics.svg"));
  auto store = gpu::MetricsStore::open(dir / "state");
  ASSERT_TRUE(store);
  auto rows = store->rows(run.id, "quick");
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
}

TEST_F(GpuRun, MetricsIntervalZeroRecordsNothing) {
  TempDir dir;
  RunOptions opts = options(dir);
  opts.metrics_interval = 0;
  RunResult run =
      run_yaml("jobs:\n  a:\n    uses: script@v1\n    with: {script: 'sleep 0.2'}\n", opts);
  ASSERT_EQ(run.state, RunState::kSucceeded);
  auto store = gpu::MetricsStore::open(dir / "state");
  ASSERT_TRUE(store);
  auto jobs = store->jobs(run.id);
  ASSERT_TRUE(jobs);
  EXPECT_TRUE(jobs->empty());
  EXPECT_FALSE(job(run, "a").usage);
}

}  // namespace
}  // namespace wfrun::engine
