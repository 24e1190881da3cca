// Gradient's inputs and outputs: /inputs and /outputs in both host mechanisms, datasets, models.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/fs.h"
#include "engine/job_io.h"
#include "engine/paths.h"
#include "engine/store.h"
#include "tests/engine/helpers.h"

namespace wfrun::engine {
namespace {

using testing::job;
using testing::options;
using testing::read_text;
using testing::run_yaml;
using testing::TempDir;

constexpr const char* kFlow = R"YAML(
inputs:
  greeting: {type: string, with: {value: hi}}
jobs:
  produce:
    uses: script@v1
    inputs:
      greeting: workflow.inputs.greeting
    outputs:
      count: {type: string}
      files: {type: volume}
      data: {type: dataset, with: {ref: flow-data}}
    with:
      script: |
        test -f /inputs/greeting
        cat /inputs/greeting > /outputs/files/greeting.txt
        echo 42 > /outputs/count
        mkdir -p /outputs/data/sub
        echo payload > /outputs/data/sub/file.txt
        echo "outputs at $WFRUN_OUTPUTS"
  consume:
    needs: produce
    uses: script@v1
    inputs:
      count: produce.outputs.count
      files: produce.outputs.files
      data: produce.outputs.data
    outputs:
      summary: {type: string}
    with:
      script: |
        ls /inputs > /dev/null
        echo "count=$(cat /inputs/count) greeting=$(cat /inputs/files/greeting.txt)"
        echo "data=$(cat /inputs/data/sub/file.txt)"
        echo "expr=${{ jobs.produce.outputs.count }}"
        if touch /inputs/files/new 2>/dev/null; then echo writable; else echo read-only; fi
        printf 'done\n\n' > /outputs/summary
)YAML";

class HostPaths : public ::testing::TestWithParam<PathMode> {};

TEST_P(HostPaths, StringVolumeAndDatasetOutputsFlowBetweenJobs) {
  if (GetParam() == PathMode::kNamespace && !namespace_supported())
    GTEST_SKIP() << "needs root and unshare(CLONE_NEWNS)";
  TempDir dir;
  RunOptions opts = options(dir);
  opts.path_mode = GetParam();
  RunResult run = run_yaml(kFlow, opts);
  ASSERT_EQ(run.state, RunState::kSucceeded)
      << job(run, "produce").message << job(run, "consume").message
      << read_text(run.dir + "/jobs/produce/log") << read_text(run.dir + "/jobs/consume/log");
  const JobResult& p = job(run, "produce");
  EXPECT_EQ(p.outputs.at("count"), "42");
  EXPECT_EQ(p.outputs.at("files"), run.dir + "/jobs/produce/outputs/files");
  EXPECT_EQ(p.outputs.at("data"), "flow-data:1");
  EXPECT_EQ(read_text(run.dir + "/jobs/produce/outputs/files/greeting.txt"), "hi");
  EXPECT_EQ(read_text(dir / "state/datasets/flow-data/1/sub/file.txt"), "payload\n");
  EXPECT_EQ(read_text(p.log_path), "outputs at " + run.dir + "/jobs/produce/outputs\n");

  const JobResult& c = job(run, "consume");
  std::string log = read_text(c.log_path);
  EXPECT_NE(log.find("count=42 greeting=hi\ndata=payload\nexpr=42\n"), std::string::npos) << log;
  // Inputs are mounted read-only in namespace mode; rewrite mode cannot enforce it.
  if (GetParam() == PathMode::kNamespace) {
    EXPECT_NE(log.find("read-only"), std::string::npos);
  }
  EXPECT_EQ(c.outputs.at("summary"), "done");

  // A second run makes version 2.
  RunResult again = run_yaml(kFlow, opts);
  EXPECT_EQ(job(again, "produce").outputs.at("data"), "flow-data:2");
  auto store = RunStore::open(dir / "state");
  ASSERT_TRUE(store);
  auto newest = store->find_dataset("flow-data", std::nullopt);
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->version, 2);
  EXPECT_EQ(newest->run_id, again.id);

  if (GetParam() == PathMode::kNamespace) {
    // The host's /inputs and /outputs are empty mount points; nothing leaked into them.
    EXPECT_TRUE(is_dir("/inputs"));
    EXPECT_FALSE(exists("/outputs/count"));
    EXPECT_FALSE(exists("/inputs/count"));
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, HostPaths,
                         ::testing::Values(PathMode::kRewrite, PathMode::kNamespace),
                         [](const auto& info) {
                           return info.param == PathMode::kRewrite ? "Rewrite" : "Namespace";
                         });

TEST(Io, MissingStringOutputFailsTheJob) {
  TempDir dir;
  RunResult run = run_yaml(R"YAML(
jobs:
  a:
    uses: script@v1
    outputs: {x: {type: string}, d: {type: dataset}}
    with: {script: "echo data > /outputs/d/f"}
)YAML",
                           options(dir));
  const JobResult& a = job(run, "a");
  EXPECT_EQ(a.state, JobState::kFailed);
  EXPECT_EQ(a.message, "output 'x' was not written to /outputs/x");
  EXPECT_EQ(read_text(a.log_path), "wfrun: output 'x' was not written to /outputs/x\n");
  EXPECT_FALSE(exists(dir / "state/datasets/d"));  // no version made for a failed job
}

TEST(Io, DatasetRefsByNameAndVersion) {
  TempDir dir;
  auto store = RunStore::open(dir / "state");
  ASSERT_TRUE(store);
  for (const char* text : {"one", "two"}) {
    std::string src = dir / std::string("src-") + text;
    ASSERT_TRUE(make_dirs(src));
    ASSERT_TRUE(write_file(src + "/v.txt", text));
    auto d = store->commit_dataset_version("corpus", src, 0);
    ASSERT_TRUE(d) << d.error().str();
  }
  RunOptions opts = options(dir);
  RunResult run = run_yaml(R"YAML(
inputs:
  newest: {type: dataset, with: {ref: corpus}}
jobs:
  a:
    uses: script@v1
    inputs:
      newest: workflow.inputs.newest
      first: {type: dataset, with: {ref: "corpus:1"}}
    with: {script: "echo $(cat /inputs/newest/v.txt) $(cat /inputs/first/v.txt)"}
)YAML",
                           opts);
  EXPECT_EQ(read_text(job(run, "a").log_path), "two one\n");

  // --input overrides the default ref.
  opts.inputs = {{"newest", "corpus:1"}};
  run = run_yaml(R"YAML(
inputs:
  newest: {type: dataset, with: {ref: corpus}}
jobs:
  a:
    uses: script@v1
    inputs: {newest: workflow.inputs.newest}
    with: {script: "cat /inputs/newest/v.txt"}
)YAML",
                 opts);
  EXPECT_EQ(read_text(job(run, "a").log_path), "one");
}

TEST(Io, CreateModelRegistersTheDatasetVersion) {
  TempDir dir;
  RunResult run = run_yaml(R"YAML(
jobs:
  train:
    uses: script@v1
    outputs: {model: {type: dataset, with: {ref: my-model}}}
    with: {script: "echo weights > /outputs/model/w.bin"}
  register:
    needs: train
    uses: create-model@v1
    inputs: {model: train.outputs.model}
    outputs: {model-id: {type: string}}
    with: {name: "demo-${{ run.number }}", type: ONNX}
  use:
    needs: register
    uses: script@v1
    inputs: {id: register.outputs.model-id}
    with: {script: "echo ${{ jobs.register.outputs.model-id }} $(cat /inputs/id)"}
)YAML",
                           options(dir));
  ASSERT_EQ(run.state, RunState::kSucceeded) << job(run, "register").message;
  const JobResult& r = job(run, "register");
  EXPECT_EQ(r.outputs.at("model-id"), "mdl-1");
  EXPECT_EQ(read_text(run.dir + "/jobs/register/outputs/model-id"), "mdl-1\n");
  EXPECT_EQ(read_text(r.log_path),
            "registered model mdl-1 'demo-1' (ONNX) from dataset my-model:1\n");
  EXPECT_EQ(read_text(job(run, "use").log_path), "mdl-1 mdl-1\n");
  auto store = RunStore::open(dir / "state");
  ASSERT_TRUE(store);
  auto models = store->list_models();
  ASSERT_TRUE(models);
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].id, "mdl-1");
  EXPECT_EQ((*models)[0].name, "demo-1");
  EXPECT_EQ((*models)[0].dataset, "my-model");
  EXPECT_EQ((*models)[0].dataset_version, 1);
  EXPECT_EQ((*models)[0].path, dir / "state/datasets/my-model/1");
  EXPECT_EQ((*models)[0].run_id, run.id);
}

TEST(Io, VolumeInputFromAHostFolder) {
  TempDir dir;
  ASSERT_TRUE(make_dirs(dir / "host-data"));
  ASSERT_TRUE(write_file(dir / "host-data/a.txt", "from the host"));
  RunOptions opts = options(dir);
  opts.inputs = {{"src", dir / "host-data"}};
  const char* yaml = R"YAML(
inputs:
  src: {type: volume}
jobs:
  a:
    uses: script@v1
    inputs: {src: workflow.inputs.src}
    with: {script: "cat /inputs/src/a.txt"}
)YAML";
  RunResult run = run_yaml(yaml, opts);
  EXPECT_EQ(read_text(job(run, "a").log_path), "from the host");

  opts.inputs = {{"src", dir / "missing"}};
  auto plan = plan_run(testing::parse(yaml), opts);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message(), "volume input 'src': '" + dir / "missing" + "' does not exist");
}

TEST(Io, RewritePaths) {
  EXPECT_EQ(rewrite_paths("cat /inputs/a > /outputs/b", "/I", "/O"), "cat /I/a > /O/b");
  EXPECT_EQ(rewrite_paths("ls /inputs; ls '/outputs'", "/I", "/O"), "ls /I; ls '/O'");
  EXPECT_EQ(rewrite_paths("--out=/outputs/x:/inputs", "/I", "/O"), "--out=/O/x:/I");
  EXPECT_EQ(rewrite_paths("$(ls /inputs)", "/I", "/O"), "$(ls /I)");
  // Not whole path words: untouched.
  EXPECT_EQ(rewrite_paths("/data/inputs/x /inputsx /outputs2 ~/outputs", "/I", "/O"),
            "/data/inputs/x /inputsx /outputs2 ~/outputs");
  EXPECT_EQ(rewrite_paths("${HOME}/inputs ./outputs", "/I", "/O"), "${HOME}/inputs ./outputs");
}

TEST(Io, DatasetRefParsing) {
  EXPECT_EQ(parse_dataset_ref("a").name, "a");
  EXPECT_FALSE(parse_dataset_ref("a").version);
  EXPECT_EQ(parse_dataset_ref("team/a:12").name, "team/a");
  EXPECT_EQ(parse_dataset_ref("team/a:12").version, 12);
  EXPECT_FALSE(parse_dataset_ref("a:b").version);
}

}  // namespace
}  // namespace wfrun::engine
