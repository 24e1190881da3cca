// Where jobs run: a job's `executor:`, `defaults.executor`, `resources.slurm:`, and the
// `executor:` block of server.yaml / --executor-config.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "workflows/executor_settings.h"
#include "workflows/parser.h"

namespace wfrun::workflows {
namespace {

std::string parse_error(std::string_view text) {
  auto r = parse_workflow(text, "w.yaml");
  return r.ok() ? "parsed" : r.error().str();
}

TEST(Executor, JobsAndDefaultsNameTheirExecutorAndSlurmPlacement) {
  auto r = parse_workflow(R"(defaults:
  executor: slurm
  resources:
    slurm: {partition: gpu, account: lab, sbatch-args: [--exclusive]}
jobs:
  train:
    uses: script@v1
    resources:
      gpus: 2
      slurm: {partition: a100, qos: long}
    with: {script: echo}
  push:
    uses: script@v1
    executor: local
    with: {script: echo}
)",
                          "w.yaml");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->default_executor, "slurm");
  const Job* train = r->job("train");
  EXPECT_EQ(train->executor, "");
  EXPECT_EQ(train->resources.slurm.partition, "a100");  // the job's own wins
  EXPECT_EQ(train->resources.slurm.account, "lab");     // the defaults' fill in
  EXPECT_EQ(train->resources.slurm.qos, "long");
  EXPECT_EQ(train->resources.slurm.sbatch_args, std::vector<std::string>{"--exclusive"});
  EXPECT_EQ(r->job("push")->executor, "local");
  EXPECT_EQ(r->job("push")->resources.slurm.partition, "gpu");
}

TEST(Executor, ErrorsSayWhereAndWhat) {
  EXPECT_EQ(parse_error("jobs:\n  a:\n    uses: script@v1\n    executor: slrum\n"
                        "    with: {script: x}\n"),
            "w.yaml:4:15: unknown executor 'slrum'; executors: local, slurm");
  EXPECT_EQ(parse_error("jobs:\n  a:\n    uses: script@v1\n    resources:\n"
                        "      slurm: {partitio: gpu}\n    with: {script: x}\n"),
            "w.yaml:5:15: unknown key 'partitio' in resources.slurm (did you mean 'partition'?)");
}

TEST(Executor, SettingsBlockReadsEveryKeyAndRefusesUnknownOnes) {
  YAML::Node n = YAML::Load(R"(kind: slurm
partition: gpu
qos: high
sbatch-args: --exclusive --mail-type=FAIL
wfrun-path: /shared/bin/wfrun
gpu-model: constraint
squeue-interval: 2s
squeue-max-interval: 1m
exit-grace: 30s
max-submitted: 50
probe: false
)");
  auto s = read_executor_settings(n, "server.yaml");
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ(s->kind, "slurm");
  EXPECT_EQ(s->slurm.placement.partition, "gpu");
  EXPECT_EQ(s->slurm.placement.qos, "high");
  EXPECT_EQ(s->slurm.placement.sbatch_args,
            (std::vector<std::string>{"--exclusive", "--mail-type=FAIL"}));
  EXPECT_EQ(s->slurm.wfrun_path, "/shared/bin/wfrun");
  EXPECT_EQ(s->slurm.gpu_model, SlurmSettings::GpuModel::kConstraint);
  EXPECT_EQ(s->slurm.squeue_interval, 2);
  EXPECT_EQ(s->slurm.squeue_max_interval, 60);
  EXPECT_EQ(s->slurm.exit_grace, 30);
  EXPECT_EQ(s->slurm.max_submitted, 50);
  EXPECT_FALSE(s->slurm.probe);

  auto bad = read_executor_settings(YAML::Load("kind: slurm\npartion: gpu\n"), "server.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().str().substr(0, 70),
            "server.yaml:2:1: executor: unknown key 'partion' (did you mean 'partit");
  auto kind = read_executor_settings(YAML::Load("kind: k8s\n"), "server.yaml");
  ASSERT_FALSE(kind.ok());
  EXPECT_EQ(kind.error().str(),
            "server.yaml:1:7: executor: unknown kind 'k8s'; kinds: local, slurm");
  auto rel = read_executor_settings(YAML::Load("wfrun-path: bin/wfrun\n"), "x.yaml");
  ASSERT_FALSE(rel.ok());
  EXPECT_NE(rel.error().str().find("must be an absolute path"), std::string::npos);
}

TEST(Executor, SettingsFileMayBeAServerYaml) {
  std::string path = std::filesystem::temp_directory_path() / "wfrun-executor-test.yaml";
  std::ofstream(path) << "listen: 127.0.0.1:8080\nexecutor:\n  kind: slurm\n  account: lab\n";
  auto s = load_executor_settings(path);
  std::remove(path.c_str());
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ(s->kind, "slurm");
  EXPECT_EQ(s->slurm.placement.account, "lab");
}

}  // namespace
}  // namespace wfrun::workflows
